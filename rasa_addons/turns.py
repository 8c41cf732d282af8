"""How the gateway channel runs a turn, so that a failed turn is safe to send again.

Several Rasa workers share the conversations (SQL tracker store, Redis lock store), and the
gateway sends a message again when a worker failed it (docs/scaling.md). Two rules on top of
Rasa's own turn make that safe:

1. **A turn that could not reach the action server is abandoned unsaved.** Rasa itself logs a
   failed action call, records the action as run without its events and goes on: the customer
   gets half an answer (or none), and the conversation a step it never took (a form "submitted"
   without a ticket). Here the failed call (refused, dropped, timed out) is raised as
   `ActionServerUnreachable` through Rasa's `except Exception` around actions, before Rasa
   saves the tracker; the channel answers 503 and the gateway sends the message again once the
   action server is back. Only turns of the gateway channel do this (`_GUARDED`); Rasa's other
   channels keep Rasa's behaviour.
2. **A message sent again is answered from the tracker if it already ran.** The gateway marks
   it (metadata `gateway_retry`); under the conversation's lock (the Redis lock store: across
   every worker) the tracker is read first and, when an earlier attempt ran the message (it
   finished after the gateway stopped waiting, on this worker or another), its recorded answer
   is returned and nothing runs twice. Otherwise it runs as usual, still under that lock.
3. **A turn that cannot read or save its tracker is abandoned.** Rasa wraps the tracker store
   in its FailSafeTrackerStore, which turns a failed read into "no tracker" (a new
   conversation: the customer's form and verification silently gone) and a failed save into a
   save in this worker's memory (which the other workers never see). With the shared SQL
   tracker store that is wrong: when PostgreSQL restarts, a turn would start the customer's
   conversation over. In a gateway turn the store's error is raised as
   `TrackerStoreUnavailable` instead; the channel answers 503 and the gateway sends the message
   again when the store is back. Other channels keep Rasa's behaviour.

The pure part (`recorded_answer`) works on the events' dictionaries, so it is also tested
outside Rasa's environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import aiohttp

MESSAGE_KEY = "gateway_message_id"
RETRY_KEY = "gateway_retry"
"""The gateway's metadata keys (bot/rasa_client.py): its id of the message, and the mark of a
message sent again."""

UNREACHABLE = (aiohttp.ClientConnectionError, asyncio.TimeoutError)
"""What an action call raises when the action server is down, died or hangs; a 4xx/5xx answer
(the action itself failed) is not among them: Rasa handles those as it always does."""

_GUARDED: ContextVar[bool] = ContextVar("gateway_turn", default=False)
_GUARDED_CLASSES: dict[type[Any], type[Any]] = {}

Answer = tuple[list[dict[str, Any]], dict[str, Any] | None]
"""The bot's messages, as Rasa's collecting channel gives them, and the message's parse data."""


class ActionServerUnreachable(BaseException):
    """Abandons the turn: a BaseException on purpose, because Rasa catches every Exception an
    action raises and goes on with the turn."""


class TrackerStoreUnavailable(BaseException):
    """Abandons the turn: the tracker store failed to read or save the conversation (a
    BaseException for the same reason as ActionServerUnreachable)."""


def recorded_answer(events: Sequence[Mapping[str, Any]], sender: str, key: str) -> Answer | None:
    """What an earlier attempt answered to the message `key` (the tracker's events as
    dictionaries); None when the message is not in the tracker."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        metadata = event.get("metadata") or {}
        if event.get("event") != "user" or str(metadata.get(MESSAGE_KEY)) != key:
            continue
        messages = []
        for later in events[index + 1 :]:
            if later.get("event") == "user":
                break
            if later.get("event") == "bot":
                messages.append(_message(sender, later))
        latest = dict(event.get("parse_data") or {})
        latest["metadata"] = dict(metadata)
        return messages, latest
    return None


def _message(sender: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """A bot event as the collecting channel would have given it."""
    data = event.get("data") or {}
    message = {
        "recipient_id": sender,
        "text": event.get("text"),
        "image": data.get("image"),
        "buttons": data.get("buttons"),
        "attachment": data.get("attachment"),
        "custom": data.get("custom"),
    }
    return {name: value for name, value in message.items() if value is not None}


def guard_actions(processor: Any) -> None:
    """Make the processor's action calls abandon a gateway turn when the action server cannot
    be reached (once per processor: a new model brings a new one)."""
    _guard(processor, "action_endpoint", _guarded_class)


def guard_tracker_store(processor: Any) -> None:
    """Make the processor's tracker store raise in a gateway turn where Rasa's fail-safe
    wrapper would carry on without it (rule 3; once per processor)."""
    _guard(processor, "tracker_store", _guarded_store_class)


def _guard(processor: Any, attribute: str, make: Callable[[type[Any]], type[Any]]) -> None:
    """Replace the processor's `attribute` by a copy of it whose class is `make(its class)`
    (made once per class), unless it is guarded already."""
    found = getattr(processor, attribute, None)
    if found is None or getattr(found, "gateway_guarded", False):
        return
    guarded_class = _GUARDED_CLASSES.get(type(found))
    if guarded_class is None:
        guarded_class = _GUARDED_CLASSES[type(found)] = make(type(found))
    guarded = object.__new__(guarded_class)
    guarded.__dict__.update(vars(found))
    setattr(processor, attribute, guarded)


def _guarded_store_class(base: type[Any]) -> type[Any]:
    """Rasa's tracker store class whose reads and saves, in a gateway turn, go to the wrapped
    store itself (FailSafeTrackerStore's `_tracker_store`, or the store when it wraps none) and
    raise `TrackerStoreUnavailable` when it fails."""

    class GuardedTrackerStore(base):
        gateway_guarded = True

        def _primary(self) -> Any:
            return getattr(self, "_tracker_store", None) or super()

        async def _strict(self, name: str, *args: Any) -> Any:
            try:
                return await getattr(self._primary(), name)(*args)
            except Exception as exc:
                raise TrackerStoreUnavailable(f"{name}: {exc!r}") from exc

        async def retrieve(self, sender_id: str) -> Any:
            if _GUARDED.get():
                return await self._strict("retrieve", sender_id)
            return await super().retrieve(sender_id)

        async def retrieve_full_tracker(self, sender_id: str) -> Any:
            if _GUARDED.get():
                return await self._strict("retrieve_full_tracker", sender_id)
            return await super().retrieve_full_tracker(sender_id)

        async def save(self, tracker: Any) -> None:
            if _GUARDED.get():
                await self._strict("save", tracker)
                return
            await super().save(tracker)

    return GuardedTrackerStore


def _guarded_class(base: type[Any]) -> type[Any]:
    """Rasa's EndpointConfig (made here: this module does not import Rasa) whose `request`
    turns an unreachable action server into `ActionServerUnreachable` in a gateway turn."""

    class GuardedEndpoint(base):
        gateway_guarded = True

        async def request(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return await super().request(*args, **kwargs)
            except UNREACHABLE as exc:
                if _GUARDED.get():
                    raise ActionServerUnreachable(f"{self.url}: {exc!r}") from exc
                raise

    return GuardedEndpoint


async def run_turn(agent: Any, message: Any, *, retry: bool) -> Answer | None:
    """Handle `message` (a Rasa UserMessage) under the conversation's lock, as Rasa's
    `Agent.handle_message` does, with the two rules of the module doc. The recorded answer of
    a retry that already ran; None when the turn ran now (its messages are in the message's
    output channel). Raises ActionServerUnreachable (nothing saved), TrackerStoreUnavailable
    or what Rasa raised."""
    processor = agent.processor
    guard_actions(processor)
    guard_tracker_store(processor)
    token = _GUARDED.set(True)
    try:
        async with agent.lock_store.lock(message.sender_id):
            if retry:
                tracker = await processor.tracker_store.retrieve(message.sender_id)
                if tracker is not None:
                    events = [event.as_dict() for event in tracker.events]
                    key = str((message.metadata or {}).get(MESSAGE_KEY))
                    found = recorded_answer(events, message.sender_id, key)
                    if found is not None:
                        return found
            await processor.handle_message(message)
            return None
    finally:
        _GUARDED.reset(token)
