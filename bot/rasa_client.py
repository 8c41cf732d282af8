"""Talking to Rasa over HTTP: the gateway's webhook for turns, the tracker when more is needed.

A turn goes to the gateway's own input channel (rasa_addons/gateway_channel.py, named in
credentials.yml): Rasa's REST webhook that also returns what NLU made of the message, so the
usual turn is one request. Against a Rasa without that channel (404) the client falls back to
the REST webhook for good and reads the message's intent from the tracker instead.

One client talks to one Rasa worker; the pool (bot/rasa_pool.py) spreads conversations over
several. One aiohttp ClientSession (created by the app at start-up) carries every call.
Whatever goes wrong on the way (refused connection, timeout, 5xx, a body that is not the
webhook's JSON) is `RasaUnavailable`: the router then keeps the message pending and answers it
later. Its subclasses (bot/rasa_errors.py) say what the pool needs to know: a request that
never reached the worker (`RasaNotReached`) may go to another worker at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from bot.messages import Button, Reply
from bot.rasa_errors import RasaRejected as RasaRejected
from bot.rasa_errors import RasaUnavailable as RasaUnavailable
from bot.rasa_errors import server_failure, transport_failure
from bot.timing import waiting_for_rasa

log = logging.getLogger(__name__)

MESSAGE_KEY = "gateway_message_id"
#: metadata of each message: whether agents are on duty (actions.conversation reads it)
ON_DUTY_KEY = "agents_on_duty"
"""Metadata key carrying the gateway's id of the customer message: it is stored with the user
event in Rasa's tracker, which is how a turn is found there again (intent, idempotent retry)."""
RETRY_KEY = "gateway_retry"
"""Metadata of a message sent again after a failed attempt: the gateway channel then looks for
it in the tracker under the conversation's lock and answers what was answered, if it was."""


GATEWAY_WEBHOOK = "/webhooks/gateway/webhook"
"""The gateway's input channel in Rasa (rasa_addons/gateway_channel.py)."""
REST_WEBHOOK = "/webhooks/rest/webhook"


@dataclass(frozen=True)
class IntentGuess:
    name: str | None
    confidence: float | None
    ranking: tuple[tuple[str, float], ...] = ()
    """NLU's intent ranking (name, confidence), best first, when the tracker has it."""

    def best_except(self, names: Collection[str]) -> tuple[str | None, float | None]:
        """The best intent of the ranking that is not one of `names` (e.g. the fallback
        intents: what NLU would have picked); (None, None) when there is none."""
        for name, confidence in self.ranking:
            if name not in names:
                return name, confidence
        return None, None


def _button(data: Any) -> Button | None:
    if not isinstance(data, Mapping):
        return None
    title = str(data.get("title") or "").strip()
    payload = str(data.get("payload") or title).strip()
    return Button(title, payload) if title or payload else None


def parse_reply(item: Any) -> Reply | None:
    """One webhook message ({"text", "buttons", "image"}) or bot-event `data` as a Reply; None
    for what no channel can show (custom payloads only, empty messages)."""
    if not isinstance(item, Mapping):
        return None
    text = item.get("text")
    text = text if isinstance(text, str) else ""
    raw_buttons = item.get("buttons")
    buttons = tuple(
        b for b in (_button(x) for x in (raw_buttons if isinstance(raw_buttons, list) else [])) if b
    )
    image = item.get("image")
    image = image if isinstance(image, str) and image else None
    if not text and not buttons and image is None:
        return None
    return Reply(text=text, buttons=buttons, image=image)


def parse_replies(data: Any) -> list[Reply]:
    """The REST webhook's answer (a JSON list) as replies; RasaUnavailable if it is not a list."""
    if not isinstance(data, list):
        raise RasaUnavailable(f"unexpected webhook answer: {type(data).__name__}")
    return [r for r in (parse_reply(item) for item in data) if r is not None]


@dataclass(frozen=True)
class RasaAnswer:
    """One turn's answer: the bot's replies and, when Rasa said it (the gateway channel), the
    message's parse data with its metadata, shaped as the tracker's `latest_message`."""

    replies: list[Reply]
    latest: Mapping[str, Any] | None = None


def parse_answer(data: Any) -> RasaAnswer:
    """The gateway channel's answer ({"messages": [...], "latest_message": {...} | null});
    RasaUnavailable when it is not that."""
    if not isinstance(data, Mapping):
        raise RasaUnavailable(f"unexpected webhook answer: {type(data).__name__}")
    latest = data.get("latest_message")
    return RasaAnswer(
        parse_replies(data.get("messages")), latest if isinstance(latest, Mapping) else None
    )


def _user_event_index(events: list[Any], message_key: str) -> int | None:
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if not isinstance(event, Mapping) or event.get("event") != "user":
            continue
        metadata = event.get("metadata")
        if isinstance(metadata, Mapping) and str(metadata.get(MESSAGE_KEY)) == message_key:
            return index
    return None


def intent_from_events(events: list[Any], message_key: str) -> IntentGuess | None:
    """The intent NLU gave the user event of this message (matched by its metadata key)."""
    index = _user_event_index(events, message_key)
    if index is None:
        return None
    parse_data = events[index].get("parse_data")
    intent = parse_data.get("intent") if isinstance(parse_data, Mapping) else None
    if not isinstance(intent, Mapping):
        return IntentGuess(None, None)
    name = intent.get("name")
    confidence = intent.get("confidence")
    return IntentGuess(
        name if isinstance(name, str) else None,
        float(confidence) if isinstance(confidence, int | float) else None,
        _ranking(parse_data.get("intent_ranking")),
    )


def _ranking(data: Any) -> tuple[tuple[str, float], ...]:
    if not isinstance(data, list):
        return ()
    ranked = []
    for entry in data:
        if not isinstance(entry, Mapping):
            continue
        name, confidence = entry.get("name"), entry.get("confidence")
        if isinstance(name, str) and isinstance(confidence, int | float):
            ranked.append((name, float(confidence)))
    return tuple(sorted(ranked, key=lambda pair: -pair[1]))


def is_latest(latest: Mapping[str, Any] | None, message_key: str) -> bool:
    """Whether the tracker's `latest_message` is the user message with this key."""
    metadata = latest.get("metadata") if latest is not None else None
    return isinstance(metadata, Mapping) and str(metadata.get(MESSAGE_KEY)) == message_key


def intent_from_latest(latest: Mapping[str, Any] | None, message_key: str) -> IntentGuess | None:
    """The intent of this message when the tracker's `latest_message` is this message; None
    when it is another one (or none): then only the events can tell."""
    if latest is None or not is_latest(latest, message_key):
        return None
    event = {"event": "user", "metadata": latest.get("metadata"), "parse_data": latest}
    return intent_from_events([event], message_key)


def replies_from_events(events: list[Any], message_key: str) -> list[Reply] | None:
    """The bot's answers to this message as recorded in the tracker, or None when the message
    is not there or got no answer (then it must be sent again)."""
    index = _user_event_index(events, message_key)
    if index is None:
        return None
    replies: list[Reply] = []
    for event in events[index + 1 :]:
        if not isinstance(event, Mapping):
            continue
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            data = dict(event.get("data") or {})
            data["text"] = event.get("text")
            reply = parse_reply(data)
            if reply is not None:
                replies.append(reply)
    return replies or None


class RasaClient:
    """Rasa's HTTP API as the gateway needs it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        token: str | None,
        timeout: float,
        probe_timeout: float = 3.0,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._token = token
        # a worker that does not even accept the connection within the probe's time is
        # treated as not reached (another worker may take the message), not as slow
        self._timeout = aiohttp.ClientTimeout(
            total=timeout, sock_connect=min(timeout, probe_timeout)
        )
        self._probe_timeout = aiohttp.ClientTimeout(total=min(timeout, probe_timeout))
        self._gateway_channel = True
        """False once Rasa answered 404 on the gateway channel: the REST webhook from then on."""

    @property
    def base_url(self) -> str:
        return self._base

    def switch_to(self, base_url: str) -> None:
        """Send the next requests to another Rasa server (blue/green deployment: the standby
        now runs the new model). Requests already on their way finish where they are."""
        base = base_url.rstrip("/")
        if base != self._base:
            log.info("Rasa: now answering from %s (was %s)", base, self._base)
            self._base = base

    def _params(self) -> dict[str, str]:
        return {"token": self._token} if self._token else {}

    async def send(
        self, sender: str, text: str, metadata: Mapping[str, Any], *, input_channel: str
    ) -> RasaAnswer:
        """One customer turn; the bot's replies in order and what NLU made of the message.

        `input_channel` becomes the tracker's input channel, so tickets opened by the actions
        record the customer's real channel (telegram, web, api) instead of 'rest'.
        """
        body = {
            "sender": sender,
            "message": text,
            "metadata": dict(metadata),
            "input_channel": input_channel,
        }
        if self._gateway_channel:
            status, data = await self._post(f"{self._base}{GATEWAY_WEBHOOK}", body)
            if status != 404:
                return parse_answer(data)
            self._gateway_channel = False
            log.warning(
                "Rasa has no gateway channel (%s answered 404; credentials.yml should name"
                " rasa_addons.gateway_channel.GatewayInput): using the REST webhook and reading"
                " each message's intent from the tracker",
                GATEWAY_WEBHOOK,
            )
        _, data = await self._post(f"{self._base}{REST_WEBHOOK}", body)
        return RasaAnswer(parse_replies(data))

    async def _post(self, url: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        """POST a turn: (404, None) for a missing route, else (status, the JSON answer)."""
        try:
            with waiting_for_rasa():
                async with self._session.post(url, json=body, timeout=self._timeout) as response:
                    if response.status == 404:
                        return 404, None
                    if response.status >= 500:
                        raise server_failure(response.status, await response.text())
                    if response.status >= 400:
                        raise RasaRejected(f"webhook answered HTTP {response.status}")
                    return response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_failure(exc, self._base, "webhook") from exc
        except ValueError as exc:  # not JSON
            raise RasaUnavailable("webhook answer is not JSON") from exc

    async def status(self) -> bool:
        """True when Rasa answers its status route (with the token) or, without one, its root."""
        url = f"{self._base}/status" if self._token else f"{self._base}/"
        return await probe(self._session, url, self._probe_timeout, params=self._params())

    async def _tracker(self, sender: str, include_events: str) -> Any:
        """GET the conversation's tracker (needs the HTTP API: `rasa run --enable-api`)."""
        url = f"{self._base}/conversations/{sender}/tracker"
        params = {**self._params(), "include_events": include_events}
        try:
            with waiting_for_rasa():
                async with self._session.get(url, params=params, timeout=self._timeout) as response:
                    if response.status != 200:
                        raise RasaUnavailable(f"tracker answered HTTP {response.status}")
                    return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_failure(exc, self._base, "tracker") from exc
        except ValueError as exc:
            raise RasaUnavailable(f"tracker unreachable: {exc.__class__.__name__}") from exc

    async def events(self, sender: str) -> list[Any]:
        """The conversation's tracker events."""
        data = await self._tracker(sender, "ALL")
        events = data.get("events") if isinstance(data, Mapping) else None
        return list(events) if isinstance(events, list) else []

    async def intent_of(self, sender: str, message_key: str) -> IntentGuess | None:
        """What NLU understood of one message (None when the tracker does not have it).

        Asks for the tracker's state without events first (its `latest_message` is usually this
        message): a constant-size answer instead of the whole, growing conversation on every
        turn. Only when another message came in meanwhile are the events read."""
        return await TurnTracker(self, sender).intent_of(message_key)

    async def latest_message(self, sender: str) -> Mapping[str, Any] | None:
        """The tracker's last user message (parse data + metadata), without the events."""
        data = await self._tracker(sender, "NONE")
        latest = data.get("latest_message") if isinstance(data, Mapping) else None
        return latest if isinstance(latest, Mapping) else None

    async def answered(self, sender: str, message_key: str) -> list[Reply] | None:
        """The replies Rasa already gave this message (e.g. it finished after our timeout), or
        None when it must be sent (again)."""
        return replies_from_events(await self.events(sender), message_key)


class TrackerSource(Protocol):
    """What a TurnTracker reads from: a Rasa client, or the pool of workers (bot/rasa_pool.py)."""

    async def latest_message(self, sender: str) -> Mapping[str, Any] | None: ...

    async def events(self, sender: str) -> list[Any]: ...


class TurnTracker:
    """One turn's view of a conversation's tracker: its latest message and its events, each
    requested from Rasa at most once however many readers ask (the handoff triggers on the
    reply's path, the recorded intent in the background). A failed request fails every reader
    with the same `RasaUnavailable`."""

    def __init__(
        self, client: TrackerSource, sender: str, latest: Mapping[str, Any] | None = None
    ) -> None:
        """`latest`: the latest message when the turn's answer already said it (nothing to
        read then)."""
        self._client = client
        self._sender = sender
        self._latest: asyncio.Future[Mapping[str, Any] | None] | None = None
        if latest is not None:
            self._latest = asyncio.get_running_loop().create_future()
            self._latest.set_result(latest)
        self._events: asyncio.Future[list[Any]] | None = None

    async def latest(self) -> Mapping[str, Any] | None:
        if self._latest is None:
            self._latest = asyncio.ensure_future(self._client.latest_message(self._sender))
        return await asyncio.shield(self._latest)

    async def events(self) -> list[Any]:
        if self._events is None:
            self._events = asyncio.ensure_future(self._client.events(self._sender))
        return await asyncio.shield(self._events)

    async def intent_of(self, message_key: str) -> IntentGuess | None:
        """As `RasaClient.intent_of`, from this turn's reads."""
        guess = intent_from_latest(await self.latest(), message_key)
        if guess is not None:
            return guess
        return intent_from_events(await self.events(), message_key)


async def probe(
    session: aiohttp.ClientSession,
    url: str,
    limit: aiohttp.ClientTimeout,
    *,
    params: Mapping[str, str] | None = None,
) -> bool:
    """True when GET `url` answers 2xx within `limit`; never raises."""
    try:
        async with session.get(url, params=params or {}, timeout=limit) as response:
            return 200 <= response.status < 300
    except (TimeoutError, aiohttp.ClientError, OSError):
        return False
    except Exception:  # a health probe must never take the caller down
        log.exception("probe of %s failed unexpectedly", url)
        return False
