"""The web chat's page and its assets, read into memory (re-read when a file changed), served
with ETags, cache headers and a strict Content-Security-Policy."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import hdrs, web

from bot.static_dir import Stamp, read_if_changed

ASSETS: Final[Mapping[str, str]] = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
"""The only files served under /static/, with their Content-Type."""
PAGE: Final = "index.html"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    etag: str
    content_type: str


@dataclass
class StaticFiles:
    """The page and its assets, read into memory; re-read when a file changed (on page loads)."""

    directory: Path
    max_text_chars: int
    files: dict[str, StaticFile] = field(default_factory=dict)
    version: str = ""
    _stamp: Stamp = ()

    def refresh(self) -> None:
        snapshot = read_if_changed(self.directory, [PAGE, *ASSETS], ASSETS, self._stamp)
        if snapshot is None:
            return
        raw, version, stamp = snapshot.raw, snapshot.version, snapshot.stamp
        page = (
            raw[PAGE]
            .decode("utf-8")
            .replace("{{version}}", version)
            .replace("{{max_text_chars}}", str(self.max_text_chars))
            .encode("utf-8")
        )
        files = {n: StaticFile(raw[n], _etag(raw[n]), t) for n, t in ASSETS.items()}
        files[PAGE] = StaticFile(page, _etag(page), "text/html; charset=utf-8")
        self.files, self.version, self._stamp = files, version, stamp


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:20]}"'


_HOST_RE: Final = re.compile(r"[a-z0-9.\-]+(:\d{1,5})?|\[[0-9a-f:.]+\](:\d{1,5})?")


def content_security_policy(host: str, frame_origins: Sequence[str]) -> str:
    connect = ["'self'"]
    ancestors = " ".join(["'self'", *frame_origins])
    host = host.lower()
    if _HOST_RE.fullmatch(host):  # spelled out for browsers whose 'self' does not cover ws:
        connect += [f"ws://{host}", f"wss://{host}"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {' '.join(connect)}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {ancestors}",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


def security_headers(response: web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"


def file_response(request: web.Request, file: StaticFile, cache_control: str) -> web.Response:
    if file.etag in request.headers.get(hdrs.IF_NONE_MATCH, ""):
        response = web.Response(status=304)
    else:
        response = web.Response(body=file.body)
        response.headers[hdrs.CONTENT_TYPE] = file.content_type
    response.headers[hdrs.ETAG] = file.etag
    response.headers[hdrs.CACHE_CONTROL] = cache_control
    security_headers(response)
    return response
