"""The JSON shapes of the operators' NLU API (bot/console/nlu_api.py): what its requests may
send (ids in the path, query parameters, body fields, entities, batches of items) and what it
answers (inbox items with the conversations around their hits, jobs, models with their
comparison and guard verdict, edits of data/). A request that does not fit is an ApiError 422
(404 for an id in the path that cannot be one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any, Final

from aiohttp import web

from bot.console.state import ApiError
from nlu import guard
from nlu.annotation import MAX_BATCH_LABEL
from nlu.datafile import EditResult
from nlu.releases import ModelDetail
from nlu.rules import Invalid, parse_spans
from nlu.settings import NluSettings
from store.conversation_refs import mask
from store.services import nlu_inbox
from store.services.nlu_inbox import NluInboxItem
from store.services.nlu_registry import (
    NLU_JOB_ACTIVE_STATUSES,
    NluModel,
    NluModelEvent,
    NluTrainingJob,
)
from store.statuses import NluModelStatus

BASE: Final = "/api/v1/nlu"


# --- requests -------------------------------------------------------------------------------


def path_id(request: web.Request, name: str, what: str) -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise ApiError(404, "not_found", f"no {what} {raw}")
    return int(raw)


def query_int(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) > high:
        raise ApiError(422, "invalid", f"{name} must be an integer from 0 to {high}")
    return int(raw)


def entities(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The body's entities: [{"entity", "start", "end", "value"?}], offsets in characters
    (Unicode code points) of the item's text; their shapes checked by nlu.rules (their
    offsets against the text by the loop)."""
    try:
        return [asdict(span) for span in parse_spans(data.get("entities", []))]
    except Invalid as exc:
        raise ApiError(422, "invalid", str(exc)) from None


# --- answers --------------------------------------------------------------------------------


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


def hit_json(context: nlu_inbox.HitContext) -> dict[str, Any]:
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
        "trained_as": (model.comparison or {}).get("trained_as"),
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
        can_deploy=model.status in (NluModelStatus.CANDIDATE, NluModelStatus.REFUSED),
        needs_override=model.status == NluModelStatus.REFUSED,
        can_rollback=model.status
        in (NluModelStatus.RETIRED, NluModelStatus.CANDIDATE, NluModelStatus.REFUSED)
        and detail.file_exists,
        min_reason_chars=settings.guard.min_override_reason,
    )
    return out


def edit_json(result: EditResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"intent": result.intent, "line": result.line, "files": list(result.files)}


def item_ids(data: Mapping[str, Any]) -> list[int]:
    raw = data.get("items")
    limit = MAX_BATCH_LABEL
    if not isinstance(raw, list) or not raw or len(raw) > limit:
        raise ApiError(422, "invalid", f"items must be a list of 1 to {limit} inbox item ids")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw):
        raise ApiError(422, "invalid", "items must be inbox item ids (positive integers)")
    return list(dict.fromkeys(raw))


def guard_refusal(model: dict[str, Any]) -> web.Response:
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
