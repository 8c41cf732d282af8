"""The repair work orders' API and pages (bot/console/dispatch_api.py) on the real gateway and the
demo station: who may do what (anonymous, wrong roles, a crew member on another crew's ticket),
a repair from assignment to restoration with the customer told each step once, photos, the
fault type corrected."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.notifier import Notifier
from bot.texts import load_texts
from store.config import Settings
from store.db import unit_of_work
from store.demodata.featured import OPEN_REPAIRS
from store.services import areas, crews, staff, tickets
from tests.fakes.console import Console

CHEN, RECEIVED, DISPATCHED, ACCEPTED, REPAIRING = (n for _, _, n in OPEN_REPAIRS)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


@pytest.fixture
def console_staff(seeded: Any) -> dict[str, tuple[str, int]]:
    return {
        "dispatch": ("dispatcher", 0),
        "crew1": ("crew", 0),
        "crew2": ("crew", 0),
        "chief": ("manager", 5),
        "clerk": ("clerk", 0),
    }


def _join(factory: sessionmaker[Session], username: str, crew_name: str) -> None:
    with unit_of_work(factory) as session:
        user = staff.get_by_username(session, username)
        crew = crews.by_name(session, crew_name)
        assert user is not None
        assert crew is not None
        crews.set_member(session, user, crew)


@pytest.fixture
def crewed(console: Console) -> Console:
    _join(console.factory, "crew1", "东片抢修组")
    _join(console.factory, "crew2", "山区抢修组")
    return console


async def test_anonymous_and_wrong_roles_are_refused(crewed: Console) -> None:
    anonymous = await crewed.browser()
    response = await anonymous.get(f"/api/v1/tickets/{CHEN}")
    assert response.status == 401
    response = await anonymous.get("/console/tickets")
    assert (response.status, response.headers["Location"]) == (302, "/console/login")
    for name in ("agent1", "ops", "clerk"):
        who = await crewed.browser(name)
        status, body = await who.json("GET", f"/api/v1/tickets/{CHEN}")
        assert (status, body["error"]["code"]) == (403, "forbidden"), name
        assert (await who.get("/console/crew")).status == 403
    crew1 = await crewed.browser("crew1")
    assert (await crew1.get("/api/v1/tickets")).status == 403  # the list is the dispatchers'
    assert (await crew1.get("/console/tickets")).status == 403
    status, _ = await crew1.json("POST", f"/api/v1/tickets/{CHEN}/assign", {"crew_id": 1})
    assert status == 403


async def test_a_crew_member_sees_only_their_crews_tickets(crewed: Console) -> None:
    crew1 = await crewed.browser("crew1")
    status, mine = await crew1.json("GET", "/api/v1/tickets/my-crew")
    assert status == 200
    assert mine["crew"]["name"] == "东片抢修组"
    assert [t["ticket_no"] for t in mine["tickets"]] == [CHEN]
    status, other = await crew1.json("GET", f"/api/v1/tickets/{ACCEPTED}")  # 山区抢修组's
    status_missing, missing = await crew1.json("GET", "/api/v1/tickets/T0001019999")
    assert (status, status_missing) == (404, 404)
    assert other["error"]["code"] == missing["error"]["code"] == "not_found"
    dispatcher = await crewed.browser("dispatch")
    _, real = await dispatcher.json("GET", f"/api/v1/tickets/{ACCEPTED}")
    assert real["description"]
    assert real["description"] not in str(other)
    status, _ = await crew1.json("POST", f"/api/v1/tickets/{ACCEPTED}/steps", {"status": "on_site"})
    assert status == 404
    _, after = await dispatcher.json("GET", f"/api/v1/tickets/{ACCEPTED}")
    assert after["status"] == "accepted"
    assert after["timeline"] == real["timeline"]


def _report(factory: sessionmaker[Session], settings: Settings) -> str:
    with unit_of_work(factory) as session:
        area = areas.match_area(session, "东山村")
        assert area is not None
        report = tickets.report_fault(
            session, settings, area=area, address="东山村5组", description="家里没电了",
            contact_phone="13905718888", account=None, sender_id="fake:77", channel="fake",
            now=datetime.now(UTC),
        )  # fmt: skip
        return report.ticket.ticket_no


async def test_a_repair_through_the_api_tells_the_customer_each_step_once(
    crewed: Console, settings: Settings
) -> None:
    number = _report(crewed.factory, settings)
    notifier = Notifier(
        factory=crewed.factory, router=crewed.router, texts=load_texts(settings.conf_dir),
        settings=settings, interval=0,
    )  # fmt: skip
    await notifier.prepare()
    dispatcher = await crewed.browser("dispatch")
    crew1 = await crewed.browser("crew1")
    _, options = await dispatcher.json("GET", "/api/v1/tickets/options")
    east = next(c for c in options["crews"] if c["name"] == "东片抢修组")
    offered = [s["code"] for s in options["statuses"]]
    assert offered[:4] == ["received", "dispatched", "accepted", "on_site"]  # workflow order
    assert "made_safe" in offered  # a hazard's
    assert "investigating" not in offered  # a complaint's: not a repair's filter
    status, body = await crew1.json("GET", f"/api/v1/tickets/{number}")
    assert status == 404  # not theirs yet
    status, body = await dispatcher.json(
        "POST", f"/api/v1/tickets/{number}/assign", {"crew_id": east["id"], "note": "就近"}
    )
    assert status == 200, body
    assert (body["status"], body["crew"]["name"]) == ("dispatched", "东片抢修组")
    status, body = await crew1.json(
        "POST", f"/api/v1/tickets/{number}/steps", {"status": "restored"}
    )
    assert status == 409
    assert body["error"]["allowed"] == ["accepted", "customer_side"]
    for step in ("accepted", "on_site", "restored"):
        status, body = await crew1.json("POST", f"/api/v1/tickets/{number}/steps", {"status": step})
        assert status == 200, body
        assert body["timeline"][-1]["actor"] == "crew1"
    response = await crew1.http.post(
        crew1.url(f"/api/v1/tickets/{number}/photos"), data=JPEG,
        headers={"Content-Type": "image/jpeg", "X-CSRF-Token": crew1.csrf},
    )  # fmt: skip
    assert response.status == 201, await response.text()
    url = (await response.json())["url"]
    assert (await (await crew1.get(url)).read()) == JPEG
    assert (await (await dispatcher.get(url)).read()) == JPEG
    crew2 = await crewed.browser("crew2")
    assert (await crew2.get(url)).status == 404
    assert await notifier.run_once() == 4
    assert await notifier.run_once() == 0
    texts = [replies[0].text for chat, replies in crewed.channel.sent if chat == "77"]
    assert len(texts) == 4
    assert "已派单" in texts[0]
    assert "已接单" in texts[1]
    assert "到达现场" in texts[2]
    assert "已恢复送电" in texts[3]
    assert all(number in t for t in texts)
    # each notice names the crew and the step's time (station time, as the timeline has it)
    steps = [
        e
        for e in body["timeline"]
        if e["status"] in ("dispatched", "accepted", "on_site", "restored")
    ]
    assert len(steps) == 4
    for text, step in zip(texts, steps, strict=True):
        at = datetime.fromisoformat(step["at"]).astimezone(settings.tz)
        assert f"东片抢修组，{at:%H:%M}" in text or f"东片抢修组（{at:%H:%M}）" in text, text


async def test_the_fault_type_is_corrected_by_those_who_work_the_ticket(
    crewed: Console, settings: Settings
) -> None:
    number = _report(crewed.factory, settings)  # 家里没电了: guessed 停电
    base = f"/api/v1/tickets/{number}"
    dispatcher = await crewed.browser("dispatch")
    status, body = await dispatcher.json("GET", base)
    guess = body["category"]
    assert (guess["code"], guess["label"]["zh"], guess["chosen"]) == ("no_power", "停电", False)
    options = ["no_power", "trip", "low_voltage", "line_damage", "meter", "other"]
    assert [o["code"] for o in guess["options"]] == options
    await crewed.assert_refused(
        base + "/category", {"category": "trip"}, names=("clerk", "agent1", "ops"),
        allowed=dispatcher,
    )  # fmt: skip
    crew1 = await crewed.browser("crew1")  # not this ticket's crew (it has none yet)
    status, body = await crew1.json("POST", base + "/category", {"category": "trip"})
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await dispatcher.json("POST", base + "/category", {"category": "attitude"})
    assert (status, body["error"]["code"]) == (400, "unknown_category")
    assert "'attitude' is not a category of fault tickets" in body["error"]["message"]
    status, body = await dispatcher.json("POST", base + "/category", {})
    assert status == 422
    status, body = await dispatcher.json("GET", base)
    assert (body["category"]["chosen"], len(body["timeline"])) == (False, 1)

    status, body = await dispatcher.json("POST", base + "/category", {"category": "trip"})
    assert status == 200, body
    assert (body["category"]["code"], body["category"]["chosen"]) == ("trip", True)
    last = body["timeline"][-1]
    assert (last["status"], last["actor"]) == ("received", "dispatch")
    assert last["note"] == "类别：停电（系统推测） → 跳闸"
    # the crew on site corrects its own ticket's type too
    status, body = await crew1.json(
        "POST", f"/api/v1/tickets/{CHEN}/category", {"category": "meter"}
    )
    assert (status, body["category"]["code"], body["timeline"][-1]["actor"]) == (
        200,
        "meter",
        "crew1",
    )
    with unit_of_work(crewed.factory) as session:
        found = tickets.get_by_no(session, number)
        assert found is not None
        assert found.category == "trip"


async def test_bad_requests_are_clear(crewed: Console) -> None:
    dispatcher = await crewed.browser("dispatch")
    status, body = await dispatcher.json(
        "POST",
        f"/api/v1/tickets/{DISPATCHED}/steps",
        {"status": "accepted", "at": "2000-01-01T00:00"},
    )
    assert (status, body["error"]["code"]) == (422, "invalid")
    status, body = await dispatcher.json("GET", "/api/v1/tickets?due=later")
    assert status == 422
    status, body = await dispatcher.json("GET", "/api/v1/tickets?due=overdue&open=1")
    assert status == 200
    assert body["tickets"]
    assert all(t["overdue"] for t in body["tickets"])
    response = await dispatcher.http.post(
        dispatcher.url(f"/api/v1/tickets/{DISPATCHED}/photos"), data=b"<svg/>",
        headers={"Content-Type": "image/jpeg", "X-CSRF-Token": dispatcher.csrf},
    )  # fmt: skip
    assert response.status == 415
