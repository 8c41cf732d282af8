"""The operators' NLU API, /api/v1/nlu/...: everything the console's NLU page (/console/nlu)
does, as JSON, for the `operator` role only (anonymous 401, other roles 403; every POST needs
the session's CSRF token in `X-CSRF-Token`, like the agent API).

    GET  inbox                      ?status=open|labelled|...|all &reason= &intent= &limit= &offset=
    GET  inbox/{id}                 the item with the conversation around each of its messages
    POST inbox/{id}/label           {"intent", "entities": [{"entity", "value"?, "start", "end"}]}
    POST inbox/{id}/relabel         {"intent", "entities"?}: a labelled (or out-of-scope) item's
                                    example moves to another intent
    POST inbox/{id}/out-of-scope    an out_of_scope example
    POST inbox/{id}/ignore          nothing is written into data/
    POST inbox/{id}/new-intent      {"name", "response_zh", "response_en"?, "entities"?}
    POST inbox/label                {"items": [id, ...], "intent"}: several items, one intent, one
                                    validation (all or none; at most 100, no entities)
    POST inbox/ignore               {"items": [id, ...]}: several open items ignored (all or none)
    GET  intents                    the domain's intents (with their example counts) and entities
    POST train                      {"cross_validation": bool} → 202 and the job, at once
    GET  jobs, GET jobs/{id}        stage, progress, log tail (and a cross-validation's result)
    POST jobs/{id}/cancel
    GET  models, GET models/{id}    the registry; a model's metrics, its per-intent comparison
                                    with the live model, the guard's verdict, its history
    GET  models/{id}/confusion-matrix.png
    POST models/{id}/deploy         {"override_reason"?}: 409 with the guard's reasons when the
                                    guard refused the model and the reason is missing or short
    POST models/{id}/rollback       {"reason"}

The JSON shapes are bot/console/nlu_views.py's, the loop's life in the gateway
bot/console/nlu_lifecycle.py's. The work is nlu.loop's (`NluLoop`): annotations write into
data/ and run `rasa data validate` (several seconds; a refusal is 422 with Rasa's reason and
nothing is written), trainings run as background tasks of this gateway process (one at a time:
409), deployments load the model into the running Rasa. Errors are {"error": {"code",
"message"}} like the agent API, their status from the loop's error types (nlu.rules): 404
unknown item, job or model; 409 a state that does not allow it (already labelled, a job
running, refused by the guard); 422 an invalid body or an edit refused; 503 Rasa unreachable.
Operator's guide: docs/operators.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

from aiohttp import hdrs, web
from sqlalchemy.orm import Session

from bot.console import auth, fields
from bot.console import nlu_views as views
from bot.console.api import json_body
from bot.console.auth import OPERATOR_ROLES
from bot.console.nlu_lifecycle import NLU_CONSOLE, NluConsole, lifecycle
from bot.console.nlu_views import BASE
from bot.console.pages import security_headers
from bot.console.state import CONSOLE, ApiError
from nlu.datafile import EditResult
from nlu.dataindex import DataIndex
from nlu.loop import NluLoop
from nlu.rules import (
    MAX_NAME,
    Conflict,
    DataEditError,
    Failed,
    Invalid,
    NluError,
    NotFound,
    Unavailable,
)
from nlu.settings import NluSettings
from store.db import in_thread
from store.services import access_audit, nlu_inbox, nlu_registry
from store.services.nlu_inbox import NLU_INBOX_REASONS, NLU_INBOX_STATUSES
from store.services.nlu_registry import NLU_JOB_ACTIVE_STATUSES
from store.statuses import NluInboxStatus, NluJobKind, NluJobStatus, NluModelStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PAGE: Final = 200
MAX_RESPONSE_CHARS: Final = 1000
MAX_REASON_CHARS: Final = 2000
HTTP_STATUS: Final[Mapping[type[NluError], int]] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    Unavailable: 503,
    Failed: 409,
}
"""The loop's typed errors (nlu.rules) → HTTP status; the error's `kind` is its code."""


def _loop(request: web.Request) -> NluLoop:
    loop = request.app[NLU_CONSOLE].loop
    if loop is None:
        raise ApiError(503, "unavailable", "the gateway is starting")
    return loop


def _settings(request: web.Request) -> NluSettings:
    return _loop(request).settings


@contextlib.contextmanager
def _as_api_error() -> Iterator[None]:
    """The loop's typed errors as the matching ApiError."""
    try:
        yield
    except NluError as exc:
        status = next((HTTP_STATUS[t] for t in type(exc).__mro__ if t in HTTP_STATUS), 409)
        raise ApiError(status, exc.kind, str(exc)) from None


async def _run(work: Callable[[], T]) -> T:
    """A synchronous loop call in a worker thread, its errors as ApiError."""
    with _as_api_error():
        return await asyncio.to_thread(work)


async def _await(work: Awaitable[T]) -> T:
    with _as_api_error():
        return await work


async def _db(request: web.Request, work: Callable[[Session], T]) -> T:
    """`work` in one unit of work on the console's database, in a worker thread."""
    factory = request.app[CONSOLE].factory
    if factory is None:
        raise web.HTTPServiceUnavailable(text="starting")
    return await in_thread(factory, work)


# --- the inbox ----------------------------------------------------------------------------


@auth.require(OPERATOR_ROLES)
async def get_inbox(request: web.Request) -> web.Response:
    status: str | None = request.query.get("status") or NluInboxStatus.OPEN
    if status == "all":
        status = None
    elif status not in NLU_INBOX_STATUSES:
        choices = ", ".join(NLU_INBOX_STATUSES)
        raise ApiError(422, "invalid", f"status must be all or one of {choices}")
    reason = request.query.get("reason") or None
    if reason is not None and reason not in NLU_INBOX_REASONS:
        raise ApiError(422, "invalid", f"reason must be one of {', '.join(NLU_INBOX_REASONS)}")
    intent = (request.query.get("intent") or "").strip() or None
    limit = views.query_int(request, "limit", 50, MAX_PAGE)
    offset = views.query_int(request, "offset", 0, 10**9)

    def work(session: Session) -> dict[str, Any]:
        page = nlu_inbox.list_items(
            session, status=status, reason=reason, intent=intent, limit=limit, offset=offset
        )
        return {"items": [views.item_json(i) for i in page.items], "total": page.total}

    body = await _db(request, work)
    return web.json_response({**body, "limit": limit, "offset": offset})


@auth.require(OPERATOR_ROLES)
async def get_inbox_item(request: web.Request) -> web.Response:
    item_id = views.path_id(request, "item_id", "inbox item")
    inbox_settings = _settings(request).inbox
    opening = access_audit.Opening(
        who=auth.staff_of(request),
        kind="inbox_context",
        address=auth.client_ip(request),
        at=request.app[CONSOLE].clock(),
    )

    def work(session: Session) -> dict[str, Any]:
        try:
            detail = nlu_inbox.get_item(session, item_id, settings=inbox_settings)
        except nlu_inbox.NotFound:
            raise ApiError(404, "not_found", f"no inbox item {item_id}") from None
        shown = [h.hit.conversation_id for h in detail.hits if h.messages]
        access_audit.record_conversations(session, opening, shown)  # a piece of transcript
        return {**views.item_json(detail.item), "hits": [views.hit_json(h) for h in detail.hits]}

    return web.json_response({"item": await _db(request, work)})


async def _item_after(request: web.Request, item_id: int) -> dict[str, Any] | None:
    """The item as it is now (None: it was merged into another one)."""

    def work(session: Session) -> dict[str, Any] | None:
        try:
            return views.item_json(nlu_inbox.item_row(session, item_id))
        except nlu_inbox.NotFound:
            return None

    return await _db(request, work)


async def _annotated(
    request: web.Request, item_id: int, work: Callable[[], EditResult | None]
) -> web.Response:
    me = auth.staff_of(request)
    result = await _run(work)
    log.info("console: %s annotated NLU inbox item %s", me.username, item_id)
    return web.json_response(
        {"item": await _item_after(request, item_id), "edit": views.edit_json(result)}
    )


def _labeller(method: str) -> auth.Handler:
    """POST inbox/{id}/label and /relabel: {"intent", "entities"?} to NluLoop.label_item or
    .relabel_item (a correction of a labelled item)."""

    async def label(request: web.Request) -> web.Response:
        item_id = views.path_id(request, "item_id", "inbox item")
        data = await json_body(request)
        intent = fields.required_text(data, "intent", MAX_NAME)
        entities = views.entities(data)
        loop, me = _loop(request), auth.staff_of(request)
        work = getattr(loop, method)
        return await _annotated(
            request,
            item_id,
            lambda: work(item_id, intent, entities, actor=me.username, actor_id=me.user_id),
        )

    label.__name__ = f"post_{method}"
    return auth.require(OPERATOR_ROLES)(label)


post_label = _labeller("label_item")
post_relabel = _labeller("relabel_item")


@auth.require(OPERATOR_ROLES)
async def post_label_batch(request: web.Request) -> web.Response:
    """Several items, one intent (no entities): one edit of data/, one Rasa validation."""
    data = await json_body(request)
    item_ids = views.item_ids(data)
    intent = fields.required_text(data, "intent", MAX_NAME)
    loop, me = _loop(request), auth.staff_of(request)
    result = await _run(
        lambda: loop.label_items(item_ids, intent, actor=me.username, actor_id=me.user_id)
    )
    log.info("console: %s labelled %d NLU inbox items as %s", me.username, len(item_ids), intent)
    items = [await _item_after(request, item_id) for item_id in item_ids]
    return web.json_response({"items": items, "edit": views.edit_json(result)})


@auth.require(OPERATOR_ROLES)
async def post_ignore_batch(request: web.Request) -> web.Response:
    """Several open items ignored at once (nothing is written into data/); all or none."""
    data = await json_body(request)
    item_ids = views.item_ids(data)
    loop, me = _loop(request), auth.staff_of(request)
    await _run(lambda: loop.ignore_items(item_ids, actor=me.username, actor_id=me.user_id))
    log.info("console: %s ignored %d NLU inbox items", me.username, len(item_ids))
    items = [await _item_after(request, item_id) for item_id in item_ids]
    return web.json_response({"items": items})


def _marker(status: str) -> auth.Handler:
    async def mark(request: web.Request) -> web.Response:
        item_id = views.path_id(request, "item_id", "inbox item")
        loop, me = _loop(request), auth.staff_of(request)
        return await _annotated(
            request,
            item_id,
            lambda: loop.mark_item(item_id, status, actor=me.username, actor_id=me.user_id),
        )

    mark.__name__ = f"post_{status}"
    return auth.require(OPERATOR_ROLES)(mark)


post_out_of_scope = _marker(NluInboxStatus.OUT_OF_SCOPE)
post_ignore = _marker(NluInboxStatus.IGNORED)


@auth.require(OPERATOR_ROLES)
async def post_new_intent(request: web.Request) -> web.Response:
    item_id = views.path_id(request, "item_id", "inbox item")
    data = await json_body(request)
    name = fields.required_text(data, "name", MAX_NAME)
    response_zh = fields.required_text(data, "response_zh", MAX_RESPONSE_CHARS)
    response_en = fields.optional_text(data, "response_en", MAX_RESPONSE_CHARS)
    entities = views.entities(data)
    loop, me = _loop(request), auth.staff_of(request)
    return await _annotated(
        request,
        item_id,
        lambda: loop.create_intent(
            item_id,
            name,
            response_zh=response_zh,
            response_en=response_en,
            entities=entities,
            actor=me.username,
            actor_id=me.user_id,
        ),
    )


@auth.require(OPERATOR_ROLES)
async def get_intents(request: web.Request) -> web.Response:
    settings = _settings(request)
    try:
        index = await asyncio.to_thread(DataIndex.load, settings)
    except DataEditError as exc:
        raise ApiError(500, "data_unreadable", str(exc)) from None
    examples = {
        intent: sum(count for _, count in blocks) for intent, blocks in index.blocks.items()
    }
    intents = [
        {"name": name, "examples": examples.get(name, 0)} for name in sorted(index.domain_intents)
    ]
    return web.json_response({"intents": intents, "entities": sorted(index.domain_entities)})


# --- training -------------------------------------------------------------------------------


@auth.require(OPERATOR_ROLES)
async def post_train(request: web.Request) -> web.Response:
    data = await json_body(request)
    cross_validation = data.get("cross_validation", False)
    if not isinstance(cross_validation, bool):
        raise ApiError(422, "invalid", "cross_validation must be true or false")
    loop, me = _loop(request), auth.staff_of(request)
    kind = NluJobKind.CROSS_VALIDATION if cross_validation else NluJobKind.TRAIN
    job_id = await _await(loop.start_training(actor=me.username, kind=kind))
    request.app[NLU_CONSOLE].started_jobs.add(job_id)
    log.info("console: %s started NLU %s job %s", me.username, kind, job_id)
    job = await _run(lambda: loop.job(job_id))
    return web.json_response({"job": views.job_json(job, with_log=True)}, status=202)


@auth.require(OPERATOR_ROLES)
async def get_jobs(request: web.Request) -> web.Response:
    jobs = await _db(request, lambda s: nlu_registry.list_jobs(s, limit=20))
    active = next((j.id for j in jobs if j.status in NLU_JOB_ACTIVE_STATUSES), None)
    return web.json_response({"jobs": [views.job_json(j) for j in jobs], "active_job_id": active})


@auth.require(OPERATOR_ROLES)
async def get_job(request: web.Request) -> web.Response:
    job_id = views.path_id(request, "job_id", "training job")
    loop = _loop(request)
    job = await _run(lambda: loop.job(job_id))
    body: dict[str, Any] = {"job": views.job_json(job, with_log=True)}
    if job.kind == NluJobKind.CROSS_VALIDATION and job.status == NluJobStatus.SUCCEEDED:
        result = await asyncio.to_thread(loop.cross_validation_result, job_id)
        if result is not None:
            result.pop("confusion_matrix", None)  # a path on the server
        body["cross_validation"] = result
    return web.json_response(body)


@auth.require(OPERATOR_ROLES)
async def post_cancel_job(request: web.Request) -> web.Response:
    job_id = views.path_id(request, "job_id", "training job")
    loop, me = _loop(request), auth.staff_of(request)
    await _run(lambda: loop.cancel_job(job_id, actor=me.username))
    log.info("console: %s cancelled NLU job %s", me.username, job_id)
    return web.json_response({"ok": True})


# --- the registry -------------------------------------------------------------------------


@auth.require(OPERATOR_ROLES)
async def get_models(request: web.Request) -> web.Response:
    models = await _db(request, lambda s: nlu_registry.list_models(s, limit=MAX_PAGE))
    live = next((m.id for m in models if m.status == NluModelStatus.LIVE), None)

    return web.json_response(
        {"models": [views.model_json(m) for m in models], "live_model_id": live}
    )


async def _detail(request: web.Request, model_id: int) -> dict[str, Any]:
    loop = _loop(request)
    detail = await _run(lambda: loop.model(model_id))
    live = await _db(request, nlu_registry.live_model)
    return views.model_detail_json(detail, live, loop.settings)


@auth.require(OPERATOR_ROLES)
async def get_model(request: web.Request) -> web.Response:
    model_id = views.path_id(request, "model_id", "model")
    return web.json_response({"model": await _detail(request, model_id)})


@auth.require(OPERATOR_ROLES)
async def get_confusion_matrix(request: web.Request) -> web.StreamResponse:
    """The picture `rasa test nlu` wrote beside the model (models/registry/<name>/); the path
    comes from the registry, never from the request, and must stay inside the registry."""
    model_id = views.path_id(request, "model_id", "model")
    loop = _loop(request)
    detail = await _run(lambda: loop.model(model_id))
    picture = detail.confusion_matrix
    registry = loop.settings.registry_dir.resolve()
    if picture is None or not _inside(picture, registry):
        raise ApiError(404, "not_found", f"model {model_id} has no confusion matrix")
    response = web.FileResponse(picture)
    response.headers[hdrs.CONTENT_TYPE] = "image/png"
    response.headers[hdrs.CACHE_CONTROL] = "private, no-cache"
    security_headers(response)
    return response


def _inside(path: Path, folder: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_file() and resolved.is_relative_to(folder)


@auth.require(OPERATOR_ROLES)
async def post_deploy(request: web.Request) -> web.Response:
    model_id = views.path_id(request, "model_id", "model")
    data = await json_body(request)
    reason = fields.optional_text(data, "override_reason", MAX_REASON_CHARS)
    loop, me = _loop(request), auth.staff_of(request)
    before = await _detail(request, model_id)
    if before["needs_override"] and len(reason or "") < before["min_reason_chars"]:
        return views.guard_refusal(before)
    await _await(loop.deploy(model_id, actor=me.username, override_reason=reason))
    log.info("console: %s deployed NLU model %s", me.username, model_id)
    return web.json_response({"model": await _detail(request, model_id)})


@auth.require(OPERATOR_ROLES)
async def post_rollback(request: web.Request) -> web.Response:
    model_id = views.path_id(request, "model_id", "model")
    data = await json_body(request)
    reason = fields.required_text(data, "reason", MAX_REASON_CHARS)
    loop, me = _loop(request), auth.staff_of(request)
    await _await(loop.rollback(model_id, actor=me.username, reason=reason))
    log.info("console: %s rolled the NLU model back to %s", me.username, model_id)
    return web.json_response({"model": await _detail(request, model_id)})


# --- wiring -------------------------------------------------------------------------------


def setup(app: web.Application) -> None:
    """Register the routes; the loop is made when the app starts (after the console's
    database), unless `app[NLU_CONSOLE].loop` was set before."""
    if NLU_CONSOLE not in app:
        app[NLU_CONSOLE] = NluConsole()
    add = app.router
    item = f"{BASE}/inbox/{{item_id}}"
    model = f"{BASE}/models/{{model_id}}"
    add.add_get(f"{BASE}/inbox", get_inbox, name="nlu-inbox")
    add.add_post(f"{BASE}/inbox/label", post_label_batch, name="nlu-label-batch")
    add.add_post(f"{BASE}/inbox/ignore", post_ignore_batch, name="nlu-ignore-batch")
    add.add_get(item, get_inbox_item, name="nlu-inbox-item")
    add.add_post(f"{item}/label", post_label, name="nlu-label")
    add.add_post(f"{item}/relabel", post_relabel, name="nlu-relabel")
    add.add_post(f"{item}/out-of-scope", post_out_of_scope, name="nlu-out-of-scope")
    add.add_post(f"{item}/ignore", post_ignore, name="nlu-ignore")
    add.add_post(f"{item}/new-intent", post_new_intent, name="nlu-new-intent")
    add.add_get(f"{BASE}/intents", get_intents, name="nlu-intents")
    add.add_post(f"{BASE}/train", post_train, name="nlu-train")
    add.add_get(f"{BASE}/jobs", get_jobs, name="nlu-jobs")
    add.add_get(f"{BASE}/jobs/{{job_id}}", get_job, name="nlu-job")
    add.add_post(f"{BASE}/jobs/{{job_id}}/cancel", post_cancel_job, name="nlu-job-cancel")
    add.add_get(f"{BASE}/models", get_models, name="nlu-models")
    add.add_get(model, get_model, name="nlu-model")
    add.add_get(f"{model}/confusion-matrix.png", get_confusion_matrix, name="nlu-confusion")
    add.add_post(f"{model}/deploy", post_deploy, name="nlu-deploy")
    add.add_post(f"{model}/rollback", post_rollback, name="nlu-rollback")
    app.cleanup_ctx.append(lifecycle)
