"""The NLU inbox the history's conversations left: the messages the model fell back on or was
unsure of, the ones before each handoff and the bot answers agents flagged, grouped into items
as nlu.inbox groups them (one item per text), the older ones labelled by the operator.

Only texts whose inbox group key is the text itself (Chinese characters and letters, spaces
dropped, lower case) are grouped here: the store cannot import nlu's normaliser, and the test
checks the keys against it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from store.demodata.history.chat import InboxHit
from store.demodata.history.context import Ctx
from store.demodata.history.sink import table_of
from store.models import NluInboxHit, NluInboxItem, NluInboxStatus

ITEMS: Final = table_of(NluInboxItem)
HITS: Final = table_of(NluInboxHit)
LABELLED_AFTER: Final = timedelta(days=45)
"""Items older than this were worked by the operator: labelled, out of scope or ignored."""
FLAG_NOTE: Final = "坐席标记：机器人答非所问"


def group_key(text: str) -> str | None:
    """The text's inbox group key when it is made of Chinese characters and letters only
    (then it is the text without spaces, lower case); None for any other text."""
    compact = "".join(text.split())
    plain = all(("\u4e00" <= c <= "\u9fff") or ("a" <= c.lower() <= "z") for c in compact)
    return compact.casefold() if compact and plain else None


def _status(meant: str | None) -> tuple[str, str | None]:
    if meant == "out_of_scope":
        return NluInboxStatus.OUT_OF_SCOPE.value, None
    if meant is None:
        return NluInboxStatus.IGNORED.value, None
    return NluInboxStatus.LABELLED.value, meant


class InboxWriter:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.items = 0

    def _item(self, key: str, hits: list[InboxHit], worked_at: datetime | None) -> None:
        ctx, sink = self.ctx, self.ctx.sink
        item_id = sink.new_id(ITEMS)
        first: dict[int, InboxHit] = {}
        flagged_by: dict[int, int] = {}
        reasons: set[str] = set()
        for hit in hits:  # a message counts once per item; its later reasons add up
            reasons.add(hit.reason)
            first.setdefault(hit.message_id, hit)
            if hit.flagged_by is not None:
                flagged_by.setdefault(hit.message_id, hit.flagged_by)
        for message_id, hit in first.items():
            sink.add(HITS, {
                "id": sink.new_id(HITS), "item_id": item_id, "message_id": message_id,
                "conversation_id": hit.conversation_id, "reason": hit.reason,
                "confidence": hit.confidence, "predicted_intent": hit.predicted_intent,
                "flagged_by": flagged_by.get(message_id), "created_at": hit.at,
            })  # fmt: skip
        meant = next((h.meant for h in hits if h.meant), None)
        status, label = _status(meant) if worked_at else (NluInboxStatus.OPEN.value, None)
        latest = hits[-1]
        flagged = bool(flagged_by)
        sink.add(ITEMS, {
            "id": item_id, "group_key": key, "text": hits[0].text[:1000], "count": len(first),
            "predicted_intent": latest.predicted_intent, "confidence": latest.confidence,
            "reasons": ",".join(sorted(reasons)), "status": status, "label_intent": label,
            "label_entities": [] if label else None,
            "labelled_by": ctx.station.operator_id if worked_at else None,
            "labelled_at": worked_at, "note": FLAG_NOTE if flagged else None,
            "first_seen_at": hits[0].at, "last_seen_at": latest.at, "trained_model_id": None,
        })  # fmt: skip
        self.items += 1

    def write(self, hits: list[InboxHit], open_keys: set[str]) -> None:
        """Items and hits of every groupable message (`open_keys`: texts with an open item in
        the database already, which the history leaves alone)."""
        groups: dict[str, list[InboxHit]] = {}
        for hit in sorted(hits, key=lambda h: (h.at, h.message_id)):
            key = group_key(hit.text)
            if key is not None and key not in open_keys:
                groups.setdefault(key, []).append(hit)
        cutoff = self.ctx.patterns.now - LABELLED_AFTER
        for key, group in sorted(groups.items()):
            older = [h for h in group if h.at < cutoff]
            newer = [h for h in group if h.at >= cutoff]
            if older:
                worked = older[-1].at + timedelta(days=self.ctx.rng.uniform(1, 20))
                self._item(key, older, min(worked, cutoff))
            if newer:
                self._item(key, newer, None)
            self.ctx.sink.checkpoint()
        self.ctx.sink.flush()
