"""The NLU inbox's items for operators: reading them with the conversations around their hits,
recording their annotations, and what the trainer reads. Persistence and queries only: what
lands in the inbox and how it is grouped is nlu.inbox's (capture; its writes are
store.services.nlu_inbox_capture), what a valid label is nlu.rules' (nlu.inbox.label checks a
label, then `set_label` records it).

Operators' annotations are recorded with `set_label` (intent and entities) or `mark` (out of
scope, ignored, open again); the trainer reads `pending_training` and, once a model is trained
with them, `mark_trained`. Every function takes the caller's session and flushes; the caller
commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.models import (
    NLU_INBOX_REASONS,
    NLU_INBOX_STATUSES,
    Message,
    NluInboxHit,
    NluInboxItem,
    NluInboxStatus,
)
from store.sla import require_aware

__all__ = [  # with the tables' names callers need (bot/ reaches store.models through here)
    "LABEL_STATUSES",
    "MARK_STATUSES",
    "NLU_INBOX_REASONS",
    "NLU_INBOX_STATUSES",
    "NOTE_CHARS",
    "ContextMessage",
    "HitContext",
    "InboxError",
    "InboxPage",
    "ItemDetail",
    "NluInboxItem",
    "NotABotReply",
    "NotFound",
    "add_note",
    "context_of",
    "get_item",
    "item_row",
    "list_items",
    "mark",
    "mark_trained",
    "pending_training",
    "set_label",
]

NOTE_CHARS: Final = 2000
MAX_HITS_SHOWN: Final = 20
LABEL_STATUSES: Final = (NluInboxStatus.LABELLED.value, NluInboxStatus.NEW_INTENT.value)
"""Statuses `set_label` sets (with an intent); `mark` sets the others."""
MARK_STATUSES: Final = (
    NluInboxStatus.OPEN.value,
    NluInboxStatus.OUT_OF_SCOPE.value,
    NluInboxStatus.IGNORED.value,
)


class ContextSettings(Protocol):
    """What `get_item` reads of conf/nlu.yml's inbox part (nlu.settings.InboxSettings)."""

    @property
    def context_messages(self) -> int: ...


class InboxError(ValueError):
    """An invalid status or reason."""


class NotFound(LookupError):
    """No inbox item (or message) with that id."""


class NotABotReply(InboxError):
    """The flagged message is not the bot's answer to a customer message."""


def add_note(existing: str | None, note: str) -> str:
    """The item's notes with `note` added (once), the oldest dropped past NOTE_CHARS."""
    if not existing:
        return note[:NOTE_CHARS]
    if note in existing.split("\n"):
        return existing
    return f"{existing}\n{note}"[-NOTE_CHARS:]


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxPage:
    items: list[NluInboxItem]
    total: int
    """How many items match the filters (for paging)."""


def list_items(
    session: Session,
    *,
    status: str | None = NluInboxStatus.OPEN,
    reason: str | None = None,
    intent: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> InboxPage:
    """Items, the most frequent first, then the most recently seen. `status` None: any;
    `reason`: items with that reason among theirs; `intent`: predicted or labelled as it."""
    conditions: list[Any] = []
    if status is not None:
        if status not in NLU_INBOX_STATUSES:
            raise InboxError(f"unknown inbox status {status!r}")
        conditions.append(NluInboxItem.status == status)
    if reason is not None:
        if reason not in NLU_INBOX_REASONS:
            raise InboxError(f"unknown inbox reason {reason!r}")
        # reasons is a sorted comma-separated list; no reason is a substring of another
        conditions.append(NluInboxItem.reasons_text.contains(reason, autoescape=True))
    if intent is not None:
        conditions.append(
            or_(NluInboxItem.predicted_intent == intent, NluInboxItem.label_intent == intent)
        )
    total = session.scalar(select(func.count()).select_from(NluInboxItem).where(*conditions))
    stmt = (
        select(NluInboxItem)
        .where(*conditions)
        .order_by(
            NluInboxItem.count.desc(), NluInboxItem.last_seen_at.desc(), NluInboxItem.id.desc()
        )
        .limit(max(0, limit))
        .offset(max(0, offset))
    )
    return InboxPage(items=list(session.scalars(stmt)), total=int(total or 0))


@dataclass(frozen=True)
class ContextMessage:
    """One transcript message around a hit."""

    id: int
    direction: str
    sender: str
    text: str
    at: datetime
    intent: str | None
    confidence: float | None
    is_hit: bool
    """The message that was counted in the item."""


@dataclass(frozen=True)
class HitContext:
    hit: NluInboxHit
    messages: list[ContextMessage]
    """The conversation around the message, oldest first (empty when it was deleted)."""


@dataclass(frozen=True)
class ItemDetail:
    item: NluInboxItem
    hits: list[HitContext]
    """The item's most recent hits (newest first) with their conversations."""


def _context_message(row: Message, hit_id: int | None) -> ContextMessage:
    return ContextMessage(
        id=row.id,
        direction=row.direction,
        sender=row.sender,
        text=row.text,
        at=row.created_at,
        intent=row.intent,
        confidence=row.intent_confidence,
        is_hit=row.id == hit_id,
    )


def context_of(session: Session, message_id: int, around: int) -> list[ContextMessage]:
    """The message with `around` messages of its conversation before and after it."""
    message = session.get(Message, message_id)
    if message is None:
        return []
    same = Message.conversation_pk == message.conversation_pk
    before = session.scalars(
        select(Message).where(same, Message.id < message_id).order_by(Message.id.desc())
        .limit(max(0, around))
    ).all()  # fmt: skip
    after = session.scalars(
        select(Message).where(same, Message.id > message_id).order_by(Message.id)
        .limit(max(0, around))
    ).all()  # fmt: skip
    rows = [*reversed(before), message, *after]
    return [_context_message(row, message_id) for row in rows]


def get_item(
    session: Session, item_id: int, *, settings: ContextSettings, max_hits: int = MAX_HITS_SHOWN
) -> ItemDetail:
    """The item with its latest `max_hits` hits, each with inbox.context_messages messages of
    its conversation before and after."""
    item = session.get(NluInboxItem, item_id)
    if item is None:
        raise NotFound(f"no inbox item {item_id}")
    around = int(settings.context_messages)
    hits = session.scalars(
        select(NluInboxHit)
        .where(NluInboxHit.item_id == item_id)
        .order_by(NluInboxHit.id.desc())
        .limit(max(0, max_hits))
    ).all()
    return ItemDetail(
        item=item,
        hits=[
            HitContext(hit, context_of(session, hit.message_id, around) if hit.message_id else [])
            for hit in hits
        ],
    )


# --- annotating ---------------------------------------------------------------------------


def item_row(session: Session, item: NluInboxItem | int) -> NluInboxItem:
    """The item (given, or by id); NotFound."""
    if isinstance(item, NluInboxItem):
        return item
    found = session.get(NluInboxItem, item)
    if found is None:
        raise NotFound(f"no inbox item {item}")
    return found


def set_label(
    session: Session, item: NluInboxItem, status: str, intent: str,
    entities: Sequence[Mapping[str, Any]], *, by: int | None, now: datetime,
) -> NluInboxItem:  # fmt: skip
    """Record the item's intent and entities (as stored: {"entity", "value", "start", "end"},
    checked by nlu.inbox.label). `status`: 'labelled', or 'new_intent' when the intent did not
    exist. A relabelled item is no longer 'trained' (its new label is in no model yet)."""
    require_aware(now)
    if status not in LABEL_STATUSES:
        raise InboxError(f"label sets one of {LABEL_STATUSES}, not {status!r}")
    stored = [dict(entity) for entity in entities]
    if (item.status, item.label_intent, item.label_entities) != (status, intent, stored):
        item.trained_model_id = None
    item.status = status
    item.label_intent = intent
    item.label_entities = stored
    item.labelled_by = by
    item.labelled_at = now
    session.flush()
    return item


def mark(
    session: Session, item: NluInboxItem | int, status: str, *, by: int | None, now: datetime
) -> NluInboxItem:
    """Out of scope, ignored, or open again ('open' clears the label). Reopening an item
    whose text has a newer open item merges it into that one (its hits move over, the
    reopened item is deleted) and returns that item."""
    require_aware(now)
    found = item_row(session, item)
    if status not in MARK_STATUSES:
        raise InboxError(f"mark sets one of {MARK_STATUSES}, not {status!r}")
    if status == NluInboxStatus.OPEN and found.status != NluInboxStatus.OPEN:
        twin = session.scalars(
            select(NluInboxItem).where(
                NluInboxItem.status == NluInboxStatus.OPEN,
                NluInboxItem.group_key == found.group_key,
                NluInboxItem.id != found.id,
            )
        ).first()
        if twin is not None:  # the text came again meanwhile: one open item for both
            return _merge(session, found, twin)
    found.status = status
    found.label_intent = None
    found.label_entities = None
    found.trained_model_id = None
    reopened = status == NluInboxStatus.OPEN
    found.labelled_by = None if reopened else by
    found.labelled_at = None if reopened else now

    session.flush()
    return found


def _merge(session: Session, source: NluInboxItem, target: NluInboxItem) -> NluInboxItem:
    taken = set(
        session.scalars(
            select(NluInboxHit.message_id).where(
                NluInboxHit.item_id == target.id, NluInboxHit.message_id.is_not(None)
            )
        )
    )
    for hit in list(source.hits):
        if hit.message_id is not None and hit.message_id in taken:
            source.hits.remove(hit)  # counted there already (delete-orphan removes it)
        else:
            hit.item = target
    target.reasons = {*target.reasons, *source.reasons}
    target.first_seen_at = min(target.first_seen_at, source.first_seen_at)
    target.last_seen_at = max(target.last_seen_at, source.last_seen_at)
    if source.note:
        for line in source.note.split("\n"):
            target.note = add_note(target.note, line)
    session.flush()
    target.count = (
        session.scalar(
            select(func.count()).select_from(NluInboxHit).where(NluInboxHit.item_id == target.id)
        )
        or 0
    )
    session.delete(source)
    session.flush()
    return target


def pending_training(
    session: Session, statuses: Iterable[str] = LABEL_STATUSES
) -> list[NluInboxItem]:
    """Items labelled (by default 'labelled' and 'new_intent'; pass 'out_of_scope' too if
    the trainer uses them) that no registry model was trained with yet, oldest label first."""
    wanted = tuple(statuses)
    for status in wanted:
        if status not in NLU_INBOX_STATUSES:
            raise InboxError(f"unknown inbox status {status!r}")
    stmt = (
        select(NluInboxItem)
        .where(NluInboxItem.status.in_(wanted), NluInboxItem.trained_model_id.is_(None))
        .order_by(NluInboxItem.labelled_at, NluInboxItem.id)
    )
    return list(session.scalars(stmt))


def mark_trained(session: Session, items: Iterable[NluInboxItem | int], model_id: int) -> int:
    """Record `model_id` as the first model trained with these items' labels (items that
    already have one keep it); how many changed."""
    changed = 0
    for entry in items:
        found = item_row(session, entry)
        if found.trained_model_id is None:
            found.trained_model_id = model_id
            changed += 1
    session.flush()
    return changed
