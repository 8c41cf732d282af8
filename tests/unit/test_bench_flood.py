"""The flood part of `make bench` (scripts/floodlib.py, the pure half of benchflood.py): its
figures, the verdict against the issue's 1.5× target, its BENCHMARKS.md section and what a
later run carries over. No servers, no files."""

from __future__ import annotations

import math
from dataclasses import replace

from scripts import floodlib
from scripts.benchflood import flood_address, protections_text
from scripts.benchlib import Machine, Report, RunInfo, render_markdown
from scripts.floodlib import FloodRun, flood_verdict, previous_flood

RUN = RunInfo("2026-12-06 22:00 UTC", "make bench", "abc1234")
MACHINE = Machine("AMD EPYC", 2, 7.6, "Debian 12", "3.11.7", "3.10.13", "3.6.21")
FLOOD = FloodRun(
    run=RUN,
    conditions="1-minute load average 0.50",
    protections="CONSOLE_LOGIN_RATE 30/60",
    customers=10,
    rate=50,
    flood_seconds=30,
    quiet_seconds=30,
    quiet_ms=(100.0, 200.0, 300.0),
    flood_ms=(150.0, 250.0, 350.0, 450.0),
    customer_errors=(),
    logins=(("401", 30), ("429", 1470)),
    login_ms=(2.0, 3.0, 160.0),
)


def test_the_verdict_compares_the_p50s_of_the_same_run() -> None:
    assert FLOOD.quiet_p50 == 200
    assert FLOOD.flood_p50 == 300
    assert FLOOD.slowdown == 1.5
    assert FLOOD.logins_sent == 1500
    met = flood_verdict(FLOOD)
    assert met.met is True
    assert met.measured == "p50 300 ms during the flood vs 200 ms without (×1.50)"
    assert "(50/s for 30 s) within 1.5× of their p50 without it" in met.target
    slow = flood_verdict(replace(FLOOD, flood_ms=(301.0, 302.0)))
    assert slow.met is False
    errors = flood_verdict(replace(FLOOD, customer_errors=(("during the flood: timeout", 2),)))
    assert errors.met is False
    assert "customer errors: during the flood: timeout: 2" in errors.measured
    empty = replace(FLOOD, quiet_ms=())
    assert math.isnan(empty.slowdown)
    assert flood_verdict(empty).met is False


def test_the_section_and_its_carry_over() -> None:
    text = render_markdown(Report(RUN, MACHINE, None, None, (floodlib.part(FLOOD),)))
    assert "## A console login flood while customers chat" in text
    assert (
        "this run measured the login flood only; the gateway figures are not measured yet" in text
    )
    assert "| customers without the flood | 3 | 200 | 290 | 0.1 |" in text
    assert "| customers during the flood | 4 | 300 | 435 | 0.1 |" in text
    assert "The flood's logins were answered: 401: 30, 429: 1470 (of 1500 sent)." in text
    assert "The gateway's login protections: CONSOLE_LOGIN_RATE 30/60." in text
    assert "| p50 300 ms during the flood vs 200 ms without (×1.50) | met |" in text
    carried = previous_flood(text)
    assert carried is not None
    assert not carried.measured
    again = render_markdown(Report(RUN, MACHINE, None, None, (carried,)))
    assert "Not measured by this run: recorded 2026-12-06 22:00 UTC, carried over." in again
    assert "(×1.50); recorded 2026-12-06 22:00 UTC, not measured again | met |" in again
    assert previous_flood(again) is not None
    assert previous_flood("nothing here") is None
    nothing = render_markdown(Report(RUN, MACHINE, None, None, (floodlib.not_measured(),)))
    assert "Not measured yet: `make bench` measures it" in nothing
    assert "within 1.5× of their p50 without it | not measured | not measured |" in nothing


def test_the_flood_comes_from_many_benchmarking_addresses() -> None:
    addresses = {flood_address(n) for n in range(1500)}
    assert len(addresses) == 1500
    assert all(a.startswith("198.18.") or a.startswith("198.19.") for a in addresses)


def test_protections_say_what_the_gateway_was_given() -> None:
    text = protections_text({"CONSOLE_LOGIN_RATE": "10/1", "CONSOLE_HASH_THREADS": "2"})
    assert text.startswith("CONSOLE_LOGIN_RATE 10/1 (logins/seconds, all together)")
    assert "CONSOLE_HASH_THREADS 2, CONSOLE_HASH_QUEUE 8" in text
    assert "off" in protections_text({"CONSOLE_LOGIN_RATE": "0"})
