"""The team filter (what a supervisor's scope narrows to) on a crafted November 2026 (SQLite and
PostgreSQL), worked out by hand: two teams, each overseeing a crew and with an agent, a clerk
and a supervisor in it, and a clerk k外 in no team; what each team's figures, drill-downs,
series and scorecards are, and that the two (with what is no team's) add up to the station's.

东山村 is rural: arrival within 90 minutes, restoration within 4 hours (conf/commitments.yml).

| repair | received | crew (team) | arrival (min) | on time | restoration | on time | callback |
|---|---|---|---|---|---|---|---|
| R1 | Mon 2 Nov 09:00 | C东 (东班) | 30 | yes | 1 h | yes | done |
| R2 | Thu 5 Nov 09:00 | C东 (东班) | 120 | no | 1 h | yes | - |
| R3 | Tue 10 Nov 09:00 | C西 (西班) | 60 | yes | 5 h | no | done |
| R4 | Thu 12 Nov 09:00 | C西 (西班) | 45 | yes | 1 h | yes | done |
| R5 | Fri 20 Nov 09:00 | C西 (西班) | 100 | no | 1 h | yes | - |

东班: arrival on time 1 of 2, mean (30 + 120) / 2 = 75 min, restoration 2 of 2, callbacks 1 of 2.
西班: arrival on time 2 of 3, mean (60 + 45 + 100) / 3 = 68.33 min, restoration 2 of 3,
callbacks 2 of 3. The station: 3 of 5, 71 min, 4 of 5, 3 of 5. One outage (15 Nov): no crew's,
so it stays the station's under a team filter.

Chats (business hours Monday to Friday 08:30-17:30), each resolved by its agent and rated:

| handoff | queued | agent (team) | wait | first response | resolution | rating |
|---|---|---|---|---|---|---|
| H1 | Mon 2 Nov 10:00 | a东 (东班) | 2 | 1 | 11 | 5 |
| H2 | Tue 3 Nov 10:00 | a东 (东班) | 4 | 2 | 22 | 3 |
| H3 | Wed 4 Nov 10:00 | a西 (西班) | 6 | 3 | 33 | 4 |
| H4 | Thu 5 Nov 10:00 | nobody: left the queue after 5 minutes | | | | |

东班: wait p50 3, first response p50 1.5, resolution p50 16.5, CSAT 1 of 2, rated 2 of 2.
西班: wait 6, first response 3, resolution 33, CSAT 1 of 1, rated 1 of 1. The station: wait p50
4, CSAT 2 of 3, rated 3 of 3; abandonment 1 of 4 (nobody's: no team's figure).

Complaints (contact within 24 h, reply within 5 working days; November 2026 has no public
holiday), each handled by whom `tickets.handler` names; two accounts in the station:

| case | received | handler (team) | contacted | on time | replied | on time | escalated |
|---|---|---|---|---|---|---|---|
| C1 | Mon 2 Nov 09:00 | k东 (东班) | 2 Nov 15:00 | yes | 4 Nov | yes | |
| C2 | Tue 3 Nov 09:00 | k东 (东班) | 5 Nov 10:00 | no (49 h) | 6 Nov | yes | yes |
| C3 | Wed 4 Nov 09:00 | k西 (西班) | 4 Nov 10:00 | yes | 16 Nov | no (due 11 Nov) | |
| C4 | Thu 5 Nov 09:00 | k外 (no team) | 5 Nov 10:00 | yes | 6 Nov | yes | |
| C5 | Fri 6 Nov 09:00 | nobody | never | no | never | no | |

and a suggestion S1 (k西), a suggestion S2 nobody was assigned, a praise P1 (k东).
东班: 2 complaints, contact 1 of 2, reply 2 of 2, escalated 1 of 2, praise 1; 西班: 1 complaint,
contact 1 of 1, reply 0 of 1, suggestions 1. The station: 5, contact 3 of 5, reply 3 of 5,
escalated 1 of 5, suggestions 2, praise 1: C4, C5 and S2 are no team's. Complaints per 10,000
accounts stays the station's under a team filter: 5 × 10000 / 2 = 25000.

Applications (name transfer: received 1, reviewing 2, contract 2 working days, 5 in all; other
change: received 1, reviewing 2), each handled by who recorded its latest step ("assistant"
and "system" are no staff account):

- A1 (name transfer): received Mon 2 Nov 09:00 (assistant), reviewing 15:00, contract Wed 4 Nov
  10:00, completed Thu 5 Nov 10:00 (k东): k东's; 3 + 1/24 station days, on time, never sent
  back; stays 0.25, 1 + 19/24 and 1.0, all on time.
- A2 (name transfer): received Tue 3 Nov 09:00, sent back 10:00 (k东), received again Thu 5 Nov
  10:00, reviewing 11:00, contract Mon 9 Nov 11:00 (k西), completed Tue 10 Nov 11:00 (system):
  k西's; 5 + 2/24 less 2.0 waited on the customer, on time, sent back; stays 1/24, 1/24, 2.0
  and 1.0, all on time.
- A3 (other change): received Wed 4 Nov 09:00, reviewing 10:00 (k外), open: k外's; due 11 Nov
  (late at NOW); its received stay 1/24 on time, its reviewing open past its limit (6 Nov).
- A4 (name transfer): received Fri 6 Nov 09:00 (assistant), open: nobody's; due 13 Nov (late),
  its received stay open past its limit (9 Nov).

东班: received 1, completed 1 on time of 1, first time 1 of 1, stays 3 on time of 3. 西班: received
1, completed 1 on time of 1, first time 0 of 1, stays 4 on time of 4. The station: received 4,
completed 2, on time 2 of 4, first time 1 of 2, stays 8 on time of 10.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.db import unit_of_work
from store.models import Crew, QualityApplicationFacts, ServiceArea, StaffUser, Team, Ticket
from store.quality import Figure, Filters, Grain, Period
from store.services import case_feedback
from tests.integration.quality.station import Station, at, built

NOW = at("2026-12-01 10:00")
NOV = Period.parse("2026-11")
EAST, WEST = "东班", "西班"


def _team(s: Station, name: str, crew: Crew, *people: StaffUser) -> None:
    team = Team(name=name, created_at=at("2026-01-01 00:00"))
    s.session.add(team)
    s.session.flush()
    crew.team_id = team.id
    for person in people:
        person.team_id = team.id
    s.session.flush()


def _repair(s: Station, area: ServiceArea, crew: Crew, day: str, arrival: str, restored: str,
            **kw: object) -> None:  # fmt: skip
    s.ticket("fault", f"{day} 09:00", [("on_site", f"{day} {arrival}"),
             ("restored", f"{day} {restored}")], area=area, crew=crew, **kw)  # fmt: skip


def _chat(s: Station, n: int, day: str, agent: StaffUser, wait: int, first: int, resolved: int,
          rating: int) -> None:  # fmt: skip
    chat = s.conversation(f"web:team{n}")
    s.message(chat, "customer", f"{day} 10:00", intent="request_human")
    handoff = s.handoff(chat, f"{day} 10:00", "resolved", assigned=f"{day} 10:{wait:02d}",
                        closed=f"{day} 10:{wait + resolved:02d}", agent=agent)  # fmt: skip
    s.message(chat, "agent", f"{day} 10:{wait + first:02d}", text="您好")
    s.rating(chat, rating, f"{day} 11:00", handoff=handoff, agent=agent)


def _complaint(s: Station, day: str, handler: str | None, contacted: str | None,
               replied: str | None, **kw: object) -> None:  # fmt: skip
    events = [("assigned", f"{day} 09:30")] if handler else []
    events += [("contacted", contacted)] if contacted else []
    events += [("replied", replied)] if replied else []
    s.ticket("complaint", f"{day} 09:00", events, handler=handler, description="电费算错了", **kw)


def _cases(s: Station, area: ServiceArea) -> None:
    for _ in range(2):
        s.account(area)
    _complaint(s, "2026-11-02", "k东", "2026-11-02 15:00", "2026-11-04 10:00")
    _complaint(s, "2026-11-03", "k东", "2026-11-05 10:00", "2026-11-06 10:00", escalated=True)
    _complaint(s, "2026-11-04", "k西", "2026-11-04 10:00", "2026-11-16 10:00")
    _complaint(s, "2026-11-05", "k外", "2026-11-05 10:00", "2026-11-06 10:00")
    _complaint(s, "2026-11-06", None, None, None)
    s.ticket("suggestion", "2026-11-09 09:00", [("processing", "2026-11-09 10:00")],
             handler="k西", description="停电通知请发短信")  # fmt: skip
    s.ticket("suggestion", "2026-11-09 11:00", description="营业厅周六也开门")
    s.ticket("praise", "2026-11-10 09:00", [("processing", "2026-11-10 10:00")], handler="k东",
             description="抢修师傅很及时")  # fmt: skip


def _applications(s: Station) -> None:
    s.application("name_transfer", [
        ("received", "2026-11-02 09:00", "2026-11-03 09:00"),
        ("reviewing", "2026-11-02 15:00", "2026-11-04 15:00"),
        ("contract", "2026-11-04 10:00", "2026-11-06 10:00"),
        ("completed", "2026-11-05 10:00", None),
    ], due="2026-11-09 09:00", by=("assistant", "k东", "k东", "k东"))  # fmt: skip
    s.application("name_transfer", [
        ("received", "2026-11-03 09:00", "2026-11-04 09:00"),
        ("need_more_docs", "2026-11-03 10:00", None),
        ("received", "2026-11-05 10:00", "2026-11-06 10:00"),
        ("reviewing", "2026-11-05 11:00", "2026-11-09 11:00"),
        ("contract", "2026-11-09 11:00", "2026-11-11 11:00"),
        ("completed", "2026-11-10 11:00", None),
    ], due="2026-11-12 09:00", by=("k东", "k东", "k西", "k西", "k西", "system"))  # fmt: skip
    s.application("other_change", [
        ("received", "2026-11-04 09:00", "2026-11-05 09:00"),
        ("reviewing", "2026-11-04 10:00", "2026-11-06 10:00"),
    ], due="2026-11-11 09:00", by=("k外", "k外"))  # fmt: skip
    s.application("name_transfer", [("received", "2026-11-06 09:00", "2026-11-09 09:00")],
                  due="2026-11-13 09:00", by=("assistant",))  # fmt: skip


def build(s: Station) -> None:
    area = s.area("DS01", "东山村", "rural")
    c_east, c_west = s.crew("C东"), s.crew("C西")
    a_east, a_west = s.staff("a东"), s.staff("a西")
    k_east, k_west = s.staff("k东", "clerk"), s.staff("k西", "clerk")
    s.staff("k外", "clerk")  # in no team
    _team(s, EAST, c_east, a_east, k_east, s.staff("s东", "supervisor"))
    _team(s, WEST, c_west, a_west, k_west, s.staff("s西", "supervisor"))
    done = {"callback_result": "satisfied"}
    _repair(s, area, c_east, "2026-11-02", "09:30", "10:30", **done)
    _repair(s, area, c_east, "2026-11-05", "11:00", "12:00")
    _repair(s, area, c_west, "2026-11-10", "10:00", "15:00", **done)
    _repair(s, area, c_west, "2026-11-12", "09:45", "10:45", **done)
    _repair(s, area, c_west, "2026-11-20", "10:40", "11:40")
    s.outage(area, "2026-11-15 08:00", "2026-11-15 10:00")
    _chat(s, 1, "2026-11-02", a_east, 2, 1, 11, 5)
    _chat(s, 2, "2026-11-03", a_east, 4, 2, 22, 3)
    _chat(s, 3, "2026-11-04", a_west, 6, 3, 33, 4)
    left = s.conversation("web:team4")
    s.message(left, "customer", "2026-11-05 10:00", intent="request_human")
    s.handoff(left, "2026-11-05 10:00", "abandoned", closed="2026-11-05 10:05")
    _cases(s, area)
    _applications(s)


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return built(session_factory, build)


def _team_ids(factory: sessionmaker[Session]) -> dict[str, int]:
    with unit_of_work(factory) as session:
        return {t.name: t.id for t in session.scalars(select(Team))}


def _figures(factory: sessionmaker[Session], filters: Filters) -> dict[str, Figure]:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, filters, now=NOW)
    return {f.key: f for f in snap.figures}


def _counts(f: Figure) -> tuple[int | None, int | None]:
    return f.numerator, f.denominator


def _east_and_west(factory: sessionmaker[Session]) -> tuple[dict[str, Figure], dict[str, Figure]]:
    ids = _team_ids(factory)
    east, west = (_figures(factory, Filters(team_id=ids[name])) for name in (EAST, WEST))
    return east, west


def test_each_team_sees_its_crews_repairs_and_its_people_s_chats(
    factory: sessionmaker[Session],
) -> None:
    east, west = _east_and_west(factory)
    assert east["repairs.tickets"].value == 2
    assert _counts(east["repairs.arrival_on_time_rate"]) == (1, 2)
    assert east["repairs.arrival_minutes"].value == pytest.approx(75)
    assert _counts(east["repairs.restoration_on_time_rate"]) == (2, 2)
    assert _counts(east["repairs.callback_rate"]) == (1, 2)
    assert west["repairs.tickets"].value == 3
    assert _counts(west["repairs.arrival_on_time_rate"]) == (2, 3)
    assert west["repairs.arrival_minutes"].value == pytest.approx(205 / 3)
    assert _counts(west["repairs.restoration_on_time_rate"]) == (2, 3)
    assert _counts(west["repairs.callback_rate"]) == (2, 3)
    assert east["conversations.queue_wait_p50"].value == pytest.approx(3)
    assert east["conversations.first_response_p50"].value == pytest.approx(1.5)
    assert east["conversations.resolution_p50"].value == pytest.approx(16.5)
    assert _counts(east["conversations.csat"]) == (1, 2)
    assert _counts(east["conversations.csat_response_rate"]) == (2, 2)
    assert west["conversations.queue_wait_p50"].value == pytest.approx(6)
    assert west["conversations.first_response_p50"].value == pytest.approx(3)
    assert west["conversations.resolution_p50"].value == pytest.approx(33)
    assert _counts(west["conversations.csat"]) == (1, 1)
    assert _counts(west["conversations.csat_response_rate"]) == (1, 1)


NO_TEAM: dict[str, tuple[int, int] | int] = {
    "complaints.count": 2,  # C4 (k外), C5 (nobody)
    "complaints.repeat_rate": (0, 2),
    "complaints.contact_rate": (1, 2),  # C4 on time, C5 never
    "complaints.reply_rate": (1, 2),
    "complaints.escalation_rate": (0, 2),
    "complaints.suggestions": 1,  # S2
    "complaints.praise": 0,
    "applications.received": 2,  # A3 (k外), A4 (nobody)
    "applications.completed": 0,
    "applications.end_to_end_days": (0, 0),
    "applications.on_time_rate": (0, 2),  # both open past their deadline
    "applications.first_time_rate": (0, 0),
    "applications.stage_days": (0, 1),  # A3's received
    "applications.stage_on_time_rate": (1, 3),  # and the two open stays past their limit
}
"""What is no team's, worked out by hand: the teams' figures and these make the station's."""


def test_the_two_teams_add_up_to_the_station(factory: sessionmaker[Session]) -> None:
    ids = _team_ids(factory)
    station = _figures(factory, Filters())
    teams = [_figures(factory, Filters(team_id=ids[name])) for name in (EAST, WEST)]
    assert station["repairs.arrival_minutes"].value == pytest.approx(71)
    assert station["conversations.queue_wait_p50"].value == pytest.approx(4)
    for key in quality.team_figure_keys():  # counts, and every figure's items and misses
        whole, rest = station[key], NO_TEAM.get(key, 0)
        if whole.denominator is None:
            assert sum(t[key].value or 0 for t in teams) + rest == whole.value, key
            continue
        num, den = rest if isinstance(rest, tuple) else (0, 0)
        assert sum(t[key].denominator or 0 for t in teams) + den == whole.denominator, key
        assert sum(t[key].numerator or 0 for t in teams) + num == whole.numerator, key
    assert _counts(station["repairs.arrival_on_time_rate"]) == (3, 5)
    assert _counts(station["conversations.csat"]) == (2, 3)
    assert _counts(station["complaints.contact_rate"]) == (3, 5)
    assert _counts(station["applications.stage_on_time_rate"]) == (8, 10)


def test_what_no_team_handles_stays_the_station_s(factory: sessionmaker[Session]) -> None:
    keys = quality.team_figure_keys()
    assert "repairs.outages" not in keys
    assert "conversations.count" not in keys
    assert "conversations.abandonment_rate" not in keys
    assert "complaints.per_10k" not in keys
    team = Filters(team_id=_team_ids(factory)[EAST])
    east = _figures(factory, team)
    assert east["repairs.outages"].value == 1  # no crew's: a team filter leaves it be
    assert east["conversations.count"].value == 4  # the bot's: likewise
    per_10k = east["complaints.per_10k"]  # the station's 5 complaints over its 2 accounts
    assert (per_10k.value, _counts(per_10k)) == (25000, (5, 2))
    with unit_of_work(factory) as session:  # its chart and drill-down likewise
        month = quality.series(session, "complaints.per_10k", NOV, Grain.MONTH, team, now=NOW)
        rows, total = quality.drill(session, "complaints.per_10k", NOV, team, now=NOW)
    assert [v for _, v in month] == [25000]
    assert (total, len(rows)) == (5, 5)


def test_a_team_with_an_agent_or_crew_of_another_team_narrows_to_nobody(
    factory: sessionmaker[Session],
) -> None:
    ids = _team_ids(factory)
    with unit_of_work(factory) as session:
        west_crew = session.scalars(select(Crew.id).where(Crew.name == "C西")).one()
    mixed = _figures(factory, Filters(team_id=ids[EAST], agent="a西", crew_id=west_crew))
    assert mixed["conversations.first_response_p50"].value is None
    assert mixed["repairs.tickets"].value == 0
    with unit_of_work(factory) as session, pytest.raises(ValueError, match="unknown team"):
        quality.snapshot(session, NOV, Filters(team_id=999), now=NOW)


def test_drill_down_series_and_breakdowns_follow_the_team(factory: sessionmaker[Session]) -> None:
    ids = _team_ids(factory)
    east, west = Filters(team_id=ids[EAST]), Filters(team_id=ids[WEST])
    with unit_of_work(factory) as session:
        rows, total = quality.drill(session, "repairs.arrival_on_time_rate", NOV, east, now=NOW)
        chats, rated = quality.drill(session, "conversations.csat", NOV, west, now=NOW)
        waits, _ = quality.drill(session, "conversations.queue_wait_p90", NOV, east, now=NOW)
        month = quality.series(
            session, "repairs.arrival_on_time_rate", NOV, Grain.MONTH, west, now=NOW
        )
        snap = quality.snapshot(session, NOV, west, now=NOW)
    assert total == 2
    assert [(r.value, r.meets, r.detail["crew"]) for r in rows] == [
        (120, False, "C东"), (30, True, "C东"),
    ]  # fmt: skip
    assert (rated, [c.detail["agent"] for c in chats]) == (1, ["a西名"])
    assert sorted(w.ref for w in waits) == ["web:team1", "web:team2"]
    assert [v for _, v in month] == [pytest.approx(2 / 3)]
    by_crew = next(
        b for b in snap.breakdowns
        if b.key == "repairs.arrival_on_time_rate" and b.dimension == "crew"
    )  # fmt: skip
    assert [r.label for r in by_crew.rows] == ["C西"]


def test_a_team_s_scorecards_are_its_own_beside_the_whole_station(
    factory: sessionmaker[Session],
) -> None:
    ids = _team_ids(factory)
    with unit_of_work(factory) as session:
        everyone = quality.scorecards(session, NOV, "agent", now=NOW)
        east = quality.scorecards(session, NOV, "agent", now=NOW, team_id=ids[EAST])
        crews = quality.scorecards(session, NOV, "crew", now=NOW, team_id=ids[WEST])
        with pytest.raises(ValueError, match="unknown team"):
            quality.scorecards(session, NOV, "crew", now=NOW, team_id=999)
    assert [c.subject for c in everyone] == ["a东", "a西"]
    assert [c.subject for c in east] == ["a东"]  # s东 handled no chat: no card
    assert east[0].station == everyone[0].station  # still the whole station's column
    chats = {f.key: f.value for f in east[0].figures}["agent.chats"]
    station_chats = {f.key: f.value for f in east[0].station}["agent.chats"]
    assert (chats, station_chats) == (2, 1.5)  # a东 2, a西 1: 1.5 a head
    assert [c.name for c in crews] == ["C西"]
    on_time = {f.key: f for f in crews[0].figures}["crew.arrival_on_time_rate"]
    station = {f.key: f for f in crews[0].station}["crew.arrival_on_time_rate"]
    assert (_counts(on_time), station.value) == ((2, 3), pytest.approx(3 / 5))


def test_each_team_sees_the_complaints_and_applications_its_people_handled(
    factory: sessionmaker[Session],
) -> None:
    east, west = _east_and_west(factory)
    assert east["complaints.count"].value == 2
    assert _counts(east["complaints.contact_rate"]) == (1, 2)  # C2 called after 49 h
    assert _counts(east["complaints.reply_rate"]) == (2, 2)
    assert _counts(east["complaints.escalation_rate"]) == (1, 2)
    assert (east["complaints.suggestions"].value, east["complaints.praise"].value) == (0, 1)
    assert west["complaints.count"].value == 1
    assert _counts(west["complaints.contact_rate"]) == (1, 1)
    assert _counts(west["complaints.reply_rate"]) == (0, 1)  # C3 answered after its 5 days
    assert (west["complaints.suggestions"].value, west["complaints.praise"].value) == (1, 0)
    assert (east["applications.received"].value, east["applications.completed"].value) == (1, 1)
    assert east["applications.end_to_end_days"].value == pytest.approx(3 + 1 / 24)
    assert _counts(east["applications.on_time_rate"]) == (1, 1)
    assert _counts(east["applications.first_time_rate"]) == (1, 1)
    assert east["applications.stage_days"].value == pytest.approx((0.25 + 1 + 19 / 24 + 1) / 3)
    assert _counts(east["applications.stage_on_time_rate"]) == (3, 3)
    assert (west["applications.received"].value, west["applications.completed"].value) == (1, 1)
    assert west["applications.end_to_end_days"].value == pytest.approx(5 + 2 / 24 - 2)
    assert _counts(west["applications.first_time_rate"]) == (0, 1)  # A2 was sent back
    assert west["applications.stage_days"].value == pytest.approx((2 / 24 + 2 + 1) / 4)
    assert _counts(west["applications.stage_on_time_rate"]) == (4, 4)
    # the agent filter concerns the chats only: every case and application stays
    agent = _figures(factory, Filters(agent="a东"))
    assert agent["complaints.count"].value == 5
    assert agent["applications.received"].value == 4
    mixed = _figures(factory, Filters(team_id=_team_ids(factory)[EAST], agent="a西"))
    assert mixed["complaints.count"].value == 2  # still 东班's cases


def test_a_case_is_its_handler_s_and_an_application_its_latest_step_s(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as session:
        quality.catch_up(session, now=NOW)
        users = {u.username: u.id for u in session.scalars(select(StaffUser))}
        by_start = QualityApplicationFacts.created_at
        found = list(session.scalars(select(QualityApplicationFacts.handler_id).order_by(by_start)))
    # A1: k东 after the assistant's start; A2: k西 (the system's completion is nobody's)
    assert found == [users["k东"], users["k西"], users["k外"], None]
    west = Filters(team_id=_team_ids(factory)[WEST])
    assert _figures(factory, west)["complaints.count"].value == 1
    with unit_of_work(factory) as session:  # C5, nobody's so far, is given to k西
        c5 = session.scalars(select(Ticket).where(Ticket.handler.is_(None),
                                                  Ticket.type == "complaint")).one()  # fmt: skip
        case_feedback.assign(session, c5, handler="k西", actor="s西", now=NOW)
    moved = _figures(factory, west)
    assert moved["complaints.count"].value == 2
    assert _counts(moved["complaints.contact_rate"]) == (1, 2)  # C5 was never called


def test_drill_down_series_and_breakdowns_of_the_team_s_cases(
    factory: sessionmaker[Session],
) -> None:
    ids = _team_ids(factory)
    east, west = Filters(team_id=ids[EAST]), Filters(team_id=ids[WEST])
    with unit_of_work(factory) as session:
        called, total = quality.drill(session, "complaints.contact_rate", NOV, east, now=NOW)
        stays, counted = quality.drill(
            session, "applications.stage_on_time_rate", NOV, west, now=NOW
        )
        open_apps, late = quality.drill(session, "applications.on_time_rate", NOV, now=NOW)
        month = quality.series(session, "complaints.count", NOV, Grain.MONTH, west, now=NOW)
        snap = quality.snapshot(session, NOV, west, now=NOW)
    assert total == 2
    assert [(r.meets, r.detail["handler"]) for r in called] == [(False, "k东名"), (True, "k东名")]
    assert counted == 4
    assert {r.detail["handler"] for r in stays} == {"k西名"}
    assert late == 4  # the station's: A1 A2 on time; A3 (k外) and A4 (nobody) late
    assert sorted(r.detail.get("handler", "-") for r in open_apps) == [
        "-", "k东名", "k外名", "k西名",
    ]  # fmt: skip
    assert [v for _, v in month] == [1]
    by_type = next(
        b for b in snap.breakdowns if b.key == "applications.received" and b.dimension == "type"
    )
    assert [(r.label, r.denominator) for r in by_type.rows] == [("过户（更名）", 1)]
