"""Agent console security inside the real gateway: every console page and agent-API route
refuses anonymous (401 / redirect to login) and wrong-role (403) requests, CSRF, the
websocket's Origin check, login throttling, sessions (cookie flags, logout, expiry)."""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.console import auth
from bot.console.state import CONSOLE
from store.db import unit_of_work
from store.models import StaffSession
from store.services.console_sessions import hash_token
from tests.fakes.console import (
    PASSWORD,
    Console,
    queue_conversation,
)

PUBLIC = {
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("POST", "/api/v1/agent/login"),
    ("GET", "/console/static/{name}"),  # every console page's scripts and style
}
"""Console routes anyone may call: the login page and form, JSON login, static assets."""
PARAMS = {
    "handoff_id": "1",
    "conversation": "1",
    "name": "console.js",
    "ticket_no": "T0001010001",
    "measure_id": "1",
    "report_id": "1",
    "outage_no": "TD00010101",
}


def console_routes(app: web.Application) -> list[tuple[str, str, web.AbstractRoute]]:
    """(method, path template, route) of every console page and agent-API route."""
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD":
            continue
        if path.startswith("/console") or path.startswith("/api/v1/agent"):
            found.append((route.method, path, route))
    return found


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)


def is_page(path: str) -> bool:
    return path.startswith("/console")


async def test_every_protected_route_refuses_anonymous_and_wrong_roles(console: Console) -> None:
    app = console.client.app
    assert app is not None
    routes = console_routes(app)
    assert len(routes) >= 20  # the enumeration found the console
    protected = [(m, p, r) for m, p, r in routes if (m, p) not in PUBLIC]
    anonymous = await console.browser()
    by_role = {
        "agent": await console.browser("agent1"),
        "supervisor": await console.browser("boss"),
        "operator": await console.browser("ops"),
    }
    for method, path, route in protected:
        roles = getattr(route.handler, "console_roles", None)
        assert roles, f"{method} {path} is not wrapped by bot.console.auth.require"
        url = fill(path)
        response = await (anonymous.get(url) if method == "GET" else anonymous.post(url))
        if is_page(path) and path != "/console/ws":
            assert response.status == 302, (method, path, response.status)
            assert response.headers["Location"] == "/console/login"
        else:
            assert response.status == 401, (method, path, response.status)
            assert (await response.json())["error"]["code"] == "unauthorized"
        for role, who in by_role.items():
            if role in roles:
                continue
            response = await (who.get(url) if method == "GET" else who.post(url))
            assert response.status == 403, (method, path, role, response.status)


async def test_roles_of_the_main_routes(console: Console) -> None:
    app = console.client.app
    assert app is not None
    roles = {(m, p): getattr(r.handler, "console_roles", None) for m, p, r in console_routes(app)}
    assert roles[("GET", "/console")] == auth.AGENT_ROLES
    assert roles[("POST", "/api/v1/agent/reply")] == auth.AGENT_ROLES
    assert roles[("GET", "/console/supervisor")] == auth.SUPERVISOR_ROLES
    assert roles[("GET", "/api/v1/agent/supervisor/overview")] == auth.SUPERVISOR_ROLES
    assert "operator" not in auth.AGENT_ROLES
    assert "agent" not in auth.SUPERVISOR_ROLES
    failures = roles[("GET", "/api/v1/agent/supervisor/verification-failures")]
    assert failures == frozenset({"supervisor", "manager"})  # not agents, not operators


async def test_csrf_missing_or_wrong_is_refused_on_every_post(console: Console) -> None:
    app = console.client.app
    assert app is not None
    agent = await console.browser("agent1")
    posts = [
        (p, r)
        for m, p, r in console_routes(app)
        if m == "POST" and (m, p) not in PUBLIC and "agent" in r.handler.console_roles  # type: ignore[attr-defined]
    ]
    assert len(posts) >= 8
    for path, _ in posts:
        for token in ("", "wrong-token"):
            response = await agent.http.post(
                agent.url(fill(path)),
                json={},
                headers={"X-CSRF-Token": token} if token else {},
                allow_redirects=False,
            )
            assert response.status == 403, (path, token, response.status)
    # still logged in: the refused logout did not log out
    status, _ = await agent.json("GET", "/api/v1/agent/me")
    assert status == 200


async def test_form_logout_needs_the_hidden_field(console: Console) -> None:
    agent = await console.browser("agent1")
    refused = await agent.http.post(
        agent.url("/console/logout"), data={"csrf_token": "nope"}, allow_redirects=False
    )
    assert refused.status == 403
    done = await agent.http.post(
        agent.url("/console/logout"), data={"csrf_token": agent.csrf}, allow_redirects=False
    )
    assert done.status == 303
    assert done.headers["Location"] == "/console/login"
    assert (await agent.get("/api/v1/agent/me")).status == 401


async def test_websocket_checks_origin_and_session(console: Console) -> None:
    agent = await console.browser("agent1")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await agent.http.ws_connect(
            agent.url("/console/ws"), headers={"Origin": "https://evil.example"}
        )
    assert refused.value.status == 403
    anonymous = await console.browser()
    with pytest.raises(aiohttp.WSServerHandshakeError) as anon:
        await anonymous.http.ws_connect(
            anonymous.url("/console/ws"), headers={"Origin": console.origin}
        )
    assert anon.value.status == 401
    ws = await agent.http.ws_connect(agent.url("/console/ws"), headers={"Origin": console.origin})
    hello = await ws.receive_json(timeout=5)
    assert hello == {"type": "hello", "user": "agent1"}
    await ws.close()


async def test_login_is_rate_limited_per_ip_and_username(console: Console) -> None:
    who = await console.browser()
    for _ in range(5):
        response = await who.login("agent1", "wrong")
        assert response.status == 401
    throttled = await who.login("agent1")  # even the right password now
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert (await throttled.json())["error"]["code"] == "too_many_attempts"
    assert (await who.login("agent2")).status == 200  # another username is not affected


async def test_login_form_page_and_throttle(console: Console) -> None:
    who = await console.browser()
    page = await who.get("/console/login")
    assert page.status == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    html = await page.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    no_token = await who.http.post(
        who.url("/console/login"),
        data={"username": "agent1", "password": PASSWORD},
        allow_redirects=False,
    )
    assert no_token.status == 403
    for _ in range(5):
        wrong = await who.http.post(
            who.url("/console/login"),
            data={"username": "boss", "password": "x", "csrf_token": token.group(1)},
            allow_redirects=False,
        )
        assert wrong.status == 401
        assert "用户名或密码错误" in await wrong.text()
    throttled = await who.http.post(
        who.url("/console/login"),
        data={"username": "boss", "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    assert throttled.status == 429
    ok = await who.http.post(
        who.url("/console/login"),
        data={"username": "agent1", "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
    )
    assert ok.status == 303
    assert ok.headers["Location"] == "/console"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http here; https adds it
    page = await who.get("/console")
    assert page.status == 200
    body = await page.text()
    assert "客服工作台" in body
    assert "<script>" not in body  # no inline script: only the external file


async def test_secure_cookie_behind_https_proxy(console: Console) -> None:
    who = await console.browser()
    response = await who.http.post(
        who.url("/api/v1/agent/login"),
        json={"username": "agent1", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert response.status == 200
    assert "Secure" in response.headers["Set-Cookie"]


async def test_only_the_token_hash_is_stored_and_sessions_expire(
    console: Console, session_factory: sessionmaker[Session]
) -> None:
    agent = await console.browser("agent1")
    token = next(c.value for c in agent.http.cookie_jar if c.key == auth.COOKIE)
    with unit_of_work(session_factory) as session:
        rows = list(session.scalars(select(StaffSession)))
        assert [r.token_hash for r in rows] == [hash_token(token)]
        assert token not in {r.token_hash for r in rows}
    app = console.client.app
    assert app is not None
    state = app[CONSOLE]
    real_clock = state.clock
    try:
        state.clock = lambda: real_clock() + state.idle + timedelta(seconds=1)
        assert (await agent.get("/api/v1/agent/me")).status == 401  # idle too long
    finally:
        state.clock = real_clock
    assert (await agent.get("/api/v1/agent/me")).status == 401  # and the row is gone
    again = await console.browser("agent1")
    try:
        state.clock = lambda: real_clock() + state.lifetime
        assert (await again.get("/api/v1/agent/me")).status == 401  # absolute expiry
    finally:
        state.clock = real_clock


async def test_pages_redirect_by_role(console: Console) -> None:
    ops = await console.browser("ops")
    assert (await ops.get("/console/supervisor")).status == 200
    assert (await ops.get("/console")).status == 403
    assert (await ops.get("/console/login")).headers["Location"] == "/console/supervisor"
    agent = await console.browser("agent1")
    assert (await agent.get("/console/supervisor")).status == 403
    page = await agent.get("/console")
    assert page.headers["Cache-Control"] == "no-store"
    assert "require-trusted-types-for 'script'" in page.headers["Content-Security-Policy"]


async def test_api_errors_are_json(
    console: Console, session_factory: sessionmaker[Session]
) -> None:
    queue_conversation(session_factory)
    agent = await console.browser("agent1")
    status, body = await agent.json("POST", "/api/v1/agent/claim/999")
    assert status == 404
    assert body["error"]["code"] == "not_found"
    response = await agent.http.post(
        agent.url("/api/v1/agent/reply"), data="x", headers={"X-CSRF-Token": agent.csrf}
    )
    assert response.status == 415
    status, body = await agent.json("POST", "/api/v1/agent/availability", {"availability": "nap"})
    assert status == 422


async def test_websocket_closes_when_the_session_ends(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.console import ws as console_ws

    monkeypatch.setattr(console_ws, "SESSION_CHECK_SECONDS", 0.1)
    agent = await console.browser("agent1")
    ws = await agent.http.ws_connect(agent.url("/console/ws"), headers={"Origin": console.origin})
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    other_tab = await console.browser("agent1")
    status, _ = await other_tab.json("GET", "/api/v1/agent/me")
    assert status == 200
    # logging out with the first session's cookie ends it; its socket follows
    assert (await agent.post("/api/v1/agent/logout")).status == 200
    frame = await ws.receive(timeout=5)
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == console_ws.SESSION_ENDED
    assert (await other_tab.get("/api/v1/agent/me")).status == 200  # its own session lives on


async def test_only_the_listed_assets_are_served(console: Console) -> None:
    who = await console.browser()
    script = await who.get("/console/static/console.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("console.html", "console-login.html", "app.js", "..%2Fapp.py", "nope.js"):
        assert (await who.get(f"/console/static/{name}")).status == 404, name
