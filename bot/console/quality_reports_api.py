"""The periodic evaluation reports on the console (issue 18; docs/quality-reports.md): the list
and each report's page, their files, and "generate now". Managers and supervisors read them
(`READ_ROLES`); only managers, who see the whole station, make one on demand.

- ``GET /console/quality/reports`` the list page; ``GET /console/quality/reports/{id}`` a report,
  its stored HTML inside the console's page (its inline style allowed by its hash, no script);
- ``GET /api/v1/quality/reports`` every stored report, newest first, each with the id of the
  report of the same kind a year before, when one is stored;
- ``POST /api/v1/quality/reports`` ``{"period": "2026-11"}`` makes the report now (201), one at
  a time per gateway (409 while another is being made), in a child process as the scheduled
  job does (bot/report_child.py: `python -m store report --period`), never in the gateway; a
  child that fails answers 500, one out of time (`schedule.time_limit_minutes`) is killed and
  answers 504, both logged with the child's last lines;
- ``GET /api/v1/quality/reports/{id}`` one report's facts; ``.../{id}/html|pdf|csv|xlsx`` its
  files, as downloads.

The reports themselves are made and kept by store/quality_reports (one computation with the
dashboard: store/quality).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aiohttp import web

from bot.console import auth
from bot.console import quality_reports_views as views
from bot.console.api import json_body
from bot.console.fields import required_text
from bot.console.state import CONSOLE, ApiError
from bot.keys import SETTINGS
from bot.report_child import ReportJobFailed, run_report_child
from bot.settings import GatewaySettings
from store import quality_reports, roles
from store.config import default_conf_dir, load_settings
from store.db import database_url, normalise_url
from store.quality import Period
from store.report_cli import STORED

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BASE: Final = "/api/v1/quality/reports"
PAGE: Final = "/console/quality/reports"
REPORTS: Final = web.AppKey("quality_reports", views.ReportsState)
READ_ROLES: Final = auth.QUALITY_ROLES
"""Who lists, reads and downloads reports: managers and supervisors. A report is the station's
periodic evaluation, circulated whole to the team leads (unlike the dashboard, where a
supervisor sees the chat desk only): figures and masked customer words, no customer records."""
GENERATE_ROLES: Final = roles.SEES_ALL_QUALITY
"""Who makes a report on demand: managers (a report covers the whole station)."""
FAILED: Final = "生成报告失败，请管理员查看网关日志。"
TIMED_OUT: Final = (
    "生成报告超过 {minutes} 分钟仍未完成，已停止。请稍后再试，或请管理员查看网关日志。"
)
Json = dict[str, Any]
T = TypeVar("T")
log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    app[REPORTS] = views.ReportsState()
    app.on_startup.append(_load)
    add = app.router
    add.add_get(PAGE, list_page, name="console-quality-reports")
    add.add_get(PAGE + r"/{report_id:\d{1,9}}", report_page, name="console-quality-report")
    add.add_get(BASE, get_reports, name="quality-reports")
    add.add_post(BASE, post_report, name="quality-reports-generate")
    add.add_get(BASE + r"/{report_id:\d{1,9}}", get_report, name="quality-report")
    for fmt in quality_reports.FORMATS:
        add.add_get(BASE + r"/{report_id:\d{1,9}}/" + fmt, get_file, name=f"quality-report-{fmt}")


async def _load(app: web.Application) -> None:
    gateway = app.get(SETTINGS) or GatewaySettings()
    conf_dir = Path(gateway.conf_dir or default_conf_dir())
    state = app[REPORTS]
    state.settings = await asyncio.to_thread(load_settings, conf_dir)
    state.config = await asyncio.to_thread(quality_reports.read_report_config, conf_dir)
    state.database_url = normalise_url(gateway.database_url or database_url())  # the console's


def _id(request: web.Request) -> int:
    return int(request.match_info["report_id"])


async def _db(request: web.Request, work: Callable[[Session], T]) -> T:
    return await request.app[CONSOLE].db(work)


@auth.require(READ_ROLES, kind="page")
async def list_page(request: web.Request) -> web.StreamResponse:
    may = "1" if auth.staff_of(request).role in GENERATE_ROLES else ""
    values = {**auth.page_values(request), "may_generate": may}
    return await views.list_page(request, values)


@auth.require(READ_ROLES, kind="page")
async def report_page(request: web.Request) -> web.StreamResponse:
    report_id, (settings, _) = _id(request), request.app[REPORTS].loaded()

    def work(session: Session) -> tuple[Json, bytes] | None:
        found = views.find(session, report_id, settings)
        html = quality_reports.file_of(session, report_id, "html")
        return None if found is None or html is None else (found, html)

    found = await _db(request, work)
    if found is None:
        raise web.HTTPNotFound(text="404: 没有这份报告。")
    report, html = found
    return await views.report_page(request, auth.page_values(request), report, html.decode())


@auth.require(READ_ROLES)
async def get_reports(request: web.Request) -> web.Response:
    state = request.app[REPORTS]
    settings, _ = state.loaded()
    listed = await _db(request, lambda s: views.listing_json(s, settings))
    return web.json_response({"reports": listed})


@auth.require(READ_ROLES)
async def get_report(request: web.Request) -> web.Response:
    settings, _ = request.app[REPORTS].loaded()
    found = await _db(request, lambda s: views.find(s, _id(request), settings))
    if found is None:
        raise ApiError(404, "not_found", "no such report")
    return web.json_response({"report": found})


@auth.require(READ_ROLES)
async def get_file(request: web.Request) -> web.StreamResponse:
    fmt, report_id = request.path.rsplit("/", 1)[1], _id(request)
    settings, _ = request.app[REPORTS].loaded()

    def work(session: Session) -> tuple[quality_reports.StoredReport, bytes] | None:
        report = quality_reports.get(session, report_id, settings.station.name)
        data = quality_reports.file_of(session, report_id, fmt)
        return None if report is None or data is None else (report, data)

    found = await _db(request, work)
    if found is None:
        raise ApiError(404, "not_found", "no such report")
    report, data = found
    return views.download(report, data, fmt)


def _period(request: web.Request, data: Json) -> Period:
    settings, config = request.app[REPORTS].loaded()
    text = required_text(data, "period", 32)
    today = request.app[CONSOLE].clock().astimezone(settings.tz).date()
    try:
        period = Period.parse(text)
        quality_reports.check_period(period, today, config)
    except ValueError as exc:
        raise ApiError(422, "invalid", f"period: {exc}") from None
    return period


async def _make(state: views.ReportsState, period: Period, by: str, now: datetime) -> int:
    """Make and store the report of `period` in a child process; the stored report's id. An
    ApiError for the manager (500, or 504 out of time) when it fails, logged with the child's
    last lines."""
    settings, config = state.loaded()
    args = [f"--period={period.label}", f"--by={by}", f"--now={now.isoformat()}"]
    try:
        done = await run_report_child(args, state.database_url, settings, config.time_limit)
        report_id = int(done.lines(STORED)[-1])
    except ReportJobFailed as exc:
        log.error("quality report %s for %s: %s", period.label, by, exc)
        if exc.timed_out:
            minutes = f"{config.time_limit.total_seconds() / 60:g}"
            raise ApiError(504, "timeout", TIMED_OUT.format(minutes=minutes)) from None
        raise ApiError(500, "report_failed", FAILED) from None
    except (OSError, IndexError, ValueError) as exc:  # not started, or said no id
        log.error("quality report %s for %s: %r", period.label, by, exc)
        raise ApiError(500, "report_failed", FAILED) from None
    log.info("quality report %s made for %s by child %d", period.label, by, done.pid)
    return report_id


@auth.require(GENERATE_ROLES)
async def post_report(request: web.Request) -> web.Response:
    state = request.app[REPORTS]
    settings, _ = state.loaded()
    period = _period(request, await json_body(request))
    if state.busy.locked():
        raise ApiError(409, "busy", "正在生成另一份报告，请稍后再试")
    console, me = request.app[CONSOLE], auth.staff_of(request)
    if console.factory is None:
        raise web.HTTPServiceUnavailable(text="starting")
    async with state.busy:
        report_id = await _make(state, period, me.username, console.clock())
    # with the ids of the reports it compares with
    found = await _db(request, lambda s: views.find(s, report_id, settings))
    return web.json_response({"report": found}, status=201)
