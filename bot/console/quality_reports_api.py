"""The periodic evaluation reports on the console (issue 18; docs/quality-reports.md): the list
and each report's page, their files, and "generate now" as a background job. Managers and
supervisors read them (`READ_ROLES`); only managers, who see the whole station, make one on
demand.

- ``GET /console/quality/reports`` the list page; ``GET /console/quality/reports/{id}`` a report,
  its stored HTML inside the console's page (its inline style allowed by its hash, no script);
- ``GET /api/v1/quality/reports`` every stored report, newest first, each with the id of the
  report of the same kind a year before, when one is stored;
- ``POST /api/v1/quality/reports`` ``{"period": "2026-11"}`` starts a job making the report and
  answers at once, 202 with the job (state ``running``). The job is a row of
  `quality_report_jobs` (store/services/quality_report_jobs.py), so every gateway replica and a
  restarted gateway see it: while one of the same kind and period runs, on any replica, a
  second POST answers 409 ``running`` naming it; at most `MAX_RUNNING` (2) run at once, of
  different periods (409 ``busy`` naming them). The report is made in a child process as the
  scheduled job does (bot/report_child.py: `python -m store report --period`), never in the
  gateway, under the same time limit (`schedule.time_limit_minutes`); the job ends ``done``
  with the report's id, or ``failed`` with one line why (the child's last word, masked; the
  gateway's log has its last lines);
- ``GET /api/v1/quality/reports/jobs`` the jobs running and the latest ended ones, what the
  page polls. A running job older than the time limit and `STALE_MARGIN` lost its gateway (a
  gateway ends its own jobs): it is ended ``interrupted`` ("中断") there and then, and no longer
  blocks a new one. A gateway stopping stops its children and ends their jobs ``interrupted``
  (`RESTARTED`);
- ``GET /api/v1/quality/reports/{id}`` one report's facts; ``.../{id}/html|pdf|csv|xlsx`` its
  files, as downloads.

The reports themselves are made and kept by store/quality_reports (one computation with the
dashboard: store/quality).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
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
from store.config import Settings, default_conf_dir, load_settings
from store.db import database_url, normalise_url
from store.quality import Period
from store.quality_reports import ReportConfig
from store.report_cli import STORED
from store.services import quality_report_jobs as jobs
from store.services.quality_report_jobs import ReportJobState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BASE: Final = "/api/v1/quality/reports"
PAGE: Final = "/console/quality/reports"
REPORTS: Final = web.AppKey("quality_reports", views.ReportsState)
READ_ROLES: Final = auth.QUALITY_ROLES
"""Who lists, reads and downloads reports: managers and supervisors. A report is the station's
periodic evaluation, circulated whole to the team leads (unlike the dashboard, where a
supervisor sees their team's part only): figures and masked customer words, no customer
records."""
GENERATE_ROLES: Final = roles.SEES_ALL_QUALITY
"""Who makes a report on demand: managers (a report covers the whole station)."""
JOBS_LISTED: Final = 10
"""The ended jobs the jobs' list shows (beside every running one), the newest first."""
STALE_MARGIN: Final = timedelta(minutes=2)
"""A running job started longer ago than the time limit and this lost its gateway: the gateway
stops its child at the time limit and ends the job at once."""
FAILED: Final = "生成报告失败，请管理员查看网关日志。"
FAILED_BECAUSE: Final = "生成报告失败：{reason}"
TIMED_OUT: Final = (
    "生成报告超过 {minutes} 分钟仍未完成，已停止。请稍后再试，或请管理员查看网关日志。"
)
RESTARTED: Final = "网关重启，已中断，请重新生成"
STALE: Final = "网关已停止运行，生成中断，请重新生成"
RUNNING: Final = "{period} 的{kind}报告正在生成（{by} 于 {at} 开始），请等它完成。"
BUSY: Final = "已有 {count} 份报告正在生成（{periods}），请等其中一份完成后再试。"
Json = dict[str, Any]
T = TypeVar("T")
log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    """Register the routes (after the console's database: its jobs are ended before the
    database closes)."""
    app[REPORTS] = views.ReportsState()
    app.on_startup.append(_load)
    app.cleanup_ctx.append(_stop_jobs)
    add = app.router
    add.add_get(PAGE, list_page, name="console-quality-reports")
    add.add_get(PAGE + r"/{report_id:\d{1,9}}", report_page, name="console-quality-report")
    add.add_get(BASE, get_reports, name="quality-reports")
    add.add_post(BASE, post_report, name="quality-reports-generate")
    add.add_get(BASE + "/jobs", get_jobs, name="quality-report-jobs")
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


def _sweep(session: Session, config: ReportConfig, now: datetime) -> None:
    """End the running jobs whose gateway died (`STALE_MARGIN`)."""
    started_before = now - config.time_limit - STALE_MARGIN
    count = jobs.interrupt_stale(session, started_before=started_before, error=STALE, now=now)
    if count:
        log.warning("%d quality report job(s) found without their gateway: interrupted", count)


def _refused(refusal: jobs.JobRunning | jobs.JobsFull, settings: Settings) -> Json:
    """The 409's body for a job that may not start: the same period's job running, or too many
    of other periods."""
    if isinstance(refusal, jobs.JobRunning):
        job = views.job_json(refusal.job, settings)
        message = RUNNING.format(
            period=job["period"],
            kind=job["kind_name"],
            by=job["requested_by"],
            at=job["started_at"][11:16],
        )
        return {"error": {"code": "running", "message": message}, "job": job}
    running = [views.job_json(j, settings) for j in refusal.jobs]
    periods = "、".join(j["period"] for j in running)
    message = BUSY.format(count=len(running), periods=periods)
    return {"error": {"code": "busy", "message": message}, "jobs": running}


@auth.require(GENERATE_ROLES)
async def post_report(request: web.Request) -> web.Response:
    state, console = request.app[REPORTS], request.app[CONSOLE]
    settings, config = state.loaded()
    period = _period(request, await json_body(request))
    me, now = auth.staff_of(request), console.clock()
    kind = quality_reports.kind_of(period)

    def claim(session: Session) -> tuple[int, Json]:
        """(202, the job started) or (409, the refusal), the stale jobs ended either way."""
        _sweep(session, config, now)
        try:
            job = jobs.start_job(
                session, kind=kind, period_label=period.label, requested_by=me.username, now=now
            )
        except (jobs.JobRunning, jobs.JobsFull) as exc:
            return 409, _refused(exc, settings)
        return 202, {"job": views.job_json(job, settings)}

    status, body = await _db(request, claim)
    if status == 202:
        job_id = body["job"]["id"]
        task = asyncio.create_task(_run(request.app, job_id, period, me.username, now))
        state.tasks[job_id] = task
        task.add_done_callback(lambda _: state.tasks.pop(job_id, None))
        log.info("quality report job %d: %s for %s", job_id, period.label, me.username)
    return web.json_response(body, status=status)


async def _make(
    state: views.ReportsState, job_id: int, period: Period, by: str, now: datetime
) -> tuple[int | None, str | None]:
    """Make and store the report of `period` in a child process: (the stored report's id,
    None), or (None, why it failed in one line for staff), logged with the child's last
    lines."""
    settings, config = state.loaded()
    args = [f"--period={period.label}", f"--by={by}", f"--now={now.isoformat()}"]

    def started(pid: int) -> None:
        log.info("quality report job %d: child %d started", job_id, pid)

    try:
        done = await run_report_child(
            args, state.database_url, settings, config.time_limit, started=started
        )
        report_id = int(done.lines(STORED)[-1])
    except ReportJobFailed as exc:
        log.error("quality report %s for %s (job %d): %s", period.label, by, job_id, exc)
        if exc.timed_out:
            minutes = f"{config.time_limit.total_seconds() / 60:g}"
            return None, TIMED_OUT.format(minutes=minutes)
        return None, FAILED_BECAUSE.format(reason=exc.reason) if exc.reason else FAILED
    except (OSError, IndexError, ValueError) as exc:  # not started, or said no id
        log.error("quality report %s for %s (job %d): %r", period.label, by, job_id, exc)
        return None, FAILED
    log.info("quality report %s made for %s by child %d (job %d)", period.label, by, done.pid,
             job_id)  # fmt: skip
    return report_id, None


async def _run(app: web.Application, job_id: int, period: Period, by: str, now: datetime) -> None:
    """The job in the background: the report made, then the job ended done or failed. Cancelled
    (the gateway stopping), the child is stopped and `_stop_jobs` ends the job."""
    state, console = app[REPORTS], app[CONSOLE]
    try:
        report_id, error = await _make(state, job_id, period, by, now)
    except Exception:  # a defect here: still the job ends, failed
        log.exception("quality report job %d", job_id)
        report_id, error = None, FAILED
    ended = ReportJobState.DONE if report_id is not None else ReportJobState.FAILED

    def finish(session: Session) -> None:
        jobs.finish_job(
            session, job_id, state=ended, now=console.clock(), report_id=report_id, error=error
        )

    try:
        await console.db(finish)
    except Exception:  # the database away: the job is found stale later
        log.exception("quality report job %d: could not record it %s", job_id, ended)


async def _stop_jobs(app: web.Application) -> AsyncIterator[None]:
    """At the gateway's stop, before the console's database closes: this gateway's running
    jobs are cancelled (their children killed and reaped), and ended interrupted."""
    yield
    state, console = app[REPORTS], app[CONSOLE]
    running = dict(state.tasks)
    for task in running.values():
        task.cancel()
    await asyncio.gather(*running.values(), return_exceptions=True)
    if not running or console.factory is None:
        return
    ids, now = list(running), console.clock()
    try:
        await console.db(lambda s: jobs.interrupt_jobs(s, ids, error=RESTARTED, now=now))
    except Exception:
        log.exception("quality report jobs %s: could not record them interrupted", ids)
        return
    log.warning("gateway stopping: quality report job(s) %s interrupted", ids)


@auth.require(READ_ROLES)
async def get_jobs(request: web.Request) -> web.Response:
    settings, config = request.app[REPORTS].loaded()
    now = request.app[CONSOLE].clock()

    def work(session: Session) -> list[Json]:
        _sweep(session, config, now)
        latest = jobs.list_jobs(session, limit=JOBS_LISTED)
        found = {j.id: j for j in (*jobs.running_jobs(session), *latest)}
        newest = sorted(found.values(), key=lambda j: (j.started_at, j.id), reverse=True)
        return [views.job_json(j, settings) for j in newest]

    listed = await _db(request, work)
    return web.json_response({"jobs": listed, "max_running": jobs.MAX_RUNNING})
