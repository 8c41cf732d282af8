"""The back office's pages (feedback, applications, customers) and their scripts and style:
files of bot/static/ read into memory like the console's own (bot/console/pages.py: the same
template placeholders, the same Content-Security-Policy, no inline script), kept in their own
list so the back office adds pages without touching the agent console's.

Their assets are served under /console/cases/static/<name>: public like the console's (no data
in them), versioned by content hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import hdrs, web

from bot.console.pages import ConsoleFiles, security_headers
from bot.static_dir import read_if_changed

CASE_ASSETS: Final[Mapping[str, str]] = {
    "console-cases.js": "text/javascript; charset=utf-8",
    "console-feedback.js": "text/javascript; charset=utf-8",
    "console-applications.js": "text/javascript; charset=utf-8",
    "console-customers.js": "text/javascript; charset=utf-8",
    "console-cases.css": "text/css; charset=utf-8",
}
"""The only files served under /console/cases/static/."""
CASE_PAGES: Final = (
    "console-feedback.html",
    "console-applications.html",
    "console-customers.html",
)
STATIC_PATH: Final = "/console/cases/static/{name}"


@dataclass
class CaseFiles(ConsoleFiles):
    """The back office's pages and assets (re-read when a file changed, on page loads)."""

    def refresh(self) -> None:
        names = [*CASE_PAGES, *CASE_ASSETS]
        snapshot = read_if_changed(self.directory, names, CASE_ASSETS, self._stamp)
        if snapshot is not None:
            self.raw, self.version, self._stamp = snapshot.raw, snapshot.version, snapshot.stamp


async def case_asset(request: web.Request, files: CaseFiles) -> web.Response:
    name = request.match_info["name"]
    content_type = CASE_ASSETS.get(name)
    if content_type is None or name not in files.raw:
        raise web.HTTPNotFound()
    body = files.raw[name]
    etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
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
