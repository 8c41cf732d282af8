"""The NLU inbox: customer messages the bot may have misunderstood, grouped for operators.

A message lands here (`add_hit`) when its best intent scored below conf/nlu.yml
inbox.confidence_below, when NLU fell back, when it came just before a handoff, or when an
agent flagged the bot's reply to it as wrong. Near-duplicates share one *item* with a count:

- the same text once normalised (`normalise`: width, case, spaces, punctuation, emoji and
  symbols dropped, every run of digits one '#', so two account numbers are the same text);
- or, failing that, a character-bigram Jaccard `similarity` of at least
  inbox.group_similarity with one of the most recent open items.

Only *open* items collect hits: once an item is labelled (or ignored, ...), a new message like
it starts a new open item. Each message counts once per item (the unique (item, message) pair
decides, so a message reported twice, e.g. low confidence and then flagged, adds its reason
without being counted again).

Operators then `label` items (intent and entities) or `mark` them (out of scope, ignored, ...);
the trainer reads `pending_training` and, once a model is trained with them, `mark_trained`.
Every function takes the caller's session and flushes; the caller commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import func, or_, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, aliased

from store.models import (
    NLU_INBOX_OPEN_WHERE,
    NLU_INBOX_REASONS,
    NLU_INBOX_STATUSES,
    Conversation,
    Message,
    NluInboxHit,
    NluInboxItem,
)
from store.services.upserts import insert_ignore
from store.sla import require_aware

if TYPE_CHECKING:
    from nlu.settings import InboxSettings

__all__ = [
    "GROUP_KEY_CHARS",
    "MAX_CANDIDATES",
    "TEXT_CHARS",
    "ContextMessage",
    "HitContext",
    "InboxError",
    "InboxPage",
    "ItemDetail",
    "NotABotReply",
    "NotFound",
    "add_handoff_hits",
    "add_hit",
    "context_of",
    "flag_reply",
    "get_item",
    "label",
    "list_items",
    "mark",
    "mark_trained",
    "normalise",
    "pending_training",
    "similarity",
    "validate_entities",
]

TEXT_CHARS: Final = 1000
"""An item's representative text is cut to this many characters."""
GROUP_KEY_CHARS: Final = 255
"""Normalised texts are compared (and indexed) on their first this many characters."""
MAX_CANDIDATES: Final = 200
"""How many of the most recent open items a new message is compared with for similarity."""
NOTE_CHARS: Final = 2000
MAX_HITS_SHOWN: Final = 20
LABEL_STATUSES: Final = ("labelled", "new_intent")
"""Statuses `label` sets (with an intent); `mark` sets the others."""
MARK_STATUSES: Final = ("open", "out_of_scope", "ignored")

_DIGITS = re.compile(r"\d+")
_PAYLOAD = re.compile(r"^/[A-Za-z_][\w.-]*\s*(\{.*\})?\s*$", re.S)
"""A button payload (`/request_human`, `/rate_service{"rating": 4}`), not customer language."""
_INTENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ENTITY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DROPPED_CATEGORIES: Final = frozenset("PSZCM")
"""Unicode general categories (first letter) dropped by `normalise`: punctuation, symbols
(emoji included), separators, control/format characters (zero-width joiners) and marks
(variation selectors)."""


class InboxError(ValueError):
    """An invalid label, status, reason or entity."""


class NotFound(LookupError):
    """No inbox item with that id."""


# --- grouping -----------------------------------------------------------------------------


def normalise(text: str) -> str:
    """The text as the inbox groups it: NFKC (full-width → ASCII), case-folded, whitespace,
    punctuation, emoji and other symbols dropped, each run of digits replaced by '#'.

    >>> normalise("我的户号３３０１０００００２，电费多少？😊")
    '我的户号#电费多少'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(c for c in folded if unicodedata.category(c)[0] not in _DROPPED_CATEGORIES)
    return _DIGITS.sub("#", kept)


def _grams(text: str) -> frozenset[str]:
    if len(text) < 2:
        return frozenset((text,)) if text else frozenset()
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def similarity(a: str, b: str) -> float:
    """Character-bigram Jaccard similarity of two texts, 0..1 (a one-character text counts as
    its single character). Callers compare normalised texts."""
    if a == b:
        return 1.0
    ga, gb = _grams(a), _grams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def _group_key(text: str) -> str:
    return normalise(text)[:GROUP_KEY_CHARS]


def _open_item_for(session: Session, key: str, threshold: float) -> NluInboxItem | None:
    same = session.scalars(
        select(NluInboxItem)
        .where(NluInboxItem.status == "open", NluInboxItem.group_key == key)
        .order_by(NluInboxItem.id)
        .limit(1)
    ).first()
    if same is not None:
        return same
    recent = session.execute(
        select(NluInboxItem.id, NluInboxItem.group_key)
        .where(NluInboxItem.status == "open")
        .order_by(NluInboxItem.last_seen_at.desc(), NluInboxItem.id.desc())
        .limit(MAX_CANDIDATES)
    ).all()
    grams = _grams(key)
    best_id: int | None = None
    best = -1.0
    for item_id, other in recent:
        theirs = _grams(other)
        if not grams or not theirs:
            continue
        score = len(grams & theirs) / len(grams | theirs)
        if score >= threshold and score > best:
            best_id, best = item_id, score
    return session.get(NluInboxItem, best_id) if best_id is not None else None


def _new_open_item(session: Session, key: str, example: str, now: datetime) -> NluInboxItem:
    """The open item of `key`, created now unless a concurrent capture just did (the partial
    unique index on open items' group_key decides; INSERT ... ON CONFLICT DO NOTHING)."""
    insert_ignore(
        session,
        NluInboxItem,
        {
            "group_key": key,
            "text": example,
            "count": 0,
            "reasons_text": "",
            "status": "open",
            "first_seen_at": now,
            "last_seen_at": now,
        },
        [NluInboxItem.group_key],
        index_where=sql_text(NLU_INBOX_OPEN_WHERE),  # literally: PostgreSQL infers the index
    )
    stmt = select(NluInboxItem).where(NluInboxItem.status == "open", NluInboxItem.group_key == key)
    return session.scalars(stmt).one()


def add_hit(
    session: Session,
    *,
    message_id: int | None,
    conversation_id: str | None,
    text: str,
    reason: str,
    predicted_intent: str | None,
    confidence: float | None,
    flagged_by: int | None = None,
    note: str | None = None,
    settings: InboxSettings,
    now: datetime | None = None,
) -> NluInboxItem | None:
    """Count one customer message in the inbox; its item, or None when the text has nothing
    to label (empty, only punctuation/emoji, a button payload).

    `settings`: conf/nlu.yml's inbox part (only `group_similarity` is read). `reason` is
    one of NLU_INBOX_REASONS; `flagged_by`/`note`: the staff user who flagged the reply and
    what they wrote. Idempotent per (item, message): a message already counted in the item
    only adds its reason (and the intent or note it brings).
    """
    if reason not in NLU_INBOX_REASONS:
        raise InboxError(f"unknown inbox reason {reason!r}")
    now = now if now is not None else datetime.now(UTC)
    require_aware(now)
    stripped = text.strip()
    if not stripped or _PAYLOAD.match(stripped):
        return None
    key = _group_key(stripped)
    if not key:
        return None
    item = _open_item_for(session, key, float(settings.group_similarity))
    if item is None:
        item = _new_open_item(session, key, stripped[:TEXT_CHARS], now)
    counted = insert_ignore(
        session,
        NluInboxHit,
        {
            "item_id": item.id,
            "message_id": message_id,
            "conversation_id": conversation_id,
            "reason": reason,
            "confidence": confidence,
            "predicted_intent": predicted_intent,
            "flagged_by": flagged_by,
            "created_at": now,
        },
        [NluInboxHit.item_id, NluInboxHit.message_id],
    )
    if counted:  # in SQL: two processes counting at once both count
        item.count = NluInboxItem.count + 1
    elif predicted_intent is not None or flagged_by is not None:
        _complete_hit(session, item.id, message_id, predicted_intent, confidence, flagged_by)
    item.reasons = {*item.reasons, reason}
    if predicted_intent is not None:
        item.predicted_intent = predicted_intent
        item.confidence = confidence
    if now > item.last_seen_at:
        item.last_seen_at = now
    if note and note.strip():
        item.note = _add_note(item.note, note.strip())
    session.flush()
    return item


def _complete_hit(
    session: Session,
    item_id: int,
    message_id: int | None,
    predicted_intent: str | None,
    confidence: float | None,
    flagged_by: int | None,
) -> None:
    """A message counted before (e.g. at handoff, before its intent was known): fill in what
    the later report knows."""
    hit = session.scalars(
        select(NluInboxHit).where(
            NluInboxHit.item_id == item_id, NluInboxHit.message_id == message_id
        )
    ).first()
    if hit is None:  # pragma: no cover - the insert above found it
        return
    if predicted_intent is not None and hit.predicted_intent is None:
        hit.predicted_intent = predicted_intent
        hit.confidence = confidence
    if flagged_by is not None and hit.flagged_by is None:
        hit.flagged_by = flagged_by


def _add_note(existing: str | None, note: str) -> str:
    if not existing:
        return note[:NOTE_CHARS]
    if note in existing.split("\n"):
        return existing
    return f"{existing}\n{note}"[-NOTE_CHARS:]


def add_handoff_hits(
    session: Session,
    *,
    conversation_pk: int,
    settings: InboxSettings,
    now: datetime | None = None,
) -> list[NluInboxItem]:
    """A handoff was queued: the customer's last inbox.before_handoff messages that the bot
    answered land in the inbox (reason 'handoff', with the intent recorded on each message);
    the items, oldest message first."""
    limit = int(settings.before_handoff)
    if limit <= 0:
        return []
    reply = aliased(Message)
    answered = (
        select(reply.id).where(reply.in_reply_to_id == Message.id, reply.sender == "bot").exists()
    )
    rows = session.scalars(
        select(Message)
        .where(
            Message.conversation_pk == conversation_pk,
            Message.direction == "in",
            Message.sender == "customer",
            answered,
        )
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    conversation_id = session.scalar(
        select(Conversation.conversation_id).where(Conversation.id == conversation_pk)
    )
    items = []
    for row in reversed(rows):
        item = _message_hit(session, row, conversation_id, "handoff", settings=settings, now=now)
        if item is not None:
            items.append(item)
    return items


def _message_hit(
    session: Session,
    message: Message,
    conversation_id: str | None,
    reason: str,
    **extra: Any,
) -> NluInboxItem | None:
    """`add_hit` for a stored customer message, with the intent recorded on it."""
    return add_hit(
        session,
        message_id=message.id,
        conversation_id=conversation_id,
        text=message.text,
        reason=reason,
        predicted_intent=message.intent,
        confidence=message.intent_confidence,
        **extra,
    )


class NotABotReply(InboxError):
    """The flagged message is not the bot's answer to a customer message."""


def flag_reply(
    session: Session,
    *,
    reply_id: int,
    by: int | None,
    note: str | None,
    settings: InboxSettings,
    now: datetime | None = None,
) -> NluInboxItem | None:
    """An agent says the bot's reply `reply_id` was wrong: the customer message it answered
    lands in the inbox (reason 'flagged', with the agent and the note). `NotFound` for an
    unknown message, `NotABotReply` for one that is not a bot reply; None when the customer
    message has nothing to label (e.g. a bare location)."""
    reply = session.get(Message, reply_id)
    if reply is None:
        raise NotFound(f"no message {reply_id}")
    if reply.direction != "out" or reply.sender != "bot":
        raise NotABotReply(f"message {reply_id} is not a reply of the bot")
    asked = session.get(Message, reply.in_reply_to_id) if reply.in_reply_to_id else None
    if asked is None:
        raise NotABotReply(f"message {reply_id} answers no customer message")
    conversation_id = reply.conversation.conversation_id
    return _message_hit(
        session, asked, conversation_id, "flagged",
        flagged_by=by, note=note, settings=settings, now=now,
    )  # fmt: skip


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxPage:
    items: list[NluInboxItem]
    total: int
    """How many items match the filters (for paging)."""


def list_items(
    session: Session,
    *,
    status: str | None = "open",
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
    session: Session, item_id: int, *, settings: InboxSettings, max_hits: int = MAX_HITS_SHOWN
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


def _item(session: Session, item: NluInboxItem | int) -> NluInboxItem:
    if isinstance(item, NluInboxItem):
        return item
    found = session.get(NluInboxItem, item)
    if found is None:
        raise NotFound(f"no inbox item {item}")
    return found


def validate_entities(text: str, entities: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The entities as stored ({"entity", "value", "start", "end"}), checked against `text`:
    names like Rasa's, 0 ≤ start < end ≤ len(text), no two overlapping. `value` defaults to
    the span's text (a different value is a synonym's normalised form)."""
    checked: list[dict[str, Any]] = []
    for index, raw in enumerate(entities):
        if not isinstance(raw, Mapping):
            raise InboxError(f"entity {index}: expected an object")
        name, start, end = raw.get("entity"), raw.get("start"), raw.get("end")
        if not isinstance(name, str) or not _ENTITY_NAME.match(name):
            raise InboxError(f"entity {index}: invalid entity name {name!r}")
        if (
            isinstance(start, bool)
            or isinstance(end, bool)
            or not isinstance(start, int)
            or not isinstance(end, int)
            or not 0 <= start < end <= len(text)
        ):
            raise InboxError(
                f"entity {index} ({name}): start and end must satisfy"
                f" 0 <= start < end <= {len(text)}"
            )
        value = raw.get("value", text[start:end])
        if not isinstance(value, str) or not value.strip():
            raise InboxError(f"entity {index} ({name}): value must be a non-empty string")
        if text[start:end] != text[start:end].strip() or not text[start:end].strip():
            raise InboxError(f"entity {index} ({name}): the span starts or ends with a space")
        checked.append({"entity": name, "value": value, "start": start, "end": end})
    spans = sorted((e["start"], e["end"]) for e in checked)
    for (_, end_a), (start_b, _) in pairwise(spans):
        if start_b < end_a:
            raise InboxError("entities overlap")
    return sorted(checked, key=lambda e: (e["start"], e["end"]))


def label(
    session: Session,
    item: NluInboxItem | int,
    *,
    intent: str,
    entities: Sequence[Mapping[str, Any]] = (),
    by: int | None,
    now: datetime,
    status: str = "labelled",
) -> NluInboxItem:
    """Give the item its intent and entities (offsets into `item.text`). `status`:
    'labelled', or 'new_intent' when the intent does not exist yet. A relabelled item is no
    longer 'trained' (its new label is in no model yet)."""
    require_aware(now)
    found = _item(session, item)
    if status not in LABEL_STATUSES:
        raise InboxError(f"label sets one of {LABEL_STATUSES}, not {status!r}")
    if not isinstance(intent, str) or not _INTENT_NAME.match(intent):
        raise InboxError(f"invalid intent name {intent!r}")
    checked = validate_entities(found.text, entities)
    changed = (found.status, found.label_intent, found.label_entities) != (
        status,
        intent,
        checked,
    )
    found.status = status
    found.label_intent = intent
    found.label_entities = checked
    found.labelled_by = by
    found.labelled_at = now
    if changed:
        found.trained_model_id = None
    session.flush()
    return found


def mark(
    session: Session, item: NluInboxItem | int, status: str, *, by: int | None, now: datetime
) -> NluInboxItem:
    """Out of scope, ignored, or open again ('open' clears the label). Reopening an item
    whose text has a newer open item merges it into that one (its hits move over, the
    reopened item is deleted) and returns that item."""
    require_aware(now)
    found = _item(session, item)
    if status not in MARK_STATUSES:
        raise InboxError(f"mark sets one of {MARK_STATUSES}, not {status!r}")
    if status == "open" and found.status != "open":
        twin = session.scalars(
            select(NluInboxItem).where(
                NluInboxItem.status == "open",
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
    found.labelled_by = None if status == "open" else by
    found.labelled_at = None if status == "open" else now
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
            target.note = _add_note(target.note, line)
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
        found = _item(session, entry)
        if found.trained_model_id is None:
            found.trained_model_id = model_id
            changed += 1
    session.flush()
    return changed
