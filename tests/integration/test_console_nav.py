"""The console's navigation bar (bot/console/nav.py): each role sees the sections its role may
open and no other, every link it is shown opens, and the list agrees with the routes' guards."""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from bot.console import nav
from store.roles import STAFF_ROLES
from tests.fakes.console import Console

pytestmark = pytest.mark.asyncio

PLAYERS = {
    "agent": "agent1",
    "supervisor": "boss",
    "operator": "ops",
    "manager": "chief",
    "dispatcher": "dispatch",
    "clerk": "clerk",
    "crew": "crew1",
}
_LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>')


@pytest.fixture
def console_staff() -> dict[str, tuple[str, int]]:
    known = ("agent1", "boss", "ops")  # tests/fakes/console.py's USERS
    return {name: (role, 0) for role, name in PLAYERS.items() if name not in known}


def _guard(app: web.Application, path: str) -> frozenset[str]:
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if route.method == "GET" and info.get("path") == path:
            return frozenset(getattr(route.handler, "console_roles", ()))
    raise AssertionError(f"no GET route {path}")


async def test_each_section_is_offered_to_exactly_the_roles_its_route_admits(
    console: Console,
) -> None:
    app = console.client.app
    assert app is not None
    for section in nav.SECTIONS:
        assert _guard(app, section.path) == section.roles, section.path
    assert set(PLAYERS) == set(STAFF_ROLES)  # every role is looked at below


async def test_every_role_sees_its_sections_and_each_link_opens(console: Console) -> None:
    manager_links: list[str] = []
    for role, name in PLAYERS.items():
        who = await console.browser(name)
        allowed = [s for s in nav.SECTIONS if role in s.roles]
        home = allowed[0]
        response = await who.http.get(f"{console.base}{home.path}", allow_redirects=False)
        assert response.status == 200, (role, home.path, response.status)
        links = _LINK.findall(await response.text())
        shown = [href for href, _, _ in links]
        if len(allowed) < 2:
            assert shown == [], role  # a bar with one link to this very page helps nobody
            continue
        assert shown == [s.path for s in allowed], role
        assert [href for href, current, _ in links if current] == [home.path], role
        for href in shown:
            page = await who.http.get(f"{console.base}{href}", allow_redirects=False)
            assert page.status == 200, (role, href, page.status)
        if role == "manager":
            manager_links = shown
    # the station's manager reaches the back office and the overview from any page
    station = {"/console/tickets", "/console/feedback", "/console/import", "/console/supervisor"}
    assert station <= set(manager_links)
    assert "/console/nlu" not in manager_links  # retraining is the operators'
