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

The work is nlu.loop's (`NluLoop`): annotations write into data/ and run `rasa data validate`
(several seconds; a refusal is 422 with Rasa's reason and nothing is written), trainings run as
background tasks of this gateway process (one at a time: 409), deployments load the model into
the running Rasa. Errors are {"error": {"code", "message"}} like the agent API: 404 unknown item,
job or model; 409 a state that does not allow it (already labelled, a job running, refused by
the guard); 422 an invalid body or an edit refused; 503 Rasa unreachable.
Operator's guide: docs/operators.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from aiohttp import hdrs, web
from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.api import json_body
from bot.console.auth import OPERATOR_ROLES
from bot.console.pages import security_headers
from bot.console.state import CONSOLE, ApiError
from bot.keys import BACKENDS, NLU_SETTINGS
from nlu import datafile, guard
from nlu.deploy import RasaServer
from nlu.loop import MAX_BATCH_LABEL, LoopError, ModelDetail, NluLoop
from nlu.settings import NluSettings
from nlu.validate import ValidationFailed
from store.config import default_conf_dir
from store.conversation_refs import mask
from store.models import (
    NLU_INBOX_REASONS,
    NLU_INBOX_STATUSES,
    NLU_JOB_ACTIVE_STATUSES,
    NluInboxItem,
    NluModel,
    NluModelEvent,
    NluTrainingJob,
)
from store.services import access_audit, nlu_inbox, nlu_registry

log = logging.getLogger(__name__)

T = TypeVar("T")
BASE: Final = "/api/v1/nlu"
MAX_PAGE: Final = 200
MAX_RESPONSE_CHARS: Final = 1000
MAX_REASON_CHARS: Final = 2000
MAX_ENTITIES: Final = 20
SHUTDOWN_GRACE: Final = 20.0
"""Seconds the gateway waits at shutdown for its cancelled training jobs to stop."""
STATUS_OF_KIND: Final[Mapping[str, int]] = {
    "not_found": 404,
    "conflict": 409,
    "invalid": 422,
    "unavailable": 503,
    "failed": 409,
}
"""nlu.loop.LoopError.kind → HTTP status."""


@dataclass
class NluConsole:
    """The NLU page's per-application state: the loop (made at start-up unless a test put its
    own here before) and the training jobs this process started (cancelled at shutdown)."""

    loop: NluLoop | None = None
    started_jobs: set[int] = field(default_factory=set)


NLU_CONSOLE: Final = web.AppKey("nlu_console", NluConsole)


def _loop(request: web.Request) -> NluLoop:
    loop = request.app[NLU_CONSOLE].loop
    if loop is None:
        raise ApiError(503, "unavailable", "the gateway is starting")
    return loop


def _settings(request: web.Request) -> NluSettings:
    return _loop(request).settings


def _api_error(exc: LoopError) -> ApiError:
    code = exc.kind
    if isinstance(exc.__cause__, ValidationFailed):
        code = "validation_failed"
    return ApiError(STATUS_OF_KIND.get(exc.kind, 409), code, str(exc))


async def _run(work: Callable[[], T]) -> T:
    """A synchronous loop call in a worker thread, its LoopError as the matching ApiError."""
    try:
        return await asyncio.to_thread(work)
    except LoopError as exc:
        raise _api_error(exc) from None


async def _await(work: Awaitable[T]) -> T:
    try:
        return await work
    except LoopError as exc:
        raise _api_error(exc) from None


async def _db(request: web.Request, work: Callable[[Session], T]) -> T:
    return await request.app[CONSOLE].db(work)


def _id(request: web.Request, name: str, what: str) -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise ApiError(404, "not_found", f"no {what} {raw}")
    return int(raw)


def _query_int(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) > high:
        raise ApiError(422, "invalid", f"{name} must be an integer from 0 to {high}")
    return int(raw)


def _text(data: Mapping[str, Any], name: str, limit: int) -> str | None:
    """An optional string field, stripped (None when missing or blank)."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(422, "invalid", f"{name} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise ApiError(422, "too_long", f"{name} may have at most {limit} characters")
    return value or None


def _required(data: Mapping[str, Any], name: str, limit: int) -> str:
    value = _text(data, name, limit)
    if value is None:
        raise ApiError(422, "invalid", f"{name} must be a non-empty string")
    return value


def _entities(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The body's entities: [{"entity", "start", "end", "value"?}], offsets in characters
    (Unicode code points) of the item's text."""
    raw = data.get("entities", [])
    if not isinstance(raw, list) or len(raw) > MAX_ENTITIES:
        raise ApiError(422, "invalid", f"entities must be a list of at most {MAX_ENTITIES}")
    checked = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ApiError(422, "invalid", f"entity {index}: expected an object")
        name, start, end, value = (entry.get(k) for k in ("entity", "start", "end", "value"))
        if not isinstance(name, str) or not name:
            raise ApiError(422, "invalid", f"entity {index}: entity must be a name")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise ApiError(422, "invalid", f"entity {index} ({name}): start and end are integers")
        if value is not None and not isinstance(value, str):
            raise ApiError(422, "invalid", f"entity {index} ({name}): value must be a string")
        checked.append({"entity": name, "start": start, "end": end, "value": value})
    return checked


# --- JSON ---------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def item_json(item: NluInboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "text": item.text,
        "count": item.count,
        "predicted_intent": item.predicted_intent,
        "confidence": item.confidence,
        "reasons": list(item.reasons),
        "status": item.status,
        "label_intent": item.label_intent,
        "label_entities": item.label_entities or [],
        "note": item.note,
        "first_seen_at": _iso(item.first_seen_at),
        "last_seen_at": _iso(item.last_seen_at),
        "labelled_at": _iso(item.labelled_at),
        "trained_model_id": item.trained_model_id,
    }


def _hit_json(context: nlu_inbox.HitContext) -> dict[str, Any]:
    hit = context.hit
    return {
        "id": hit.id,
        "message_id": hit.message_id,
        "conversation_label": mask(hit.conversation_id) if hit.conversation_id else None,
        "reason": hit.reason,
        "predicted_intent": hit.predicted_intent,
        "confidence": hit.confidence,
        "flagged": hit.flagged_by is not None,
        "at": _iso(hit.created_at),
        "messages": [
            {
                "id": m.id,
                "direction": m.direction,
                "sender": m.sender,
                "text": m.text,
                "at": _iso(m.at),
                "intent": m.intent,
                "confidence": m.confidence,
                "is_hit": m.is_hit,
            }
            for m in context.messages
        ],
    }


def job_json(job: NluTrainingJob, *, with_log: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "active": job.status in NLU_JOB_ACTIVE_STATUSES,
        "stage": job.stage,
        "progress": job.progress,
        "requested_by": job.requested_by_name,
        "model_id": job.model_id,
        "error": job.error,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }
    if with_log:
        out["log_tail"] = job.log_tail
    return out


def _metric(model: NluModel, key: str) -> float | None:
    value = (model.metrics or {}).get(key)
    return float(value) if isinstance(value, int | float) else None


def model_json(model: NluModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "file_name": model.file_name,
        "status": model.status,
        "created_by": model.created_by_name,
        "created_at": _iso(model.created_at),
        "data_hash": model.data_hash,
        "data_hash_short": model.data_hash[:10],
        "config_name": model.config_name,
        "macro_f1": _metric(model, "macro_f1"),
        "accuracy": _metric(model, "accuracy"),
        "guard_passed": model.guard_passed,
        "deployed_at": _iso(model.deployed_at),
        "deployed_by": model.deployed_by_name,
        "parent_id": model.parent_id,
        "train_seconds": model.train_seconds,
    }


def _event_json(event: NluModelEvent) -> dict[str, Any]:
    return {
        "action": event.action,
        "actor": event.actor_name,
        "reason": event.reason,
        "at": _iso(event.created_at),
    }


def _comparison(
    model: NluModel, live: NluModel | None, settings: NluSettings
) -> tuple[dict[str, Any] | None, int | None, str]:
    """(comparison rows, the model compared with, "live" | "at_training"): with the live model
    as it is now when this one is not live and both were evaluated, else what the guard saw."""
    if live is not None and live.id != model.id and model.metrics and live.metrics:
        verdict = guard.compare(model.metrics, live.metrics, settings.guard)
        return verdict.comparison_json(), live.id, "live"
    stored = model.comparison
    compared_with = stored.get("live_model_id") if stored else None
    return stored, compared_with if isinstance(compared_with, int) else None, "at_training"


def model_detail_json(
    detail: ModelDetail, live: NluModel | None, settings: NluSettings
) -> dict[str, Any]:
    model = detail.model
    comparison, compared_with, source = _comparison(model, live, settings)
    out = model_json(model)
    out.update(
        metrics=model.metrics,
        comparison=comparison,
        compared_with=compared_with,
        comparison_source=source,
        guard={
            "passed": model.guard_passed,
            "reasons": list(model.guard_reasons or []),
            "max_macro_f1_drop": settings.guard.max_macro_f1_drop,
            "max_recall_drop": settings.guard.max_recall_drop,
        },
        override_reason=model.override_reason,
        override_by=model.override_by_name,
        notes=model.notes,
        sha256=model.sha256,
        file_exists=detail.file_exists,
        confusion_matrix=(
            f"{BASE}/models/{model.id}/confusion-matrix.png" if detail.confusion_matrix else None
        ),
        events=[_event_json(e) for e in detail.events],
        live_model_id=live.id if live is not None else None,
        can_deploy=model.status in ("candidate", "refused"),
        needs_override=model.status == "refused",
        can_rollback=model.status in ("retired", "candidate", "refused") and detail.file_exists,
        min_reason_chars=settings.guard.min_override_reason,
    )
    return out


# --- the inbox ----------------------------------------------------------------------------


@auth.require(OPERATOR_ROLES)
async def get_inbox(request: web.Request) -> web.Response:
    status: str | None = request.query.get("status") or "open"
    if status == "all":
        status = None
    elif status not in NLU_INBOX_STATUSES:
        choices = ", ".join(NLU_INBOX_STATUSES)
        raise ApiError(422, "invalid", f"status must be all or one of {choices}")
    reason = request.query.get("reason") or None
    if reason is not None and reason not in NLU_INBOX_REASONS:
        raise ApiError(422, "invalid", f"reason must be one of {', '.join(NLU_INBOX_REASONS)}")
    intent = (request.query.get("intent") or "").strip() or None
    limit = _query_int(request, "limit", 50, MAX_PAGE)
    offset = _query_int(request, "offset", 0, 10**9)

    def work(session: Session) -> dict[str, Any]:
        page = nlu_inbox.list_items(
            session, status=status, reason=reason, intent=intent, limit=limit, offset=offset
        )
        return {"items": [item_json(i) for i in page.items], "total": page.total}

    body = await _db(request, work)
    return web.json_response({**body, "limit": limit, "offset": offset})


@auth.require(OPERATOR_ROLES)
async def get_inbox_item(request: web.Request) -> web.Response:
    item_id = _id(request, "item_id", "inbox item")
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
        return {**item_json(detail.item), "hits": [_hit_json(h) for h in detail.hits]}

    return web.json_response({"item": await _db(request, work)})


async def _item_after(request: web.Request, item_id: int) -> dict[str, Any] | None:
    """The item as it is now (None: it was merged into another one)."""

    def work(session: Session) -> dict[str, Any] | None:
        item = session.get(NluInboxItem, item_id)
        return item_json(item) if item is not None else None

    return await _db(request, work)


def _edit_json(result: datafile.EditResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"intent": result.intent, "line": result.line, "files": list(result.files)}


async def _annotated(
    request: web.Request, item_id: int, work: Callable[[], datafile.EditResult | None]
) -> web.Response:
    me = auth.staff_of(request)
    result = await _run(work)
    log.info("console: %s annotated NLU inbox item %s", me.username, item_id)
    return web.json_response(
        {"item": await _item_after(request, item_id), "edit": _edit_json(result)}
    )


def _labeller(method: str) -> auth.Handler:
    """POST inbox/{id}/label and /relabel: {"intent", "entities"?} to NluLoop.label_item or
    .relabel_item (a correction of a labelled item)."""

    async def label(request: web.Request) -> web.Response:
        item_id = _id(request, "item_id", "inbox item")
        data = await json_body(request)
        intent = _required(data, "intent", 128)
        entities = _entities(data)
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


def _item_ids(data: Mapping[str, Any]) -> list[int]:
    raw = data.get("items")
    limit = MAX_BATCH_LABEL
    if not isinstance(raw, list) or not raw or len(raw) > limit:
        raise ApiError(422, "invalid", f"items must be a list of 1 to {limit} inbox item ids")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw):
        raise ApiError(422, "invalid", "items must be inbox item ids (positive integers)")
    return list(dict.fromkeys(raw))


@auth.require(OPERATOR_ROLES)
async def post_label_batch(request: web.Request) -> web.Response:
    """Several items, one intent (no entities): one edit of data/, one Rasa validation."""
    data = await json_body(request)
    item_ids = _item_ids(data)
    intent = _required(data, "intent", 128)
    loop, me = _loop(request), auth.staff_of(request)
    result = await _run(
        lambda: loop.label_items(item_ids, intent, actor=me.username, actor_id=me.user_id)
    )
    log.info("console: %s labelled %d NLU inbox items as %s", me.username, len(item_ids), intent)
    items = [await _item_after(request, item_id) for item_id in item_ids]
    return web.json_response({"items": items, "edit": _edit_json(result)})


@auth.require(OPERATOR_ROLES)
async def post_ignore_batch(request: web.Request) -> web.Response:
    """Several open items ignored at once (nothing is written into data/); all or none."""
    data = await json_body(request)
    item_ids = _item_ids(data)
    loop, me = _loop(request), auth.staff_of(request)
    await _run(lambda: loop.ignore_items(item_ids, actor=me.username, actor_id=me.user_id))
    log.info("console: %s ignored %d NLU inbox items", me.username, len(item_ids))
    items = [await _item_after(request, item_id) for item_id in item_ids]
    return web.json_response({"items": items})


def _marker(status: str) -> auth.Handler:
    async def mark(request: web.Request) -> web.Response:
        item_id = _id(request, "item_id", "inbox item")
        loop, me = _loop(request), auth.staff_of(request)
        return await _annotated(
            request,
            item_id,
            lambda: loop.mark_item(item_id, status, actor=me.username, actor_id=me.user_id),
        )

    mark.__name__ = f"post_{status}"
    return auth.require(OPERATOR_ROLES)(mark)


post_out_of_scope = _marker("out_of_scope")
post_ignore = _marker("ignored")


@auth.require(OPERATOR_ROLES)
async def post_new_intent(request: web.Request) -> web.Response:
    item_id = _id(request, "item_id", "inbox item")
    data = await json_body(request)
    name = _required(data, "name", datafile.MAX_INTENT_NAME)
    response_zh = _required(data, "response_zh", MAX_RESPONSE_CHARS)
    response_en = _text(data, "response_en", MAX_RESPONSE_CHARS)
    entities = _entities(data)
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
        index = await asyncio.to_thread(datafile.DataIndex.load, settings)
    except datafile.DataEditError as exc:
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
    kind = "cross_validation" if cross_validation else "train"
    job_id = await _await(loop.start_training(actor=me.username, kind=kind))
    request.app[NLU_CONSOLE].started_jobs.add(job_id)
    log.info("console: %s started NLU %s job %s", me.username, kind, job_id)
    job = await _run(lambda: loop.job(job_id))
    return web.json_response({"job": job_json(job, with_log=True)}, status=202)


@auth.require(OPERATOR_ROLES)
async def get_jobs(request: web.Request) -> web.Response:
    jobs = await _db(request, lambda s: nlu_registry.list_jobs(s, limit=20))
    active = next((j.id for j in jobs if j.status in NLU_JOB_ACTIVE_STATUSES), None)
    return web.json_response({"jobs": [job_json(j) for j in jobs], "active_job_id": active})


@auth.require(OPERATOR_ROLES)
async def get_job(request: web.Request) -> web.Response:
    job_id = _id(request, "job_id", "training job")
    loop = _loop(request)
    job = await _run(lambda: loop.job(job_id))
    body: dict[str, Any] = {"job": job_json(job, with_log=True)}
    if job.kind == "cross_validation" and job.status == "succeeded":
        result = await asyncio.to_thread(loop.cross_validation_result, job_id)
        if result is not None:
            result.pop("confusion_matrix", None)  # a path on the server
        body["cross_validation"] = result
    return web.json_response(body)


@auth.require(OPERATOR_ROLES)
async def post_cancel_job(request: web.Request) -> web.Response:
    job_id = _id(request, "job_id", "training job")
    loop, me = _loop(request), auth.staff_of(request)
    await _run(lambda: loop.cancel_job(job_id, actor=me.username))
    log.info("console: %s cancelled NLU job %s", me.username, job_id)
    return web.json_response({"ok": True})


# --- the registry -------------------------------------------------------------------------


@auth.require(OPERATOR_ROLES)
async def get_models(request: web.Request) -> web.Response:
    models = await _db(request, lambda s: nlu_registry.list_models(s, limit=MAX_PAGE))
    live = next((m.id for m in models if m.status == "live"), None)
    return web.json_response({"models": [model_json(m) for m in models], "live_model_id": live})


async def _detail(request: web.Request, model_id: int) -> dict[str, Any]:
    loop = _loop(request)
    detail = await _run(lambda: loop.model(model_id))
    live = await _db(request, nlu_registry.live_model)
    return model_detail_json(detail, live, loop.settings)


@auth.require(OPERATOR_ROLES)
async def get_model(request: web.Request) -> web.Response:
    model_id = _id(request, "model_id", "model")
    return web.json_response({"model": await _detail(request, model_id)})


@auth.require(OPERATOR_ROLES)
async def get_confusion_matrix(request: web.Request) -> web.StreamResponse:
    """The picture `rasa test nlu` wrote beside the model (models/registry/<name>/); the path
    comes from the registry, never from the request, and must stay inside the registry."""
    model_id = _id(request, "model_id", "model")
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


def _guard_refusal(model: dict[str, Any]) -> web.Response:
    reasons = model["guard"]["reasons"]
    minimum = model["min_reason_chars"]
    message = (
        f"the regression guard refused model {model['id']}: deploying it anyway needs a written"
        f" reason of at least {minimum} characters"
    )
    return web.json_response(
        {
            "error": {
                "code": "guard_refused",
                "message": message,
                "reasons": reasons,
                "min_reason_chars": minimum,
            }
        },
        status=409,
    )


@auth.require(OPERATOR_ROLES)
async def post_deploy(request: web.Request) -> web.Response:
    model_id = _id(request, "model_id", "model")
    data = await json_body(request)
    reason = _text(data, "override_reason", MAX_REASON_CHARS)
    loop, me = _loop(request), auth.staff_of(request)
    before = await _detail(request, model_id)
    if before["needs_override"] and len(reason or "") < before["min_reason_chars"]:
        return _guard_refusal(before)
    await _await(loop.deploy(model_id, actor=me.username, override_reason=reason))
    log.info("console: %s deployed NLU model %s", me.username, model_id)
    return web.json_response({"model": await _detail(request, model_id)})


@auth.require(OPERATOR_ROLES)
async def post_rollback(request: web.Request) -> web.Response:
    model_id = _id(request, "model_id", "model")
    data = await json_body(request)
    reason = _required(data, "reason", MAX_REASON_CHARS)
    loop, me = _loop(request), auth.staff_of(request)
    await _await(loop.rollback(model_id, actor=me.username, reason=reason))
    log.info("console: %s rolled the NLU model back to %s", me.username, model_id)
    return web.json_response({"model": await _detail(request, model_id)})


# --- wiring -------------------------------------------------------------------------------


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """The loop on the console's database (after the console's own start-up); jobs a dead
    process left behind are failed; at shutdown this process's jobs are cancelled."""
    state = app[NLU_CONSOLE]
    if state.loop is None:
        console = app[CONSOLE]
        assert console.factory is not None
        gateway = console.settings
        settings = app.get(NLU_SETTINGS)
        if settings is None:  # a console without the gateway's core (bot.app reads it there)
            conf_dir = gateway.conf_dir or default_conf_dir()
            env = {**os.environ, "CONF_DIR": str(conf_dir)}
            settings = await asyncio.to_thread(NluSettings.load, env)
        state.loop = NluLoop(
            settings,
            console.factory,
            rasa=RasaServer(
                url=gateway.rasa_url,
                token=gateway.rasa_token,
                standby_url=gateway.rasa_standby_url,
            ),
            on_switch=lambda url: _switch_rasa(app, url),
        )
    loop = state.loop
    try:
        failed = await asyncio.to_thread(loop.recover)
        if failed:
            log.warning("nlu: %s training job(s) of a process that ended marked failed", failed)
    except Exception:  # the console still serves the rest; the page shows the jobs
        log.exception("nlu: could not check for training jobs left behind")
    try:
        yield
    finally:
        await _stop_jobs(loop, state.started_jobs)


def _switch_rasa(app: web.Application, url: str) -> None:
    """After a blue/green deployment: this gateway's Rasa client moves to `url` at once."""
    backends = app.get(BACKENDS)
    if backends is not None:
        backends.rasa.switch_to(url)


async def _stop_jobs(loop: NluLoop, job_ids: set[int]) -> None:
    for job_id in sorted(job_ids):
        with contextlib.suppress(LoopError):
            await asyncio.to_thread(loop.cancel_job, job_id, actor="gateway shutdown")
    try:
        await asyncio.wait_for(loop.wait_for_jobs(), SHUTDOWN_GRACE)
    except TimeoutError:
        log.warning("nlu: training jobs still running at shutdown after %.0f s", SHUTDOWN_GRACE)


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
    app.cleanup_ctx.append(_lifecycle)
