"""In-process event hub: what the agent console shows live.

The router and the handoff watcher `publish()` typed events; every console connection
`subscribe()`s and reads its own queue:

    async with hub.subscribe() as events:      # a Subscription (an async iterator)
        async for event in events:
            await ws.send_json(event.as_json())

Publishing never blocks and never fails the caller: a subscriber whose queue is full (a stuck
websocket) loses its oldest events and is marked `lagged` (reload the state from the store).
One hub per gateway process (`app[EVENTS]`, bot/keys.py); events are not persisted - the
transcript and handoff tables are the record. With several gateway replicas (GATEWAY_SHARED,
docs/scaling.md) the hub's `relay` hands every event published here to the other replicas, and
theirs arrive through `offer` (bot/replicas/bus.py).
Events carry full conversation ids (the gateway's own business); staff never get them as
they are: the console's websocket sends handles and masked ids instead (bot/console/frames.py).

Event kinds and their `data`:

- message_in: a customer message (conversation_id, message_id, text, sender 'customer',
  handoff_id or None, at)
- message_out: a bot/agent/system message (conversation_id, text, buttons, sender, agent
  username or None, handoff_id or None, at)
- handoff_changed: (handoff_id, conversation_id, state, from_state, reason, priority,
  agent_id, actor, why, at)
- queue_changed: (queued: number of queued handoffs)
- alert: something on-duty staff must see now, e.g. a safety hazard (handoff_id,
  conversation_id, reason, text, at)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

log = logging.getLogger(__name__)

EventKind = Literal["message_in", "message_out", "handoff_changed", "queue_changed", "alert"]
EVENT_KINDS: Final[tuple[str, ...]] = (
    "message_in",
    "message_out",
    "handoff_changed",
    "queue_changed",
    "alert",
)
DEFAULT_QUEUE_SIZE: Final = 1000


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    data: dict[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    conversation_id: str | None = None
    """Set for conversation events (every kind except queue_changed), for filtering."""

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "at": self.at.isoformat(),
            "conversation_id": self.conversation_id,
            **self.data,
        }


class Subscription:
    """One subscriber's queue of events (an async iterator; close it, or use `async with`)."""

    def __init__(self, hub: EventHub, maxsize: int, kinds: frozenset[str] | None) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.kinds = kinds
        self.lagged = False
        """Events were dropped because the subscriber read too slowly."""
        self.closed = False

    def _offer(self, event: Event) -> None:
        if self.closed or (self.kinds is not None and event.kind not in self.kinds):
            return
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()
                self.lagged = True

    async def get(self) -> Event | None:
        """The next event (waits); None once closed. Bound it with `asyncio.timeout`."""
        if self.closed and self._queue.empty():
            return None
        return await self._queue.get()

    def pending(self) -> list[Event]:
        """Everything queued now, without waiting (tests, batching)."""
        out: list[Event] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return out
            if item is not None:
                out.append(item)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._hub._remove(self)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size
        self.relay: Callable[[Event], None] | None = None
        """Several replicas: hands each event published here to the others (never blocks)."""

    def subscribe(
        self, kinds: tuple[str, ...] | None = None, *, queue_size: int | None = None
    ) -> Subscription:
        """A new subscriber's queue (all kinds, or only `kinds`). Close it when done."""
        if kinds is not None:
            unknown = set(kinds) - set(EVENT_KINDS)
            if unknown:
                raise ValueError(f"unknown event kinds: {sorted(unknown)}")
        sub = Subscription(
            self, queue_size or self._queue_size, frozenset(kinds) if kinds else None
        )
        self._subscribers.add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(
        self,
        kind: EventKind,
        data: dict[str, Any] | None = None,
        *,
        conversation_id: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """Hand the event to every subscriber now (never blocks, never raises)."""
        event = Event(
            kind=kind,
            data=dict(data or {}),
            at=at or datetime.now(UTC),
            conversation_id=conversation_id,
        )
        self.offer(event)
        if self.relay is not None:
            try:
                self.relay(event)
            except Exception:  # pragma: no cover - the local subscribers have it already
                log.exception("event not relayed to the other replicas")
        return event

    def offer(self, event: Event) -> None:
        """Hand an event to this process's subscribers only (one another replica published)."""
        for sub in list(self._subscribers):
            try:
                sub._offer(event)
            except Exception:  # pragma: no cover - a broken subscriber must not stop the rest
                log.exception("event subscriber failed")

    def __iter__(self) -> Iterator[Subscription]:
        return iter(list(self._subscribers))
