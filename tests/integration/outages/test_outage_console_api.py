"""The outages' console API (bot/outages/api.py) on the real gateway and the demo station: who
may use it, publishing with the commitment's warning, every change and its notice, the refusals,
and a suspected outage published in one step with its reports attached and their reporters
told. Nothing in an answer names a customer's conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.services import tickets
from tests.fakes.console import Console
from tests.integration.outages.support import (
    deliveries,
    fan_out_all,
    notices,
    report,
    subscribe,
)

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def console_staff(seeded: Any) -> dict[str, tuple[str, int]]:
    return {"dispatch": ("dispatcher", 0), "chief": ("manager", 5), "clerk": ("clerk", 0)}


def _local(at: datetime) -> str:
    """As the page's datetime-local input sends it: station time, no offset."""
    return at.astimezone(TZ).strftime("%Y-%m-%dT%H:%M")


async def test_only_dispatch_staff_reach_outages(console: Console) -> None:
    anonymous = await console.browser()
    assert (await anonymous.get("/api/v1/outages")).status == 401
    page = await anonymous.get("/console/outages")
    assert (page.status, page.headers["Location"]) == (302, "/console/login")
    for name in ("agent1", "ops", "clerk"):
        who = await console.browser(name)
        status, _ = await who.json("GET", "/api/v1/outages")
        assert status == 403, name
        status, _ = await who.json("POST", "/api/v1/outages", {"kind": "planned"})
        assert status == 403, name
    for name in ("dispatch", "boss", "chief"):
        who = await console.browser(name)
        status, body = await who.json("GET", "/api/v1/outages")
        assert status == 200, name
        assert {o["outage_no"] for o in body["outages"]} >= {"TD00010101"}  # the demo's fault
        page = await who.get("/console/outages")
        assert page.status == 200
        assert "停电通知" in await page.text()
    dispatch = await console.browser("dispatch")
    response = await dispatch.post("/api/v1/outages", {"kind": "planned"}, csrf="wrong")
    assert response.status == 403


async def test_publish_with_the_warning_then_every_change(
    console: Console, session_factory: sessionmaker[Session]
) -> None:
    dispatch = await console.browser("dispatch")
    status, options = await dispatch.json("GET", "/api/v1/outages/options")
    assert status == 200
    assert options["commitment"] == {"planned_days": 7, "temporary_days": 1}
    assert {f["code"] for f in options["feeders"]} >= {"F02"}
    start = datetime.now(UTC) + timedelta(days=3)
    body = {
        "kind": "planned",
        "areas": ["QX03", "杨家村2组"],
        "starts_at": _local(start),
        "expected_restore_at": _local(start + timedelta(hours=6)),
        "reason": "10kV东山线检修",
        "advice": "请提前储水",
    }
    status, published = await dispatch.json("POST", "/api/v1/outages", body)
    assert status == 201, published
    outage = published["outage"]
    number = outage["outage_no"]
    assert outage["areas"] == "东山村、杨家村2组"
    assert outage["notice_missed"] is True
    assert published["warning"]["code"] == "notice_commitment_missed"
    assert "计划停电应提前7天通知" in published["warning"]["message"]
    assert published["notice"]["kind"] == "published"
    moved = {
        "starts_at": _local(start + timedelta(days=1)),
        "expected_restore_at": _local(start + timedelta(days=1, hours=6)),
    }
    steps = [
        ("edit", {"advice": "", "note": "无需储水"}, "updated"),
        ("postpone", moved, "postponed"),
        ("safety", {"note": "施工期间请远离线路"}, "safety"),
        ("cancel", {"note": "计划调整"}, "cancelled"),
    ]
    for action, change, kind in steps:
        status, answer = await dispatch.json("POST", f"/api/v1/outages/{number}/{action}", change)
        assert status == 200, (action, answer)
        assert answer["notice"]["kind"] == kind
    status, refused = await dispatch.json("POST", f"/api/v1/outages/{number}/restore", {})
    assert status == 409
    assert "已取消" in refused["error"]["message"]
    status, body = await dispatch.json("GET", "/api/v1/outages")
    mine = next(o for o in body["outages"] if o["outage_no"] == number)
    assert mine["status"] == "cancelled"
    assert mine["advice"] is None
    assert [n["kind"] for n in mine["notices"]] == [
        "published", "updated", "postponed", "safety", "cancelled",
    ]  # fmt: skip
    assert [n.created_by for n in notices(session_factory, number)] == ["dispatch"] * 5


async def test_refusals_name_the_problem(console: Console) -> None:
    dispatch = await console.browser("dispatch")
    start = datetime.now(UTC) + timedelta(days=10)
    good = {
        "kind": "planned", "areas": ["东山村"], "starts_at": _local(start),
        "expected_restore_at": _local(start + timedelta(hours=2)), "reason": "检修",
    }  # fmt: skip
    for change, code, words in (
        ({"areas": ["火星村"]}, 422, "火星村"),
        ({"starts_at": "明天早上"}, 422, "时间格式"),
        ({"starts_at": None}, 422, "starts_at"),
        ({"reason": ""}, 422, "reason"),
        ({"areas": "东山村"}, 422, "areas"),
        ({"reason": "x" * 501}, 422, "500"),
        ({"kind": "storm"}, 422, "kind"),
    ):
        status, body = await dispatch.json("POST", "/api/v1/outages", {**good, **change})
        assert (status, code) == (code, status), change
        assert words in body["error"]["message"], (change, body)
    headers = {"X-CSRF-Token": dispatch.csrf}
    for raw, kind, code in (("{not json", "application/json", 400), ("x", "text/plain", 415)):
        response = await dispatch.http.post(
            dispatch.url("/api/v1/outages"), data=raw, headers={**headers, "Content-Type": kind}
        )
        assert response.status == code
    status, body = await dispatch.json("POST", "/api/v1/outages/TD99999999/cancel", {})
    assert status == 404
    status, body = await dispatch.json("POST", "/api/v1/outages/TD00010101/postpone", {})
    assert status == 422  # no times given
    status, body = await dispatch.json("POST", "/api/v1/outages/TD00010101/cancel", {"note": "x"})
    assert status == 409
    assert "恢复送电" in body["error"]["message"]


def _reports(
    factory: sessionmaker[Session], settings: Settings, count: int, who: str, *, earlier: bool
) -> list[str]:
    """`count` fault reports from 东山村: a minute apart until a minute ago, or now."""
    now = datetime.now(UTC)
    numbers = []
    for n in range(count):
        at = now - timedelta(minutes=count - n) * earlier
        phone = f"1391{len(who):02d}{n:05d}"
        address, sender = f"东山村{n + 1}组", f"web:{who}-{n}"
        numbers.append(report(factory, settings, address, sender, phone, at, "突然没电了"))
    return numbers


async def test_a_suspected_outage_is_published_in_one_step(
    console: Console, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    reported = _reports(session_factory, settings, 3, "secret", earlier=True)
    subscribe(session_factory, "fake:sub", "东山村", datetime.now(UTC))
    dispatch = await console.browser("dispatch")
    status, body = await dispatch.json("GET", "/api/v1/outages")
    [suspect] = [s for s in body["suspects"] if s["key"] == "area:QX03"]
    assert [r["ticket_no"] for r in suspect["reports"]] == reported
    assert "secret" not in str(body)  # the reporters' conversations are never shown
    confirm = {
        "key": "area:QX03",
        "reason": "原因排查中",
        "expected_restore_at": _local(datetime.now(UTC) + timedelta(hours=3)),
    }
    status, published = await dispatch.json("POST", "/api/v1/outages/suspected/publish", confirm)
    assert status == 201, published
    assert sorted(published["attached"]) == sorted(reported)
    assert published["outage"]["kind"] == "fault"
    status, body = await dispatch.json("GET", "/api/v1/outages")
    assert not [s for s in body["suspects"] if s["key"] == "area:QX03"]
    status, _again = await dispatch.json("POST", "/api/v1/outages/suspected/publish", confirm)
    assert status == 422
    with unit_of_work(session_factory) as session:
        states = {tickets.get_by_no(session, n).status for n in reported}  # type: ignore[union-attr]
        assert states == {"merged"}
    # a later report in the area is attached as it is made
    later = _reports(session_factory, settings, 1, "later", earlier=False)[0]
    with unit_of_work(session_factory) as session:
        ticket = tickets.get_by_no(session, later)
        assert ticket is not None
        assert ticket.outage is not None
        assert ticket.status == "merged"
        assert ticket.ticket_no not in reported
        assert ticket.outage.outage_no == published["outage"]["outage_no"]
    fan_out_all(session_factory, datetime.now(UTC))
    told = sorted(d.conversation_id for d in deliveries(session_factory, "published"))
    # the three reporters and the subscriber (the later reporter was told in the conversation)
    assert told == sorted(["fake:sub", "web:secret-0", "web:secret-1", "web:secret-2"])
