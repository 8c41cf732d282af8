"""Pure parts of the service-quality dashboard (bot/console/quality_*.py): reading its query
strings (every bad value a 400 naming the parameter), what the trend compares with, the
figures' JSON and trend, the drill-down's links and masked conversations, who sees what, the
scorecards' CSV, its configuration, and the vendored ECharts file."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.console import quality_input as qi
from bot.console import quality_views as views
from bot.console.pages import CHART_PAGES, VENDORED, content_security_policy
from bot.console.quality_export import scorecards_csv
from bot.console.quality_scope import scope_of
from bot.console.quality_scorecards_api import own_card
from bot.console.state import ApiError
from store.config import PROJECT_ROOT
from store.configuration.quality_dashboard import read_dashboard
from store.configuration.yamlfile import ConfigError
from store.quality import Better, DrillRow, Figure, Filters, Grain, Period, Scorecard
from store.services.console_sessions import StaffIdentity
from store.services.teams import Member, Roster

CONFIG = read_dashboard(PROJECT_ROOT / "conf")
TODAY = date(2026, 11, 23)


def _query(text: str, allowed: set[str]) -> dict[str, str]:
    return qi.query_of(make_mocked_request("GET", "/x?" + text), allowed)


def _refused(call: Any, *args: Any) -> str:
    with pytest.raises(ApiError) as caught:
        call(*args)
    assert caught.value.status == 400
    return caught.value.message


# --- the query string ---------------------------------------------------------------------


def test_unknown_repeated_and_overlong_parameters_are_refused() -> None:
    assert "unknown parameter" in _refused(_query, "colour=red", {"period"})
    assert "more than once" in _refused(_query, "period=2026-11&period=2026-10", {"period"})
    assert "longer than" in _refused(_query, "period=" + "9" * 65, {"period"})
    assert _query("period=+2026-11+&area=", {"period", "area"}) == {"period": "2026-11"}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2026-13", "month 13"),
        ("junk", "write a month"),
        ("99999-01", "write a month"),
        ("1999-12", "before 2000"),
        ("2026-12", "future"),
        ("2027", "future"),
        ("2026-11-30..2026-11-01", "ends"),
        ("2020-01-01..2026-01-01", "longer than 1100 days"),
        ("2026-02-30", "day is out of range"),
    ],
)
def test_bad_periods_are_400s_that_say_why(text: str, why: str) -> None:
    assert why in _refused(qi.period_of, {"period": text}, CONFIG, TODAY)


def test_periods_default_to_the_running_month() -> None:
    assert qi.period_of({}, CONFIG, TODAY) == Period.month(2026, 11)
    assert qi.period_of({"period": "2026-Q3"}, CONFIG, TODAY).label == "2026-Q3"
    span = qi.period_of({"period": "2026-11-01..2026-11-07"}, CONFIG, TODAY)
    assert (span.start, span.end) == (date(2026, 11, 1), date(2026, 11, 8))


def test_a_running_period_is_compared_with_as_many_days_of_the_one_before() -> None:
    november = Period.month(2026, 11)
    assert qi.comparison(november, TODAY) == Period.days(date(2026, 10, 1), date(2026, 10, 23))
    assert qi.comparison(november, date(2026, 12, 2)) == Period.month(2026, 10)  # a whole month
    # 31 March running: February has only 28 days, so all of it
    march = Period.month(2026, 3)
    assert qi.comparison(march, date(2026, 3, 31)) == Period.days(
        date(2026, 2, 1), date(2026, 2, 28)
    )
    assert qi.comparison(Period.year(2025), TODAY) == Period.year(2024)


def test_grains_and_their_number_of_points() -> None:
    november, year = Period.month(2026, 11), Period.year(2025)
    assert qi.grain_of({}, november, CONFIG) is Grain.DAY
    assert qi.grain_of({}, Period.quarter(2026, 3), CONFIG) is Grain.WEEK
    assert qi.grain_of({}, year, CONFIG) is Grain.MONTH
    assert qi.steps(november, Grain.DAY) == 30
    assert qi.steps(november, Grain.WEEK) == 6  # 26 Oct, 2, 9, 16, 23, 30 Nov
    assert qi.steps(year, Grain.MONTH) == 12
    assert qi.steps(Period.days(date(2026, 1, 15), date(2026, 3, 1)), Grain.MONTH) == 3
    assert "one of day, week, month" in _refused(qi.grain_of, {"grain": "hour"}, year, CONFIG)
    long = Period.days(date(2024, 1, 1), date(2026, 11, 1))
    assert "more than 400 points" in _refused(qi.grain_of, {"grain": "day"}, long, CONFIG)
    assert qi.grain_of({"grain": "week"}, long, CONFIG) is Grain.WEEK


def test_filters_keys_pages_and_kinds() -> None:
    given = qi.filter_values({"area": "QX03", "crew": "2", "agent": "agent1", "channel": "web"})
    assert qi.to_filters(given) == qi.to_filters(given)
    assert qi.to_filters(given).crew_id == 2
    for name, value in (("crew", "0"), ("crew", "1" * 10), ("area", "东山"), ("channel", "Web")):
        assert name in _refused(qi.filter_values, {name: value})
    keys = ["repairs.arrival_on_time_rate"]
    assert qi.key_of({"key": keys[0]}, keys) == keys[0]
    assert "no figure" in _refused(qi.key_of, {"key": "repairs.nope"}, keys)
    assert "required" in _refused(qi.key_of, {}, keys)
    assert qi.page_of({}, CONFIG) == (50, 0)
    assert qi.page_of({"limit": "200", "offset": "100000"}, CONFIG) == (200, 100000)
    assert "limit" in _refused(qi.page_of, {"limit": "201"}, CONFIG)
    assert "offset" in _refused(qi.page_of, {"offset": "99999999999999999999"}, CONFIG)
    assert "limit" in _refused(qi.page_of, {"limit": "-1"}, CONFIG)
    assert qi.kind_of({}) == "agent"
    assert "agent or crew" in _refused(qi.kind_of, {"kind": "clerk"})


# --- who sees what --------------------------------------------------------------------------


def test_the_manager_sees_the_station_the_supervisor_the_chat_desk_an_agent_their_card() -> None:
    manager, supervisor, agent = scope_of("manager"), scope_of("supervisor"), scope_of("agent")
    assert (manager.name, supervisor.name, agent.name) == ("station", "chat_desk", "own")
    manager.check_key("repairs.arrival_on_time_rate")
    manager.check_filters({"crew": "1", "area": "QX03"})
    manager.check_kind("crew")
    supervisor.check_key("conversations.csat")
    supervisor.check_filters({"agent": "agent1", "channel": "web"})
    for check, value in (
        (supervisor.check_key, "repairs.arrival_on_time_rate"),
        (supervisor.check_filters, {"crew": "1"}),
        (supervisor.check_kind, "crew"),
        (agent.check_kind, "crew"),
        (agent.check_key, "conversations.csat"),
    ):
        with pytest.raises(ApiError) as caught:
            check(value)  # type: ignore[operator]
        assert caught.value.status == 403
    assert supervisor.sees_key("agent.csat")
    assert not supervisor.sees_key("crew.tickets")
    assert manager.sees_key("crew.tickets")
    with pytest.raises(ApiError) as caught:
        supervisor.check_filters({"team": "1"})  # a supervisor in no team: the chat desk
    assert caught.value.status == 403
    manager.check_filters({"team": "7"})
    assert manager.narrow(Filters(crew_id=3)) == Filters(crew_id=3)


REPAIRS_TEAM = Roster(
    7, "抢修班", (Member("lead", "班长", "supervisor"), Member("crewman", "老陈", "crew")),
    ((3, "东片抢修组"), (4, "山区抢修组")),
)  # fmt: skip
DESK_TEAM = Roster(8, "客服班", (Member("agent1", "一号", "agent"),), ())
CASE_TEAM = Roster(10, "营业班", (Member("lead", "班长", "supervisor"),
                                  Member("clerk1", "小周", "clerk")), ())  # fmt: skip


def test_a_team_supervisor_sees_their_team_s_part_and_nothing_of_another() -> None:
    repairs, desk = scope_of("supervisor", REPAIRS_TEAM), scope_of("supervisor", DESK_TEAM)
    assert (repairs.name, repairs.sections, repairs.scorecards) == (
        "team", {"repairs"}, {"crew"},
    )  # fmt: skip
    assert (desk.sections, desk.scorecards) == ({"conversations"}, {"agent"})
    assert scope_of("manager", REPAIRS_TEAM).name == "station"  # a manager's team changes nothing
    repairs.check_key("repairs.arrival_on_time_rate")
    repairs.check_filters({"crew": "4", "area": "QX03", "team": "7"})
    desk.check_key("conversations.csat")
    desk.check_filters({"agent": "agent1", "channel": "web"})
    assert repairs.narrow(Filters(crew_id=4)) == Filters(crew_id=4, team_id=7)
    for scope, check, value in (
        (repairs, repairs.check_key, "repairs.outages"),  # no crew's
        (repairs, repairs.check_key, "conversations.csat"),  # no agent in it
        (repairs, repairs.check_key, "complaints.count"),  # no clerk in it
        (desk, desk.check_key, "conversations.count"),  # the bot's
        (desk, desk.check_key, "conversations.abandonment_rate"),  # nobody's
        (repairs, repairs.check_filters, {"crew": "5"}),
        (repairs, repairs.check_filters, {"team": "8"}),
        (repairs, repairs.check_filters, {"agent": "agent1"}),
        (desk, desk.check_filters, {"agent": "agent2"}),
        (desk, desk.check_filters, {"crew": "3"}),
        (desk, desk.check_kind, "crew"),
    ):
        with pytest.raises(ApiError) as caught:
            check(value)  # type: ignore[operator]
        assert caught.value.status == 403
        assert scope.team is not None
        assert scope.team.name in caught.value.message
    assert repairs.sees_key("crew.tickets")
    assert not repairs.sees_key("agent.csat")
    assert desk.sees_key("agent.csat")
    empty = scope_of("supervisor", Roster(9, "新班", (), ()))
    assert (empty.name, empty.sections, empty.scorecards) == ("team", set(), set())


def test_a_team_with_a_clerk_sees_the_complaints_and_applications_it_handles() -> None:
    cases = scope_of("supervisor", CASE_TEAM)
    assert (cases.name, cases.sections, cases.scorecards) == (
        "team", {"applications", "complaints"}, set(),
    )  # fmt: skip
    cases.check_key("complaints.contact_rate")
    cases.check_key("applications.stage_on_time_rate")
    cases.check_filters({"area": "QX03", "team": "10"})
    assert cases.narrow(Filters(area="QX03")) == Filters(area="QX03", team_id=10)
    for check, value in (
        (cases.check_key, "complaints.per_10k"),  # the station's customers'
        (cases.check_key, "repairs.tickets"),  # no crew
        (cases.check_key, "conversations.csat"),  # no agent
        (cases.check_filters, {"agent": "clerk1"}),
        (cases.check_kind, "agent"),
    ):
        with pytest.raises(ApiError) as caught:
            check(value)  # type: ignore[operator]
        assert (caught.value.status, "营业班" in caught.value.message) == (403, True)


# --- the JSON -------------------------------------------------------------------------------


def _figure(value: float | None, target: float | None = 0.95, **kw: Any) -> Figure:
    base: dict[str, Any] = {
        "key": "repairs.arrival_on_time_rate",
        "section": "repairs",
        "unit": "rate",
        "better": Better.HIGHER,
    }
    return Figure(value=value, target=target, **{**base, **kw})


def test_a_figure_with_its_target_and_trend() -> None:
    found = views.figure_json(_figure(0.9, numerator=9, denominator=10), str, _figure(0.8))
    assert found["value"] == 0.9
    assert found["previous"] == 0.8
    assert found["change"] == pytest.approx(0.1)
    assert (found["trend"], found["meets"], found["label"]) == ("better", False, found["key"])
    lower = {"key": "repairs.arrival_minutes", "unit": "minutes", "better": Better.LOWER}
    slower = views.figure_json(_figure(80, 90, **lower), str, _figure(60, 90, **lower))
    assert (slower["trend"], slower["meets"]) == ("worse", True)
    assert views.figure_json(_figure(0.5), str, _figure(0.5))["trend"] == "same"
    empty = views.figure_json(_figure(None), str, _figure(0.5))
    assert (empty["value"], empty["trend"], empty["meets"], empty["change"]) == (
        None,
        None,
        None,
        None,
    )
    assert views.figure_json(_figure(float("nan")), str)["value"] is None


def test_drill_rows_link_to_pages_the_role_may_open_and_never_show_a_conversation_id() -> None:
    at = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    chat = "web:0f8e5d2c-1111-4222-8333-944455556666"
    conversation = DrillRow("conversation", chat, at, 3.5, False, {"channel": "web"})
    ticket = DrillRow("ticket", "T202611020001", at, 95.0, False, {"crew": "东片抢修组"})
    application = DrillRow("application", "A0001010001", at, None, None, {})
    refs = {chat: (42, "web:0f8e…6666")}
    as_manager = views.drill_row_json(conversation, refs, "manager")
    assert (as_manager["ref"], as_manager["handle"]) == ("web:0f8e…6666", 42)
    assert as_manager["link"] == "/console#conversation-42"
    assert chat not in str(as_manager)
    unknown = views.drill_row_json(conversation, {}, "manager")
    assert chat not in str(unknown)
    assert unknown["link"] is None
    leaked = DrillRow("ticket", "T1", at, None, None, {"conversation": chat})
    assert chat not in str(views.drill_row_json(leaked, refs, "manager"))
    assert views.drill_row_json(ticket, refs, "manager")["link"] == "/console/tickets/T202611020001"
    assert views.drill_row_json(ticket, refs, "supervisor")["link"] is None  # not a dispatcher
    assert views.drill_row_json(application, refs, "manager")["link"] == (
        "/console/applications#A0001010001"
    )
    assert views.drill_row_json(conversation, refs, "supervisor")["link"] is not None


def _card(subject: str, name: str, mine: float | None, station: float) -> Scorecard:
    chats = {"key": "agent.chats", "section": "agent", "unit": "count", "better": Better.HIGHER}
    csat = {"key": "agent.csat", "section": "agent", "unit": "rate", "better": Better.HIGHER}
    return Scorecard(
        "agent",
        subject,
        name,
        (Figure(value=12, target=None, **chats), Figure(value=mine, target=0.9, **csat)),
        (Figure(value=10.5, target=None, **chats), Figure(value=station, target=0.9, **csat)),
    )


def test_a_scorecard_compares_each_figure_with_the_station() -> None:
    card = views.scorecard_json(_card("agent1", "客服一号", 0.8125, 0.9), str)
    chats, csat = card["figures"]
    assert (chats["value"], chats["station"], chats["vs_station"]) == (12, 10.5, "better")
    assert (csat["value"], csat["station"], csat["vs_station"]) == (0.8125, 0.9, "worse")


def test_the_scorecards_csv_has_chinese_headers_rounded_figures_and_no_formulas() -> None:
    cards = [_card("agent1", "客服一号", 0.8125, 0.9), _card("=cmd", "=HYPERLINK()", None, 0.9)]
    data = scorecards_csv(Period.month(2026, 10), "agent", cards, {"agent.chats": "接待会话"}.get)
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["期间", "类别", "编号", "名称"]
    assert rows[0][4:6] == ["接待会话", "接待会话·全所平均"]
    assert rows[1] == ["2026-10", "坐席", "agent1", "客服一号", "12", "10.5", "81.3", "90"]
    assert rows[2][2:4] == ["'=cmd", "'=HYPERLINK()"]
    assert rows[2][6] == ""  # nothing measured


# --- configuration and the vendored library ---------------------------------------------------


def test_the_dashboard_configuration_is_checked(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "conf" / "quality_dashboard.yml").read_text(encoding="utf-8")
    (tmp_path / "quality_dashboard.yml").write_text(
        text.replace("page_size: 50", "page_size: 500"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="page_size"):
        read_dashboard(tmp_path)
    (tmp_path / "quality_dashboard.yml").write_text(
        text.replace("max_points: 400", "max_points: many"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="max_points"):
        read_dashboard(tmp_path)


def test_echarts_is_the_recorded_release_and_only_chart_pages_allow_its_policy() -> None:
    static = PROJECT_ROOT / "bot" / "static"
    readme = (static / "vendor" / "README.md").read_text(encoding="utf-8")
    recorded = re.search(r"SHA-256 of `echarts.min.js`: `([0-9a-f]{64})`", readme)
    assert recorded is not None
    assert hashlib.sha256((static / "echarts.min.js").read_bytes()).hexdigest() == recorded[1]
    assert "| 6.1.0 |" in readme
    assert "Apache-2.0" in readme
    for name in ("LICENSE", "NOTICE", "LICENSE-d3", "LICENSE-zrender"):
        assert (static / "vendor" / "echarts" / name).is_file()
    assert {"echarts.min.js"} == VENDORED
    assert {"console-quality.html"} == CHART_PAGES
    assert "trusted-types 'none'" in content_security_policy("h")
    charts = content_security_policy("h", charts=True)
    assert "trusted-types default" in charts
    assert "require-trusted-types-for 'script'" in charts
    assert "unsafe" not in charts


def test_a_scorecard_figure_drills_into_the_dashboard_figure_of_the_same_name() -> None:
    keys = ["conversations.csat", "repairs.tickets", "repairs.arrival_on_time_rate"]
    assert views.drill_key("agent.csat", keys) == "conversations.csat"
    assert views.drill_key("crew.tickets", keys) == "repairs.tickets"
    assert views.drill_key("agent.transfers", keys) is None  # no dashboard figure of its own


def test_an_agent_without_a_card_of_their_own_gets_an_empty_one_beside_the_station() -> None:
    me = StaffIdentity(
        session_id=1, user_id=7, username="agent9", display_name="新坐席", role="agent",
        csrf_token="x", expires_at=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip
    others = [_card("agent1", "客服一号", 0.8, 0.9)]
    (card,) = own_card(others, me)
    assert (card.subject, card.name) == ("agent9", "新坐席")
    assert [f.value for f in card.figures] == [None, None]
    assert card.station == others[0].station
    assert own_card([*others, _card("agent9", "新坐席", 0.5, 0.9)], me)[0].figures[1].value == 0.5
    assert own_card([], me) == []
