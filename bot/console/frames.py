"""What a console websocket sends: the hub's events (bot/events.py) as staff may see them.

The hub carries full conversation ids (the router and the desk need them); a frame carries the
conversation's handle (`conversation`, its database id, what the agent API's routes take) and
its masked id (`conversation_label`) instead, for every channel. Which events a connection
gets at all, and how much of them, is `AgentFilter`'s decision.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

from bot.events import Event
from store.conversation_refs import mask
from store.roles import SEES_STATION, WORKS_CHATS
from store.services.console_sessions import StaffIdentity
from store.statuses import HandoffState

ID_KEYS: Final = frozenset({"conversation_id", "sender_id"})
"""Keys of event data that hold a conversation id: never sent to staff."""
SUMMARY_KINDS: Final = frozenset({"queue_changed", "handoff_changed", "alert"})
SUMMARY_KEYS: Final = frozenset(
    {
        "type",
        "at",
        "conversation",
        "conversation_label",
        "handoff_id",
        "state",
        "from_state",
        "reason",
        "priority",
        "queued",
        "lagged",
    }
)
"""What staff who see no conversation (operators, on the overview) get of an event: that
something changed, never a customer's words."""
HANDLE_CACHE_SIZE: Final = 4096


def staff_frame(event: Event, handle: int | None, *, summary: bool = False) -> dict[str, Any]:
    """The event as JSON without any conversation id: the handle and the masked id instead;
    with `summary` only SUMMARY_KEYS."""
    frame = {k: v for k, v in event.as_json().items() if k not in ID_KEYS}
    if event.conversation_id is not None:
        frame["conversation"] = handle
        frame["conversation_label"] = mask(event.conversation_id)
    if summary:
        frame = {k: v for k, v in frame.items() if k in SUMMARY_KEYS}
    return frame


class HandleCache:
    """Conversation id → database id, shared by the sockets of one gateway (a conversation's
    row never changes its id), bounded: the least recently used entries go first."""

    def __init__(self, size: int = HANDLE_CACHE_SIZE) -> None:
        self._size = size
        self._known: OrderedDict[str, int] = OrderedDict()

    def get(self, conversation_id: str) -> int | None:
        handle = self._known.get(conversation_id)
        if handle is not None:
            self._known.move_to_end(conversation_id)
        return handle

    def put(self, conversation_id: str, handle: int) -> None:
        self._known[conversation_id] = handle
        self._known.move_to_end(conversation_id)
        while len(self._known) > self._size:
            self._known.popitem(last=False)


class AgentFilter:
    """Which events one connection sees; follows the agent's chats as they change.

    Agents: their chats, the queue's changes and alerts (all on-duty staff must see a safety
    hazard). Supervisors and managers: everything. Operators: summaries of queue changes,
    handoff changes and alerts (their overview refreshes on them)."""

    def __init__(self, identity: StaffIdentity, mine: set[str]) -> None:
        self.identity = identity
        self.mine = mine
        self.everything = identity.role in SEES_STATION
        self.summary = identity.role not in WORKS_CHATS

    def wants(self, event: Event) -> bool:
        if self.summary:
            return event.kind in SUMMARY_KINDS
        data = event.data
        if event.kind == "handoff_changed":
            cid = event.conversation_id or data.get("conversation_id")
            mine = data.get("agent_id") == self.identity.user_id
            if data.get("state") == HandoffState.ASSIGNED and mine:
                if cid:
                    self.mine.add(cid)
                return True
            was_mine = cid in self.mine
            if was_mine and cid:
                self.mine.discard(cid)
            return (
                self.everything
                or was_mine
                or data.get("state") == HandoffState.QUEUED
                or data.get("previous_agent_id") == self.identity.user_id
            )
        if event.kind in ("queue_changed", "alert"):
            return True
        return self.everything or event.conversation_id in self.mine
