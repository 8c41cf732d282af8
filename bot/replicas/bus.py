"""What one gateway replica tells the others at once (Redis pub/sub, one channel).

Two kinds of news cross it:

- `event`: every event of the replica's event hub (bot/events.py): an agent console
  connected to another replica shows it as if it had happened there;
- `webchat`: events for a web chat session (replies, an agent's message) pushed by a replica
  that has no socket of that session: the replica that has one pushes them to its tabs;
- `rasa_back`: Rasa answered a turn again after an outage (rasa_back.py): a replica still
  keeping new messages for its own retry worker stops doing so at once and wakes that worker.

A replica ignores its own news. News is not stored: a replica that was not listening (it was
starting, Redis was away) misses it, as a console or a tab that was not connected would; both
load the state from the database when they (re)connect. `barrier()` waits until every piece
of news published before it has been handed out here (Redis delivers a channel's messages in
the order it took them), which the web chat needs before it reads a conversation's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.backends import Backends
from bot.events import Event, EventHub, EventKind

log = logging.getLogger(__name__)

BARRIER_SECONDS: Final = 2.0
"""Longest wait for a barrier's own message (Redis away: the caller goes on)."""
RECONNECT_SECONDS: Final = (0.5, 1.0, 2.0, 5.0)

WebPush = Callable[[str, Sequence[Mapping[str, Any]]], Coroutine[Any, Any, int]]
"""Push events to this replica's tabs of a web chat session (WebChatChannel.push)."""


class Bus:
    def __init__(self, redis: Redis, prefix: str, replica: str) -> None:
        self._redis = redis
        self._channel = f"{prefix}:bus"
        self.replica = replica
        self._hub: EventHub | None = None
        self._backends: Backends | None = None
        self._wake: asyncio.Event | None = None
        self._web: WebPush | None = None
        self._barriers: dict[str, asyncio.Future[None]] = {}
        self._outgoing: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._pushes: set[asyncio.Task[int]] = set()
        self._listening = asyncio.Event()

    # --- what is relayed ------------------------------------------------------------------

    def relay_events(self, hub: EventHub) -> None:
        """Every event published on `hub` goes to the other replicas; theirs come out of it."""
        self._hub = hub
        hub.relay = self._send_event

    def relay_backends(self, backends: Backends, wake: asyncio.Event) -> None:
        """Rasa answering again after an outage, seen by another replica (`rasa_back`), clears
        this replica's `down` flag; `wake` (the router's pending_added) wakes its retry worker."""
        self._backends, self._wake = backends, wake

    def rasa_back(self) -> None:
        """Tell the other replicas that Rasa answered a turn here again (rasa_back.py)."""
        self._outgoing.put_nowait(self._news("rasa_back", {}))

    def relay_webchat(self, push: WebPush) -> None:
        """Web chat events for sessions that have their sockets on another replica."""
        self._web = push

    def _send_event(self, event: Event) -> None:
        data = {
            "event_kind": event.kind,
            "data": event.data,
            "at": event.at.isoformat(),
            "conversation_id": event.conversation_id,
        }
        self._outgoing.put_nowait(self._news("event", data))

    async def webchat(self, chat_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Hand web chat events to the replica that has the session's sockets (best effort,
        as a push to a tab is: the transcript keeps the replies)."""
        try:
            await self._redis.publish(
                self._channel, self._news("webchat", {"chat": chat_id, "events": list(events)})
            )
        except (RedisError, OSError) as exc:
            log.warning("web chat %s: the other replicas were not told (%s)", chat_id, exc)

    async def barrier(self) -> None:
        """Return once the news published before this call has been handed out here."""
        if not self._listening.is_set():
            return
        token = uuid.uuid4().hex
        waiter = asyncio.get_running_loop().create_future()
        self._barriers[token] = waiter
        try:
            news = json.dumps({"from": self.replica, "kind": "barrier", "token": token})
            await self._redis.publish(self._channel, news)
            await asyncio.wait_for(waiter, BARRIER_SECONDS)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("replicas: no barrier through Redis (%s)", exc)
        finally:
            self._barriers.pop(token, None)

    def _news(self, kind: str, data: dict[str, Any]) -> str:
        return json.dumps({"from": self.replica, "kind": kind, **data}, ensure_ascii=False)

    # --- start and stop -------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (returns once subscribed, or after a first failure: it keeps trying)."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="replicas-listen"),
            asyncio.create_task(self._publish(), name="replicas-publish"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), BARRIER_SECONDS)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _publish(self) -> None:
        """The hub's events in the order they were published (`publish` never blocks)."""
        while True:
            news = await self._outgoing.get()
            try:
                await self._redis.publish(self._channel, news)
            except (RedisError, OSError) as exc:
                log.warning("replicas: an event was not relayed (%s)", exc)

    async def _listen(self) -> None:
        attempt = 0
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._listening.set()
                    attempt = 0
                    async for message in pubsub.listen():
                        self._take(message)
            except (RedisError, OSError) as exc:
                self._listening.clear()
                delay = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
                log.warning("replicas: not listening to Redis (%s); again in %.1f s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)

    def _take(self, message: Mapping[str, Any]) -> None:
        try:
            news = json.loads(message["data"])
        except (TypeError, ValueError, KeyError):
            log.warning("replicas: unreadable news ignored")
            return
        kind = news.get("kind")
        if kind == "barrier":
            waiter = self._barriers.get(news.get("token"))
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        if news.get("from") == self.replica:
            return
        if kind == "event" and self._hub is not None:
            self._hub.offer(
                Event(
                    kind=cast(EventKind, news["event_kind"]),
                    data=dict(news["data"]),
                    at=datetime.fromisoformat(news["at"]),
                    conversation_id=news.get("conversation_id"),
                )
            )
        elif kind == "rasa_back" and self._backends is not None:
            if self._backends.back_elsewhere() and self._wake is not None:
                self._wake.set()
        elif kind == "webchat" and self._web is not None:
            push = self._web(str(news["chat"]), list(news["events"]))
            task = asyncio.create_task(push)  # never holds up the other news
            self._pushes.add(task)
            task.add_done_callback(self._pushed)

    def _pushed(self, task: asyncio.Task[int]) -> None:
        self._pushes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("replicas: a web chat push failed", exc_info=task.exception())
