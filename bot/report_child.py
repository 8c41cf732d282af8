"""The evaluation reports are made in a child process, `python -m store report ...`
(store/report_cli.py), never in the gateway: laying out a PDF holds the interpreter for seconds
and leaves the gateway's memory hundreds of megabytes larger, and the first build of a year's
facts takes minutes. Both ways the gateway makes them run it through `run_report_child`: the
scheduled job (bot/report_schedule.py, `--due`) and the console's "generate now"
(bot/console/quality_reports_api.py, `--period`).

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from nlu.rasa_cli import without_secrets
from store.config import PROJECT_ROOT, Settings

TAIL_LINES = 5
"""The last lines of a failed child's error output its ReportJobFailed (and so the log) shows."""


class ReportJobFailed(Exception):
    """The child exited with an error, or ran out of time and was killed (`timed_out`)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


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


def _tail(output: bytes) -> str:
    lines = [line for line in output.decode("utf-8", "replace").splitlines() if line.strip()]
    return " | ".join(lines[-TAIL_LINES:]) or "no output"


async def run_report_child(
    args: Sequence[str], database_url: str, settings: Settings, time_limit: timedelta
) -> ChildDone:
    """Run `python -m store report ARGS` and await it. ReportJobFailed when it exits with an
    error (with the tail of its error output) or takes longer than `time_limit` (it is killed
    then); OSError when it cannot be started."""
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
            f"child {process.pid} failed (exit status {process.returncode}): {_tail(err)}"
        )
    return ChildDone(process.pid, out.decode("utf-8", "replace"))
