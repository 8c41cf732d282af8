"""The web chat's HTTP side and websocket protocol, against a fake router on a loopback server."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels import webchat
from bot.messages import Button, Reply
from bot.settings import ConfigError, GatewaySettings, normalise_origin
from tests.fakes.webchat import BILL, BUSY, MENU, FakeRouter, make_app

STATIC = Path(webchat.__file__).resolve().parents[1] / "static"
MAX_CHARS = 50

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def router() -> FakeRouter:
    return FakeRouter()


@pytest.fixture
async def client(router: FakeRouter) -> AsyncIterator[Client]:
    app = make_app(router, GatewaySettings(max_text_chars=MAX_CHARS))
    async with TestClient(TestServer(app)) as client:
        yield client


def own_origin(client: Client) -> str:
    return str(client.make_url("/")).rstrip("/")


async def connect(client: Client, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
    return await client.ws_connect("/ws", headers={"Origin": origin or own_origin(client)})


async def receive(ws: aiohttp.ClientWebSocketResponse, wait: float = 5) -> dict[str, Any]:
    frame = await ws.receive(timeout=wait)
    assert frame.type == WSMsgType.TEXT, frame
    event = json.loads(frame.data)
    assert isinstance(event, dict)
    return event


async def nothing_more(ws: aiohttp.ClientWebSocketResponse, seconds: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await ws.receive(timeout=seconds)


async def hello(
    ws: aiohttp.ClientWebSocketResponse, session: str, language: str = "zh"
) -> list[dict[str, Any]]:
    await ws.send_json({"type": "hello", "session": session, "language": language})
    event = await receive(ws)
    assert event["type"] == "history", event
    messages = event["messages"]
    assert isinstance(messages, list)
    return messages


async def say(
    ws: aiohttp.ClientWebSocketResponse, text: str, message_id: str | None = None, **extra: Any
) -> str:
    message_id = message_id or str(uuid.uuid4())
    await ws.send_json({"type": "message", "text": text, "id": message_id, **extra})
    return message_id


async def events_until_ack(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Everything up to and including the ack, then whatever replies follow it at once."""
    events = [await receive(ws)]
    while events[-1]["type"] != "ack":
        events.append(await receive(ws))
    while True:
        try:
            events.append(await receive(ws, wait=0.3))
        except TimeoutError:
            return events


@pytest.fixture
def session() -> str:
    return str(uuid.uuid4())


# --- the conversation ---------------------------------------------------------------------------


async def test_channel_is_registered_with_the_router(client: Client, router: FakeRouter) -> None:
    channel = router.channels["web"]
    assert isinstance(channel, webchat.WebChatChannel)
    assert channel is webchat.channel_of(client.app)


async def test_hello_answers_the_history(client: Client, session: str) -> None:
    ws = await connect(client)
    assert await hello(ws, session) == []
    await ws.close()


async def test_message_is_acknowledged_and_answered(
    client: Client, router: FakeRouter, session: str
) -> None:
    ws = await connect(client)
    await hello(ws, session, "en")
    message_id = await say(ws, "  电费怎么查  ")
    events = await events_until_ack(ws)
    assert [e["type"] for e in events] == ["typing", "ack", "reply"]
    assert events[1] == {"type": "ack", "id": message_id}
    assert events[2] == {
        "type": "reply",
        "text": "收到：电费怎么查",
        "buttons": [{"title": b.title, "payload": b.payload} for b in MENU],
    }
    [inbound] = router.inbound
    assert inbound.channel == "web"
    assert inbound.chat_id == session
    assert inbound.conversation_id == f"web:{session}"
    assert inbound.text == "电费怎么查"
    assert inbound.external_id == message_id
    assert inbound.language == "en"
    await ws.close()


async def test_language_of_a_message_overrides_the_hello(
    client: Client, router: FakeRouter, session: str
) -> None:
    ws = await connect(client)
    await hello(ws, session, "zh")
    await say(ws, "hello", language="en")
    await events_until_ack(ws)
    assert router.inbound[-1].language == "en"
    await ws.close()


async def test_history_after_reconnect_and_in_another_tab(client: Client, session: str) -> None:
    ws = await connect(client)
    await hello(ws, session)
    await say(ws, "停电了")
    await events_until_ack(ws)
    await say(ws, "/query_bill")  # a button of that reply, pressed
    await events_until_ack(ws)
    await ws.close()

    again = await connect(client)
    messages = await hello(again, session)
    assert [(m["direction"], m["text"], m["sender"]) for m in messages] == [
        ("in", "停电了", "customer"),
        ("out", "收到：停电了", "bot"),
        ("in", "/query_bill", "customer"),
        ("out", BILL, "bot"),
    ]
    assert messages[0]["at"] == "2026-11-23T10:00:00+08:00"
    assert [b["payload"] for b in messages[1]["buttons"]] == ["/query_bill", "/report_fault"]
    assert messages[3]["buttons"] == []
    other = await connect(client)
    assert await hello(other, str(uuid.uuid4())) == []  # another browser sees nothing of it
    await again.close()
    await other.close()


async def test_a_resent_message_is_handled_once(
    client: Client, router: FakeRouter, session: str
) -> None:
    ws = await connect(client)
    await hello(ws, session)
    message_id = await say(ws, "停电了")
    first = await events_until_ack(ws)
    assert [e["type"] for e in first] == ["typing", "ack", "reply"]
    await ws.close()

    again = await connect(client)  # the browser reconnected and resends what it had not seen acked
    await hello(again, session)
    await say(again, "停电了", message_id)
    second = await events_until_ack(again)
    assert [e["type"] for e in second] == ["typing", "ack"]
    assert second[1] == {"type": "ack", "id": message_id, "duplicate": True}
    assert len(router.transcripts[f"web:{session}"]) == 2  # one message, one reply
    await again.close()


async def test_degraded_replies_are_delivered(client: Client, session: str) -> None:
    ws = await connect(client)
    await hello(ws, session)
    message_id = await say(ws, "busy")
    events = await events_until_ack(ws)
    assert events[1] == {"type": "ack", "id": message_id, "degraded": True}
    assert events[2] == {"type": "reply", "text": BUSY, "buttons": []}
    await ws.close()


async def test_router_failure_is_an_error_event(client: Client, session: str) -> None:
    ws = await connect(client)
    await hello(ws, session)
    message_id = await say(ws, "boom")
    assert (await receive(ws))["type"] == "typing"
    error = await receive(ws)
    assert error["type"] == "error"
    assert error["code"] == "unavailable"
    assert error["id"] == message_id
    assert error["message"]
    await say(ws, "还在吗")
    assert [e["type"] for e in await events_until_ack(ws)] == ["typing", "ack", "reply"]
    await ws.close()


async def test_replies_go_to_the_sending_tab_only(client: Client, session: str) -> None:
    first, second = await connect(client), await connect(client)
    await hello(first, session)
    await hello(second, session)
    await say(first, "你好")
    assert [e["type"] for e in await events_until_ack(first)] == ["typing", "ack", "reply"]
    await nothing_more(second)
    await first.close()
    await second.close()


async def test_replies_of_a_closed_tab_reach_the_others(
    client: Client, router: FakeRouter, session: str
) -> None:
    router.slow_seconds = 0.5
    first, second = await connect(client), await connect(client)
    await hello(first, session)
    await hello(second, session)
    await say(first, "slow")
    assert (await receive(first))["type"] == "typing"
    await first.close()  # e.g. the network dropped while the router was working
    reply = await receive(second)
    assert reply == {"type": "reply", "text": "收到：slow", "buttons": reply["buttons"]}
    await second.close()


# --- pushing: send() and typing() --------------------------------------------------------------


async def test_send_reaches_every_tab_of_the_conversation(
    client: Client, router: FakeRouter, session: str
) -> None:
    channel = router.channels["web"]
    tabs = [await connect(client), await connect(client)]
    stranger = await connect(client)
    for ws in tabs:
        await hello(ws, session)
    await hello(stranger, str(uuid.uuid4()))

    await channel.typing(session)
    agent = "人工客服小王为您服务。"
    await channel.send(session, [Reply(agent), Reply("请选择", (Button("是", "/affirm"),))])
    for ws in tabs:
        assert await receive(ws) == {"type": "typing"}
        assert await receive(ws) == {"type": "reply", "text": agent, "buttons": []}
        assert await receive(ws) == {
            "type": "reply",
            "text": "请选择",
            "buttons": [{"title": "是", "payload": "/affirm"}],
        }
    await nothing_more(stranger)
    for ws in [*tabs, stranger]:
        await ws.close()


async def test_send_without_an_open_tab_does_not_raise(
    client: Client, router: FakeRouter, session: str
) -> None:
    channel = router.channels["web"]
    await channel.send(session, [Reply("稍后回复")])  # the transcript keeps it for the history
    ws = await connect(client)
    await hello(ws, session)
    await ws.close()
    await asyncio.sleep(0.05)
    assert webchat.channel_of(client.app).open_sockets(session) == 0
    await channel.send(session, [Reply("稍后回复")])


async def test_shutdown_closes_the_sockets(router: FakeRouter, session: str) -> None:
    app = make_app(router)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    try:
        ws, silent = await connect(client), await connect(client)  # silent: never said hello
        await hello(ws, session)
        await client.server.close()
        for socket in (ws, silent):
            frame = await socket.receive(timeout=5)
            assert frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
            assert socket.close_code == aiohttp.WSCloseCode.GOING_AWAY
    finally:
        await client.close()


# --- refusing what is wrong ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example", "file://"]
)
async def test_foreign_origin_is_refused(client: Client, origin: str) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(client, origin)
    assert refused.value.status == 403


async def test_same_host_on_another_port_is_foreign(client: Client) -> None:
    port = client.server.port
    assert port is not None
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(client, f"http://127.0.0.1:{port + 1}")
    assert refused.value.status == 403


async def test_allowed_origins_setting(router: FakeRouter, session: str) -> None:
    settings = GatewaySettings(allowed_origins=("https://www.example.com",))
    async with TestClient(TestServer(make_app(router, settings))) as client:
        ws = await connect(client, "https://WWW.example.com:443")
        await hello(ws, session)
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await connect(client, "https://evil.example.com")
        page = await client.get("/")
        csp = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self' https://www.example.com" in csp
        assert "X-Frame-Options" not in page.headers


async def test_no_origin_is_not_a_browser_and_is_let_in(client: Client, session: str) -> None:
    ws = await client.ws_connect("/ws")
    await hello(ws, session)
    await ws.close()


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://gw.example:8080", "gw.example:8080", True),
        ("https://gw.example", "gw.example", True),
        ("https://gw.example", "GW.example:443", True),
        ("http://gw.example", "gw.example:80", True),
        ("https://gw.example:8443", "gw.example:8443", True),
        ("http://[::1]:8080", "[::1]:8080", True),
        ("https://gw.example", "gw.example:8080", False),
        ("http://gw.example.evil", "gw.example", False),
        ("http://gw.example/path", "gw.example", False),
        ("null", "gw.example", False),
        ("https://gw.example", "", False),
    ],
)
def test_origin_rules(origin: str, host: str, allowed: bool) -> None:
    assert webchat.origin_allowed(origin, host) is allowed


def test_allowed_origins_are_read_and_checked() -> None:
    settings = GatewaySettings.from_env(
        {"ALLOWED_ORIGINS": "https://www.example.com/, http://intranet:8080"}
    )
    assert settings.allowed_origins == ("https://www.example.com", "http://intranet:8080")
    assert GatewaySettings.from_env({}).allowed_origins == ()
    with pytest.raises(ConfigError, match="ALLOWED_ORIGINS"):
        GatewaySettings.from_env({"ALLOWED_ORIGINS": "www.example.com"})
    assert normalise_origin("HTTP://Host:80") == "http://host"
    assert normalise_origin("https://a.example/x") is None


async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(
    client: Client, session: str
) -> None:
    ws = await connect(client)
    await ws.send_str("{not json")
    assert (await receive(ws))["code"] == "bad_json"
    await hello(ws, session)
    bad: list[Any] = [
        [1, 2],
        "text",
        {"no": "type"},
        {"type": "subscribe"},
        {"type": 3},
        {"type": "message", "id": "not-a-uuid", "text": "hi"},
        {"type": "message", "id": str(uuid.uuid4()), "text": 42},
        {"type": "message", "id": str(uuid.uuid4()), "text": "   "},
        {"type": "message", "id": str(uuid.uuid4()), "text": "hi", "language": "fr"},
        {"type": "hello", "session": str(uuid.uuid4())},
    ]
    codes = []
    for frame in bad:
        await ws.send_json(frame)
        event = await receive(ws)
        assert event["type"] == "error"
        assert isinstance(event["message"], str)
        assert event["message"]
        codes.append(event["code"])
    assert codes == [
        "bad_frame",
        "bad_frame",
        "bad_frame",
        "bad_frame",
        "bad_frame",
        "bad_id",
        "bad_frame",
        "empty",
        "bad_language",
        "session_change",
    ]
    await ws.send_bytes(b"\x00\x01binary")
    assert (await receive(ws))["code"] == "binary"
    await say(ws, "你好")
    assert [e["type"] for e in await events_until_ack(ws)] == ["typing", "ack", "reply"]
    await ws.close()


async def test_hello_is_checked(client: Client) -> None:
    ws = await connect(client)
    await ws.send_json({"type": "message", "id": str(uuid.uuid4()), "text": "先说话"})
    assert (await receive(ws))["code"] == "no_hello"
    for session in ["", "../../etc", "A" * 36, str(uuid.uuid4()).upper(), str(uuid.uuid4()) + "0"]:
        await ws.send_json({"type": "hello", "session": session})
        assert (await receive(ws))["code"] == "bad_session"
    await ws.send_json({"type": "hello", "session": str(uuid.uuid4()), "language": "de"})
    assert (await receive(ws))["code"] == "bad_language"
    await hello(ws, str(uuid.uuid4()))
    await ws.close()


async def test_too_long_text_is_refused_politely(
    client: Client, router: FakeRouter, session: str
) -> None:
    ws = await connect(client)
    await hello(ws, session, "en")
    message_id = await say(ws, "电" * (MAX_CHARS + 1))
    error = await receive(ws)
    assert error["type"] == "error"
    assert error["code"] == "too_long"
    assert error["id"] == message_id
    assert str(MAX_CHARS) in error["message"]
    assert router.inbound == []
    await say(ws, "电" * MAX_CHARS)  # exactly the limit is fine
    assert [e["type"] for e in await events_until_ack(ws)] == ["typing", "ack", "reply"]
    await ws.close()


async def test_oversized_frame_closes_the_socket(client: Client, session: str) -> None:
    ws = await connect(client)
    await hello(ws, session)
    await ws.send_str(json.dumps({"type": "message", "text": "x" * (webchat.max_frame_bytes(50))}))
    frame = await ws.receive(timeout=5)
    assert frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    # the server is fine: a new socket works
    again = await connect(client)
    await hello(again, session)
    await again.close()


async def test_too_many_tabs(client: Client, session: str) -> None:
    tabs = [await connect(client) for _ in range(webchat.MAX_TABS)]
    for ws in tabs:
        await hello(ws, session)
    extra = await connect(client)
    await extra.send_json({"type": "hello", "session": session})
    assert (await receive(extra))["code"] == "too_many_tabs"
    frame = await extra.receive(timeout=5)
    assert frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert extra.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    for ws in tabs:
        await ws.close()


async def test_failing_history_is_an_empty_history_and_an_error(
    client: Client, router: FakeRouter, session: str
) -> None:
    router.history_fails = True
    ws = await connect(client)
    assert await hello(ws, session) == []
    assert (await receive(ws))["code"] == "history"
    await ws.close()


async def test_errors_speak_the_customers_language(client: Client, session: str) -> None:
    ws = await connect(client)
    await hello(ws, session, "en")
    await ws.send_str("?")
    assert (await receive(ws))["message"] == "The message could not be read."
    await hello_again(ws, session, "zh")
    await ws.send_str("?")
    assert (await receive(ws))["message"] == "无法识别的消息格式。"
    await ws.close()


async def hello_again(ws: aiohttp.ClientWebSocketResponse, session: str, language: str) -> None:
    """A second hello only switches the language: no new history."""
    await ws.send_json({"type": "hello", "session": session, "language": language})
    await nothing_more(ws, 0.1)


async def test_a_plain_get_on_the_websocket_path_is_a_bad_request(client: Client) -> None:
    response = await client.get("/ws")
    assert response.status == 400


async def test_startup_without_a_router_fails_clearly() -> None:
    app = web.Application()
    webchat.setup(app)
    server = TestServer(app)
    try:
        with pytest.raises(RuntimeError, match="ROUTER"):
            await server.start_server()
    finally:
        await server.close()


# --- the page and its assets --------------------------------------------------------------------


class _PageScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.in_script = False
        self.attributes: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value) for name, value in attrs]
        if tag == "script":
            self.scripts.append(dict(attrs))
            self.in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.inline.append(data)


async def test_page(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"].startswith("'self'")
    assert directives["frame-ancestors"] == "'self'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe" not in csp
    host = client.make_url("/").raw_authority
    assert f"ws://{host}" in directives["connect-src"]

    html = await response.text()
    assert "供电所在线客服" in html
    assert "{{" not in html
    assert f'data-max-length="{MAX_CHARS}"' in html
    assert 'name="viewport"' in html
    scan = _PageScan()
    scan.feed(html)
    assert scan.inline == []
    assert scan.scripts
    assert all(s.get("src") for s in scan.scripts)
    assert not [a for a in scan.attributes if a[1].startswith("on") or a[1] == "style"]
    version = re.search(r'static/app\.js\?v=([0-9a-f]{12})"', html)
    assert version is not None

    etag = response.headers["ETag"]
    again = await client.get("/", headers={"If-None-Match": etag})
    assert again.status == 304


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
async def test_assets(client: Client, name: str, content_type: str) -> None:
    html = await (await client.get("/")).text()
    match = re.search(rf'static/{re.escape(name)}\?v=([0-9a-f]+)"', html)
    assert match is not None
    versioned = await client.get(f"/static/{name}?v={match.group(1)}")
    assert versioned.status == 200
    assert versioned.headers["Content-Type"] == content_type
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert versioned.headers["X-Content-Type-Options"] == "nosniff"
    assert await versioned.read() == (STATIC / name).read_bytes()
    plain = await client.get(f"/static/{name}")
    assert plain.headers["Cache-Control"] == "no-cache"
    cached = await client.get(f"/static/{name}", headers={"If-None-Match": plain.headers["ETag"]})
    assert cached.status == 304
    assert await cached.read() == b""


@pytest.mark.parametrize(
    "path",
    [
        "/static/index.html",
        "/static/missing.js",
        "/static/..%2F..%2Fsettings.py",
        "/static/%2e%2e/channels/webchat.py",
        "/static/",
    ],
)
async def test_only_known_assets_are_served(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404


async def test_edited_assets_are_picked_up_on_the_next_page_load(
    router: FakeRouter, tmp_path: Path
) -> None:
    for name in ["index.html", *webchat.ASSETS]:
        (tmp_path / name).write_bytes((STATIC / name).read_bytes())
    settings = GatewaySettings(static_dir=tmp_path)
    async with TestClient(TestServer(make_app(router, settings))) as client:
        first = await (await client.get("/")).text()
        (tmp_path / "app.js").write_text("// changed\n", encoding="utf-8")
        second = await (await client.get("/")).text()
        assert first != second
        assert await (await client.get("/static/app.js")).text() == "// changed\n"


_ABSOLUTE_URL = re.compile(r"""\b(?:https?|wss?|ftp)://[^\s"'<>)]+""", re.IGNORECASE)
_PROTOCOL_RELATIVE = re.compile(r"""(?:\b(?:src|href|action)\s*=\s*|url\(\s*)["']?//""", re.I)
_SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name, never fetched
_VENDORED_NAMES = frozenset(
    {
        "http://www.apache.org/licenses/LICENSE-2.0",  # ECharts' licence header
        "https://github.com/ecomfe/zrender/blob/master/LICENSE",  # ZRender's, inside it
        "http://www.w3.org/1999/xlink",  # XML namespace names of its SVG renderer
        "http://www.w3.org/2000/xmlns/",
        "http://www.w3.org/XML/1998/namespace",
    }
)
"""What a vendored file (bot/console/pages.py VENDORED) may name and never fetches."""


def test_static_files_reference_nothing_outside_the_gateway() -> None:
    """No CDN, no web fonts, no analytics: the page works where only the gateway is reachable."""
    files = sorted(p for p in STATIC.iterdir() if p.is_file())
    # the web chat's, the agent console's and the back office's files, nothing unaccounted for
    from bot.console import pages as console_pages

    expected = {
        "index.html",
        *webchat.ASSETS,
        *console_pages.PAGES,
        *console_pages.PARTS.values(),
        *console_pages.ASSETS,
    }
    assert {p.name for p in files} == expected
    for path in files:
        text = path.read_text(encoding="utf-8")
        names = _VENDORED_NAMES if path.name in console_pages.VENDORED else frozenset()
        urls = set(_ABSOLUTE_URL.findall(text)) - {_SVG_NAMESPACE} - names
        assert not urls, f"{path.name} references {urls}"
        assert not _PROTOCOL_RELATIVE.search(text), f"{path.name} has a //host reference"
        assert "@import" not in text
        assert "@font-face" not in text


def test_console_pages_link_only_their_registered_assets() -> None:
    """Every console page (back office included) links its scripts and style under the one
    static route, versioned, and only files that route serves."""
    from bot.console import pages as console_pages

    for page in (*console_pages.PAGES, *console_pages.PARTS.values()):
        text = (STATIC / page).read_text(encoding="utf-8")
        links = re.findall(r'(?:src|href)="(/console/[^"]*\.(?:js|css|svg)[^"]*)"', text)
        assert links or page in console_pages.PARTS.values(), page
        for link in links:
            match = re.fullmatch(r"/console/static/([\w.-]+)\?v=\{\{version\}\}", link)
            assert match, f"{page} links {link}"
            assert match.group(1) in console_pages.ASSETS, f"{page} links {link}"


def test_static_text_is_never_inserted_as_html() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]:
        assert sink not in script
