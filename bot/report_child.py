"""The evaluation reports are made in a child process, `python -m store report ...`
(store/report_cli.py), never in the gateway: laying out a PDF holds the interpreter for seconds
and leaves the gateway's memory hundreds of megabytes larger, and the first build of a year's
facts takes minutes. Both ways the gateway makes them run it through `run_report_child`: the
scheduled job (bot/report_schedule.py, `--due`) and the console's "generate now", a background
job (bot/console/quality_reports_api.py, `--period`).

The gateway only awaits the child (the event loop keeps serving). A child still running after
its time limit (conf/quality_reports.yml `schedule.time_limit_minutes`), or whose caller is
cancelled (the gateway stopping), is killed and reaped. It gets the gateway's environment
without its secrets (nlu/rasa_cli.py `without_secrets`, the rule of scripts/lib.sh), plus the
two things it needs: the database (DATABASE_URL, in its environment, never on its command line)
and the configuration directory (CONF_DIR).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from nlu.rasa_cli import without_secrets
from store.config import PROJECT_ROOT, Settings
from store.logmask import mask_log_text

TAIL_LINES = 5
"""The last lines of a failed child's error output its ReportJobFailed (and so the log) shows."""
REASON_CHARS = 200
"""The longest `ReportJobFailed.reason`."""


class ReportJobFailed(Exception):
    """The child exited with an error, or ran out of time and was killed (`timed_out`).
    `reason`: the child's own last word, one line for staff to read (see `reason_of`)."""

    def __init__(self, message: str, *, timed_out: bool = False, reason: str = "") -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.reason = reason


@dataclass(frozen=True)
class ChildDone:
    """A child that exited with status 0: its process id and standard output."""

    pid: int
    out: str

    def lines(self, prefix: str) -> list[str]:
        """What follows `prefix` on each line of the output that starts with it (the CLI's
        machine-readable lines: store/report_cli.py MADE, STORED)."""
        return [line[len(prefix) :] for line in self.out.splitlines() if line.startswith(prefix)]


def child_env(database_url: str, settings: Settings) -> dict[str, str]:
    """The child's environment: the gateway's, without secrets, with the database and the
    configuration directory."""
    env = without_secrets(os.environ)
    env.update(DATABASE_URL=database_url, CONF_DIR=str(settings.conf_dir))
    return env


def report_command(args: Sequence[str]) -> list[str]:
    """`python -m store report ARGS` with the gateway's interpreter."""
    return [sys.executable, "-m", "store", "report", *args]


def _lines(output: bytes) -> list[str]:
    return [line for line in output.decode("utf-8", "replace").splitlines() if line.strip()]


def _tail(output: bytes) -> str:
    return " | ".join(_lines(output)[-TAIL_LINES:]) or "no output"


def reason_of(output: bytes) -> str:
    """The last line of a child's error output that says what went wrong (the exception's line
    of a traceback, or the CLI's own message), never a traceback's frame nor an SQL statement or
    its parameters (lines that start with a space, "[" or "("), personal data masked, at most
    REASON_CHARS characters; "" when it said nothing."""
    said = [
        line.strip()
        for line in _lines(output)
        if not line[0].isspace() and not line.startswith(("Traceback", "[", "("))
    ]
    if not said:
        return ""
    line = mask_log_text(said[-1])
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"


async def run_report_child(
    args: Sequence[str],
    database_url: str,
    settings: Settings,
    time_limit: timedelta,
    *,
    started: Callable[[int], None] | None = None,
) -> ChildDone:
    """Run `python -m store report ARGS` and await it (`started` is told the child's process id
    once it runs). ReportJobFailed when it exits with an error (with the tail of its error
    output) or takes longer than `time_limit` (it is killed then); OSError when it cannot be
    started."""
    limit = time_limit.total_seconds()
    process = await asyncio.create_subprocess_exec(
        *report_command(args),
        cwd=PROJECT_ROOT,
        env=child_env(database_url, settings),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        if started is not None:
            started(process.pid)
        out, err = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        raise ReportJobFailed(
            f"child {process.pid} took more than {limit:g} s and was killed", timed_out=True
        ) from None
    finally:  # a timeout, or the caller cancelled meanwhile (the gateway stopping)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode != 0:
        raise ReportJobFailed(
            f"child {process.pid} failed (exit status {process.returncode}): {_tail(err)}",
            reason=reason_of(err),
        )
    return ChildDone(process.pid, out.decode("utf-8", "replace"))
