"""Managers load the billing system's exports from the console: `POST /api/v1/imports` and the
page `/console/import` (its script, like every console page's, at
`/console/static/console-import.js`: bot/console/pages.py).

The upload is multipart/form-data: `kind` (areas | accounts | meters | bills), `file` (.csv or
.xlsx) and `dry_run` ("1"/"true"/"on": check only). It answers 200 with the import's report
(store/importing/report.py `as_json`) whether the file was applied, only checked, or refused for
rejected rows (`outcome` says which; nothing is written unless every row is good: the console
has no partial import); 413 over conf/imports.yml `max_upload_bytes`; 422 for a form without a
kind or a file; 409 when the database refused the writes (every row rolled back).

The body is streamed with the file's own limit (the gateway's request limit, 64 KiB, is for chat
messages), so the page sends its CSRF token in the X-CSRF-Token header. A plain form with a
`csrf_token` field works too, but only within the gateway's limit (the CSRF check reads it).
Staff guide and API reference: docs/import.md.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import BodyPartReader, web
from aiohttp.web_request import FileField
from multidict import MultiDictProxy
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.pages import page_response
from bot.console.state import CONSOLE, ApiError
from store.config import Settings, default_conf_dir, load_settings
from store.importing import (
    IMPORT_KINDS,
    ImportLimits,
    ImportRequest,
    load_import_limits,
    run_import,
)

log = logging.getLogger(__name__)

ROLES: Final = auth.IMPORT_ROLES
PATH: Final = "/api/v1/imports"
PAGE: Final = "console-import.html"
FIELD_LIMIT: Final = 256
"""Bytes of a form field other than the file."""
TRUE: Final = frozenset({"1", "true", "on", "yes"})
STORE_SETTINGS: Final = web.AppKey("import_store_settings", Settings)
LIMITS: Final = web.AppKey("import_limits", ImportLimits)


@dataclass
class Upload:
    kind: str = ""
    file_name: str = ""
    data: bytes = b""
    dry_run: bool = False
    has_file: bool = False


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"文件超过上限 {limit // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def _from_form(form: MultiDictProxy[str | bytes | bytearray | FileField]) -> Upload:
    """A small form the CSRF check already parsed (its token came as a form field, so the
    body was within the gateway's request limit)."""
    upload = Upload()
    kind, dry_run, file = form.get("kind"), form.get("dry_run"), form.get("file")
    upload.kind = kind.strip() if isinstance(kind, str) else ""
    upload.dry_run = isinstance(dry_run, str) and dry_run.strip().lower() in TRUE
    if isinstance(file, FileField):
        upload.data = file.file.read()
        upload.file_name = (file.filename or "upload").strip()[:255] or "upload"
        upload.has_file = True
    return upload


async def _upload(request: web.Request, limit: int) -> Upload:
    """The form's fields, the file read up to `limit` bytes."""
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data")
    if auth.CSRF_HEADER not in request.headers:
        return _from_form(await request.post())
    if (request.content_length or 0) > limit + 64 * 1024:
        raise ApiError(413, "too_large", f"文件超过上限 {limit // (1024 * 1024)} MB")
    upload = Upload()
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ApiError(422, "invalid", "nested multipart is not accepted")
        if part.name == "file":
            upload.data = await _read_part(part, limit)
            upload.file_name = (part.filename or "upload").strip()[:255] or "upload"
            upload.has_file = True
            continue
        value = (await _read_part(part, FIELD_LIMIT)).decode("utf-8", "replace").strip()
        if part.name == "kind":
            upload.kind = value
        elif part.name == "dry_run":
            upload.dry_run = value.lower() in TRUE
    return upload


def _checked(upload: Upload) -> Upload:
    if upload.kind not in IMPORT_KINDS:
        raise ApiError(422, "invalid", f"kind must be one of {', '.join(IMPORT_KINDS)}")
    if not upload.has_file:
        raise ApiError(422, "invalid", "a file is required")
    return upload


@auth.require(ROLES)
async def post_import(request: web.Request) -> web.Response:
    limits = request.app[LIMITS]
    upload = _checked(await _upload(request, limits.max_upload_bytes))
    me = auth.staff_of(request)
    state = request.app[CONSOLE]
    import_request = ImportRequest(
        kind=upload.kind,
        file_name=upload.file_name,
        data=upload.data,
        actor=me.username,
        dry_run=upload.dry_run,
    )
    settings = request.app[STORE_SETTINGS]
    now = state.clock()

    def work(session: Session) -> dict[str, Any]:
        return run_import(session, import_request, settings, limits, now=now).as_json()

    try:
        report = await state.db(work)
    except SQLAlchemyError as exc:
        log.warning("import by %s rolled back: %s", me.username, exc.__class__.__name__)
        raise ApiError(409, "database", "数据库拒绝了写入，已全部回滚，没有导入任何数据") from None
    return web.json_response(report)


@auth.require(ROLES, kind="page")
async def import_page(request: web.Request) -> web.StreamResponse:
    max_mb = str(request.app[LIMITS].max_upload_bytes // (1024 * 1024))
    values = {**auth.page_values(request), "max_mb": max_mb}
    return await page_response(request, request.app[CONSOLE].files, PAGE, values)


async def _load(app: web.Application) -> None:
    state = app[CONSOLE]
    conf_dir = state.settings.conf_dir or default_conf_dir()
    app[STORE_SETTINGS] = await asyncio.to_thread(load_settings, conf_dir)
    app[LIMITS] = await asyncio.to_thread(load_import_limits, conf_dir)


def setup(app: web.Application) -> None:
    """Register the routes (after the console's own setup: it needs app[CONSOLE])."""
    app.router.add_post(PATH, post_import, name="imports")
    app.router.add_get("/console/import", import_page, name="console-imports")
    app.on_startup.append(_load)
