"""Conversation figures and the agents' scorecards on a crafted November 2026 (SQLite and
PostgreSQL), worked out by hand. Agents' hours (conf/service.yml): Monday to Friday
08:30-17:30, Saturday 09:00-12:00; a conversation (会话) is a conversation's local day."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.db import unit_of_work
from store.quality import Filters, Grain, Period
from store.quality.context import current
from tests.integration.quality.station import Station, at

NOW = at("2026-12-01 10:00")
NOV = Period.parse("2026-11")


def build(s: Station) -> None:
    a1, a2 = s.staff("a1"), s.staff("a2")
    busy = current().busy_texts[0]
    w1, w2, w3 = (s.conversation(f"web:w{n}") for n in (1, 2, 3))
    t1, t2 = s.conversation("telegram:t1"), s.conversation("telegram:t2")
    # w1 on Mon 2 Nov: two messages, one NLU fallback; the bot coped (contained)
    s.message(w1, "customer", "2026-11-02 09:00", intent="greet")
    s.message(w1, "bot", "2026-11-02 09:00:02")
    s.message(w1, "customer", "2026-11-02 09:01", intent="nlu_fallback")
    # w1 on Tue 3 Nov: a handoff queued 2 min, answered 1 min after, resolved after 10 min
    s.message(w1, "customer", "2026-11-03 10:00", intent="request_human")
    h1 = s.handoff(w1, "2026-11-03 10:00:30", "resolved", assigned="2026-11-03 10:02:30",
                   closed="2026-11-03 10:12:30", agent=a1)  # fmt: skip
    s.message(w1, "agent", "2026-11-03 10:03:30", text="您好")
    s.rating(w1, 5, "2026-11-03 10:13", handoff=h1, agent=a1)
    # t1 on Fri 6 Nov 17:20: queued 5 min, then passed from a1 to a2; a2 answers on Monday
    # 08:40: business time Fri 17:25-17:30 + Sat 09:00-12:00 + Mon 08:30-08:40 = 195 min;
    # resolved Monday 09:00: 5 + 180 + 30 = 215
    s.message(t1, "customer", "2026-11-06 17:20")
    h2 = s.handoff(t1, "2026-11-06 17:20", "resolved", assigned="2026-11-06 17:25",
                   closed="2026-11-09 09:00", agent=a2)  # fmt: skip
    s.transfer(h2, "2026-11-06 17:28", a1)
    s.message(t1, "agent", "2026-11-09 08:40")
    s.rating(t1, 2, "2026-11-09 09:01", handoff=h2, agent=a2)
    # t2 on Tue 10 Nov: Rasa was down ('系统繁忙'), then the customer left the queue
    s.message(t2, "customer", "2026-11-10 10:00")
    s.message(t2, "system", "2026-11-10 10:00:05", text=busy)
    s.handoff(t2, "2026-11-10 10:00:10", "abandoned", closed="2026-11-10 10:05")
    # w2 on Sun 15 Nov: the bot alone, rated 4
    s.message(w2, "customer", "2026-11-15 11:00")
    s.rating(w2, 4, "2026-11-15 11:05")
    # w3: 00:30 on 1 December station time: not November
    s.message(w3, "customer", "2026-12-01 00:30")
    # the NLU inbox: two hits in November (one a2 flagged), one in October
    s.inbox_hit("web:w1", "2026-11-02 09:01", intent="query_bill")
    s.inbox_hit("telegram:t1", "2026-11-06 17:21", intent="report_fault", reason="flagged",
                flagged_by=a2)  # fmt: skip
    s.inbox_hit("web:w1", "2026-10-20 09:00")


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    with unit_of_work(session_factory) as session:
        build(Station(session))
    return session_factory


def _figures(factory: sessionmaker[Session], filters: Filters | None = None) -> dict[str, object]:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, filters or Filters(), now=NOW)
    return {f.key: f for f in snap.figures if f.section == "conversations"}


def test_conversation_figures(factory: sessionmaker[Session]) -> None:
    f = _figures(factory)
    assert f["conversations.count"].value == 5  # w1 twice, t1, t2, w2
    contained = f["conversations.containment_rate"]
    assert (contained.numerator, contained.denominator) == (2, 5)  # w1 on the 2nd, w2
    assert f["conversations.handoff_rate"].value == pytest.approx(3 / 5)
    assert f["conversations.queue_wait_p50"].value == pytest.approx(3.5)  # waits 2 and 5 min
    assert f["conversations.queue_wait_p90"].value == pytest.approx(2 + 0.9 * 3)
    assert f["conversations.queue_wait_p50"].numerator == 2  # both over its 1 minute
    abandoned = f["conversations.abandonment_rate"]
    assert (abandoned.numerator, abandoned.denominator) == (1, 3)
    assert f["conversations.first_response_p50"].value == pytest.approx((1 + 195) / 2)
    assert f["conversations.resolution_p50"].value == pytest.approx((10 + 215) / 2)
    csat = f["conversations.csat"]
    assert (csat.numerator, csat.denominator) == (2, 3)  # 5 and 4 of 5, 2, 4
    response = f["conversations.csat_response_rate"]
    assert (response.numerator, response.denominator) == (2, 2)
    fallback = f["conversations.fallback_rate"]
    assert (fallback.numerator, fallback.denominator) == (1, 6)
    assert f["conversations.inbox_volume"].value == 2
    assert f["conversations.busy_replies"].value == 1


def test_channel_and_agent_filters(factory: sessionmaker[Session]) -> None:
    telegram = _figures(factory, Filters(channel="telegram"))
    assert telegram["conversations.count"].value == 2
    assert telegram["conversations.containment_rate"].value == 0.0
    assert telegram["conversations.queue_wait_p50"].value == pytest.approx(5.0)
    assert telegram["conversations.inbox_volume"].value == 1
    mine = _figures(factory, Filters(agent="a1"))
    assert mine["conversations.first_response_p50"].value == pytest.approx(1.0)
    assert mine["conversations.csat"].value == 1.0
    assert mine["conversations.count"].value == 5  # the bot's figures stay station-wide


def test_breakdowns_per_channel_and_hour(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
    rows = {
        (b.key, b.dimension, r.label): (r.value, r.numerator, r.denominator)
        for b in snap.breakdowns
        for r in b.rows
    }
    assert rows[("conversations.count", "channel", "网页")] == (3, None, 3)
    assert rows[("conversations.containment_rate", "channel", "Telegram")] == (0.0, 0, 2)
    assert rows[("conversations.handoff_rate", "hour", "16-18时")] == (1.0, 1, 1)
    assert rows[("conversations.first_response_p50", "agent", "a2名")] == (195.0, 1, 1)
    assert rows[("conversations.inbox_volume", "intent", "report_fault")] == (1, None, 1)


def test_agent_scorecards(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        cards = {c.subject: c for c in quality.scorecards(session, NOV, "agent", now=NOW)}
    assert set(cards) == {"a1", "a2"}
    a1 = {f.key: f.value for f in cards["a1"].figures}
    a2 = {f.key: f.value for f in cards["a2"].figures}
    station = {f.key: f.value for f in cards["a1"].station}
    assert a1 == {
        "agent.chats": 1, "agent.first_response_p50": 1.0, "agent.resolution_p50": 10.0,
        "agent.csat": 1.0, "agent.transfers": 1, "agent.flagged_answers": 0,
    }  # fmt: skip
    assert a2["agent.first_response_p50"] == 195.0
    assert a2["agent.csat"] == 0.0
    assert a2["agent.flagged_answers"] == 1
    assert station == {
        "agent.chats": 1.0, "agent.first_response_p50": 98.0, "agent.resolution_p50": 112.5,
        "agent.csat": 0.5, "agent.transfers": 0.5, "agent.flagged_answers": 0.5,
    }  # fmt: skip
    assert cards["a1"].name == "a1名"


def test_drill_and_series(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        rows, total = quality.drill(session, "conversations.containment_rate", NOV, now=NOW)
        waits, _ = quality.drill(session, "conversations.queue_wait_p90", NOV, now=NOW)
        days = quality.series(session, "conversations.count", NOV, Grain.DAY, now=NOW)
    assert total == 5
    assert [r.meets for r in rows] == [False] * 3 + [True] * 2
    assert rows[0].ref == "telegram:t2"
    assert rows[0].detail["channel"] == "Telegram"
    assert [(w.ref, w.value, w.meets) for w in waits] == [
        ("telegram:t1", 5.0, True), ("web:w1", 2.0, True),
    ]  # fmt: skip
    assert len(days) == 30
    assert sum(v or 0 for _, v in days) == 5
    assert dict(days)[NOV.start.replace(day=2)] == 1
