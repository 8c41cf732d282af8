"""The NLU inbox: which customer messages land in it, how near-duplicates share an item, and
what a valid label of an item is. Its tables are store.services.nlu_inbox (reading, recording
annotations) and store.services.nlu_inbox_capture (counting hits).

A message lands here (`add_hit`) when its best intent scored below conf/nlu.yml
inbox.confidence_below, when NLU fell back (bot/router.py decides both), when it came just
before a handoff (`add_handoff_hits`), or when an agent flagged the bot's reply to it as wrong
(`flag_reply`). Near-duplicates share one *item* with a count:

- the same text once normalised (`nlu.rules.normalise_for_grouping`: width, case, spaces,
  punctuation, emoji and symbols dropped, every run of digits one '#', so two account numbers
  are the same text);
- or, failing that, a character-bigram Jaccard `similarity` of at least
  inbox.group_similarity with one of the MAX_CANDIDATES most recent open items.

Only *open* items collect hits: once an item is labelled (or ignored, ...), a new message like
it starts a new open item. `label` checks an intent and its entities by nlu.rules before the
store records them. Every function takes the caller's session; the caller commits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from nlu.rules import (
    EntitiesJson,
    check_intent_name,
    check_spans,
    normalise_for_grouping,
    parse_spans,
)
from store.models import Message, NluInboxItem
from store.services import nlu_inbox, nlu_inbox_capture
from store.services.nlu_inbox_capture import GROUP_KEY_CHARS
from store.sla import require_aware

if TYPE_CHECKING:
    from nlu.settings import InboxSettings

MAX_CANDIDATES: Final = 200
"""How many of the most recent open items a new message is compared with for similarity."""
_PAYLOAD: Final = re.compile(r"^/[A-Za-z_][\w.-]*\s*(\{.*\})?\s*$", re.S)
"""A button payload (`/request_human`, `/rate_service{"rating": 4}`), not customer language."""


# --- grouping ------------------------------------------------------------------------------


def group_key(text: str) -> str:
    """The key an item is stored under: the normalised text, cut to the column's size."""
    return normalise_for_grouping(text)[:GROUP_KEY_CHARS]


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


def _open_item_for(session: Session, key: str, threshold: float) -> NluInboxItem | None:
    """The open item with this key, or else the most similar recent one (at least
    `threshold`)."""
    same = nlu_inbox_capture.open_item_with_key(session, key)
    if same is not None:
        return same
    grams = _grams(key)
    best_id: int | None = None
    best = -1.0
    for item_id, other in nlu_inbox_capture.recent_open_keys(session, MAX_CANDIDATES):
        theirs = _grams(other)
        if not grams or not theirs:
            continue
        score = len(grams & theirs) / len(grams | theirs)
        if score >= threshold and score > best:
            best_id, best = item_id, score
    return session.get(NluInboxItem, best_id) if best_id is not None else None


# --- capture -------------------------------------------------------------------------------


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
    nlu_inbox_capture.check_reason(reason)
    now = now if now is not None else datetime.now(UTC)
    require_aware(now)
    stripped = text.strip()
    if not stripped or _PAYLOAD.match(stripped):
        return None
    key = group_key(stripped)
    if not key:
        return None
    item = _open_item_for(session, key, float(settings.group_similarity))
    if item is None:
        item = nlu_inbox_capture.new_open_item(session, key, stripped, now)
    return nlu_inbox_capture.count_hit(
        session, item, message_id=message_id, conversation_id=conversation_id, reason=reason,
        predicted_intent=predicted_intent, confidence=confidence, flagged_by=flagged_by,
        note=note, now=now,
    )  # fmt: skip


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
    rows, conversation_id = nlu_inbox_capture.answered_messages(session, conversation_pk, limit)
    items = []
    for row in rows:
        item = _message_hit(session, row, conversation_id, "handoff", settings=settings, now=now)
        if item is not None:
            items.append(item)
    return items


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
    unknown message, `NotABotReply` for one that is not a bot reply (store.services.nlu_inbox's);
    None when the customer message has nothing to label (e.g. a bare location)."""
    asked, conversation_id = nlu_inbox_capture.flagged_question(session, reply_id)
    return _message_hit(
        session, asked, conversation_id, "flagged",
        flagged_by=by, note=note, settings=settings, now=now,
    )  # fmt: skip


# --- labelling -----------------------------------------------------------------------------


def label(
    session: Session, item: NluInboxItem | int, *, intent: str, entities: EntitiesJson = (),
    by: int | None, now: datetime, status: str = "labelled",
) -> NluInboxItem:  # fmt: skip
    """Give the item its intent and entities (offsets into `item.text`), checked by the
    rules (nlu.rules: DataEditError), then recorded. `status`: 'labelled', or 'new_intent'
    when the intent did not exist. `value` defaults to the span's text (a different value is a
    synonym's normalised form)."""
    found = nlu_inbox.item_row(session, item)
    check_intent_name(intent)
    spans = [span.to_json(found.text) for span in check_spans(found.text, parse_spans(entities))]
    return nlu_inbox.set_label(session, found, status, intent, spans, by=by, now=now)
