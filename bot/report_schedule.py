"""The gateway's scheduled job of the evaluation reports: every conf/quality_reports.yml
`check_every_minutes`, and once at start-up, it brings the service-quality facts up to date
(store/quality: rows committed out of order included, so a fresh `make run` has its dashboard's
facts built in the background, not on the manager's first page load), then makes the monthly,
quarterly and annual reports whose period has closed and that are not stored yet
(store/quality_reports/generate.py).

Both run in a child process, `python -m store report --due` (store/report_cli.py), never in
the gateway (bot/report_child.py, shared with the console's "generate now": why, the child's
environment without the gateway's secrets, its time limit `time_limit_minutes`). A failed pass
is logged; nothing of it is remembered, so the next pass simply tries again.

It is safe to run in every gateway replica and after any restart: the stored reports are unique
on (kind, period) for the scheduled ones, so each is made once (two children racing for the
same period: one insert wins, the other is rolled back). QUALITY_REPORTS=0 turns the job off
(the reports on demand still work).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.handoff.watcher import Periodic
from bot.report_child import ReportJobFailed, run_report_child
from store import quality_reports
from store.config import Settings
from store.quality_reports import ReportConfig
from store.report_cli import MADE

log = logging.getLogger(__name__)


class ReportSchedule:
    def __init__(
        self,
        database_url: str,
        settings: Settings,
        config: ReportConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database_url = database_url
        self._settings = settings
        self._config = config
        self._clock = clock
        every = config.check_every.total_seconds() if config.kinds else 0.0
        self._periodic = Periodic("quality-reports", self._pass, lambda: every)

    def arguments(self) -> list[str]:
        """The child's arguments (`--now`: the job's clock, so what is due is decided by the
        gateway's clock, tests' included)."""
        return ["--due", "--now", self._clock().isoformat()]

    async def run_once(self) -> list[str]:
        """One pass in a child process: the labels of the reports it made ("monthly 2026-11").
        ReportJobFailed when the child fails or runs out of time (it is killed then)."""
        done = await run_report_child(
            self.arguments(), self._database_url, self._settings, self._config.time_limit
        )
        made = done.lines(MADE)
        if made:
            log.info("evaluation reports made: %s", ", ".join(made))
        return made

    async def tick(self) -> list[str]:
        """One scheduled pass: as `run_once`, a failure logged (none made; the next pass tries
        again)."""
        try:
            return await self.run_once()
        except (ReportJobFailed, OSError) as exc:
            minutes = self._config.check_every.total_seconds() / 60
            log.error("evaluation reports: %s; tried again in %g min", exc, minutes)
            return []

    async def _pass(self) -> None:
        await self.tick()

    def start(self) -> None:
        """Passes from now on (none when conf/quality_reports.yml schedules no kind)."""
        self._periodic.start()

    async def stop(self, grace: float) -> None:
        await self._periodic.stop(grace)


def start_schedule(database_url: str, settings: Settings) -> ReportSchedule:
    """The job with conf/quality_reports.yml of the station's configuration, started."""
    schedule = ReportSchedule(
        database_url, settings, quality_reports.read_report_config(settings.conf_dir)
    )
    schedule.start()
    return schedule
