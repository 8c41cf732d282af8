"""The pure half of `make bench`'s outage part (scripts/benchoutage.py drives it): an outage
notice fanned out to 20,000 Telegram subscribers against the fake Bot API while customers chat;
the figures, the verdict against the issue's targets, its BENCHMARKS.md section and the
carry-over of an earlier run's. No I/O: tests/unit/test_bench_outages.py.

The targets (issue 19): every subscriber told exactly once; Telegram's limits held (about 30
messages a second overall, so no 1-second window above `limit`); customers chatting during the
fan-out answered as quickly as before (their p50 within 1.5x of their p50 without it, in the
same run).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from scripts.benchlib.figures import Verdict, percentile
from scripts.benchlib.markdown import carried_part, comment_json, not_measured_part
from scripts.benchlib.report import Part, RunInfo, markdown_table, text_table

MAX_SLOWDOWN = 1.5
NAME = "the outage notices"
TITLE = "## An outage notice to 20,000 Telegram subscribers while customers chat"
BEGIN, END = "<!-- outages: begin -->", "<!-- outages: end -->"
COMMENT = re.compile(r"<!-- outages target: (\{.*?\}) -->")
COLUMNS = ("", "answered", "p50 ms", "p95 ms")


def peak_per_second(times: Sequence[float]) -> int:
    """The most sends in any 1-second window (times in seconds, any order)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass(frozen=True)
class OutageBench:
    run: RunInfo
    conditions: str
    subscribers: int
    pace: float
    """The gateway's configured sending pace for Telegram (conf/outages.yml), a second."""
    limit: int
    """Telegram's limit the fake Bot API enforces (messages a second overall)."""
    told: int
    """Subscribers who got the notice (at least once)."""
    twice: int
    """Subscribers who got it more than once."""
    seconds: float
    """From publishing to the last subscriber's notice."""
    peak: int
    """The most notices the fake accepted in any second."""
    refused: int
    """Sends the fake answered 429."""
    customers: int
    quiet_ms: tuple[float, ...]
    during_ms: tuple[float, ...]
    customer_errors: tuple[tuple[str, int], ...]

    @property
    def rate(self) -> float:
        return self.told / self.seconds if self.seconds > 0 else math.nan

    @property
    def slowdown(self) -> float:
        quiet = percentile(self.quiet_ms, 50)
        return percentile(self.during_ms, 50) / quiet if quiet > 0 else math.nan


def target_text(subscribers: int = 20_000, limit: int = 30) -> str:
    return (
        f"{subscribers:,} subscribers each told once, never more than {limit} notices in a"
        f" second, customers' p50 during the fan-out within {MAX_SLOWDOWN:g}x of their p50"
        " without it"
    )


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def outage_verdict(bench: OutageBench) -> Verdict:
    during, quiet = percentile(bench.during_ms, 50), percentile(bench.quiet_ms, 50)
    measured = (
        f"{bench.told:,} of {bench.subscribers:,} told in {bench.seconds:.0f} s"
        f" ({bench.rate:.1f}/s, at most {bench.peak} in a second, {bench.refused} refused),"
        f" {bench.twice} twice; customers' p50 {_ms(during)} ms during vs {_ms(quiet)} ms"
        f" without (x{bench.slowdown:.2f})"
    )
    met = (
        bench.told == bench.subscribers
        and bench.twice == 0
        and bench.peak <= bench.limit
        and not math.isnan(bench.slowdown)
        and bench.slowdown <= MAX_SLOWDOWN
        and not bench.customer_errors
    )
    return Verdict(target_text(bench.subscribers, bench.limit), measured, met)


def rows(bench: OutageBench) -> list[list[str]]:
    def row(name: str, values: Sequence[float]) -> list[str]:
        return [name, str(len(values)), _ms(percentile(values, 50)), _ms(percentile(values, 95))]

    return [
        row("customers without the fan-out", bench.quiet_ms),
        row("customers during the fan-out", bench.during_ms),
    ]


def setup_text(bench: OutageBench) -> str:
    return (
        f"A stack of its own (the gateway part's servers, the gateway with its Telegram channel"
        f" pointed at a fake Bot API on loopback that answers 429 with retry_after above"
        f" {bench.limit} messages a second overall or a second message to a chat within 1 s, as"
        f" Telegram does). {bench.subscribers:,} Telegram chats subscribe to one village, then"
        " a planned outage there is published (`store.outages.publishing`, as the console"
        " does): the gateway's outage worker fans it out and sends it at the pace of"
        f" conf/outages.yml ({bench.pace:g}/s). {bench.customers} simulated customers chat"
        " through the JSON API (the gateway part's script) for a stretch before the"
        " publication and for as long during the fan-out; a message counts in the stretch it"
        " was sent in."
    )


def block(bench: OutageBench) -> str:
    verdict = outage_verdict(bench)
    lines = [
        bench.run.table("outage notice measurement", bench.conditions),
        "",
        setup_text(bench),
        "",
        f"Told: {bench.told:,} of {bench.subscribers:,} in {bench.seconds:.0f} s"
        f" ({bench.rate:.1f} a second on average, at most {bench.peak} in any second;"
        f" {bench.refused} sends refused with 429; {bench.twice} chats told twice).",
        "",
        markdown_table(COLUMNS, rows(bench)),
        "",
    ]
    if bench.customer_errors:
        errors = ", ".join(f"{kind}: {count}" for kind, count in bench.customer_errors)
        lines += [f"Customer errors: {errors}.", ""]
    target = {"date": bench.run.date, "target": [verdict.target, verdict.measured, verdict.met]}
    lines.append(f"<!-- outages target: {comment_json(target)} -->")
    return "\n".join(lines) + "\n"


def part(bench: OutageBench) -> Part:
    return Part(NAME, (TITLE, "", BEGIN, block(bench) + END), outage_verdict(bench), measured=True)


def not_measured() -> Part:
    return not_measured_part(name=NAME, title=TITLE, only="outages", target=target_text())


def previous_outages(markdown: str) -> Part | None:
    """The section an earlier run wrote, with its verdict, carried over as it is."""
    return carried_part(markdown, name=NAME, title=TITLE, begin=BEGIN, end=END, comment=COMMENT)


def outage_part(bench: OutageBench | None, existing: str) -> Part:
    """Measured now, carried over, or not measured yet."""
    if bench is not None:
        return part(bench)
    return previous_outages(existing) or not_measured()


def summary(bench: OutageBench) -> str:
    verdict = outage_verdict(bench)
    state = "met" if verdict.met else "NOT MET"
    return "\n".join(
        [text_table(COLUMNS, rows(bench)), "", f"{state:8} {verdict.target}: {verdict.measured}"]
    )
