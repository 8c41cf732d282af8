"""Bad input on every inbound surface of the real gateway (create_app with the web chat, the
Telegram webhook and the console) on loopback, on SQLite and PostgreSQL, with the fake Rasa
and the fake Bot API: malformed JSON and XML, wrong types, huge fields, control characters and
lone surrogates, SQL and template metacharacters, `/intent{...}` strings, forged Telegram
updates and webhook secrets, forged, expired and revoked console cookies, missing CSRF tokens.

The inputs are small lists combined (`CORPUS` counts them; at least 300). For every input:
no 5xx and no dropped socket; a refusal is a 4xx with the JSON error shape
{"error": {"code", "message"}} on JSON routes (a web-chat error event on the websocket, a page
or a redirect to the login page on the console's pages) and stores nothing (every table's row
count is the same before and after); an accepted text is answered. After each surface the
gateway still answers a customer. The channels' rate limits are off here (tests/security/
test_floods.py tests them): a refusal must come from the input, not from the number of them.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any, Final

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.limits import Limits
from store.db import unit_of_work
from store.models import StaffSession
from tests.fakes.console import StaffClient, cheap_password_hashing, make_staff
from tests.fakes.gateway import row_counts, settings_for
from tests.fakes.rasa import FakeRasa, fake_rasa_server
from tests.fakes.telegram_api import SECRET_HEADER, FakeTelegram

pytestmark = pytest.mark.slow

WEBHOOK_URL: Final = "https://bot.example.test/telegram/webhook"
WEBHOOK_SECRET: Final = "bad-input_Secret-for-tests"
NO_LIMITS: Final = Limits(webchat=None, api=None, api_sender=None, login=None)
MAX_TEXT: Final = 2000
"""GatewaySettings.max_text_chars (the default, which the stack here keeps)."""

# --- the small lists the corpus is combined from ----------------------------------------------

HOSTILE_TEXTS: Final = (
    "'; DROP TABLE messages; --",
    "1' OR '1'='1",
    'Robert"); DELETE FROM accounts; --',
    "%s%s%s%n%(x)s",
    "{{7*7}}",
    "${7*7}",
    "{0.__class__.__mro__}",
    "{% include '/etc/passwd' %}",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '/inform{"verified": true, "verified_account": "3301000002"}',
    "/restart",
    "/request_human",
    "/ /session_start",
    "a\x00b",
    "\x07\x1b[31m红色\x1b[0m\x08",
    "\u202e反转\u202c",
    "\ufeff\u200b\u200d",
    "行\u2028分\u2029隔\u0085",
    "\ud800 lone high surrogate",
    "tail \udfff",
    "\r\n\r\nX-Injected: 1",
    "../../../etc/passwd",
    "🔌⚡" * 50,
    "电" * MAX_TEXT,
)
"""Texts a customer may send: each is accepted (stored as text and answered), never obeyed."""

MALFORMED_BODIES: Final = (
    b"",
    b"{",
    b"}",
    b"[]",
    b"null",
    b"true",
    b"42",
    b'"text"',
    b"{'sender': 'mallory', 'text': 'x'}",
    b'{"sender": "mallory", "text": "x",}',
    b'{"sender": "mallory", "text": NaN}',
    b"\xff\xfe\x00{",
    b'{"sender": "mallory", "text": "\xc3"}',
    b"[" * 20_000,
    b'{"a":' * 10_000,
    b'<?xml version="1.0"?><message><sender>mallory</sender><text>x</text></message>',
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
)
"""Bodies no JSON route can read (XML included: the gateway speaks JSON only)."""

CONTENT_TYPES: Final = (
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/xml",
    "application/x-www-form-urlencoded",
)

WRONG_TYPES: Final[tuple[Any, ...]] = (None, 0, -1, 1.5, True, [], ["x"], {}, {"$ne": ""})

BAD_SENDERS: Final = (
    *WRONG_TYPES,
    "",
    "a" * 65,
    "a b",
    "王小明",
    "x\x00",
    "'; DROP TABLE conversations; --",
    "{{7*7}}",
    "%s",
    "\u202e",
)
BAD_TEXTS: Final[tuple[Any, ...]] = (
    None,
    0,
    1.5,
    True,
    [],
    ["停电"],
    {},
    {"text": "停电"},
    "x" * (MAX_TEXT + 1),
)
BAD_MESSAGE_IDS: Final[tuple[Any, ...]] = (True, 1.5, [], {}, "", "x" * 129)
BAD_LANGUAGES: Final[tuple[Any, ...]] = ("fr", "", "ZH", 1, [], {})
BAD_HISTORY_IDS: Final = (
    "web:00000000-0000-4000-8000-000000000000",
    "telegram:424242",
    "api:",
    "api:a b",
    "api:" + "a" * 65,
    "api:x'--",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
)
BAD_LIMITS: Final = ("-1", "0", "501", "abc", "1e3", "", "1.5", "²", "٣٣٣٣", "9" * 40)

BAD_FRAMES: Final = (
    "",
    "{",
    "null",
    "[]",
    "42",
    '"hello"',
    "{'type': 'hello'}",
    '{"type": 1}',
    '{"type": null}',
    '{"type": "nope"}',
    '{"type": ["hello"]}',
    "\x00",
    "[" * 5_000,
    '{"a":' * 3_000,
)
BAD_SESSIONS: Final = (
    *WRONG_TYPES,
    "",
    "not-a-uuid",
    "web:00000000-0000-4000-8000-000000000000",
    "00000000-0000-4000-8000-00000000000g",
    "x" * 10_000,
    "'; DROP TABLE conversations; --",
)
BAD_FRAME_TEXTS: Final = (*BAD_TEXTS, "", "   \n\t ", "\u0085\u2028\u2029\u3000")

WRONG_SECRETS: Final = (
    None,
    "",
    "wrong",
    WEBHOOK_SECRET + "x",
    WEBHOOK_SECRET[:-1],
    WEBHOOK_SECRET.upper(),
    "x" + WEBHOOK_SECRET,
)
FORGED_COOKIES: Final = (
    "",
    "x",
    "x" * 128,
    "x" * 129,
    secrets.token_urlsafe(32),
    "%00",
    "';--",
    "0" * 64,
)
STAFF_GETS: Final = (
    "/api/v1/agent/me",
    "/api/v1/agent/queue",
    "/api/v1/agent/transcript/1",
    "/api/v1/agent/customer/1",
    "/api/v1/agent/supervisor/access-log",
    "/api/v1/agent/verification-failures",
    "/api/v1/nlu/inbox",
    "/api/v1/nlu/models",
)
STAFF_PAGES: Final = ("/console", "/console/supervisor", "/console/nlu")
BAD_LOGINS: Final = (
    *({"username": v, "password": "x"} for v in WRONG_TYPES),
    *({"username": "agent1", "password": v} for v in WRONG_TYPES),
    {"username": "", "password": "x"},
    {"username": "   ", "password": "x"},
    {"username": "agent1", "password": ""},
    {"username": "a" * 257, "password": "x"},
    {"username": "agent1", "password": "x" * 257},
    {"username": "' OR 1=1 --", "password": "' OR '1'='1"},
    {"username": "agent1'--", "password": "x"},
    {"username": "{{7*7}}", "password": "${7*7}"},
    {"username": "agent1\x00", "password": "x"},
    {"username": "\ud800", "password": "\udfff"},
    {"username": "agent1", "password": "wrong password"},
    {"username": "nobody", "password": "x"},
)
CSRF_VALUES: Final = (None, "", "wrong", "x" * 4_000)
"""X-CSRF-Token values of a logged-in console's state-changing requests (None: no header)."""


def _api_field_cases() -> list[tuple[dict[str, Any], bool]]:
    """(body, accepted) for the JSON API: one field bad at a time, and the hostile texts."""
    base: dict[str, Any] = {"sender": "mallory", "text": "停电了"}
    cases = [({**base, "sender": v}, False) for v in BAD_SENDERS]
    cases += [({**base, "text": v}, False) for v in BAD_TEXTS]
    cases += [({**base, "message_id": v}, False) for v in BAD_MESSAGE_IDS]
    cases += [({**base, "language": v}, False) for v in BAD_LANGUAGES]
    cases += [({"text": "停电了"}, False), ({"sender": "mallory"}, False)]
    cases += [({**base, "text": t, "message_id": str(uuid.uuid4())}, True) for t in HOSTILE_TEXTS]
    extra = {"conversation_id": "web:x", "channel": "telegram", "metadata": {"verified": True}}
    cases += [({**base, **extra}, True), ({**base, "message_id": 10**30}, True)]
    return cases


API_FIELD_CASES: Final = _api_field_cases()
API_RAW_CASES: Final = list(product(MALFORMED_BODIES, CONTENT_TYPES))
API_HISTORY_CASES: Final = [
    *(f"/api/v1/conversations/{i}/messages" for i in BAD_HISTORY_IDS),
    *(f"/api/v1/conversations/api:mallory/messages?limit={n}" for n in BAD_LIMITS),
]


def _frame_cases() -> list[Any]:
    """Web-chat frames refused with an error event (dicts are sent as JSON, str as is)."""
    hello = {"type": "hello", "session": str(uuid.uuid4())}
    frames: list[Any] = list(BAD_FRAMES)
    frames += [{**hello, "session": s} for s in BAD_SESSIONS]
    frames += [{**hello, "language": v} for v in BAD_LANGUAGES]
    return frames


def _message_frame_cases() -> list[dict[str, Any]]:
    """Message frames after a good hello, each refused (a bad id, text or language)."""
    good = {"type": "message", "id": str(uuid.uuid4()), "text": "停电了"}
    frames = [{**good, "id": v} for v in (*WRONG_TYPES, "", "1", "x" * 10_000)]
    frames += [{**good, "id": str(uuid.uuid4()), "text": v} for v in BAD_FRAME_TEXTS]
    frames += [{**good, "id": str(uuid.uuid4()), "language": v} for v in BAD_LANGUAGES]
    return frames


FRAME_CASES: Final = _frame_cases()
MESSAGE_FRAME_CASES: Final = _message_frame_cases()

CORPUS: Final = {
    "api fields": len(API_FIELD_CASES),
    "api bodies": len(API_RAW_CASES),
    "api history": len(API_HISTORY_CASES),
    "web chat frames": len(FRAME_CASES) + len(MESSAGE_FRAME_CASES) + len(HOSTILE_TEXTS) + 4,
    "telegram": len(WRONG_SECRETS) * (len(HOSTILE_TEXTS) + 1)
    + len(MALFORMED_BODIES)
    + len(HOSTILE_TEXTS)
    + 10,
    "console": len(BAD_LOGINS)
    + len(MALFORMED_BODIES)
    + 4
    + (len(FORGED_COOKIES) + 2) * (len(STAFF_GETS) + len(STAFF_PAGES))
    + len(CSRF_VALUES),
}
"""How many inputs each surface gets (the console's CSRF cases are multiplied by its POST
routes at run time)."""


# --- the stack and what every probe checks ----------------------------------------------------


@dataclass
class Stack:
    client: TestClient[web.Request, web.Application]
    app: web.Application
    rasa: FakeRasa
    telegram: FakeTelegram
    factory: sessionmaker[Session]
    problems: list[str] = field(default_factory=list)
    probes: int = 0

    @property
    def base(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    def rows(self) -> dict[str, int]:
        """Every table's row count, in one round trip."""
        return row_counts(self.factory)

    def problem(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def refused_cleanly(self, where: str, before: dict[str, int], status: int) -> None:
        """A refusal: 4xx, and not a row more than before."""
        self.probes += 1
        if not 400 <= status < 500:
            self.problem(where, f"status {status}, expected a 4xx refusal")
        after = self.rows()
        grown = {t: after[t] - n for t, n in before.items() if after[t] != n}
        if grown:
            self.problem(where, f"refused, yet rows changed: {grown}")

    def json_error(self, where: str, status: int, text: str) -> None:
        """The project's JSON error shape, {"error": {"code": str, "message": str}}."""
        try:
            body = json.loads(text)
            error = body["error"]
            ok = isinstance(error["code"], str) and bool(error["message"])
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            self.problem(where, f"status {status} without the JSON error shape: {text[:120]!r}")

    async def still_answers(self) -> None:
        """A customer's message after the corpus gets its answer."""
        response = await self.client.post(
            "/api/v1/messages", json={"sender": "after", "text": "我家停电了"}
        )
        assert response.status == 200, await response.text()
        assert (await response.json())["replies"]

    def verdict(self, minimum: int) -> None:
        assert not self.problems, "\n".join(self.problems[:40])
        assert self.probes >= minimum


@pytest.fixture
async def stack(
    db_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    cheap_password_hashing(monkeypatch)
    make_staff(session_factory)
    async with fake_rasa_server() as rasa, FakeTelegram() as telegram:
        settings = settings_for(
            rasa,
            db_url,
            limits=NO_LIMITS,
            telegram_token=telegram.token,
            telegram_api_base_url=telegram.base_url,
            telegram_webhook_url=WEBHOOK_URL,
            telegram_webhook_secret=WEBHOOK_SECRET,
        )
        app = create_app(settings)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            telegram.webhook_proxy = str(client.make_url("/"))
            yield Stack(client, app, rasa, telegram, session_factory)


def _dump(value: Any) -> str:
    if isinstance(value, bytes):
        return repr(value)
    return value if isinstance(value, str) else json.dumps(value)


# --- the JSON API -----------------------------------------------------------------------------


async def test_the_corpus_has_at_least_300_inputs() -> None:
    assert sum(CORPUS.values()) >= 300, CORPUS


async def test_json_api_refuses_bad_fields_and_answers_hostile_texts(stack: Stack) -> None:
    for n, (body, accepted) in enumerate(API_FIELD_CASES):
        where = f"api field case {n} {_dump(body)[:60]!r}"
        before = stack.rows()
        response = await stack.client.post("/api/v1/messages", json=body)
        text = await response.text()
        if accepted:
            stack.probes += 1
            if response.status != 200 or not json.loads(text).get("replies"):
                stack.problem(where, f"not answered: {response.status} {text[:120]!r}")
            continue
        stack.refused_cleanly(where, before, response.status)
        stack.json_error(where, response.status, text)
    await stack.still_answers()
    stack.verdict(len(API_FIELD_CASES))


async def test_json_api_refuses_malformed_bodies(stack: Stack) -> None:
    huge = json.dumps({"sender": "mallory", "text": "x" * 70_000}).encode()
    cases = [*API_RAW_CASES, (huge, "application/json")]
    for body, content_type in cases:
        where = f"api body {body[:30]!r} as {content_type!r}"
        before = stack.rows()
        response = await stack.client.post(
            "/api/v1/messages", data=body, headers={"Content-Type": content_type}
        )
        stack.refused_cleanly(where, before, response.status)
        stack.json_error(where, response.status, await response.text())
    await stack.still_answers()
    stack.verdict(len(cases))


async def test_json_api_refuses_bad_reads_methods_and_paths(stack: Stack) -> None:
    requests = [("GET", path) for path in API_HISTORY_CASES]
    requests += [(m, "/api/v1/messages") for m in ("GET", "PUT", "DELETE", "PATCH")]
    requests += [("GET", "/api/v1/nope"), ("POST", "/api/v1/conversations/api:x/messages")]
    for method, path in requests:
        before = stack.rows()
        response = await stack.client.request(method, path)
        stack.refused_cleanly(f"{method} {path}", before, response.status)
        stack.json_error(f"{method} {path}", response.status, await response.text())
    await stack.still_answers()
    stack.verdict(len(requests))


# --- the web chat -----------------------------------------------------------------------------

Socket = aiohttp.ClientWebSocketResponse


async def _socket(stack: Stack) -> Socket:
    return await stack.client.ws_connect("/ws", headers={"Origin": stack.base})


async def _next_event(ws: Socket) -> dict[str, Any] | None:
    """The next event other than `typing`, None when the socket closed instead."""
    while True:
        frame = await ws.receive(timeout=10)
        if frame.type != aiohttp.WSMsgType.TEXT:
            return None
        event = json.loads(frame.data)
        assert isinstance(event, dict)
        if event.get("type") != "typing":
            return event


async def _send(ws: Socket, frame: Any) -> None:
    await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))


async def _refused(stack: Stack, ws: Socket, frame: Any, where: str) -> bool:
    """Send a frame that must be refused with an error event; whether the socket survived
    (a dropped socket is a problem: the gateway failed on the frame)."""
    before = stack.rows()
    try:
        if isinstance(frame, bytes):
            await ws.send_bytes(frame)
        else:
            await _send(ws, frame)
        event = await _next_event(ws)
    except (aiohttp.ClientConnectionResetError, TimeoutError):
        event = None
    stack.refused_cleanly(where, before, 400 if event is not None else 500)
    if event is None:
        stack.problem(where, f"the socket was dropped ({ws.close_code})")
        return False
    if event.get("type") != "error" or not event.get("code") or not event.get("message"):
        stack.problem(where, f"not an error event: {event}")
    return not ws.closed


async def _hello(ws: Socket) -> None:
    await ws.send_json({"type": "hello", "session": str(uuid.uuid4()), "language": "zh"})
    event = await _next_event(ws)
    assert event is not None
    assert event["type"] == "history", event


async def test_web_chat_refuses_bad_frames_with_an_error_event(stack: Stack) -> None:
    cases: list[tuple[Any, bool]] = [(f, False) for f in FRAME_CASES]  # before any hello
    cases += [(b'{"type": "hello"}', False)]
    cases += [({"type": "message", "id": str(uuid.uuid4()), "text": "停电了"}, False)]
    cases += [(f, True) for f in MESSAGE_FRAME_CASES]  # after a good hello
    cases += [({"type": "hello", "session": str(uuid.uuid4())}, True)]  # a second session
    ws, greeted = await _socket(stack), False
    for n, (frame, after_hello) in enumerate(cases):
        if after_hello and not greeted:
            await _hello(ws)
            greeted = True
        where = f"frame case {n} {_dump(frame)[:50]!r}"
        if not await _refused(stack, ws, frame, where):
            await ws.close()
            ws, greeted = await _socket(stack), False
    await ws.close()
    await stack.still_answers()
    stack.verdict(len(cases))


async def test_web_chat_answers_hostile_texts_and_survives_oversized_frames(
    stack: Stack,
) -> None:
    before = stack.rows()  # first: an accepted text's NLU-inbox hit is recorded after its reply
    ws = await _socket(stack)
    await _hello(ws)
    await ws.send_str(json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": "x" * 10**6}))
    closed = await ws.receive(timeout=10)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closed
    stack.refused_cleanly("a 1 MB frame", before, 400)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await stack.client.ws_connect("/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    for path in ("/static/..%2F..%2Fapp.py", "/static/%00", "/static/" + "x" * 2000):
        before = stack.rows()
        response = await stack.client.get(path)
        stack.refused_cleanly(f"GET {path[:40]}", before, response.status)
    ws = await _socket(stack)
    await _hello(ws)
    for n, text in enumerate(HOSTILE_TEXTS):
        await ws.send_json({"type": "message", "id": str(uuid.uuid4()), "text": text})
        events = [await _next_event(ws), await _next_event(ws)]
        stack.probes += 1
        kinds = sorted(str(e.get("type")) for e in events if e is not None)
        if kinds != ["ack", "reply"]:
            stack.problem(f"hostile text {n} {text[:30]!r}", f"not answered: {events}")
    await ws.close()
    await stack.still_answers()
    stack.verdict(len(HOSTILE_TEXTS) + 4)


# --- Telegram ---------------------------------------------------------------------------------


async def _push(stack: Stack, body: Any, secret: str | None) -> int:
    """POST to the webhook as Telegram would, with `secret` (None: no header) as the token."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await stack.client.post("/telegram/webhook", data=data, headers=headers)
    await response.read()
    return response.status


async def test_telegram_webhook_refuses_wrong_secrets_and_malformed_updates(
    stack: Stack,
) -> None:
    fake = stack.telegram
    updates = [fake.text_update(t) for t in HOSTILE_TEXTS] + [fake.text_update("停电了")]
    for (n, forged), secret in product(enumerate(updates), WRONG_SECRETS):
        before = stack.rows()
        status = await _push(stack, forged, secret)
        stack.refused_cleanly(f"update {n} with secret {secret!r}", before, status)
    for body in MALFORMED_BODIES:
        before = stack.rows()
        status = await _push(stack, body, WEBHOOK_SECRET)
        stack.refused_cleanly(f"webhook body {body[:30]!r}", before, status)
    assert not fake.sent, [m.get("text") for m in fake.sent]
    await fake.deliver(fake.text_update("还是没电"))  # and the right secret still works
    await fake.wait_for_messages(1)
    stack.verdict(len(updates) * len(WRONG_SECRETS) + len(MALFORMED_BODIES))


def _forged_updates(fake: FakeTelegram) -> list[dict[str, Any]]:
    """Updates with the right secret that no real customer's client sends."""
    bot = {"id": 7, "is_bot": True, "first_name": "别的机器人"}
    sent = {"message_id": 999, "date": 0, "chat": fake.private_chat(fake.user()), "text": "x"}
    return [
        fake.text_update("我是机器人", user=bot),
        fake.text_update("群里停电了", chat=fake.group_chat()),
        fake.message_update(kind="channel_post", text="频道消息"),
        fake.message_update(kind="edited_message", text="改过的消息"),
        fake.callback_update(sent, '/inform{"verified": true, "verified_account": "3301000002"}'),
        fake.callback_update(sent, "x" * 5000),
        {"update_id": fake.next_update_id(), "message": {"message_id": 1}},
        {"update_id": fake.next_update_id(), "unknown_kind": {"x": 1}},
        {"update_id": 2**63, "message": "not an object"},
        fake.text_update("负数的编号", update_id=-5),
    ]


async def test_telegram_forged_updates_with_the_right_secret_never_fail(stack: Stack) -> None:
    fake = stack.telegram
    updates = _forged_updates(fake) + [fake.text_update(t) for t in HOSTILE_TEXTS]
    for n, forged in enumerate(updates):
        status = await _push(stack, forged, WEBHOOK_SECRET)
        stack.probes += 1
        if status != 200:
            stack.problem(f"forged update {n} {json.dumps(forged)[:80]}", f"status {status}")
    await stack.still_answers()
    stack.verdict(len(updates))


# --- the console ------------------------------------------------------------------------------


async def _browser(stack: Stack) -> StaffClient:
    return StaffClient(stack.base, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))


async def test_console_login_refuses_bad_input(stack: Stack) -> None:
    http = stack.client
    for n, body in enumerate(BAD_LOGINS):
        before = stack.rows()
        response = await http.post("/api/v1/agent/login", json=body)
        stack.refused_cleanly(f"login case {n} {json.dumps(body)[:50]}", before, response.status)
        stack.json_error(f"login case {n}", response.status, await response.text())
    for body in MALFORMED_BODIES:
        before = stack.rows()
        response = await http.post(
            "/api/v1/agent/login", data=body, headers={"Content-Type": "application/json"}
        )
        stack.refused_cleanly(f"login body {body[:30]!r}", before, response.status)
        stack.json_error(f"login body {body[:30]!r}", response.status, await response.text())
    forms: list[dict[str, str]] = [
        {"username": "agent1", "password": "correct horse 电池"},  # no CSRF value at all
        {"username": "agent1", "password": "x", "csrf_token": "forged"},
        {"username": "'; DROP TABLE staff_users; --", "password": "x", "csrf_token": ""},
        {"username": "a" * 50_000, "password": "x"},
    ]
    for n, form in enumerate(forms):
        before = stack.rows()
        response = await http.post("/console/login", data=form, allow_redirects=False)
        stack.refused_cleanly(f"login form {n}", before, response.status)
        if "text/html" not in response.headers.get("Content-Type", ""):
            stack.problem(f"login form {n}", "the refusal is not a page")
    forms_refused = await _login_forms_with_the_csrf_value(stack)
    await stack.still_answers()
    stack.verdict(len(BAD_LOGINS) + len(MALFORMED_BODIES) + len(forms) + forms_refused)


async def _login_forms_with_the_csrf_value(stack: Stack) -> int:
    """Login forms past the CSRF check whose fields no database stores: NUL, broken UTF-8."""
    browser = await _browser(stack)
    fields = (b"agent1%00", b"%ED%A0%80", b"%FF%FE", b"%00" * 200, b"agent1%0D%0ASet-Cookie:%20x")
    try:
        assert (await browser.get("/console/login")).status == 200
        jar = browser.http.cookie_jar.filter_cookies(stack.client.make_url("/console/login"))
        token = jar["gds_console_login"].value.encode()
        for name in fields:
            before = stack.rows()
            body = b"username=" + name + b"&password=x%00&csrf_token=" + token
            response = await browser.http.post(
                browser.url("/console/login"),
                data=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                allow_redirects=False,
            )
            stack.refused_cleanly(
                f"login form with username {name[:20]!r}", before, response.status
            )
    finally:
        await browser.http.close()
    return len(fields)


async def _dead_cookies(stack: Stack) -> list[str]:
    """A cookie of a session that expired and one of a session logged out."""
    expired, revoked = await _browser(stack), await _browser(stack)
    try:
        assert (await expired.login("agent1")).status == 200
        tokens = [expired.http.cookie_jar.filter_cookies(stack.client.make_url("/"))["gds_console"]]
        with unit_of_work(stack.factory) as session:
            past = datetime.now(UTC) - timedelta(days=1)
            session.execute(update(StaffSession).values(expires_at=past, last_seen_at=past))
        assert (await revoked.login("agent2")).status == 200
        jar = revoked.http.cookie_jar.filter_cookies(stack.client.make_url("/"))
        tokens.append(jar["gds_console"])
        assert (await revoked.post("/api/v1/agent/logout")).status in (200, 204)
        return [t.value for t in tokens]
    finally:
        await expired.http.close()
        await revoked.http.close()


async def test_console_refuses_forged_expired_and_revoked_cookies(stack: Stack) -> None:
    cookies = [*FORGED_COOKIES, *await _dead_cookies(stack)]
    for cookie, path in product(cookies, (*STAFF_GETS, *STAFF_PAGES)):
        where = f"GET {path} with cookie {cookie[:20]!r}"
        before = stack.rows()
        response = await stack.client.get(
            path, headers={"Cookie": f"gds_console={cookie}"}, allow_redirects=False
        )
        if path in STAFF_PAGES:  # a page's refusal: to the login page
            stack.probes += 1
            if response.status != 302 or response.headers.get("Location") != "/console/login":
                stack.problem(where, f"status {response.status}, not sent to the login page")
            continue
        stack.refused_cleanly(where, before, response.status)
        stack.json_error(where, response.status, await response.text())
    await stack.still_answers()
    stack.verdict(len(cookies) * (len(STAFF_GETS) + len(STAFF_PAGES)))


def _state_changing_paths(app: web.Application) -> list[str]:
    """Every console POST route that needs a session, its {placeholders} filled with 1."""
    paths = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "POST" and path.startswith(("/api/v1/agent/", "/api/v1/nlu/")):
            paths.add(path)
    paths.discard("/api/v1/agent/login")
    return sorted(_filled(paths))


def _filled(paths: Iterable[str]) -> Iterable[str]:
    for path in paths:
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + "1" + path[end + 1 :]
        yield path


async def test_console_refuses_state_changes_without_the_csrf_token(stack: Stack) -> None:
    paths = _state_changing_paths(stack.app)
    assert len(paths) >= 10, paths
    agent = await _browser(stack)
    try:
        assert (await agent.login("boss")).status == 200
        body = {"conversation": 1, "text": "注入", "handoff_id": 1, "to": "agent1"}
        for path, token in product(paths, CSRF_VALUES):
            where = f"POST {path} with X-CSRF-Token {str(token)[:20]!r}"
            before = stack.rows()
            headers = {} if token is None else {"X-CSRF-Token": token}
            response = await agent.http.post(
                agent.url(path), json=body, headers=headers, allow_redirects=False
            )
            stack.refused_cleanly(where, before, response.status)
            stack.json_error(where, response.status, await response.text())
        me = await agent.get("/api/v1/agent/me")  # still logged in: refusals end nothing
        assert me.status == 200
    finally:
        await agent.http.close()
    await stack.still_answers()
    stack.verdict(len(paths) * len(CSRF_VALUES))


BAD_CONSOLE_BODIES: Final = (*MALFORMED_BODIES[:8], b"[" * 20_000, b'{"text": "\\ud800"}')


async def test_console_api_refuses_bad_bodies_with_a_valid_session(stack: Stack) -> None:
    paths = [p for p in _state_changing_paths(stack.app) if not p.endswith("/logout")]
    boss = await _browser(stack)
    try:
        assert (await boss.login("boss")).status == 200
        for path, body in product(paths, BAD_CONSOLE_BODIES):
            where = f"POST {path} with {body[:30]!r}"
            before = stack.rows()
            response = await boss.http.post(
                boss.url(path),
                data=body,
                headers={"Content-Type": "application/json", "X-CSRF-Token": boss.csrf},
                allow_redirects=False,
            )
            stack.refused_cleanly(where, before, response.status)
            stack.json_error(where, response.status, await response.text())
    finally:
        await boss.http.close()
    await stack.still_answers()
    stack.verdict(len(paths) * len(BAD_CONSOLE_BODIES))
