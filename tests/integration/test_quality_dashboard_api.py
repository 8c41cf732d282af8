"""The service-quality dashboard's JSON API on the real gateway (SQLite and PostgreSQL), on the
crafted October of tests/integration/quality_dashboard_data.py, whose figures are worked out by
hand there: the headline figures against their targets with the trend, the filters, the chart
over time, the drill-down with its links, the bottleneck sentence, the scorecards and their CSV,
the improvement plan, who sees what, and bad input refused with a 400 that says why."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from store.config import Settings
from store.db import unit_of_work
from store.services import crews
from tests.fakes.console import Console
from tests.integration.quality_dashboard_data import LATE, MOUNTAIN, Crafted, craft

pytestmark = pytest.mark.slow

Q = "/api/v1/quality"
OCTOBER = "period=2026-10"


@pytest.fixture
def console_staff() -> dict[str, tuple[str, int]]:
    return {"chief": ("manager", 5), "dispatch": ("dispatcher", 0)}


@pytest.fixture
def crafted(console: Console, settings: Settings) -> Crafted:
    with unit_of_work(console.factory) as session:
        return craft(session, settings)


def _crew_id(console: Console, name: str) -> int:
    with unit_of_work(console.factory) as session:
        crew = crews.by_name(session, name)
        assert crew is not None
        return crew.id


def _figure(body: dict[str, Any], key: str) -> dict[str, Any]:
    return next(f for f in body["figures"] if f["key"] == key)


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
    refused = (
        f"{Q}/dashboard?{OCTOBER}&crew={mountain}",
        f"{Q}/drill?{OCTOBER}&key=repairs.arrival_on_time_rate",
        f"{Q}/series?{OCTOBER}&key=repairs.arrival_minutes",
        f"{Q}/scorecards?{OCTOBER}&kind=crew",
    )
    for path in refused:
        status, error = await boss.json("GET", path)
        assert (status, error["error"]["code"]) == (403, "forbidden"), path
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
