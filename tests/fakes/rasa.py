"""A fake Rasa server on loopback: the HTTP API the gateway and the NLU loop's deployments use,
with Rasa 3.6's shapes (rasa/server.py, rasa/core/channels/rest.py):

- POST /webhooks/rest/webhook {"sender", "message", "metadata", "input_channel"} → a JSON list
  of {"recipient_id", "text", "buttons"?, "image"?}; the turn is recorded in the tracker as a
  `user` event (with parse_data.intent, intent_ranking and the metadata) followed by `bot`
  events;
- POST /webhooks/gateway/webhook (the gateway's channel, rasa_addons/gateway_channel.py): the
  same turn, answered {"messages": [the list above], "latest_message": the message's parse data
  with its metadata}; `gateway_channel = False` removes the route (404, as a Rasa whose
  credentials.yml lacks the channel);
- GET /conversations/{sender}/tracker?token=... → {"sender_id", "events": [...]};
- GET /status?token=... → {"model_file": <file name of the loaded model>, "model_id",
  "num_active_training_jobs": 0}; GET / → "Hello from Rasa: 3.6.21";
- PUT /model?token=... {"model_file": PATH}: 400 "BadRequest" with Rasa's error JSON when the
  file does not exist or is not a tar.gz (Rasa: "Agent with name ... could not be loaded."),
  else the load takes `load_seconds` (the old model keeps answering meanwhile) and the answer is
  204 with no body; `loads` lists every accepted model_file.

The API routes answer 401 with Rasa's error JSON to a wrong token. It comes with its action
server (tests/fakes/action_server.py): `actions_up = False` makes its /health fail; the gateway
channel then answers 503 `actions_unavailable` and records nothing (rasa_addons/turns.py), the
REST webhook answers nothing (Rasa swallows the failed action call).

Switches: `down()` / `up()` really stop and restart listening on the same port (connection
refused, like a crashed Rasa); `delay` makes every answer slow (the turn is still recorded
when it finishes, as a real Rasa would); `fail_status` answers every webhook call with that
HTTP status (with `fail_code`, the gateway channel's failure body `{"error": {"code": ...}}`:
`no_model`, `actions_unavailable`, `turn_failed`, rasa_addons/gateway_channel.py).

`FakeRasa.serving_models()` answers every message with the name of the model that answered it
(deployment tests: no downtime while a model loads).

Several workers sharing conversations (bot/rasa_pool.py): give them one `trackers` dict (the
tracker store) and one `locks` dict (the lock store). As the real gateway channel
(rasa_addons/turns.py), a message marked `gateway_retry` that is already in the tracker is
answered from it (under the conversation's lock), not run again.
"""

from __future__ import annotations

import asyncio
import tarfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from rasa_addons.turns import MESSAGE_KEY, RETRY_KEY, recorded_answer
from tests.fakes.action_server import FakeActionServer
from tests.fakes.loopback import free_port, running

RASA_VERSION = "3.6.21"

#: (substring, intent, confidence): the fake NLU, first match wins.
INTENTS: list[tuple[str, str, float]] = [
    ("停电", "report_fault", 0.97),
    ("no power", "report_fault", 0.95),
    ("电费", "query_bill", 0.91),
    ("你好", "greet", 0.99),
]

Responder = Callable[[str, str, dict[str, Any]], list[dict[str, Any]]]


def default_responder(sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """Echo the text, with buttons when the customer asks about a bill."""
    replies: list[dict[str, Any]] = [{"recipient_id": sender, "text": f"收到：{text}"}]
    if "电费" in text:
        replies.append(
            {
                "recipient_id": sender,
                "text": "请选择",
                "buttons": [
                    {"title": "查本月", "payload": "/query_bill"},
                    {"title": "转人工", "payload": "/request_human"},
                ],
            }
        )
    return replies


def rasa_error(status: int, reason: str, message: str) -> web.Response:
    """Rasa's ErrorResponse body."""
    body = {
        "version": RASA_VERSION,
        "status": "failure",
        "message": message,
        "reason": reason,
        "details": {"parameter": "model", "in": "query"},
        "help": None,
        "code": status,
    }
    return web.json_response(body, status=status)


def not_authenticated() -> web.Response:
    return rasa_error(401, "NotAuthenticated", "User is not authenticated.")


def loadable(path: Path) -> bool:
    return path.is_file() and tarfile.is_tarfile(path)


#: What NLU ranked behind the FallbackClassifier's nlu_fallback (Rasa keeps the others).
FALLBACK_RUNNERS_UP: list[tuple[str, float]] = [("query_outage", 0.28), ("greet", 0.11)]


def classify(text: str) -> tuple[str, float]:
    for needle, intent, confidence in INTENTS:
        if needle in text:
            return intent, confidence
    return "nlu_fallback", 0.31


def ranking(intent: str, confidence: float) -> list[dict[str, Any]]:
    """parse_data.intent_ranking as Rasa gives it, best first."""
    ranked = [(intent, confidence)]
    if intent == "nlu_fallback":
        ranked += FALLBACK_RUNNERS_UP
    return [{"name": name, "confidence": value} for name, value in ranked]


@dataclass
class Turn:
    sender: str
    text: str
    metadata: dict[str, Any]
    input_channel: str | None


@dataclass
class FakeRasa:
    token: str | None = "secret-token"
    delay: float = 0.0
    fail_status: int | None = None
    fail_code: str | None = None
    gateway_channel: bool = True
    responder: Responder = default_responder
    model_file: str = "current.tar.gz"
    """The file name of the model Rasa runs (GET /status; PUT /model changes it)."""
    load_seconds: float = 0.0
    loads: list[str] = field(default_factory=list)
    """The model_file of every accepted PUT /model, in order."""
    answered: list[tuple[str, str]] = field(default_factory=list)
    """(text, model that answered) of every message answered."""
    turns: list[Turn] = field(default_factory=list)
    """Turns in the order Rasa finished them (a slow turn is recorded when it finishes)."""
    requests: int = 0
    """Webhook calls received so far, counted on arrival (before any `delay`)."""
    trackers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """The tracker store: give several fakes the same dict to have them share conversations."""
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    """The lock store (per conversation): shared along with `trackers`."""
    replayed: list[str] = field(default_factory=list)
    """Message keys of retries answered from the tracker (not run again)."""
    tracker_requests: list[str] = field(default_factory=list)
    """The include_events value of every tracker request, in order."""
    actions: FakeActionServer = field(default_factory=FakeActionServer)
    port: int = 0
    _runner: web.AppRunner | None = None
    _clock: float = 1_700_000_000.0

    @classmethod
    def serving_models(cls, **kw: Any) -> FakeRasa:
        """A Rasa whose every reply names the model that answered ("answered by <file>")."""
        rasa = cls(**kw)
        rasa.responder = rasa.name_the_model
        return rasa

    def name_the_model(
        self, sender: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return [{"recipient_id": sender, "text": f"answered by {self.model_file}"}]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def actions_url(self) -> str:
        return self.actions.url

    @property
    def actions_up(self) -> bool:
        return self.actions.up

    @actions_up.setter
    def actions_up(self, up: bool) -> None:
        self.actions.up = up

    def texts(self) -> list[str]:
        """What the customers said to Rasa, in the order Rasa processed it."""
        return [t.text for t in self.turns]

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.port = self.port or free_port()
        await self.up()
        await self.actions.start()

    async def up(self) -> None:
        """(Re)start listening on the same port."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._rest_webhook)
        if self.gateway_channel:
            app.router.add_post("/webhooks/gateway/webhook", self._gateway_webhook)
        app.router.add_get("/conversations/{sender}/tracker", self._tracker)
        app.router.add_get("/status", self._status)
        app.router.add_put("/model", self._load)
        app.router.add_get("/", self._root)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def down(self) -> None:
        """Stop listening and drop every open connection: connections are refused, as with a
        crashed Rasa."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        await self.down()
        await self.actions.close()

    # --- routes ---------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return self.token is None or request.query.get("token") == self.token

    def _now(self) -> float:
        self._clock += 1
        return self._clock

    async def _rest_webhook(self, request: web.Request) -> web.Response:
        turn = await self._turn(request)
        if isinstance(turn, web.Response):
            return turn
        return web.json_response(turn[0])

    async def _gateway_webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender = str(body.get("sender"))
        # one turn of a conversation at a time, as Rasa's lock store (shared with the workers
        # that share the trackers)
        async with self.locks.setdefault(sender, asyncio.Lock()):
            metadata = body.get("metadata") or {}
            if metadata.get(RETRY_KEY) and self.fail_status is None:
                key = str(metadata.get(MESSAGE_KEY))
                recorded = recorded_answer(self.trackers.get(sender, []), sender, key)
                if recorded is not None:  # it ran before: answered from the tracker
                    self.requests += 1
                    self.replayed.append(key)
                    messages, latest = recorded
                    return web.json_response({"messages": messages, "latest_message": latest})
            turn = await self._turn(request, gateway=True)
        if isinstance(turn, web.Response):
            return turn
        replies, user = turn
        latest = {**user["parse_data"], "metadata": user["metadata"]}
        return web.json_response({"messages": replies, "latest_message": latest})

    async def _turn(
        self, request: web.Request, *, gateway: bool = False
    ) -> tuple[list[dict[str, Any]], dict[str, Any]] | web.Response:
        """Record one turn: (the replies, the user event), or the failure to answer with."""
        body = await request.json()
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if gateway and not self.actions_up:  # the gateway channel abandons the turn unsaved
            error = {"code": "actions_unavailable", "message": "the action server is down"}
            return web.json_response({"error": error}, status=503)
        if self.fail_status is not None:
            if self.fail_code is not None:
                error = {"code": self.fail_code, "message": "failed"}
                return web.json_response({"error": error}, status=self.fail_status)
            return web.json_response({"error": "boom"}, status=self.fail_status)
        sender = str(body["sender"])
        text = str(body.get("message") or "")
        metadata = dict(body.get("metadata") or {})
        self.turns.append(Turn(sender, text, metadata, body.get("input_channel")))
        intent, confidence = classify(text)
        events = self.trackers.setdefault(sender, [])
        user: dict[str, Any] = {
            "event": "user",
            "timestamp": self._now(),
            "text": text,
            "parse_data": {
                "text": text,
                "intent": {"name": intent, "confidence": confidence},
                "intent_ranking": ranking(intent, confidence),
                "entities": [],
            },
            "input_channel": body.get("input_channel") or "rest",
            "message_id": f"m{len(self.turns)}",
            "metadata": metadata,
        }
        events.append(user)
        self.answered.append((text, self.model_file))
        replies = self.responder(sender, text, metadata) if self.actions_up else []
        for reply in replies:
            data = {k: v for k, v in reply.items() if k not in ("recipient_id", "text")}
            events.append(
                {
                    "event": "bot",
                    "timestamp": self._now(),
                    "text": reply.get("text"),
                    "data": data,
                }
            )
        return replies, user

    async def _tracker(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return not_authenticated()
        sender = request.match_info["sender"]
        events = self.trackers.get(sender, [])
        self.tracker_requests.append(request.query.get("include_events", "AFTER_RESTART"))
        users = [e for e in events if e["event"] == "user"]
        latest = None
        if users:  # as Rasa: the last user event's parse data, with its message_id and metadata
            last = users[-1]
            latest = {
                **last["parse_data"],
                "message_id": last["message_id"],
                "metadata": last["metadata"],
            }
        state: dict[str, Any] = {"sender_id": sender, "slots": {}, "latest_message": latest}
        if request.query.get("include_events", "AFTER_RESTART").upper() != "NONE":
            state["events"] = events
        return web.json_response(state)

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return not_authenticated()
        body = {
            "model_file": self.model_file,
            "model_id": uuid.uuid5(uuid.NAMESPACE_URL, self.model_file).hex,
            "num_active_training_jobs": 0,
        }
        return web.json_response(body)

    async def _load(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return not_authenticated()
        body: Any = await request.json()
        path = Path(str((body or {}).get("model_file") or ""))
        if not await asyncio.to_thread(loadable, path):
            return rasa_error(400, "BadRequest", f"Agent with name '{path}' could not be loaded.")
        await asyncio.sleep(self.load_seconds)  # the old agent answers meanwhile
        self.model_file = path.name
        self.loads.append(str(path))
        return web.Response(status=204)

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text=f"Hello from Rasa: {RASA_VERSION}")


@asynccontextmanager
async def fake_rasa_server(**kw: Any) -> AsyncIterator[FakeRasa]:
    """A FakeRasa(**kw) (and its action server) listening for the length of the block."""
    async with running(FakeRasa(**kw)) as rasa:
        yield rasa
