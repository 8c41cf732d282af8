"""The back office's JSON API on the real gateway (SQLite and PostgreSQL): who may call it, a
complaint worked to its close with the customer told by the notifier once per change, a case's
category corrected (and chosen at closing), an application sent back (the customer told exactly
which documents, once) and rejected, and a customer's page recorded in the access log. Illegal
steps answer 409, categories the case cannot have 400, wrong values 422."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.notifier import Notifier
from bot.texts import load_texts
from store.config import Settings
from store.db import unit_of_work
from store.demodata.featured import OPEN_REPAIRS
from store.models import AccessAudit, NotificationDelivery
from store.services import accounts, applications, tickets
from tests.fakes.console import Console

pytestmark = pytest.mark.slow


@pytest.fixture
def console_staff(seeded: Any) -> dict[str, tuple[str, int]]:
    return {"zhou": ("clerk", 0), "chief": ("manager", 5), "dispatch": ("dispatcher", 0)}


def _complaint(factory: sessionmaker[Session], settings: Settings, chat: str) -> str:
    with unit_of_work(factory) as session:
        return tickets.create_ticket(
            session, settings, type="complaint", description="电费算错了还没人管",
            now=datetime.now(UTC), account=accounts.get_by_no(session, "3301000001"),
            contact_phone="13905710001", sender_id=f"fake:{chat}", channel="fake",
        ).ticket_no  # fmt: skip


def _application(factory: sessionmaker[Session], settings: Settings, chat: str) -> str:
    with unit_of_work(factory) as session:
        return applications.start(
            session, settings, app_type="name_transfer", now=datetime.now(UTC),
            account=accounts.get_by_no(session, "3301000001"), sender_id=f"fake:{chat}",
            channel="fake",
        ).application_no  # fmt: skip


def _notifier(console: Console, settings: Settings) -> Notifier:
    return Notifier(
        factory=console.factory,
        router=console.router,
        texts=load_texts(settings.conf_dir),
        settings=settings,
        interval=0,
    )


async def test_who_may_call_the_back_office(console: Console, settings: Settings) -> None:
    number = _complaint(console.factory, settings, "70")
    paths = {
        "/api/v1/feedback": {"zhou", "chief"},
        f"/api/v1/feedback/{number}": {"zhou", "chief"},
        "/api/v1/applications": {"zhou", "chief"},
        "/api/v1/customers?q=3301000001": {"zhou", "chief", "dispatch", "boss"},
        "/api/v1/customers/3301000001": {"zhou", "chief", "dispatch", "boss"},
    }
    anonymous = await console.browser()
    people = {n: await console.browser(n) for n in ("zhou", "chief", "dispatch", "boss", "agent1")}
    for path, allowed in paths.items():
        assert (await anonymous.get(path)).status == 401, path
        for name, who in people.items():
            status = (await who.get(path)).status
            assert status == (200 if name in allowed else 403), (path, name, status)
    refused = await people["agent1"].post(f"/api/v1/feedback/{number}/assign", {"handler": "zhou"})
    assert refused.status == 403
    no_csrf = await people["zhou"].post(
        f"/api/v1/feedback/{number}/assign", {"handler": "zhou"}, csrf="wrong"
    )
    assert no_csrf.status == 403
    status, _ = await people["zhou"].json("GET", "/api/v1/feedback/T0000000000")
    assert status == 404


async def test_a_complaint_worked_to_its_close_is_told_once_per_change(
    console: Console, settings: Settings
) -> None:
    notifier = _notifier(console, settings)
    await notifier.prepare()
    number = _complaint(console.factory, settings, "71")
    zhou = await console.browser("zhou")
    base = f"/api/v1/feedback/{number}"
    status, body = await zhou.json("POST", base + "/close", {"verdict": "satisfied"})
    assert (status, body["error"]["code"]) == (409, "illegal_step")
    steps = [
        ("assign", {"handler": "zhou"}, "assigned"),
        ("contact", {"note": "已电话联系客户"}, "contacted"),
        ("reply", {"reply": "经核查电费无误，已向客户解释"}, "replied"),
    ]
    for action, payload, expected in steps:
        status, body = await zhou.json("POST", f"{base}/{action}", payload)
        assert status == 200, body
        assert body["status"] == expected
    status, body = await zhou.json("POST", base + "/close", {"verdict": "meh"})
    assert status == 422
    status, body = await zhou.json("POST", base + "/close", {"verdict": "unsatisfied"})
    assert (status, body["status"], body["verdict"]) == (200, "closed", "unsatisfied")
    assert [e["actor"] for e in body["timeline"]][1:] == ["zhou"] * 5
    assert await notifier.run_once() == 2  # replied, closed: the other steps are not announced
    assert await notifier.run_once() == 0
    texts = console.channel.texts()
    assert len(texts) == 2
    assert number in texts[0]
    assert "已有答复" in texts[0]
    assert "已办结" in texts[1]


async def test_a_cases_category_is_corrected_by_those_who_work_cases(
    console: Console, settings: Settings
) -> None:
    notifier = _notifier(console, settings)
    await notifier.prepare()
    number = _complaint(console.factory, settings, "73")  # its words say 电费: 电费计量
    base = f"/api/v1/feedback/{number}"
    zhou = await console.browser("zhou")
    status, body = await zhou.json("GET", base)
    assert status == 200
    guess = body["category"]
    assert (guess["code"], guess["label"]["zh"], guess["chosen"]) == ("billing", "电费计量", False)
    options = ["repair_service", "outage", "billing", "attitude", "business", "other"]
    assert [o["code"] for o in guess["options"]] == options
    assert guess["options"][3]["label"] == {"zh": "服务态度", "en": "staff attitude"}
    # wrong roles, no CSRF token: refused, nothing written
    await console.assert_refused(
        base + "/category", {"category": "attitude"}, names=("dispatch", "agent1", "boss"),
        allowed=zhou,
    )  # fmt: skip
    # codes the complaint cannot have: 400, saying why; a wrong shape: 422
    for code, says in (
        ("no_power", "'no_power' is not a category of complaint tickets: choose one of"),
        ("rude", "'rude' is not a category of complaint tickets"),
    ):
        status, body = await zhou.json("POST", base + "/category", {"category": code})
        assert (status, body["error"]["code"]) == (400, "unknown_category"), code
        assert says in body["error"]["message"]
    status, _ = await zhou.json("POST", base + "/category", {"category": 3})
    assert status == 422
    status, body = await zhou.json("GET", base)
    assert (body["category"]["chosen"], len(body["timeline"])) == (False, 1)

    status, body = await zhou.json("POST", base + "/category", {"category": "attitude"})
    assert status == 200, body
    chosen = body["category"]
    assert (chosen["code"], chosen["label"]["zh"], chosen["chosen"]) == (
        "attitude",
        "服务态度",
        True,
    )
    last = body["timeline"][-1]
    assert (last["status"], last["actor"]) == ("received", "zhou")  # a note: the status stays
    assert last["note"] == "类别：电费计量（系统推测） → 服务态度"
    assert await notifier.run_once() == 0  # the customer is not told about a category
    with unit_of_work(console.factory) as session:
        ticket = tickets.get_by_no(session, number)
        assert ticket is not None
        assert ticket.category == "attitude"

    # chosen when closing: refused with the close when wrong, recorded with it when right
    steps = [
        ("assign", {"handler": "zhou"}),
        ("contact", {"note": "已联系"}),
        ("reply", {"reply": "已核实"}),
    ]
    for action, payload in steps:
        assert (await zhou.json("POST", f"{base}/{action}", payload))[0] == 200
    close = {"verdict": "satisfied", "category": "outage_x"}
    status, body = await zhou.json("POST", base + "/close", close)
    assert (status, body["error"]["code"]) == (400, "unknown_category")
    status, body = await zhou.json("POST", base + "/close", {**close, "category": "billing"})
    assert (status, body["status"], body["category"]["code"]) == (200, "closed", "billing")
    assert body["timeline"][-2]["note"] == "类别：服务态度 → 电费计量"
    # a closed case is still corrected (the manager too): its period's figures follow
    chief = await console.browser("chief")
    status, body = await chief.json("POST", base + "/category", {"category": "attitude"})
    assert (status, body["category"]["code"], body["timeline"][-1]["actor"]) == (
        200, "attitude", "chief",
    )  # fmt: skip
    assert await notifier.run_once() == 2  # replied, closed
    # violation reports have no category; a repair is not a case (the dispatchers' business)
    with unit_of_work(console.factory) as session:
        report = tickets.create_ticket(
            session, settings, type="violation", description="有人私拉电线",
            now=datetime.now(UTC), channel="fake",
        ).ticket_no  # fmt: skip
    status, body = await zhou.json("GET", f"/api/v1/feedback/{report}")
    assert (status, body["category"]) == (200, None)
    status, body = await zhou.json(
        "POST", f"/api/v1/feedback/{report}/category", {"category": "other"}
    )
    assert (status, body["error"]["message"]) == (400, "violation tickets have no category")
    repair = OPEN_REPAIRS[0][2]
    status, _ = await zhou.json("POST", f"/api/v1/feedback/{repair}/category", {"category": "trip"})
    assert status == 404


async def test_a_send_back_tells_the_customer_exactly_what_is_missing_once(
    console: Console, settings: Settings
) -> None:
    notifier = _notifier(console, settings)
    await notifier.prepare()
    number = _application(console.factory, settings, "72")
    zhou = await console.browser("zhou")
    base = f"/api/v1/applications/{number}"
    status, body = await zhou.json("POST", base + "/send-back", {"missing": ["passport"]})
    assert status == 422
    status, body = await zhou.json(
        "POST", base + "/send-back", {"missing": ["transfer_proof"], "note": "合同缺少签字页"}
    )
    assert status == 200, body
    assert (body["stage"], body["customer_notice"]) == ("need_more_docs", "sent")
    assert console.channel.texts() == [
        f"您的过户（更名）申请 {number} 还需要补充以下资料：产权变更证明（购房合同或过户证明）。"
        "合同缺少签字页。请带齐后到营业厅或在网上国网上传，资料齐全后我们继续办理。"
    ]
    assert await notifier.run_once() == 0  # the event's one notification was the one above
    status, body = await zhou.json("POST", base + "/advance", {"stage": "received"})
    assert status == 409  # the document is not in yet
    status, body = await zhou.json(
        "POST", base + "/approve", {"reason": "资料齐全", "received": ["transfer_proof"]}
    )
    assert status == 409  # still waiting at need_more_docs: back first
    status, body = await zhou.json(
        "POST", base + "/advance", {"stage": "received", "received": ["transfer_proof"]}
    )
    assert (status, body["stage"]) == (200, "received")
    status, body = await zhou.json("POST", base + "/reject", {"reason": "原户主不同意过户"})
    assert (status, body["stage"], body["decision"]) == (200, "rejected", "rejected")
    assert "原因：原户主不同意过户" in console.channel.texts()[-1]
    # both staff-written notices were the events' only ones; the return to 'received' is, as
    # every 'received' event, not announced by the notifier
    assert await notifier.run_once() == 0
    with unit_of_work(console.factory) as session:
        claims = session.scalars(select(NotificationDelivery.status)).all()
    assert sorted(claims) == ["sent", "sent"]
    assert len(console.channel.texts()) == 2


async def test_opening_a_customer_is_recorded(console: Console) -> None:
    dispatch = await console.browser("dispatch")
    status, body = await dispatch.json("GET", "/api/v1/customers?q=1390571")
    assert status == 200
    assert {c["phone"] for c in body["customers"]} <= {f"139****000{i}" for i in range(10)}
    with unit_of_work(console.factory) as session:
        assert session.scalars(select(AccessAudit)).all() == []  # a search opens nobody
    status, body = await dispatch.json("GET", "/api/v1/customers/3301000002")
    assert (status, body["account"]["holder_name"]) == (200, "李秀英")
    status, _ = await dispatch.json("GET", "/api/v1/customers/9999999999")
    assert status == 404
    with unit_of_work(console.factory) as session:
        rows = session.scalars(select(AccessAudit)).all()
    assert [(r.username, r.kind, r.account_no) for r in rows] == [
        ("dispatch", "customer_record", "3301000002")
    ]
