"""The console's pages and their assets, served like the web chat's (bot/channels/webchat.py):
files from bot/static/ read into memory, assets linked with a content hash, a strict
Content-Security-Policy (no inline script or style, Trusted Types), no CDN.

Pages are small templates: `{{name}}` placeholders are replaced by HTML-escaped values, and
`{{>part}}` includes what every page shares: `{{>head}}` (meta tags, CSRF token, icon, the base
style sheet), `{{>nav}}` (the sections the staff member's role may open, bot/console/nav.py) and
`{{>logout}}` (the log-out form). A part may hold placeholders of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import hdrs, web

from bot.console import nav
from bot.static_dir import Stamp, read_if_changed

_JS: Final = "text/javascript; charset=utf-8"
_CSS: Final = "text/css; charset=utf-8"
ASSETS: Final[Mapping[str, str]] = {
    "console.js": _JS,
    "console-supervisor.js": _JS,
    "console-nlu.js": _JS,
    "console.css": _CSS,
    "icon.svg": "image/svg+xml",
    # the back office: repairs (bot/console/dispatch_pages.py), cases and customer records
    # (case_common.py), imports (import_api.py)
    "console-dispatch.js": _JS,
    "console-dispatch.css": _CSS,
    "console-cases.js": _JS,
    "console-feedback.js": _JS,
    "console-applications.js": _JS,
    "console-customers.js": _JS,
    "console-cases.css": _CSS,
    "console-import.js": _JS,
    # outage notices (bot/outages/)
    "console-outages.js": _JS,
    "console-outages.css": _CSS,
    # service quality (bot/console/quality_api.py); echarts.min.js is Apache ECharts, vendored
    # unchanged from the npm registry (scripts/vendor-echarts.sh, bot/static/vendor/README.md)
    "console-quality-common.js": _JS,
    "console-quality.js": _JS,
    "console-quality-charts.js": _JS,
    "console-quality-plan.js": _JS,
    "console-scorecards.js": _JS,
    "console-quality.css": _CSS,
    "console-chart-policy.js": _JS,
    "echarts.min.js": _JS,
    # the evaluation reports (bot/console/quality_reports_api.py)
    "console-quality-reports.js": _JS,
    "console-quality-reports.css": _CSS,
}
"""The only files served under /console/static/: public, none carries data."""
VENDORED: Final = frozenset({"echarts.min.js"})
"""Third-party files kept exactly as published (their licence headers name URLs; nothing is
fetched from them: the pages' Content-Security-Policy allows only this gateway)."""
CHART_PAGES: Final = frozenset({"console-quality.html"})
"""Pages that draw ECharts charts. ECharts' canvas renderer empties its container with
`innerHTML = ""`, which Trusted Types refuses; these pages allow one Trusted Types policy,
"default", which console-chart-policy.js creates to let the empty string (and only it) through."""
PAGES: Final = (
    "console-login.html",
    "console.html",
    "console-supervisor.html",
    "console-nlu.html",
    "console-tickets.html",
    "console-ticket.html",
    "console-crew.html",
    "console-feedback.html",
    "console-applications.html",
    "console-customers.html",
    "console-import.html",
    "console-outages.html",
    "console-quality.html",
    "console-scorecards.html",
    "console-quality-reports.html",
    "console-quality-report.html",
)
"""Every page of the console and the back office (templates, see `ConsoleFiles.render`)."""
PARTS: Final[Mapping[str, str]] = {
    "head": "console-part-head.html",
    "logout": "console-part-logout.html",
}
"""The shared pieces a page includes with `{{>name}}` (besides `{{>nav}}`, built from the role)."""

_HOST_RE: Final = re.compile(r"[a-z0-9.\-]+(:\d{1,5})?|\[[0-9a-f:.]+\](:\d{1,5})?")
_PLACEHOLDER: Final = re.compile(r"\{\{([a-z_]+)\}\}")
_NAV_MARK: Final = "\x00nav\x00"  # no template or escaped value can hold a NUL
_PART: Final = re.compile(r"\{\{>([a-z_]+)\}\}")


def content_security_policy(host: str, *, charts: bool = False) -> str:
    """The pages' policy; `charts`: the one Trusted Types policy of `CHART_PAGES`."""
    connect = ["'self'"]
    host = host.lower()
    if _HOST_RE.fullmatch(host):
        connect += [f"ws://{host}", f"wss://{host}"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src {' '.join(connect)}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types default" if charts else "trusted-types 'none'",
        ]
    )


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:20]}"'


@dataclass
class ConsoleFiles:
    """Pages and assets read into memory; re-read when a file changed (on page loads)."""

    directory: Path
    raw: dict[str, bytes] = field(default_factory=dict)
    version: str = ""
    _stamp: Stamp = ()

    def refresh(self) -> None:
        snapshot = read_if_changed(
            self.directory, [*PAGES, *PARTS.values(), *ASSETS], ASSETS, self._stamp
        )
        if snapshot is not None:
            self.raw, self.version, self._stamp = snapshot.raw, snapshot.version, snapshot.stamp

    def render(self, page: str, values: Mapping[str, str]) -> str:
        values = {"version": self.version, **values}
        template = _PART.sub(lambda m: self._part(m.group(1)), self.raw[page].decode("utf-8"))
        rendered = _PLACEHOLDER.sub(
            lambda m: html.escape(values.get(m.group(1), ""), quote=True), template
        )
        # after the placeholders: the navigation is HTML built (and escaped) by nav.render
        return rendered.replace(_NAV_MARK, nav.render(values.get("role", ""), page))

    def _part(self, name: str) -> str:
        if name == "nav":
            return _NAV_MARK
        return self.raw[PARTS[name]].decode("utf-8")  # KeyError: a template names no such part


def security_headers(response: web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"


async def page_response(
    request: web.Request,
    files: ConsoleFiles,
    page: str,
    values: Mapping[str, str],
    status: int = 200,
) -> web.Response:
    await asyncio.to_thread(files.refresh)  # picks up edited files without a restart
    response = web.Response(
        text=files.render(page, values), status=status, content_type="text/html", charset="utf-8"
    )
    response.headers[hdrs.CACHE_CONTROL] = "no-store"  # carries the CSRF token
    policy = content_security_policy(request.host, charts=page in CHART_PAGES)
    response.headers["Content-Security-Policy"] = policy
    security_headers(response)
    return response


async def asset(request: web.Request, files: ConsoleFiles) -> web.Response:
    name = request.match_info["name"]
    content_type = ASSETS.get(name)
    if content_type is None or name not in files.raw:
        raise web.HTTPNotFound()
    body = files.raw[name]
    etag = _etag(body)
    if etag in request.headers.get(hdrs.IF_NONE_MATCH, ""):
        response = web.Response(status=304)
    else:
        response = web.Response(body=body)
        response.headers[hdrs.CONTENT_TYPE] = content_type
    response.headers[hdrs.ETAG] = etag
    versioned = request.query.get("v") == files.version
    response.headers[hdrs.CACHE_CONTROL] = (
        "public, max-age=31536000, immutable" if versioned else "no-cache"
    )
    security_headers(response)
    return response
