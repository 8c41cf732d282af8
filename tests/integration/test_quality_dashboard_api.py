"""The service-quality dashboard's JSON API on the real gateway (SQLite and PostgreSQL), on the
crafted October of tests/integration/quality_dashboard_data.py, whose figures are worked out by
hand there: the headline figures against their targets with the trend, the filters, the chart
over time, the drill-down with its links, the bottleneck sentence, the scorecards and their CSV,
the improvement plan, who sees what (a supervisor their team: two teams that make up the
station), and bad input refused with a 400 that says why."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from store import quality
from store.config import Settings
from store.db import unit_of_work
from store.services import case_feedback, crews, staff, teams
from tests.fakes.console import Console, StaffClient
from tests.integration.quality_dashboard_data import LATE, MOUNTAIN, Crafted, craft

pytestmark = pytest.mark.slow

Q = "/api/v1/quality"
OCTOBER = "period=2026-10"
EAST_TEAM, MOUNTAIN_TEAM = "东片班", "山区班"


@pytest.fixture
def console_staff() -> dict[str, tuple[str, int]]:
    return {
        "chief": ("manager", 5), "dispatch": ("dispatcher", 0),
        "east_lead": ("supervisor", 0), "mountain_lead": ("supervisor", 0), "clerk": ("clerk", 0),
    }  # fmt: skip


@pytest.fixture
def crafted(console: Console, settings: Settings) -> Crafted:
    with unit_of_work(console.factory) as session:
        return craft(session, settings)


def _crew_id(console: Console, name: str) -> int:
    with unit_of_work(console.factory) as session:
        crew = crews.by_name(session, name)
        assert crew is not None
        return crew.id


def _into(session: Session, team: teams.Team, crew: str | None, *people: str) -> None:
    """Put a crew (by name) and staff users (by username) into `team`."""
    found = crews.by_name(session, crew) if crew is not None else None
    if crew is not None:
        assert found is not None
        teams.set_crew_team(session, found, team)
    for username in people:
        user = staff.get_by_username(session, username)
        assert user is not None
        teams.set_staff_team(session, user, team)


def _teams(console: Console) -> dict[str, int]:
    """东片班: east_lead, agent1 (who took October's chat) and 东片抢修组 (R1, R2 on time);
    山区班: mountain_lead, agent2 (no chat) and 山区抢修组 (R3-R5, all late)."""
    made = {}
    with unit_of_work(console.factory) as session:
        for name, crew, people in (
            (EAST_TEAM, "东片抢修组", ("east_lead", "agent1")),
            (MOUNTAIN_TEAM, MOUNTAIN, ("mountain_lead", "agent2")),
        ):
            team = teams.create_team(session, name=name, now=datetime.now(UTC))
            _into(session, team, crew, *people)
            made[name] = team.id
    return made


def _figure(body: dict[str, Any], key: str) -> dict[str, Any]:
    return next(f for f in body["figures"] if f["key"] == key)


async def _refused(client: StaffClient, *paths: str, naming: str = "") -> None:
    """Each of `paths` is a 403 whose message names `naming`."""
    for path in paths:
        status, error = await client.json("GET", path)
        assert (status, error["error"]["code"]) == (403, "forbidden"), path
        assert naming in error["error"]["message"], path


async def _get(console: Console, who: str, path: str) -> tuple[int, Any]:
    client = await console.browser(who)
    return await client.json("GET", path)


async def test_october_against_its_targets_with_the_trend_and_the_bottleneck(
    console: Console, crafted: Crafted
) -> None:
    status, body = await _get(console, "chief", f"{Q}/dashboard?{OCTOBER}")
    assert status == 200, body
    assert (body["period"]["label"], body["compared_with"]["label"]) == ("2026-10", "2026-09")
    assert body["scope"] == "station"
    on_time = _figure(body, "repairs.arrival_on_time_rate")
    assert (on_time["value"], on_time["numerator"], on_time["denominator"]) == (0.4, 2, 5)
    assert (on_time["target"], on_time["meets"], on_time["label"]) == (0.95, False, "到达及时率")
    assert on_time["previous"] == 1.0
    assert on_time["change"] == pytest.approx(-0.6)
    assert on_time["trend"] == "worse"
    minutes = _figure(body, "repairs.arrival_minutes")
    assert minutes["value"] == pytest.approx(102)
    assert (minutes["target"], minutes["meets"]) == (90, False)
    assert _figure(body, "repairs.restoration_on_time_rate")["value"] == pytest.approx(0.8)
    assert {f["section"] for f in body["figures"]} == {
        "repairs", "applications", "complaints", "conversations",
    }  # fmt: skip
    by_crew = next(
        b
        for b in body["breakdowns"]
        if b["key"] == "repairs.arrival_on_time_rate" and b["dimension"] == "crew"
    )
    assert {r["label"]: r["value"] for r in by_crew["rows"]} == {"东片抢修组": 1.0, MOUNTAIN: 0.0}
    necks = [b for b in body["bottlenecks"] if b["key"] == "repairs.arrival_on_time_rate"]
    crew_neck = next(b for b in necks if b["dimension"] == "crew")
    assert (crew_neck["where"], crew_neck["misses"], crew_neck["share"]) == (MOUNTAIN, 3, 1.0)
    assert MOUNTAIN in crew_neck["sentence"]
    assert "3次中的3次" in crew_neck["sentence"]


async def test_filters_narrow_the_figures_and_the_chart_follows_them(
    console: Console, crafted: Crafted
) -> None:
    mountain = _crew_id(console, MOUNTAIN)
    key = "repairs.arrival_on_time_rate"
    _, body = await _get(console, "chief", f"{Q}/dashboard?{OCTOBER}&crew={mountain}")
    assert (_figure(body, key)["value"], _figure(body, key)["denominator"]) == (0.0, 3)
    _, body = await _get(console, "chief", f"{Q}/dashboard?{OCTOBER}&area=QX01")
    assert _figure(body, key)["value"] is None  # no repair in 青溪社区
    status, series = await _get(console, "chief", f"{Q}/series?{OCTOBER}&key={key}")
    assert status == 200, series
    days = {p["date"]: p["value"] for p in series["points"]}
    assert (series["grain"], len(days)) == ("day", 31)
    assert (days["2026-10-05"], days["2026-10-15"], days["2026-10-06"]) == (1.0, 0.0, None)
    _, weekly = await _get(console, "chief", f"{Q}/series?{OCTOBER}&key={key}&grain=week")
    # weeks from Monday: 1-4 Oct nothing, R1 on time; R2 on time, R3 late; R4, R5 late; nothing
    assert [p["value"] for p in weekly["points"]] == [None, 1.0, 0.5, 0.0, None]


async def test_every_number_drills_down_to_the_items_behind_it(
    console: Console, crafted: Crafted
) -> None:
    key = "repairs.arrival_on_time_rate"
    status, body = await _get(console, "chief", f"{Q}/drill?{OCTOBER}&key={key}&limit=3")
    assert status == 200, body
    assert (body["total"], body["limit"], body["offset"]) == (5, 3, 0)
    late = [crafted.numbers[i] for i in reversed(LATE)]  # the misses first, newest first
    assert [r["ref"] for r in body["rows"]] == late
    assert [r["value"] for r in body["rows"]] == [100, 150, 120]  # their arrival minutes
    assert all(r["meets"] is False and r["detail"]["crew"] == MOUNTAIN for r in body["rows"])
    assert body["rows"][0]["link"] == f"/console/tickets/{late[0]}"
    _, rest = await _get(console, "chief", f"{Q}/drill?{OCTOBER}&key={key}&limit=3&offset=3")
    assert [r["ref"] for r in rest["rows"]] == [crafted.numbers[1], crafted.numbers[0]]
    assert [r["meets"] for r in rest["rows"]] == [True, True]
    # a conversation is named by its masked id and opened by its handle, never its id
    status, chats = await _get(console, "boss", f"{Q}/drill?{OCTOBER}&key=conversations.count")
    assert status == 200, chats
    chat = crafted.chat.removeprefix("web:")
    assert chats["total"] == 1
    assert chats["rows"][0]["link"] == f"/console#conversation-{crafted.chat_handle}"
    assert chats["rows"][0]["ref"] == f"web:{chat[:4]}…{chat[-4:]}"
    assert chat not in str(chats)
    assert chat.replace("-", "") not in str(chats)


async def test_the_supervisor_sees_the_chat_desk_and_an_agent_only_their_own_card(
    console: Console, crafted: Crafted
) -> None:
    mountain = _crew_id(console, MOUNTAIN)
    boss = await console.browser("boss")
    status, body = await boss.json("GET", f"{Q}/dashboard?{OCTOBER}")
    assert status == 200, body
    assert body["scope"] == "chat_desk"
    assert {f["section"] for f in body["figures"]} == {"conversations"}
    assert _figure(body, "conversations.count")["value"] == 1
    await _refused(
        boss,
        f"{Q}/dashboard?{OCTOBER}&crew={mountain}",
        f"{Q}/drill?{OCTOBER}&key=repairs.arrival_on_time_rate",
        f"{Q}/series?{OCTOBER}&key=repairs.arrival_minutes",
        f"{Q}/scorecards?{OCTOBER}&kind=crew",
    )
    _, cards = await boss.json("GET", f"{Q}/scorecards?{OCTOBER}&kind=agent")
    assert {c["subject"] for c in cards["cards"]} >= {"agent1"}
    agent1 = await console.browser("agent1")
    assert (await agent1.get(f"{Q}/dashboard?{OCTOBER}")).status == 403
    assert (await agent1.get("/console/quality")).status == 403
    status, own = await agent1.json("GET", f"{Q}/scorecards?{OCTOBER}")
    assert status == 200, own
    assert [c["subject"] for c in own["cards"]] == ["agent1"]
    chats = next(f for f in own["cards"][0]["figures"] if f["key"] == "agent.chats")
    # the station's column of a count: the average per agent (agent1 1 chat, agent2 none)
    assert (chats["value"], chats["station"], chats["vs_station"]) == (1, 0.5, "better")
    assert chats["drill"] is None  # an agent opens no drill-down
    agent2 = await console.browser("agent2")
    _, other = await agent2.json("GET", f"{Q}/scorecards?{OCTOBER}")
    assert [c["subject"] for c in other["cards"]] == ["agent2"]
    chats = next(f for f in other["cards"][0]["figures"] if f["key"] == "agent.chats")
    assert (chats["value"], chats["station"], chats["vs_station"]) == (0, 0.5, "worse")
    assert (await agent2.get(f"{Q}/scorecards?{OCTOBER}&kind=crew")).status == 403


async def test_a_supervisor_sees_their_team_and_the_two_teams_make_the_station(
    console: Console, crafted: Crafted
) -> None:
    ids = _teams(console)
    key = "repairs.arrival_on_time_rate"
    seen = {}
    for who in ("east_lead", "mountain_lead", "chief"):
        status, seen[who] = await _get(console, who, f"{Q}/dashboard?{OCTOBER}")
        assert status == 200, seen[who]
    east, mountain, station = seen["east_lead"], seen["mountain_lead"], seen["chief"]
    assert (east["scope"], east["team"]["name"]) == ("team", EAST_TEAM)
    assert (station["scope"], station["team"]) == ("station", None)
    keys = {f["key"] for f in east["figures"]}
    theirs = {k for k in quality.team_figure_keys() if k.startswith(("repairs.", "conversations."))}
    assert keys == {f["key"] for f in mountain["figures"]} == theirs  # no clerk in either
    assert (_figure(east, key)["numerator"], _figure(east, key)["denominator"]) == (2, 2)
    assert (_figure(mountain, key)["numerator"], _figure(mountain, key)["denominator"]) == (0, 3)
    assert (_figure(station, key)["numerator"], _figure(station, key)["denominator"]) == (2, 5)
    first = "conversations.first_response_p50"  # agent1's October chat: answered after 1 min
    assert (_figure(east, first)["value"], _figure(mountain, first)["value"]) == (1, None)
    assert _figure(station, first)["value"] == 1
    by_crew = [b for b in mountain["breakdowns"] if b["dimension"] == "crew"]
    assert {r["label"] for b in by_crew for r in b["rows"]} == {MOUNTAIN}
    # the manager narrows to a team: its figures, the rest stays the station's
    status, narrowed = await _get(
        console, "chief", f"{Q}/dashboard?{OCTOBER}&team={ids[MOUNTAIN_TEAM]}"
    )
    assert status == 200, narrowed
    assert _figure(narrowed, key)["denominator"] == 3
    assert _figure(narrowed, "complaints.count")["value"] == 0  # nobody was given it: no team's
    per_10k = "complaints.per_10k"  # the station's customers', whichever team
    assert _figure(narrowed, per_10k)["value"] == _figure(station, per_10k)["value"]
    # the page learns the team; the filters offer the team's own people and crews
    _, meta = await _get(console, "east_lead", f"{Q}/meta")
    assert (meta["me"]["scope"], meta["team"]["name"]) == ("team", EAST_TEAM)
    assert [c["name"] for c in meta["team"]["crews"]] == ["东片抢修组"]
    assert {m["username"] for m in meta["team"]["members"]} == {"east_lead", "agent1"}
    assert [o["label"] for o in meta["filters"]["crew"]] == ["东片抢修组"]
    assert {o["value"] for o in meta["filters"]["agent"]} == {"agent1", "east_lead"}
    assert "team" not in meta["filters"]
    assert meta["sections"] == ["repairs", "conversations"]
    assert set(meta["scorecards"]) == {"agent", "crew"}
    _, meta = await _get(console, "chief", f"{Q}/meta")
    assert meta["team"] is None
    assert [o["label"] for o in meta["filters"]["team"]] == sorted([EAST_TEAM, MOUNTAIN_TEAM])
    listed = {t["name"]: t for t in meta["teams"]}
    assert [c["name"] for c in listed[MOUNTAIN_TEAM]["crews"]] == [MOUNTAIN]


async def test_a_team_with_a_clerk_sees_the_complaints_its_clerk_handles(
    console: Console, crafted: Crafted
) -> None:
    ids = _teams(console)
    with unit_of_work(console.factory) as session:  # 山区班's clerk is given the complaint
        team = session.get(teams.Team, ids[MOUNTAIN_TEAM])
        assert team is not None
        _into(session, team, None, "clerk")
        case = case_feedback.get_case(session, crafted.complaint)
        assert case is not None
        case_feedback.assign(session, case, handler="clerk", actor="chief", now=datetime.now(UTC))
    status, mine = await _get(console, "mountain_lead", f"{Q}/dashboard?{OCTOBER}")
    assert status == 200, mine
    assert {f["section"] for f in mine["figures"]} == {
        "repairs", "applications", "complaints", "conversations",
    }  # fmt: skip
    assert set(quality.team_figure_keys()) == {f["key"] for f in mine["figures"]}
    assert _figure(mine, "complaints.count")["value"] == 1
    contact = _figure(mine, "complaints.contact_rate")  # 8 October's: nobody called it
    assert (contact["numerator"], contact["denominator"]) == (0, 1)
    path = f"{Q}/drill?{OCTOBER}&key=complaints.contact_rate"
    status, rows = await _get(console, "mountain_lead", path)
    assert status == 200, rows
    assert rows["total"] == 1
    assert rows["rows"][0]["detail"]["handler"] == "clerk的名字"
    _, meta = await _get(console, "mountain_lead", f"{Q}/meta")
    assert meta["sections"] == ["repairs", "applications", "complaints", "conversations"]
    east = await console.browser("east_lead")  # 东片班 has no clerk: no complaints to see
    await _refused(east, path, f"{Q}/series?{OCTOBER}&key=complaints.count", naming=EAST_TEAM)
    for team, count in ((EAST_TEAM, 0), (MOUNTAIN_TEAM, 1)):  # the manager's team selector
        _, narrowed = await _get(console, "chief", f"{Q}/dashboard?{OCTOBER}&team={ids[team]}")
        assert _figure(narrowed, "complaints.count")["value"] == count, team


async def test_a_supervisor_does_not_reach_into_another_team(
    console: Console, crafted: Crafted
) -> None:
    ids = _teams(console)
    east_crew = _crew_id(console, "东片抢修组")
    lead = await console.browser("mountain_lead")
    await _refused(
        lead,
        f"{Q}/dashboard?{OCTOBER}&crew={east_crew}",
        f"{Q}/dashboard?{OCTOBER}&agent=agent1",
        f"{Q}/dashboard?{OCTOBER}&team={ids[EAST_TEAM]}",
        f"{Q}/drill?{OCTOBER}&key=repairs.arrival_on_time_rate&crew={east_crew}",
        f"{Q}/drill?{OCTOBER}&key=repairs.outages",
        f"{Q}/drill?{OCTOBER}&key=complaints.contact_rate",
        f"{Q}/series?{OCTOBER}&key=conversations.count",
        f"{Q}/series?{OCTOBER}&key=applications.received",
        naming=MOUNTAIN_TEAM,
    )
    key = "repairs.arrival_on_time_rate"
    status, rows = await lead.json("GET", f"{Q}/drill?{OCTOBER}&key={key}")
    assert status == 200, rows
    assert rows["total"] == 3  # the manager's drill-down has 5
    assert {r["detail"]["crew"] for r in rows["rows"]} == {MOUNTAIN}
    status, own = await lead.json("GET", f"{Q}/dashboard?{OCTOBER}&team={ids[MOUNTAIN_TEAM]}")
    assert status == 200, own
    _, cards = await lead.json("GET", f"{Q}/scorecards?{OCTOBER}&kind=crew")
    assert [c["name"] for c in cards["cards"]] == [MOUNTAIN]
    on_time = next(
        f for f in cards["cards"][0]["figures"] if f["key"] == "crew.arrival_on_time_rate"
    )
    assert (on_time["station"], on_time["drill"]) == (0.4, key)  # beside the whole station
    _, cards = await lead.json("GET", f"{Q}/scorecards?{OCTOBER}&kind=agent")
    assert [c["subject"] for c in cards["cards"]] == ["agent2"]
    response = await lead.get(f"{Q}/scorecards.csv?{OCTOBER}&kind=crew")
    assert response.status == 200
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert [r["名称"] for r in rows] == [MOUNTAIN]
    status, plan = await lead.json("GET", f"{Q}/plan")
    assert (status, plan["editable"]) == (200, False)
    # a move shows at once: agent1 joins 山区班, their chat is now the team's
    with unit_of_work(console.factory) as session:
        team = teams.by_name(session, MOUNTAIN_TEAM)
        assert team is not None
        _into(session, team, None, "agent1")
    _, body = await lead.json("GET", f"{Q}/dashboard?{OCTOBER}")
    assert _figure(body, "conversations.first_response_p50")["value"] == 1


async def test_the_crews_scorecards_export_as_csv_for_the_review(
    console: Console, crafted: Crafted
) -> None:
    chief = await console.browser("chief")
    status, body = await chief.json("GET", f"{Q}/scorecards?{OCTOBER}&kind=crew")
    assert status == 200, body
    card = next(c for c in body["cards"] if c["name"] == MOUNTAIN)
    on_time = next(f for f in card["figures"] if f["key"] == "crew.arrival_on_time_rate")
    assert (on_time["value"], on_time["station"], on_time["vs_station"]) == (0.0, 0.4, "worse")
    assert on_time["drill"] == "repairs.arrival_on_time_rate"
    response = await chief.get(f"{Q}/scorecards.csv?{OCTOBER}&kind=crew")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    mountain = next(r for r in rows if r["名称"] == MOUNTAIN)
    assert (mountain["期间"], mountain["类别"]) == ("2026-10", "抢修班组")
    assert mountain["到达及时率（%）"] == "0"
    assert mountain["到达及时率（%）·全所平均"] == "40"
    assert mountain["抢修工单"] == "3"


async def test_the_manager_keeps_the_improvement_plan(console: Console, crafted: Crafted) -> None:
    chief, boss = await console.browser("chief"), await console.browser("boss")
    new = {
        "title": "山区抢修组夜间备勤", "figure": "repairs.arrival_on_time_rate", "owner": "chief",
        "due": "2027-01-31", "baseline": 0.4, "target": 0.95,
    }  # fmt: skip
    response = await chief.post(f"{Q}/plan", new)
    assert response.status == 201, await response.text()
    made = await response.json()
    assert (made["status"], made["owner_name"], made["figure_label"]) == (
        "planned", "chief的名字", "到达及时率",
    )  # fmt: skip
    change = {"status": "in_progress", "notes": "已排班", "baseline": None}
    status, edited = await chief.json("POST", f"{Q}/plan/{made['id']}", change)
    assert status == 200, edited
    assert (edited["status"], edited["notes"], edited["baseline"], edited["target"]) == (
        "in_progress", "已排班", None, 0.95,
    )  # fmt: skip
    chat = {**new, "title": "高峰时段增加坐席", "figure": "conversations.queue_wait_p90"}
    assert (await chief.post(f"{Q}/plan", chat)).status == 201
    _, listed = await chief.json("GET", f"{Q}/plan")
    assert [m["title"] for m in listed["measures"]] == ["山区抢修组夜间备勤", "高峰时段增加坐席"]
    assert listed["editable"] is True
    _, seen = await boss.json("GET", f"{Q}/plan")  # the chat desk's measures, read only
    assert [m["title"] for m in seen["measures"]] == ["高峰时段增加坐席"]
    assert seen["editable"] is False
    assert (await boss.post(f"{Q}/plan/{made['id']}", {"status": "done"})).status == 403
    agent = await console.browser("agent1")
    assert (await agent.get(f"{Q}/plan")).status == 403
    wrong = (
        ({**new, "figure": "repairs.nope"}, "figure"),
        ({**new, "owner": "nobody"}, "nobody"),
        ({**new, "due": "2027-02-30"}, "due"),
        ({**new, "target": 10**12}, "target"),
        ({**new, "baseline": "高"}, "baseline"),
        ({k: v for k, v in new.items() if k != "title"}, "title"),
    )
    for body, named in wrong:
        status, error = await chief.json("POST", f"{Q}/plan", body)
        assert (status, named in error["error"]["message"]) == (422, True), (body, error)
    assert (await chief.post(f"{Q}/plan/999", {"status": "done"})).status == 404
    assert (await chief.post(f"{Q}/plan/x1", {"status": "done"})).status == 404


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("dashboard?period=2026-13", "period"),
        ("dashboard?period=1999-01", "period"),
        ("dashboard?period=2020-01-01..2026-01-01", "period"),
        ("dashboard?colour=red", "colour"),
        ("dashboard?crew=99999999999", "crew"),
        ("dashboard?area=QX99", "area"),
        ("dashboard?agent=nobody", "agent"),
        ("dashboard?channel=fax", "channel"),
        ("dashboard?team=99999", "team"),
        ("series?key=repairs.arrival_minutes&grain=hour", "grain"),
        ("series?key=repairs.nope", "key"),
        ("drill?key=repairs.arrival_minutes&limit=100000", "limit"),
        ("drill?key=repairs.arrival_minutes&offset=99999999999999999", "offset"),
        ("scorecards?kind=clerk", "kind"),
    ],
)
async def test_bad_input_is_a_400_that_names_it(
    console: Console, crafted: Crafted, query: str, named: str
) -> None:
    status, body = await _get(console, "chief", f"{Q}/{query}")
    assert status == 400, body
    assert body["error"]["message"].startswith(named)
