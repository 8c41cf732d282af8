"""The outage part of `make bench` (scripts/benchlib/outages.py, the pure half of
scripts/benchoutage.py): the peak rate, the verdict against the issue's targets, its
BENCHMARKS.md section and what a later run carries over. No servers, no files."""

from __future__ import annotations

from dataclasses import replace

from scripts.benchlib import Machine, Report, RunInfo, render_markdown
from scripts.benchlib.outages import (
    OutageBench,
    outage_part,
    outage_verdict,
    peak_per_second,
    previous_outages,
)

RUN = RunInfo("2026-12-07 10:00 UTC", "make bench", "abc1234")
MACHINE = Machine("AMD EPYC", 2, 7.6, "Debian 12", "3.11.7", "3.10.13", "3.6.21")
BENCH = OutageBench(
    run=RUN,
    conditions="1-minute load average 0.50",
    subscribers=20_000,
    pace=25,
    limit=30,
    told=20_000,
    twice=0,
    seconds=805.0,
    peak=26,
    refused=0,
    customers=10,
    quiet_ms=(100.0, 200.0, 300.0),
    during_ms=(150.0, 250.0, 350.0),
    customer_errors=(),
)


def test_the_peak_is_the_busiest_second() -> None:
    assert peak_per_second([]) == 0
    assert peak_per_second([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert peak_per_second([3.0, 0.1, 0.2, 2.0]) == 2  # any order
    assert peak_per_second([n / 32 for n in range(200)]) == 32  # exact binary fractions


def test_the_verdict_needs_everyone_once_the_limit_held_and_the_customers_served() -> None:
    met = outage_verdict(BENCH)
    assert met.met is True
    assert met.measured.startswith("20,000 of 20,000 told in 805 s (24.8/s, at most 26")
    assert "p50 250 ms during vs 200 ms without (x1.25)" in met.measured
    for broken in (
        replace(BENCH, told=19_999),
        replace(BENCH, twice=1),
        replace(BENCH, peak=31),
        replace(BENCH, during_ms=(400.0,)),
        replace(BENCH, customer_errors=(("during: timeout", 1),)),
    ):
        assert outage_verdict(broken).met is False


def test_the_section_is_carried_over_by_a_later_run() -> None:
    part = outage_part(BENCH, "")
    assert part.measured
    report = Report(RUN, MACHINE, None, None, (part,))
    markdown = render_markdown(report)
    assert "## An outage notice to 20,000 Telegram subscribers while customers chat" in markdown
    assert "Told: 20,000 of 20,000 in 805 s" in markdown
    carried = previous_outages(markdown)
    assert carried is not None
    assert (carried.verdict.target, carried.verdict.met) == (outage_verdict(BENCH).target, True)
    assert carried.verdict.measured.startswith(outage_verdict(BENCH).measured)
    assert outage_part(None, markdown).lines == carried.lines
    assert outage_part(None, "").verdict.measured == "not measured"
