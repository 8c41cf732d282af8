"""The pure half of `make bench`'s flood part (scripts/benchflood.py drives it): the figures of
a console login flood while customers chat, the verdict against the issue's target, its section
of BENCHMARKS.md and the carry-over of an earlier run's. No I/O: tests/unit/test_bench_flood.py.

The target (issue 14): 50 logins a second for 30 s while customers chat; the customers' p50
stays within 1.5× of their p50 without the flood, measured in the same run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from scripts.benchlib import (
    Part,
    RunInfo,
    Verdict,
    carried_part,
    comment_json,
    markdown_table,
    not_measured_part,
    percentile,
    seconds_text,
    text_table,
)

MAX_FLOOD_SLOWDOWN = 1.5
"""Target: customers' p50 during the flood at most this many times their p50 without it."""
NAME = "the login flood"
TITLE = "## A console login flood while customers chat"
BEGIN, END = "<!-- flood: begin -->", "<!-- flood: end -->"
COMMENT = re.compile(r"<!-- flood target: (\{.*?\}) -->")


@dataclass(frozen=True)
class FloodRun:
    """One flood measurement: quiet, flood, quiet again, the customers chatting throughout."""

    run: RunInfo
    conditions: str
    protections: str
    """The gateway's login protections as configured for the run (rates, pool sizes)."""
    customers: int
    rate: float
    """Logins a second the flood sent."""
    flood_seconds: float
    quiet_seconds: float
    """Both quiet stretches together (half before the flood, half after)."""
    quiet_ms: tuple[float, ...]
    flood_ms: tuple[float, ...]
    customer_errors: tuple[tuple[str, int], ...]
    logins: tuple[tuple[str, int], ...]
    """How the flood's logins were answered: HTTP status (or error kind) → count."""
    login_ms: tuple[float, ...]

    @property
    def quiet_p50(self) -> float:
        return percentile(self.quiet_ms, 50)

    @property
    def flood_p50(self) -> float:
        return percentile(self.flood_ms, 50)

    @property
    def slowdown(self) -> float:
        quiet = self.quiet_p50
        return self.flood_p50 / quiet if quiet > 0 else math.nan

    @property
    def logins_sent(self) -> int:
        return sum(count for _, count in self.logins)


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f}"


def target_text(rate: float = 50, seconds: float = 30) -> str:
    return (
        f"customers' p50 during a console login flood ({rate:g}/s for {seconds:g} s) within"
        f" {MAX_FLOOD_SLOWDOWN:g}× of their p50 without it"
    )


def flood_verdict(flood: FloodRun) -> Verdict:
    ratio = flood.slowdown
    measured = (
        f"p50 {_ms(flood.flood_p50)} ms during the flood vs {_ms(flood.quiet_p50)} ms without"
        f" (×{ratio:.2f})"
    )
    met = not math.isnan(ratio) and ratio <= MAX_FLOOD_SLOWDOWN and not flood.customer_errors
    if flood.customer_errors:
        measured += f"; customer errors: {_kinds(flood.customer_errors)}"
    return Verdict(target_text(flood.rate, flood.flood_seconds), measured, met)


def _kinds(counts: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{kind}: {count}" for kind, count in counts) or "none"


def rows(flood: FloodRun) -> list[list[str]]:
    def row(name: str, values: Sequence[float], seconds: float) -> list[str]:
        return [
            name,
            str(len(values)),
            _ms(percentile(values, 50)),
            _ms(percentile(values, 95)),
            f"{len(values) / seconds:.1f}" if seconds > 0 else "–",
        ]

    return [
        row("customers without the flood", flood.quiet_ms, flood.quiet_seconds),
        row("customers during the flood", flood.flood_ms, flood.flood_seconds),
        row("the flood's logins", flood.login_ms, flood.flood_seconds),
    ]


COLUMNS = ("", "answered", "p50 ms", "p95 ms", "per s")


def setup_text(flood: FloodRun) -> str:
    quiet = seconds_text(flood.quiet_seconds / 2)
    return (
        f"On the same stack, {flood.customers} simulated customers chat through the JSON API"
        f" (the script of the gateway part) for {quiet} s, then for {flood.flood_seconds:g} s"
        f" while a flood sends {flood.rate:g} console logins a second (`POST"
        " /api/v1/agent/login`, wrong passwords for real and unknown usernames, each from"
        " another address of 198.18.0.0/15 through X-Forwarded-For: a botnet that the"
        " per-address lock-out does not stop), then again for"
        f" {quiet} s without it. A customer message counts in the stretch it was sent in. The"
        f" gateway's login protections: {flood.protections}."
    )


def block(flood: FloodRun) -> str:
    """The flood section between its markers: what a later run carries over as it is."""
    verdict = flood_verdict(flood)
    lines = [
        markdown_table(
            ("flood measurement", ""),
            [["measured", flood.run.text()], ["conditions", flood.conditions]],
        ),
        "",
        setup_text(flood),
        "",
        markdown_table(COLUMNS, rows(flood)),
        "",
        f"The flood's logins were answered: {_kinds(flood.logins)} (of {flood.logins_sent} sent)."
        f" Customers' p50 during the flood: ×{flood.slowdown:.2f} of their p50 without it.",
        "",
    ]
    if flood.customer_errors:
        lines += [f"Customer errors: {_kinds(flood.customer_errors)}.", ""]
    target = {"date": flood.run.date, "target": [verdict.target, verdict.measured, verdict.met]}
    lines.append(f"<!-- flood target: {comment_json(target)} -->")
    return "\n".join(lines) + "\n"


def part(flood: FloodRun) -> Part:
    """The flood as a part of this run's report."""
    lines = (TITLE, "", BEGIN, block(flood) + END)
    return Part(NAME, lines, flood_verdict(flood), measured=True)


def not_measured() -> Part:
    return not_measured_part(name=NAME, title=TITLE, only="flood", target=target_text())


def previous_flood(markdown: str) -> Part | None:
    """The flood section an earlier run wrote, with its verdict, carried over as it is."""
    return carried_part(markdown, name=NAME, title=TITLE, begin=BEGIN, end=END, comment=COMMENT)


def summary(flood: FloodRun) -> str:
    """What the terminal shows at the end of the flood part."""
    verdict = flood_verdict(flood)
    state = "met" if verdict.met else "NOT MET"
    return "\n".join(
        [
            text_table(COLUMNS, rows(flood)),
            "",
            f"logins answered: {_kinds(flood.logins)}",
            f"{state:8} {verdict.target}: {verdict.measured}",
        ]
    )
