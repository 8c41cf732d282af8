"""Whole conversations over Rasa's REST webhook: trained model, real servers, seeded database.

The assertions read what a customer reads (texts) and what the station sees (database rows).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
import uuid

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from store.models import Ticket
from tests.e2e.conftest import Stack

TICKET = re.compile(r"T\d{10}")


def sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def ticket_row(stack: Stack, ticket_no: str) -> Ticket | None:
    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as session:
            row = session.scalars(select(Ticket).filter_by(ticket_no=ticket_no)).first()
            if row is not None:
                session.expunge(row)
            return row
    finally:
        engine.dispose()


def test_http_api_needs_the_token(e2e_stack: Stack) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{e2e_stack.api_url}/status", timeout=10)
    assert refused.value.code in (401, 403)
    refused.value.close()


def test_greeting(e2e_stack: Stack) -> None:
    reply = e2e_stack.chat(sender(), "你好")
    assert "供电所" in reply[0]["text"]
    assert any(b["payload"] == "/report_fault" for b in reply[0]["buttons"])


def report_fault(stack: Stack, me: str, first: str, village: str, scope: str, phone: str) -> str:
    """Answer whatever the fault form asks (village, what happened, phone) until it is done."""
    reply = stack.texts(me, first)
    for _ in range(4):
        if TICKET.search(reply):
            return reply
        if "哪个村" in reply or "没有在本所供电范围" in reply:
            reply = stack.texts(me, village)
        elif "情况" in reply:
            reply = stack.texts(me, scope)
        elif "电话" in reply:
            reply = stack.texts(me, phone)
        else:
            pytest.fail(f"unexpected question in the fault form: {reply}")
    pytest.fail(f"no ticket after four answers: {reply}")


def test_outage_report_in_a_demo_village_gets_a_ticket(e2e_stack: Stack) -> None:
    me = sender()
    final = report_fault(
        e2e_stack,
        me,
        "东山村3组停电了 俺家啥电器都用不了",
        "东山村3组",
        "只有我家没电",
        "13905716666",
    )
    found = TICKET.search(final)
    assert found, final
    assert "90分钟" in final  # a rural village's committed arrival time
    row = ticket_row(e2e_stack, found.group(0))
    assert row is not None
    assert (row.type, row.status, row.contact_phone) == ("fault", "received", "13905716666")
    assert row.area_id is not None
    # the same customer reporting again gets the same ticket, not a second one
    again = report_fault(
        e2e_stack, me, "俺家又停电了 快来修", "东山村3组", "只有我家没电", "13905716666"
    )
    assert found.group(0) in again
    assert "不用重复报修" in again


def test_report_inside_the_current_outage_is_told_the_cause(e2e_stack: Stack) -> None:
    final = report_fault(
        e2e_stack, sender(), "西河村停电了", "西河村", "整个村都停了", "13905715555"
    )
    assert "预计" in final
    assert "TD" in final  # the known outage's number


def test_bill_is_refused_until_verification_succeeds(e2e_stack: Stack) -> None:
    me = sender()
    ask = e2e_stack.texts(me, "查下上个月电费多少")
    assert "户号" in ask
    assert "元" not in ask  # nothing about the bill before verification
    assert "后4位" in e2e_stack.texts(me, "3301000001")
    failed = e2e_stack.texts(me, "0002")
    assert "不匹配" in failed
    assert "元" not in failed
    e2e_stack.texts(me, "3301000001")
    bill = e2e_stack.texts(me, "0001")
    assert "验证成功" in bill
    assert "电费合计" in bill
    assert "3301000001" not in bill  # the account number is masked


def test_english_customer_gets_english(e2e_stack: Stack) -> None:
    reply = e2e_stack.texts(sender(), "hello, I want to check my electricity bill")
    assert "account number" in reply
    assert not re.search(r"[\u4e00-\u9fff]", reply)


def test_safety_hazard_gets_advice_and_an_urgent_ticket(e2e_stack: Stack) -> None:
    reply = e2e_stack.texts(sender(), "石桥村村口电线掉地上了还冒火花")
    assert "119" in reply
    found = TICKET.search(reply)
    assert found, reply
    row = ticket_row(e2e_stack, found.group(0))
    assert row is not None
    assert (row.type, row.priority) == ("hazard", "urgent")


def test_gas_leak_is_pointed_to_119(e2e_stack: Stack) -> None:
    assert "119" in e2e_stack.texts(sender(), "家里煤气味好大咋整")


@pytest.mark.parametrize(
    "text",
    ["", "😀😀😀", "停" * 5000, "'; DROP TABLE tickets; --", "\x00\x01binary", "户号１２３abc"],
    ids=["empty", "emoji", "5000-chars", "sql", "binary", "malformed-number"],
)
def test_bad_input_gets_a_clear_reply_and_breaks_nothing(e2e_stack: Stack, text: str) -> None:
    reply = e2e_stack.texts(sender(), text)
    assert reply.strip(), f"no reply to {text[:20]!r}"
    assert "系统繁忙" not in reply
    # the stores still answer normally afterwards
    assert "供电所" in e2e_stack.texts(sender(), "你好")
