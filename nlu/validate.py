"""`rasa data validate` after every operator edit, and the transaction that undoes a bad one.

An edit runs under a lock file (one edit at a time, across the console and the CLI): the files
an edit may touch are snapshotted, the edit is applied (nlu.datafile: quick checks first, so an
obvious mistake is refused at once), then Rasa validates the whole project (several seconds to
about 20 s). When Rasa finds a problem the snapshot is restored and `ValidationFailed` says what
Rasa said, in a line or two. Rasa's warnings that a response is "not used in any story or rule"
are expected here (responses only custom actions send) and are not problems, as in
scripts/validate.sh.
"""

from __future__ import annotations

import fcntl
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nlu.dataindex import editable_files
from nlu.rasa_cli import clean_output, command, rasa_env
from nlu.rules import DataEditError
from nlu.settings import NluSettings

T = TypeVar("T")
VALIDATE_TIMEOUT = 300.0
EXPECTED_WARNINGS = ("is not used in any story or rule",)
GENERIC_FAILURE = "Project validation completed with errors."
MAX_REASON_CHARS = 600
EXCEPTION_LINE = re.compile(r"^[A-Z]\w*(?:Exception|Error): ")


class ValidationFailed(DataEditError):
    """Rasa refused the edited data; the files were restored."""

    kind = "validation_failed"


@dataclass(frozen=True)
class Validation:
    ok: bool
    problems: tuple[str, ...]
    output: str

    @property
    def reason(self) -> str:
        text = "; ".join(self.problems) or "rasa data validate failed"
        return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def parse_validation(output: str, returncode: int) -> Validation:
    """Problems in Rasa's output: its UserWarnings and ERROR log lines, minus the expected."""
    lines = clean_output(output).splitlines()
    problems: list[str] = []
    for number, line in enumerate(lines):
        message: str | None = None
        exception = EXCEPTION_LINE.match(line)
        if "UserWarning: " in line:
            message = line.split("UserWarning: ", 1)[1]
        elif " ERROR " in f" {line} ":
            message = line.split(" - ", 1)[1] if " - " in line else line
        elif exception:
            message = line
        if message is None:
            continue
        # a message can go on over the next lines: a warning's indented ones (until "More info
        # at"), an exception's until the first blank line
        for follow in lines[number + 1 : number + 4]:
            if exception and follow.strip():
                message += " " + follow.strip()
                continue
            if not follow.startswith("  ") or follow.strip().startswith("More info at"):
                break
            message += " " + follow.strip()
        message = message.strip()
        if any(expected in message for expected in EXPECTED_WARNINGS):
            continue
        if message == GENERIC_FAILURE and problems:
            continue
        if message not in problems:
            problems.append(message)
    if returncode != 0 and not problems:
        tail = [line.strip() for line in lines if line.strip()][-3:]
        problems.append(" / ".join(tail) or f"rasa data validate exited with {returncode}")
    return Validation(ok=not problems and returncode == 0, problems=tuple(problems), output=output)


def run_validation(settings: NluSettings, timeout: float = VALIDATE_TIMEOUT) -> Validation:
    """`rasa data validate` on the project's data, domain and config."""
    args = command(
        settings,
        "data",
        "validate",
        "--data",
        settings.data_dir,
        "--domain",
        settings.domain_file,
        "--config",
        settings.project_dir / "config.yml",
    )
    try:
        done = subprocess.run(
            args,
            cwd=settings.project_dir,
            env=rasa_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise ValidationFailed(f"cannot run {settings.rasa_bin}: not found") from None
    except subprocess.TimeoutExpired:
        raise ValidationFailed(f"rasa data validate took more than {timeout:.0f} s") from None
    output = done.stdout.decode("utf-8", errors="replace")
    return parse_validation(output, done.returncode)


def lock_path(settings: NluSettings) -> Path:
    return settings.models_dir / ".nlu-edit.lock"


@contextmanager
def edit_lock(settings: NluSettings) -> Iterator[None]:
    """One edit of the training data at a time, across processes (console, CLI)."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Snapshot:
    """The bytes of the files an edit may touch (None: the file did not exist)."""

    contents: dict[Path, bytes | None]

    @classmethod
    def take(cls, paths: list[Path]) -> Snapshot:
        return cls({path: path.read_bytes() if path.exists() else None for path in paths})

    def restore(self) -> None:
        for path, content in self.contents.items():
            if content is None:
                path.unlink(missing_ok=True)
            elif not path.exists() or path.read_bytes() != content:
                path.write_bytes(content)


def validated_edit(
    settings: NluSettings,
    apply: Callable[[], T],
    *,
    validate: bool = True,
    then: Callable[[T], None] | None = None,
) -> T:
    """Apply an edit of the training data, validate it with Rasa, undo it when refused.

    `then` runs last with the edit's result (e.g. recording the label in the database): when
    it raises, the files are restored too, so data/ and the database never disagree.
    """
    with edit_lock(settings):
        snapshot = Snapshot.take(editable_files(settings))
        try:
            result = apply()
            if validate:
                outcome = run_validation(settings)
                if not outcome.ok:
                    raise ValidationFailed(f"Rasa refused the edit: {outcome.reason}")
            if then is not None:
                then(result)
        except BaseException:
            snapshot.restore()
            raise
        return result
