"""Training and evaluating models with the `rasa` command, with visible, cancelable progress.

- `train_and_evaluate`: `rasa train` of a candidate into the registry folder (models/registry/
  <name>.tar.gz), then `rasa test nlu` of it on the held-out set, in one Rasa process
  (rasa_addons/train_then_test.py: the evaluation starts warm, without importing TensorFlow
  and Rasa again). Rasa's training cache is the project's .rasa/cache (nlu.rasa_cli), shared
  with `make train`: after a change of NLU examples only, the dialogue policies and the
  components whose inputs did not change are restored from it, and mostly DIET trains.
- `evaluate_model`: `rasa test nlu` of a model on the held-out set (the live model's).
  Either way intent_report.json and intent_confusion_matrix.png stay beside the model
  (models/registry/<name>/), the metrics are parsed with nlu.report
  (nlu.guard.metrics_from_report).
- `cross_validate`: `rasa test nlu --cross-validation` on data/nlu (one training per fold).

Progress goes to a callback as (stage, percent): the stages are Rasa's own log lines ("Starting
to train component 'DIETClassifier'", "Restored component ... from cache") and tqdm's "Epochs:"
bar, mapped onto 0-100 of the whole job by `ProgressMap`. The output's last lines are kept
(`LogTail`) for the job's page and for the error when Rasa fails. A set `cancel` event stops
the child process group (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import re
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlu import report
from nlu.fingerprint import file_sha256
from nlu.guard import metrics_from_report
from nlu.rasa_cli import addons_command, addons_env, clean_output, command, rasa_env
from nlu.settings import NluSettings

LOG_TAIL_CHARS = 4096
TERMINATE_GRACE = 10.0
TRAIN_TIMEOUT = 3 * 3600.0
EVALUATE_TIMEOUT = 1800.0
REPORT_FILE = "intent_report.json"
CONFUSION_MATRIX = "intent_confusion_matrix.png"

EPOCHS = re.compile(r"Epochs:\s*(\d+)%\|[^|]*\|\s*(\d+)/(\d+)")
COMPONENT = re.compile(
    r"(Starting to train|Finished training|Restored) component '([A-Za-z0-9_]+)'"
)
TRAINED = "Your Rasa model is trained"
TRAIN_THEN_TEST = "rasa_addons.train_then_test"
EVALUATING = "rasa_addons.train_then_test: evaluating the trained model"
"""The line TRAIN_THEN_TEST prints between its training and its evaluation (its EVALUATING: the
same text, nlu may not import rasa_addons)."""
EVALUATION_FAILED = 3
"""TRAIN_THEN_TEST's exit status when the model was trained and its evaluation failed."""
PROGRESS_BAR = re.compile(r"^([^:]{1,40}):\s+\d+%\|")
NUMBERS_ONLY = re.compile(r"^[\s\d\[\]]+$")

Progress = Callable[[str, int], None]
"""(stage, percent of the whole job) → None; called from the event loop, keep it quick."""


class RasaFailed(RuntimeError):
    """A `rasa` command failed; the message ends with its last output line that says why."""


class TrainingFailed(RasaFailed):
    """`rasa train` failed or wrote no model (`train_and_evaluate`: nothing was evaluated)."""


class EvaluationFailed(RasaFailed):
    """The model was trained, its evaluation (`rasa test nlu`) failed."""


class Cancelled(RuntimeError):
    """The job was cancelled while a `rasa` command ran (the command was stopped)."""


class LogTail:
    """The last LOG_TAIL_CHARS characters of output, line by line."""

    def __init__(self, limit: int = LOG_TAIL_CHARS) -> None:
        self.limit = limit
        self._lines: deque[str] = deque()
        self._size = 0

    def add(self, line: str) -> None:
        line = line.rstrip()
        if not line or NUMBERS_ONLY.match(line):
            return  # blank, or a row of the confusion matrix Rasa prints
        bar = PROGRESS_BAR.match(line)
        if bar and self._lines and self._lines[-1].startswith(bar.group(1) + ":"):
            self._size -= len(self._lines.pop()) + 1  # a tqdm redraw replaces the bar before
        self._lines.append(line)
        self._size += len(line) + 1
        while self._size > self.limit and len(self._lines) > 1:
            self._size -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        return "\n".join(self._lines)[-self.limit :]

    def last(self, count: int = 3) -> list[str]:
        return list(self._lines)[-count:]


def _why(tail: LogTail) -> str:
    """The line of the output that explains a failure best (an exception or error line)."""
    lines = tail.last(40)
    for line in reversed(lines):
        if re.match(r"^\w*(Error|Exception)\b", line) or " ERROR " in line:
            return line.strip()
    return lines[-1].strip() if lines else "no output"


@dataclass
class ProgressMap:
    """Maps Rasa's output onto [low, high] of the job's percent, never going backwards.

    A training is its components (until DIET starts: the first 10 % of the span), DIET's epochs
    (up to 90 %), then the policies and saving the model. With `folds`, the span is divided
    among the cross-validation's trainings (a new fold is seen when the epoch count restarts).
    """

    progress: Progress
    low: int
    high: int
    folds: int = 1
    percent: int = 0
    stage: str = ""
    _fold: int = 0
    _last_epoch: int = -1

    def __post_init__(self) -> None:
        self.percent = self.low

    def report(self, stage: str, fraction: float) -> None:
        """Report `fraction` (0-1) of the span; fractions of one fold when folds > 1."""
        fraction = (self._fold + max(0.0, min(1.0, fraction))) / self.folds
        percent = max(self.percent, int(self.low + (self.high - self.low) * fraction))
        if (stage, percent) != (self.stage, self.percent):
            self.stage, self.percent = stage, percent
            self.progress(stage, percent)

    def line(self, line: str) -> None:
        epochs = EPOCHS.search(line)
        if epochs:
            done, total = int(epochs.group(2)), max(1, int(epochs.group(3)))
            if done < self._last_epoch and self.folds > 1:
                self._fold = min(self.folds - 1, self._fold + 1)
            self._last_epoch = done
            fold = f" fold {self._fold + 1}/{self.folds}" if self.folds > 1 else ""
            self.report(f"training DIET{fold}: epoch {done}/{total}", 0.1 + 0.8 * done / total)
            return
        component = COMPONENT.search(line)
        if component:
            what, name = component.groups()
            verb = {"Restored": "restored", "Finished training": "trained"}.get(what, "training")
            after_diet = self._last_epoch >= 0 and self.folds == 1
            self.report(f"{verb} {name}", 0.92 if after_diet else 0.05)
        elif TRAINED in line:
            self.report("model saved", 1.0)


async def run_rasa(
    settings: NluSettings,
    args: list[str | Path],
    *,
    what: str,
    on_line: Callable[[str], None],
    cancel: asyncio.Event | None = None,
    time_limit: float = TRAIN_TIMEOUT,
    extra_env: dict[str, str] | None = None,
) -> None:
    """Run `rasa ARGS` in the project, feeding each output line (tqdm redraws included) to
    `on_line`. RasaFailed on a non-zero exit or a timeout, Cancelled when `cancel` is set."""
    returncode, tail = await _run(
        settings,
        command(settings, *args),
        env=rasa_env(settings, extra_env),
        what=lambda: what,
        on_line=on_line,
        cancel=cancel,
        time_limit=time_limit,
    )
    problem = _problem(what, returncode, tail, time_limit)
    if problem is not None:
        raise RasaFailed(problem)


def _problem(what: str, returncode: int | None, tail: LogTail, time_limit: float) -> str | None:
    """Why a command failed (None: it did not); returncode None: stopped at its time limit."""
    if returncode is None:
        return f"{what} took more than {time_limit:.0f} s and was stopped"
    if returncode != 0:
        return f"{what} failed (exit status {returncode}): {_why(tail)}"
    return None


async def _run(
    settings: NluSettings,
    argv: list[str],
    *,
    env: dict[str, str],
    what: Callable[[], str],
    on_line: Callable[[str], None],
    cancel: asyncio.Event | None,
    time_limit: float,
) -> tuple[int | None, LogTail]:
    """Run ARGV in the project, feeding each output line to `on_line`: its exit status (None:
    stopped after `time_limit`) and the last lines of its output. Cancelled (the process
    stopped) when `cancel` is set; `what` names the command in errors."""
    tail = LogTail()

    def feed(line: str) -> None:
        tail.add(line)
        on_line(line)

    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=settings.project_dir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group: a cancel stops its children too
        )
    except OSError as exc:
        raise RasaFailed(f"{what()}: cannot run {argv[0]}: {exc.strerror or exc}") from exc
    reader = asyncio.create_task(_read_lines(process, feed))
    waiters: list[asyncio.Future[Any]] = [reader]
    cancelled = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    if cancelled is not None:
        waiters.append(cancelled)
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=time_limit, return_when=asyncio.FIRST_COMPLETED
        )
        if reader not in done:
            await _stop(process)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            if cancelled is not None and cancelled in done:
                raise Cancelled(f"{what()} was cancelled")
            return None, tail
        reader.result()
        return await process.wait(), tail
    except asyncio.CancelledError:
        await _stop(process)
        raise
    finally:
        if cancelled is not None:
            cancelled.cancel()


async def _read_lines(process: asyncio.subprocess.Process, feed: Callable[[str], None]) -> None:
    assert process.stdout is not None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while chunk := await process.stdout.read(4096):
        pending += clean_output(decoder.decode(chunk))
        *lines, pending = pending.split("\n")
        for line in lines:
            feed(line)
        if pending.endswith("]") and PROGRESS_BAR.match(pending):
            # tqdm draws "\r<bar>" and leaves it there until its next update: a whole bar
            # is the current state, not half a line
            feed(pending)
            pending = ""
    pending += clean_output(decoder.decode(b"", final=True))
    if pending:
        feed(pending)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the child's process group, SIGKILL after a grace period."""
    if process.returncode is not None:
        return
    for sig, grace in ((signal.SIGTERM, TERMINATE_GRACE), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(process.wait(), grace)
            return
        except TimeoutError:
            continue


# --- files -----------------------------------------------------------------------------------


def model_path(settings: NluSettings, file_name: str) -> Path:
    return settings.registry_dir / file_name


def evaluation_dir(settings: NluSettings, file_name: str) -> Path:
    """Where a registry model's evaluation lives: models/registry/<name>/."""
    name = file_name.removesuffix(".tar.gz")
    return settings.registry_dir / name


def read_metrics(directory: Path, holdout_sha256: str | None = None) -> dict[str, Any]:
    """The metrics of an evaluation folder (RasaFailed when Rasa wrote no usable report)."""
    try:
        raw = report.load_report(directory / REPORT_FILE)
        return metrics_from_report(raw, holdout_sha256)
    except report.ReportError as exc:
        raise RasaFailed(f"the evaluation wrote no usable report: {exc}") from exc


def fresh_output_dir(out_dir: Path) -> None:
    """The evaluation folder, without a report of an earlier run (it would pass for new)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / REPORT_FILE).unlink(missing_ok=True)


def holdout_sha256(settings: NluSettings) -> str:
    return file_sha256(settings.training.holdout)


# --- the three jobs --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainedModel:
    path: Path
    sha256: str
    seconds: float


def train_args(settings: NluSettings, name: str, finetune: Path | None) -> list[str | Path]:
    """`rasa train` of a candidate into models/registry/<name>.tar.gz (see train_and_evaluate)."""
    args: list[str | Path] = [
        "train",
        "--config",
        settings.train_config,
        "--domain",
        settings.domain_file,
        "--data",
        settings.data_dir,
        "--out",
        settings.registry_dir,
        "--fixed-model-name",
        name,
    ]
    if finetune is not None:
        fraction = settings.training.finetune_epoch_fraction
        args += ["--finetune", finetune, "--epoch-fraction", f"{fraction:g}"]
    return [*args, "--augmentation", "0", "--skip-validation"]


def evaluate_args(settings: NluSettings, out_dir: Path) -> list[str | Path]:
    """`rasa test nlu` on the held-out set into out_dir, without its --model."""
    return ["test", "nlu", "--nlu", settings.training.holdout, "--out", out_dir]


@dataclass
class _Phases:
    """Where a train_and_evaluate process is: training until the EVALUATING line, then
    evaluating. The training's output moves `progress`; all of it goes to `log`."""

    model: Path
    progress: ProgressMap
    log: LogTail
    on_evaluating: Callable[[], None]
    trained_at: float | None = None
    """time.monotonic() when the training was over (the EVALUATING line)."""

    def what(self) -> str:
        return "rasa train" if self.trained_at is None else f"rasa test nlu ({self.model.name})"

    def line(self, line: str) -> None:
        self.log.add(line)
        if self.trained_at is not None:
            return
        if EVALUATING in line:
            self.trained_at = time.monotonic()
            self.progress.report("model saved", 1.0)
            self.on_evaluating()
        else:
            self.progress.line(line)


async def train_and_evaluate(
    settings: NluSettings,
    name: str,
    out_dir: Path,
    *,
    progress: ProgressMap,
    log: LogTail,
    on_evaluating: Callable[[], None],
    cancel: asyncio.Event | None = None,
    finetune: Path | None = None,
) -> tuple[TrainedModel, dict[str, Any]]:
    """`rasa train` into models/registry/<name>.tar.gz, then `rasa test nlu` of it on the
    held-out set into out_dir (as `evaluate_model`), in one Rasa process (TRAIN_THEN_TEST):
    the model and its metrics. `progress` follows the training; `on_evaluating` is called when
    the evaluation starts.

    With `finetune`, Rasa's incremental training continuing from that model for conf/nlu.yml's
    fraction of the epochs (Rasa refuses it, and the training fails, when the configuration,
    domain or label set changed). Without `rasa train`'s own validation: every edit the loop
    makes to data/ and the domain was validated when it was made (nlu.validate.validated_edit),
    and CI validates the rest.

    TrainingFailed when the training failed (nothing was evaluated; its model file is removed),
    EvaluationFailed when the evaluation did; the time limit is the sum of the two's."""
    settings.registry_dir.mkdir(parents=True, exist_ok=True)
    target = settings.registry_dir / f"{name}.tar.gz"
    fresh_output_dir(out_dir)
    started = time.monotonic()
    progress.report("training: loading data", 0.0)
    phases = _Phases(target, progress, log, on_evaluating)
    args = [*train_args(settings, name, finetune), "--", *evaluate_args(settings, out_dir)]
    time_limit = TRAIN_TIMEOUT + EVALUATE_TIMEOUT
    try:
        returncode, tail = await _run(
            settings,
            addons_command(settings, TRAIN_THEN_TEST, *args),
            env=addons_env(settings, {"LOG_LEVEL": "INFO"}),  # progress: INFO lines and tqdm
            what=phases.what,
            on_line=phases.line,
            cancel=cancel,
            time_limit=time_limit,
        )
    except BaseException:
        if phases.trained_at is None:
            target.unlink(missing_ok=True)
        raise
    if returncode == EVALUATION_FAILED and phases.trained_at is None:
        phases.trained_at = time.monotonic()  # its EVALUATING line was lost, not its status
    problem = _problem(phases.what(), returncode, tail, time_limit)
    if problem is not None and phases.trained_at is not None:
        raise EvaluationFailed(problem)
    if problem is not None:
        target.unlink(missing_ok=True)
        raise TrainingFailed(problem)
    if not target.is_file():
        raise TrainingFailed(f"rasa train finished but wrote no {target.name}")
    seconds = (phases.trained_at or time.monotonic()) - started
    trained = TrainedModel(target, await asyncio.to_thread(file_sha256, target), seconds)
    return trained, await asyncio.to_thread(read_metrics, out_dir, holdout_sha256(settings))


async def evaluate_model(
    settings: NluSettings,
    model: Path,
    out_dir: Path,
    *,
    log: LogTail,
    cancel: asyncio.Event | None = None,
) -> dict[str, Any]:
    """`rasa test nlu` on the held-out set; the report and confusion matrix stay in out_dir."""
    fresh_output_dir(out_dir)
    await run_rasa(
        settings,
        [*evaluate_args(settings, out_dir), "--model", model],
        what=f"rasa test nlu ({model.name})",
        on_line=log.add,
        cancel=cancel,
        time_limit=EVALUATE_TIMEOUT,
    )
    return await asyncio.to_thread(read_metrics, out_dir, holdout_sha256(settings))


async def cross_validate(
    settings: NluSettings,
    out_dir: Path,
    *,
    progress: ProgressMap,
    log: LogTail,
    cancel: asyncio.Event | None = None,
) -> dict[str, Any]:
    """`rasa test nlu --cross-validation` of the training config on data/nlu."""
    fresh_output_dir(out_dir)
    folds = settings.training.cross_validation_folds
    progress.report(f"cross-validation ({folds} folds)", 0.0)

    def on_line(line: str) -> None:
        log.add(line)
        progress.line(line)

    args: list[str | Path] = [
        "test",
        "nlu",
        "--cross-validation",
        "--folds",
        str(folds),
        "--config",
        settings.train_config,
        "--domain",
        settings.domain_file,
        "--nlu",
        settings.data_dir / "nlu",
        "--out",
        out_dir,
    ]
    await run_rasa(
        settings,
        args,
        what="rasa test nlu --cross-validation",
        on_line=on_line,
        cancel=cancel,
        extra_env={"LOG_LEVEL": "INFO"},
    )
    metrics = read_metrics(out_dir)
    metrics["folds"] = folds
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics
