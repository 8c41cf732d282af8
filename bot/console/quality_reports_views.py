"""What the reports' routes (bot/console/quality_reports_api.py) answer: a report and a report
job as JSON, the list page, a report's page (the stored document's article inside the console's
page) and the downloads."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import hdrs, web

from bot.console.pages import content_security_policy, page_response, security_headers
from bot.console.state import CONSOLE
from store import quality_reports
from store.config import Settings
from store.quality import Period
from store.quality_reports import KIND_NAMES, ReportConfig, ReportKind, StoredReport
from store.services.quality_report_jobs import QualityReportJob, ReportJobState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

LIST_PAGE: Final = "console-quality-reports.html"
REPORT_PAGE: Final = "console-quality-report.html"
SLOT: Final = "<!--report-->"
"""Where a report's page takes the stored article (a comment no escaped value can contain)."""
CONTENT_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Json = dict[str, Any]


JOB_STATE_NAMES: Final = {
    ReportJobState.RUNNING: "生成中",
    ReportJobState.DONE: "已生成",
    ReportJobState.FAILED: "失败",
    ReportJobState.INTERRUPTED: "中断",
}
"""What staff read for a report job's state."""


@dataclass
class ReportsState:
    """Read when the app starts; `database_url`: the console's database, the one the child
    making a report writes to; `tasks`: this gateway's report jobs running, by job id (the
    gateway stopping stops them)."""

    settings: Settings | None = None
    config: ReportConfig | None = None
    database_url: str = ""
    tasks: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    def loaded(self) -> tuple[Settings, ReportConfig]:
        if self.settings is None or self.config is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self.settings, self.config


def _links(report_id: int) -> Json:
    base = f"/api/v1/quality/reports/{report_id}"
    return {
        "page": f"/console/quality/reports/{report_id}",
        **{fmt: f"{base}/{fmt}" for fmt in quality_reports.FORMATS},
    }


def report_json(report: StoredReport, tz: ZoneInfo, others: Mapping[str, int]) -> Json:
    """A stored report's facts; `others`: the stored reports by (kind, period) for the links to
    the previous period's and the same period's a year before."""
    period, found = Period.parse(report.period), others
    return {
        "id": report.id,
        "kind": str(report.kind),
        "kind_name": KIND_NAMES[report.kind],
        "period": report.period,
        "title": report.title,
        "generated_at": report.generated_at.astimezone(tz).isoformat(timespec="minutes"),
        "generated_by": report.generated_by,
        "scheduled": report.generated_by == quality_reports.GENERATED_BY_SCHEDULE,
        "previous_id": found.get(f"{report.kind} {period.previous().label}"),
        "year_before_id": found.get(f"{report.kind} {period.year_before().label}"),
        "links": _links(report.id),
    }


def _local(at: datetime | None, tz: ZoneInfo) -> str | None:
    return None if at is None else at.astimezone(tz).isoformat(timespec="seconds")


def job_json(job: QualityReportJob, settings: Settings) -> Json:
    """A report job: what it makes, since when and for whom, how it ended (the report's links,
    or the error in one line)."""
    period = Period.parse(job.period_label)
    return {
        "id": job.id,
        "period": job.period_label,
        "kind": job.kind,
        "kind_name": KIND_NAMES[ReportKind(job.kind)],
        "title": quality_reports.report_title(settings.station.name, period),
        "state": job.state,
        "state_name": JOB_STATE_NAMES[ReportJobState(job.state)],
        "started_at": _local(job.started_at, settings.tz),
        "finished_at": _local(job.finished_at, settings.tz),
        "requested_by": job.requested_by,
        "report_id": job.report_id,
        "links": None if job.report_id is None else _links(job.report_id),
        "error": job.error,
    }


def _newest(reports: list[StoredReport]) -> dict[str, int]:
    """(kind, period) → the newest stored report of it (the list is newest first)."""
    newest: dict[str, int] = {}
    for report in reports:
        newest.setdefault(f"{report.kind} {report.period}", report.id)
    return newest


def listing_json(session: Session, settings: Settings) -> list[Json]:
    reports = quality_reports.listing(session, settings.station.name)
    newest = _newest(reports)
    return [report_json(r, settings.tz, newest) for r in reports]


def find(session: Session, report_id: int, settings: Settings) -> Json | None:
    """One report's JSON, with the links to the reports of its kind it compares with."""
    report = quality_reports.get(session, report_id, settings.station.name)
    if report is None:
        return None
    same_kind = quality_reports.listing(session, settings.station.name, report.kind)
    return report_json(report, settings.tz, _newest(same_kind))


async def list_page(request: web.Request, values: dict[str, str]) -> web.StreamResponse:
    return await page_response(request, request.app[CONSOLE].files, LIST_PAGE, values)


def _toolbar(report: Json) -> str:
    links = [("/console/quality/reports", "← 全部报告", False)]
    links += [
        (report["links"][fmt], f"下载 {fmt.upper()}", True)
        for fmt in ("pdf", "xlsx", "csv", "html")
    ]
    for key, word in (("previous_id", "上期报告"), ("year_before_id", "去年同期报告")):
        if report[key] is not None:
            links.append((f"/console/quality/reports/{report[key]}", word, False))
    anchors = "".join(
        f'<a href="{html.escape(href, quote=True)}"{" download" if download else ""}>'
        f"{html.escape(text)}</a>"
        for href, text, download in links
    )
    return f'<nav class="report-tools" aria-label="报告操作">{anchors}</nav>'


def _style_hash(style: str) -> str:
    digest = hashlib.sha256(style.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


async def report_page(
    request: web.Request, values: dict[str, str], report: Json, document: str
) -> web.Response:
    """The console's page with the stored report in it. The report's own style is allowed by
    its hash in the Content-Security-Policy: that one style and nothing else inline."""
    files = request.app[CONSOLE].files
    await asyncio.to_thread(files.refresh)
    style, article = quality_reports.parts(document)
    page = files.render(REPORT_PAGE, {**values, "title": report["title"]})
    body = f"{_toolbar(report)}<style>{style}</style>{article}"
    response = web.Response(
        text=page.replace(SLOT, body, 1), content_type="text/html", charset="utf-8"
    )
    policy = content_security_policy(request.host)
    allowed = policy.replace("style-src 'self'", f"style-src 'self' {_style_hash(style)}")
    if allowed == policy:  # pages.py changed its policy: fail loudly rather than show it bare
        raise RuntimeError("the console's policy has no style-src 'self' to extend")
    response.headers[hdrs.CACHE_CONTROL] = "no-store"
    response.headers["Content-Security-Policy"] = allowed
    security_headers(response)
    return response


def download(report: StoredReport, data: bytes, fmt: str) -> web.Response:
    """A report's file as an attachment named after the report (ASCII and UTF-8 names)."""
    ascii_name = f"quality-report-{report.period}.{fmt}"
    full = quote(f"{report.title}.{fmt}")
    response = web.Response(body=data)
    response.headers[hdrs.CONTENT_TYPE] = CONTENT_TYPES[fmt]
    response.headers[hdrs.CONTENT_DISPOSITION] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{full}"
    )
    response.headers[hdrs.CACHE_CONTROL] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    security_headers(response)
    return response
