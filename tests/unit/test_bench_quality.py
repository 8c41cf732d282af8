"""The quality part of `make bench` (scripts/benchlib/quality.py, the pure half of
scripts/benchquality.py): which year the generated history holds, the views it times, each
view's percentiles, the two verdicts against the issue's targets (only on a county-sized year),
its BENCHMARKS.md section and what a later run carries over. No servers, no databases."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from scripts.benchlib import Machine, Report, RunInfo, render_markdown
from scripts.benchlib.quality import (
    QualityBench,
    ViewTiming,
    history_moment,
    measured_year,
    previous_quality,
    quality_part,
    report_verdict,
    summary,
    views_verdict,
)
from scripts.benchlib.quality_views import Choices, View, views

SHANGHAI = ZoneInfo("Asia/Shanghai")
RUN = RunInfo("2026-12-07 12:00 UTC", "make bench BENCH_ARGS='--only quality'", "abc1234")
MACHINE = Machine("AMD EPYC", 2, 23.5, "Debian 12", "3.11.7", "3.10.13", "3.6.21")
CHOICES = Choices(area="QX03", crew=3, agent="kf07", channel="web")
YEAR = (("tickets", 204_000), ("conversations", 116_000), ("messages", 2_190_000))
MONTH = View("dashboard, month", "/api/v1/quality/dashboard?period=2025-12")
PLAN = View("the improvement plan", "/api/v1/quality/plan")


def timing(view: View, *ms: float, errors: tuple[tuple[str, int], ...] = ()) -> ViewTiming:
    return ViewTiming(view, first_ms=900.0, latencies_ms=ms, errors=errors)


BENCH = QualityBench(
    run=RUN,
    conditions="1-minute load average 0.50",
    history_command="python -m store history --scale county --now 2026-01-01T06:00:00+08:00",
    year=2025,
    year_counts=YEAR,
    history_seconds=80.0,
    facts_seconds=190.0,
    facts_summary="rebuilt in 186.3 s: 209785 tickets",
    repetitions=20,
    plan_measures=20,
    timings=(
        timing(MONTH, *[float(n) for n in range(100, 500, 20)]),  # 100, 120, ..., 480
        timing(PLAN, 5.0, 7.0, 6.0),
    ),
    report_seconds=(4.0, 3.5, 41.0),
    report_pdf_bytes=360 * 1024,
)


def test_the_history_ends_early_on_new_year_so_the_whole_last_year_is_in_the_past() -> None:
    at = history_moment(datetime(2026, 12, 7, 8, 0, tzinfo=UTC), SHANGHAI)
    assert at == datetime(2026, 1, 1, 6, 0, tzinfo=SHANGHAI)
    assert measured_year(at, SHANGHAI) == 2025
    # in the first hours of a year that moment is still ahead: the year before's
    early = history_moment(datetime(2026, 12, 31, 17, 0, tzinfo=UTC), SHANGHAI)  # 01:00 local
    assert early == datetime(2026, 1, 1, 6, 0, tzinfo=SHANGHAI)
    assert measured_year(early, SHANGHAI) == 2025
    later = history_moment(datetime(2026, 12, 31, 23, 0, tzinfo=UTC), SHANGHAI)  # 07:00 local
    assert (later, measured_year(later, SHANGHAI)) == (
        datetime(2027, 1, 1, 6, 0, tzinfo=SHANGHAI),
        2026,
    )


def test_the_views_cover_every_route_of_the_dashboard_with_each_filter() -> None:
    shown = views(2025, CHOICES)
    paths = [v.path for v in shown]
    assert len(set(paths)) == len(paths) == len({v.name for v in shown})
    routes = {p.split("?")[0].removeprefix("/api/v1/quality/") for p in paths}
    assert routes == {
        "meta", "dashboard", "series", "drill", "scorecards", "scorecards.csv", "plan",
    }  # fmt: skip
    dashboards = [p for p in paths if "/dashboard?" in p]
    for period in ("period=2025-12", "period=2025-Q4", "period=2025"):
        assert any(p.endswith(period) for p in dashboards), period
    for given in ("area=QX03", "crew=3", "agent=kf07", "channel=web"):
        assert any(given in p for p in dashboards), given
    grains = {p.rsplit("grain=", 1)[1].split("&")[0] for p in paths if "/series?" in p}
    assert grains == {"day", "week", "month"}
    assert any("offset=2000" in p for p in paths if "/drill?" in p)
    with_report = views(2025, CHOICES, report_id=7)
    assert [v.path for v in with_report if "/reports" in v.path] == [
        "/api/v1/quality/reports",
        "/api/v1/quality/reports/7",
        "/api/v1/quality/reports/7/pdf",
    ]


def test_percentiles_of_a_view_interpolate_between_ranks() -> None:
    month = BENCH.timings[0]
    assert (len(month.latencies_ms), month.p50, month.max) == (20, 290.0, 480.0)
    assert month.p95 == 461.0  # rank 0.95 * 19 = 18.05: 5% of the way from 460 to 480
    assert month.met
    assert math.isnan(timing(PLAN).p95)
    assert not timing(PLAN).met
    assert not timing(PLAN, 10.0, errors=(("500", 1),)).met


def test_the_views_verdict_needs_every_p95_under_500_ms_on_a_county_year() -> None:
    verdict = views_verdict(BENCH)
    assert verdict.met is True
    assert verdict.measured.startswith(
        "2 of 2 views under 500 ms; slowest p95 461 ms (dashboard, month); the year 2025:"
        " 204,000 tickets, 116,000 conversations, 2,190,000 messages"
    )
    slow = replace(BENCH, timings=(timing(MONTH, 100.0, 540.0), BENCH.timings[1]))
    assert views_verdict(slow).met is False
    assert "1 of 2 views under 500 ms; slowest p95 518 ms" in views_verdict(slow).measured
    failed = replace(BENCH, timings=(timing(PLAN, 5.0, errors=(("500", 1),)),))
    assert views_verdict(failed).met is False
    assert "1 with failed requests" in views_verdict(failed).measured
    small = replace(BENCH, year_counts=(("tickets", 4_353), *YEAR[1:]))
    assert views_verdict(small).met is False
    assert "smaller than the issue's county year: tickets 4,353 < 200,000" in (
        views_verdict(small).measured
    )


def test_the_report_verdict_judges_the_slowest_generation() -> None:
    verdict = report_verdict(BENCH)
    assert verdict.met is True
    assert verdict.measured.startswith("41.0 s at most (3 generation(s) of the report of 2025")
    assert report_verdict(replace(BENCH, report_seconds=(4.0, 60.0))).met is False
    assert report_verdict(replace(BENCH, report_seconds=())).met is None
    small = replace(BENCH, year_counts=(*YEAR[:2], ("messages", 1_999_999)))
    assert report_verdict(small).met is False


def test_the_section_shows_each_view_and_both_targets() -> None:
    slow = replace(BENCH, timings=(timing(MONTH, 100.0, 540.0), BENCH.timings[1]))
    text = render_markdown(Report(RUN, MACHINE, None, None, (quality_part(slow, ""),)))
    assert "## The service-quality dashboard and the annual report on a county's year" in text
    assert (
        "| dashboard, month | `/api/v1/quality/dashboard?period=2025-12` | 900 | 2 | 320"
        " | **518** | 540 |"
    ) in text
    assert "| the improvement plan | `/api/v1/quality/plan` | 900 | 3 | 6 | 7 | 7 |" in text
    assert "Over 500 ms at p95 or failing: dashboard, month." in text
    assert "3 times one after the other" in text
    assert "4.0, 3.5, 41.0 s; the PDF 360 KB" in text
    targets = text.split("## Targets", 1)[1]
    assert "| every service-quality dashboard view answers in under 500 ms at p95" in targets
    assert "| **not met** |" in targets
    assert "| an annual report is generated in under 60 s" in targets
    assert targets.rstrip().endswith("| met |")
    assert "dashboard, month" in summary(slow)
    assert "NOT MET" in summary(slow)


def test_the_section_is_carried_over_by_a_later_run() -> None:
    text = render_markdown(Report(RUN, MACHINE, None, None, (quality_part(BENCH, ""),)))
    carried = previous_quality(text)
    assert carried is not None
    assert carried.carried
    assert not carried.measured
    assert [v.target for v in carried.verdicts] == [
        views_verdict(BENCH).target,
        report_verdict(BENCH).target,
    ]
    assert [v.met for v in carried.verdicts] == [True, True]
    assert carried.verdict.measured.endswith("; recorded 2026-12-07 12:00 UTC, not measured again")
    assert quality_part(None, text).lines == carried.lines
    later = render_markdown(Report(RUN, MACHINE, None, None, (carried,)))
    assert previous_quality(later) is not None
    assert "| dashboard, month | `/api/v1/quality/dashboard?period=2025-12` |" in later
    never = quality_part(None, "")
    assert [v.measured for v in never.verdicts] == ["not measured", "not measured"]
    assert "`make bench BENCH_ARGS='--only quality'`" in "\n".join(never.lines)
