"""The operators' NLU page and API inside the real gateway: every route under /api/v1/nlu and
/console/nlu, found by enumerating the app's routes (a new one cannot slip through), refuses
anonymous users (401 / redirect to the login page) and agents and supervisors (403), needs the
CSRF token on every POST, and serves operators. The loop works on a copy of the project with
the fake `rasa`, so an operator's POST cannot touch the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from bot.console import auth
from bot.console.nlu_api import NLU_CONSOLE
from bot.keys import NLU_SETTINGS
from tests.fakes.console import Console, cheap_password_hashing, running_console
from tests.fakes.nlu_console import NluStack, nlu_project
from tests.fakes.rasa import fake_rasa_server

PARAMS = {"item_id": "1", "job_id": "1", "model_id": "1"}
PAGE = "/console/nlu"


@pytest.fixture
def console(nlu_stack: NluStack) -> Console:
    return nlu_stack.console


def nlu_routes(app: web.Application) -> list[tuple[str, str, web.AbstractRoute]]:
    """(method, path template, route) of every NLU page and API route."""
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method != "HEAD" and (path.startswith("/api/v1/nlu") or path == PAGE):
            found.append((route.method, path, route))
    return found


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)


async def test_every_nlu_route_is_for_operators_only(console: Console) -> None:
    app = console.client.app
    assert app is not None
    routes = nlu_routes(app)
    assert len(routes) >= 17  # the enumeration found the page and the whole API
    assert ("GET", PAGE) in {(m, p) for m, p, _ in routes}
    anonymous = await console.browser()
    others = {"agent": await console.browser("agent1"), "supervisor": await console.browser("boss")}
    operator = await console.browser("ops")
    for method, path, route in routes:
        assert getattr(route.handler, "console_roles", None) == auth.OPERATOR_ROLES, path
        url = fill(path)
        response = await (anonymous.get(url) if method == "GET" else anonymous.post(url))
        if path == PAGE:
            assert response.status == 302, (method, path, response.status)
            assert response.headers["Location"] == "/console/login"
        else:
            assert response.status == 401, (method, path, response.status)
            assert (await response.json())["error"]["code"] == "unauthorized"
        for role, who in others.items():
            response = await (who.get(url) if method == "GET" else who.post(url))
            assert response.status == 403, (method, path, role, response.status)
            if path != PAGE:
                assert (await response.json())["error"]["code"] == "forbidden"
        response = await (operator.get(url) if method == "GET" else operator.post(url))
        assert response.status not in (401, 403), (method, path, response.status)
        assert response.status < 500, (method, path, response.status, await response.text())


async def test_every_nlu_post_needs_the_csrf_token(console: Console) -> None:
    app = console.client.app
    assert app is not None
    operator = await console.browser("ops")
    posts = [path for method, path, _ in nlu_routes(app) if method == "POST"]
    assert len(posts) >= 8
    for path in posts:
        for token in ("", "wrong-token"):
            response = await operator.http.post(
                operator.url(fill(path)),
                json={},
                headers={"X-CSRF-Token": token} if token else {},
                allow_redirects=False,
            )
            assert response.status == 403, (path, token, response.status)
            assert (await response.json())["error"]["code"] == "csrf"


async def test_the_operator_gets_the_page_and_a_link_to_it(console: Console) -> None:
    operator = await console.browser("ops")
    response = await operator.get(PAGE)
    assert response.status == 200
    html = await response.text()
    assert "意图训练" in html
    assert operator.csrf in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    script = await operator.get("/console/static/console-nlu.js")
    assert script.status == 200
    assert script.content_type == "text/javascript"
    overview = await (await operator.get("/console/supervisor")).text()
    assert 'href="/console/nlu"' in overview


async def test_the_gateway_makes_its_loop_from_its_own_settings(
    tmp_path: Path,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a test's loop: conf/nlu.yml as the core read it, the gateway's Rasa."""
    cheap_password_hashing(monkeypatch)
    nlu_settings = nlu_project(tmp_path, monkeypatch)
    monkeypatch.setenv("NLU_PROJECT_DIR", str(nlu_settings.project_dir))
    monkeypatch.setenv("NLU_MODELS_DIR", str(nlu_settings.models_dir))
    monkeypatch.setenv("RASA_BIN", str(nlu_settings.rasa_bin))
    async with (
        fake_rasa_server() as rasa,
        running_console(rasa, db_url, session_factory) as console,
    ):
        app = console.client.app
        assert app is not None
        loop = app[NLU_CONSOLE].loop
        assert loop is not None
        assert loop.settings is app[NLU_SETTINGS]
        assert loop.settings.project_dir == nlu_settings.project_dir
        assert loop.rasa.url == rasa.url
        assert loop.rasa.token == rasa.token
        operator = await console.browser("ops")
        status, body = await operator.json("GET", "/api/v1/nlu/intents")
        assert status == 200
        assert "query_bill" in {i["name"] for i in body["intents"]}
        assert "account_no" in body["entities"]
