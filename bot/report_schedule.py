"""The gateway's scheduled job of the evaluation reports: every conf/quality_reports.yml
`check_every_minutes`, and once at start-up, it brings the service-quality facts up to date
(store/quality: rows committed out of order included, so a fresh `make run` has its dashboard's
facts built in the background, not on the manager's first page load), then makes the monthly,
quarterly and annual reports whose period has closed and that are not stored yet
(store/quality_reports/generate.py).

It is safe to run in every gateway replica and after any restart: the stored reports are unique
on (kind, period) for the scheduled ones, so each is made once. The work (queries, the PDF's
layout) runs in a worker thread; the event loop keeps serving meanwhile. QUALITY_REPORTS=0 turns
the job off (the reports on demand still work).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.handoff.watcher import Periodic
from store import quality, quality_reports
from store.config import Settings
from store.db import unit_of_work
from store.quality_reports import ReportConfig

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


class ReportSchedule:
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        config: ReportConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._config = config
        self._clock = clock
        every = config.check_every.total_seconds() if config.kinds else 0.0
        self._periodic = Periodic("quality-reports", self._pass, lambda: every)

    async def run_once(self) -> list[str]:
        """One pass: the facts refreshed, then the labels of the reports it made
        ("monthly 2026-11")."""
        await asyncio.to_thread(self._refresh_facts)
        made = await asyncio.to_thread(
            quality_reports.generate_due, self._factory, self._settings, self._config, self._clock()
        )
        if made:
            log.info("evaluation reports made: %s", ", ".join(made))
        return made

    def _refresh_facts(self) -> None:
        with unit_of_work(self._factory) as session:
            result = quality.refresh(session, now=self._clock(), rescan=True)
        log.debug("service-quality facts refreshed: %s", result)

    async def _pass(self) -> None:
        await self.run_once()

    def start(self) -> None:
        """Passes from now on (none when conf/quality_reports.yml schedules no kind)."""
        self._periodic.start()

    async def stop(self, grace: float) -> None:
        await self._periodic.stop(grace)


def start_schedule(factory: sessionmaker[Session], settings: Settings) -> ReportSchedule:
    """The job with conf/quality_reports.yml of the station's configuration, started."""
    schedule = ReportSchedule(
        factory, settings, quality_reports.read_report_config(settings.conf_dir)
    )
    schedule.start()
    return schedule
