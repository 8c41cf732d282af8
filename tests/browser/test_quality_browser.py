"""The service-quality dashboard and scorecards in a real headless Chromium (Debian's, driven by
Playwright) against the real gateway on the crafted October of
tests/integration/quality_dashboard_data.py (SQLite). Every request the page makes outside the
gateway, and every console error (CSP, Trusted Types: ECharts runs under both), fails the test.

The stories: the manager reads October's figures, sees the chart drawn, narrows them to a crew,
follows the bottleneck to the drill-down and a late repair to its ticket page, a complaint to the
feedback page; adds a measure to
the improvement plan and moves it on; a supervisor sees their team's part (山区抢修组's repairs,
the complaint its clerk handles);
an agent opens their own scorecard, beside the station's.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.services import case_feedback, crews, quality_plan, staff, teams
from tests.browser.back_office import Stack, back_office
from tests.integration.quality_dashboard_data import LATE, MOUNTAIN, Crafted, craft

pytestmark = pytest.mark.slow

ON_TIME = '.figure[data-key="repairs.arrival_on_time_rate"]'


@pytest.fixture
def stack(
    db_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    people = {
        "chief": ("manager", 5), "agent1": ("agent", 3), "agent2": ("agent", 3),
        "lead": ("supervisor", 0), "clerk": ("clerk", 0),
    }  # fmt: skip
    with back_office(db_url, session_factory, monkeypatch, people) as stack:
        yield stack


@pytest.fixture
def crafted(stack: Stack, session_factory: sessionmaker[Session], settings: Settings) -> Crafted:
    with unit_of_work(session_factory) as session:
        return craft(session, settings)


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    with stack.page(browser, viewport=(1280, 1400)) as p:
        yield p


def _dashboard(page: Page, stack: Stack) -> None:
    stack.log_in(page, "chief", "/console")
    with page.expect_response(lambda r: "/api/v1/quality/series?" in r.url):
        page.goto(stack.gateway.url + "/console/quality?period=2026-10")


def test_the_manager_reads_october_filters_it_and_drills_down_to_a_late_repair(
    page: Page, stack: Stack, crafted: Crafted
) -> None:
    _dashboard(page, stack)
    card = page.locator(ON_TIME)
    expect(card.locator(".value")).to_have_text("40%")
    expect(card).to_contain_text("目标 ≥ 95%")
    expect(card).to_contain_text("未达标")
    expect(card.locator(".trend")).to_have_text("较上期 ↓ 60 个百分点")
    expect(card.locator(".trend")).to_have_class(re.compile("worse"))
    expect(page.locator("#compared")).to_have_text("趋势对比：2026年9月")
    # the chart of the figure chosen is drawn (a canvas) and its numbers are the series'
    with page.expect_response(lambda r: "key=repairs.arrival_on_time_rate" in r.url):
        page.locator("#chart-figure").select_option("repairs.arrival_on_time_rate")
    expect(page.locator("#chart canvas").first).to_be_visible()
    points = page.locator("#chart-data tbody tr")
    expect(points).to_have_count(31)
    expect(points.filter(has_text="2026-10-05")).to_contain_text("100%")
    expect(points.filter(has_text="2026-10-15")).to_contain_text("0%")
    chart = "echarts.getInstanceByDom(document.getElementById('chart'))"
    drawn = page.evaluate(f"() => {chart}.getOption().series[0].data")
    page.locator("#chart").hover(position={"x": 200, "y": 150})  # the tooltip: no HTML
    # the chart page's Trusted Types policy lets ECharts empty a node, and nothing else
    sink = "(html) => { try { document.createElement('div').innerHTML = html; return 'ok'; }"
    sink += " catch (e) { return 'refused'; } }"
    assert page.evaluate(sink, "") == "ok"
    assert page.evaluate(sink, "<img src=x>") == "refused"
    assert any("TrustedHTML" in e for e in stack.errors)  # the refusal was reported
    stack.errors[:] = [e for e in stack.errors if "TrustedHTML" not in e]
    assert drawn[4] == 100
    assert drawn[14] == 0
    assert drawn[5] is None
    page.locator("#breakdown-dimension").select_option("crew")
    expect(page.locator("#breakdown-chart canvas").first).to_be_visible()
    expect(page.locator("#breakdown-data tbody tr").filter(has_text=MOUNTAIN)).to_contain_text("0%")

    # a filter: the crew that was late
    with page.expect_response(lambda r: "/api/v1/quality/dashboard?" in r.url):
        page.locator("#filter-crew").select_option(label=MOUNTAIN)
    expect(card.locator(".value")).to_have_text("0%")
    expect(card).to_contain_text("0 / 3")
    assert "crew=" in page.url
    with page.expect_response(lambda r: "/api/v1/quality/dashboard?" in r.url):
        page.locator("#filter-crew").select_option(label="全部")
    expect(card.locator(".value")).to_have_text("40%")

    # the bottleneck sentence opens the drill-down: the late repairs first
    sentence = page.get_by_role("button", name=re.compile(f"到达超时集中在.*{MOUNTAIN}"))
    expect(sentence).to_contain_text("3次中的3次，100%")
    sentence.click()
    expect(page.locator("#drill-title")).to_have_text("明细：到达及时率")
    expect(page.locator("#drill-summary")).to_have_text("共 5 条，第 1–5 条")
    rows = page.locator("#drill-table tbody tr")
    expect(rows).to_have_count(5)
    latest_late = crafted.numbers[LATE[-1]]
    first = rows.first
    expect(first).to_contain_text(latest_late)
    expect(first).to_contain_text("否")
    expect(first).to_contain_text(MOUNTAIN)
    first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(f"/console/tickets/{latest_late}$"))
    expect(page.locator("body")).to_contain_text(latest_late)


def test_a_complaint_behind_a_figure_opens_on_the_feedback_page(
    page: Page, stack: Stack, crafted: Crafted
) -> None:
    _dashboard(page, stack)
    page.locator('.figure[data-key="complaints.contact_rate"] .value').click()
    row = page.locator("#drill-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("否")  # not contacted within 24 hours
    row.get_by_role("link", name=re.compile(crafted.complaint)).click()
    expect(page).to_have_url(re.compile(f"/console/feedback#{crafted.complaint}$"))
    expect(page.locator("#case-title")).to_contain_text(crafted.complaint)


def test_the_manager_adds_a_measure_to_the_plan_and_moves_it_on(
    page: Page, stack: Stack, crafted: Crafted, session_factory: sessionmaker[Session]
) -> None:
    _dashboard(page, stack)
    page.get_by_role("button", name="新增改进措施").click()
    page.get_by_label("措施").fill("山区抢修组夜间备勤")
    page.get_by_label("对应指标").select_option("repairs.arrival_on_time_rate")
    expect(page.get_by_label("基线值")).to_have_value("40")  # the figure now, in percent
    expect(page.get_by_label("目标值")).to_have_value("95")
    page.get_by_label("负责人").select_option("chief")
    page.get_by_label("完成期限").fill("2027-01-31")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#plan-ok")).to_have_text("已新增措施：山区抢修组夜间备勤")
    row = page.locator("tr[data-measure]").filter(has_text="山区抢修组夜间备勤")
    expect(row).to_contain_text("计划中")
    expect(row).to_contain_text("2027-01-31")
    expect(row).to_contain_text("chief的名字")

    row.get_by_role("button", name="编辑").click()
    page.get_by_label("状态").select_option(label="进行中")
    page.get_by_label("进展说明").fill("已排夜班，每晚两人")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#plan-ok")).to_have_text("已保存修改：山区抢修组夜间备勤")
    expect(row).to_contain_text("进行中")
    expect(row).to_contain_text("已排夜班，每晚两人")
    with unit_of_work(session_factory) as session:
        (measure,) = quality_plan.list_measures(session)
        assert (measure.status, measure.baseline, measure.target) == ("in_progress", 0.4, 0.95)
        assert measure.notes == "已排夜班，每晚两人"


def test_a_team_supervisor_sees_their_team_s_part(
    page: Page, stack: Stack, crafted: Crafted, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:  # 山区班: lead, agent2, clerk, 山区抢修组
        team = teams.create_team(session, name="山区班", now=datetime.now(UTC))
        crew = crews.by_name(session, MOUNTAIN)
        assert crew is not None
        teams.set_crew_team(session, crew, team)
        for username in ("lead", "agent2", "clerk"):
            user = staff.get_by_username(session, username)
            assert user is not None
            teams.set_staff_team(session, user, team)
        case = case_feedback.get_case(session, crafted.complaint)  # the clerk handles it
        assert case is not None
        case_feedback.assign(session, case, handler="clerk", actor="chief", now=datetime.now(UTC))
    stack.log_in(page, "lead", "/console")
    with page.expect_response(lambda r: "/api/v1/quality/dashboard?" in r.url):
        page.goto(stack.gateway.url + "/console/quality?period=2026-10")
    expect(page.locator("#team-note")).to_be_visible()
    expect(page.locator("#team-name")).to_have_text("山区班")
    expect(page.locator("#scope-note")).to_be_hidden()
    card = page.locator(ON_TIME)
    expect(card.locator(".value")).to_have_text("0%")  # the manager's 40%: 2 of 5
    expect(card).to_contain_text("0 / 3")
    sections = page.locator("#figures .section")
    expect(sections).to_have_count(4)
    assert sections.evaluate_all("(nodes) => nodes.map((n) => n.dataset.section)") == [
        "repairs", "applications", "complaints", "conversations",
    ]  # fmt: skip
    expect(page.locator('.figure[data-key="repairs.outages"]')).to_have_count(0)
    expect(page.locator('.figure[data-key="complaints.per_10k"]')).to_have_count(0)
    complaints = page.locator('.figure[data-key="complaints.count"]')
    expect(complaints.locator(".value")).to_have_text("1")  # the one its clerk handles
    complaints.locator(".value").click()
    expect(page.locator("#drill-summary")).to_have_text("共 1 条，第 1–1 条")
    expect(page.locator("#drill")).to_contain_text("经办人")
    expect(page.locator("#drill")).to_contain_text("clerk的名字")
    expect(page.locator('[data-filter="team"]')).to_be_hidden()
    crew_options = page.locator("#filter-crew option")
    expect(crew_options).to_have_text(["全部", MOUNTAIN])
    card.locator(".value").click()
    expect(page.locator("#drill-summary")).to_have_text("共 3 条，第 1–3 条")


def test_an_agent_sees_only_their_own_scorecard_beside_the_station(
    page: Page, stack: Stack, crafted: Crafted
) -> None:
    stack.log_in(page, "agent1", "/console")
    with page.expect_response(lambda r: "/api/v1/quality/scorecards?" in r.url):
        page.goto(stack.gateway.url + "/console/quality/scorecards?period=2026-10")
    expect(page.locator("#own-note")).to_be_visible()
    expect(page.locator("#kind-wrap")).to_be_hidden()  # no crews' cards for an agent
    rows = page.locator("#cards tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("th")).to_have_text("agent1的名字")
    chats = rows.first.locator('td[data-key="agent.chats"]')
    expect(chats.locator(".mine")).to_have_text("1")
    expect(chats.locator(".station")).to_have_text("全所 0.5")
    expect(chats).to_contain_text("优于全所")
    expect(page.locator("#cards a")).to_have_count(0)  # no drill-down for an agent
    export = page.get_by_role("link", name="导出 CSV（绩效考核用）")
    href = export.get_attribute("href") or ""
    assert href.endswith("/api/v1/quality/scorecards.csv?period=2026-10&kind=agent")
    response = page.request.get(stack.gateway.url + href)
    assert response.ok
    rows_csv = list(csv.DictReader(io.StringIO(response.body().decode("utf-8-sig"))))
    assert [(r["编号"], r["接待会话"], r["接待会话·全所平均"]) for r in rows_csv] == [
        ("agent1", "1", "0.5")
    ]
    assert page.request.get(stack.gateway.url + "/api/v1/quality/dashboard").status == 403
