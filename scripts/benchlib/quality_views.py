"""The views `make bench`'s quality part times (scripts/benchlib/quality.py has the figures):
each request a manager's console makes, with the filters' values of the measured year. No I/O:
tests/unit/test_bench_quality.py."""

from __future__ import annotations

from dataclasses import dataclass

API = "/api/v1/quality"


@dataclass(frozen=True)
class Choices:
    """The filters' values the filtered views use: the year's busiest of each."""

    area: str
    crew: int
    agent: str
    channel: str


@dataclass(frozen=True)
class View:
    name: str
    path: str


def _dashboards(month: str, quarter: str, whole: str, c: Choices) -> list[View]:
    """The dashboard of the month, the quarter and the year, without and with each filter."""
    found = [
        ("dashboard, month", f"period={month}"),
        ("dashboard, quarter", f"period={quarter}"),
        ("dashboard, year", f"period={whole}"),
        ("dashboard, month, area", f"period={month}&area={c.area}"),
        ("dashboard, year, area", f"period={whole}&area={c.area}"),
        ("dashboard, year, crew", f"period={whole}&crew={c.crew}"),
        ("dashboard, year, agent", f"period={whole}&agent={c.agent}"),
        ("dashboard, year, channel", f"period={whole}&channel={c.channel}"),
        ("dashboard, quarter, area + crew", f"period={quarter}&area={c.area}&crew={c.crew}"),
    ]
    return [View(name, f"{API}/dashboard?{query}") for name, query in found]


def _charts(month: str, quarter: str, whole: str, c: Choices) -> list[View]:
    """A figure of each section over time, by day, week and month."""
    found = [
        ("chart by day, month", "repairs.arrival_on_time_rate", month, "day", ""),
        ("chart by day, year", "conversations.queue_wait_p50", whole, "day", ""),
        ("chart by week, year", "conversations.csat", whole, "week", ""),
        ("chart by week, quarter", "complaints.contact_rate", quarter, "week", ""),
        ("chart by month, year", "applications.on_time_rate", whole, "month", ""),
        ("chart by month, year, crew", "repairs.restoration_on_time_rate", whole, "month",
         f"&crew={c.crew}"),
    ]  # fmt: skip
    return [
        View(name, f"{API}/series?key={key}&period={period}&grain={grain}{more}")
        for name, key, period, grain, more in found
    ]


def _drills(whole: str, c: Choices) -> list[View]:
    """The items behind a figure of each section over the year, pages of 20 as the page asks
    for them: a first page, and a deep one."""
    found = [
        ("drill-down, repairs, year", "repairs.arrival_on_time_rate", ""),
        ("drill-down, repairs, year, page 101", "repairs.arrival_on_time_rate", "&offset=2000"),
        ("drill-down, outages, year", "repairs.outages", ""),
        ("drill-down, applications, year", "applications.stage_on_time_rate", ""),
        ("drill-down, complaints, year", "complaints.reply_rate", ""),
        ("drill-down, conversations, year", "conversations.handoff_rate", ""),
        ("drill-down, conversations, year, agent", "conversations.csat", f"&agent={c.agent}"),
    ]
    return [View(name, f"{API}/drill?key={key}&period={whole}&limit=20{more}")
            for name, key, more in found]  # fmt: skip


def _reports(report_id: int) -> list[View]:
    return [
        View("the stored reports", f"{API}/reports"),
        View("a stored report", f"{API}/reports/{report_id}"),
        View("a stored report's PDF", f"{API}/reports/{report_id}/pdf"),
    ]


def _scorecards(month: str, whole: str) -> list[View]:
    return [
        View("scorecards, agents, month", f"{API}/scorecards?period={month}&kind=agent"),
        View("scorecards, crews, month", f"{API}/scorecards?period={month}&kind=crew"),
        View("scorecards, agents, year", f"{API}/scorecards?period={whole}&kind=agent"),
        View("scorecards, crews, year", f"{API}/scorecards?period={whole}&kind=crew"),
        View("scorecards CSV, agents, month", f"{API}/scorecards.csv?period={month}&kind=agent"),
    ]


def views(year: int, choices: Choices, report_id: int | None = None) -> tuple[View, ...]:
    """Every view the bench times, as the console's pages ask for them (bot/static/
    console-quality*.js, console-scorecards.js): the year's last month, its last quarter and the
    year; with `report_id` also the stored reports, that report and its PDF."""
    month, quarter, whole = f"{year}-12", f"{year}-Q4", str(year)
    return (
        View("the page's menu (meta)", f"{API}/meta"),
        *_dashboards(month, quarter, whole, choices),
        *_charts(month, quarter, whole, choices),
        *_drills(whole, choices),
        *(_reports(report_id) if report_id is not None else ()),
        *_scorecards(month, whole),
        View("the improvement plan", f"{API}/plan"),
    )
