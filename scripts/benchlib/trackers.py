"""The pure half of `make bench`'s tracker part (scripts/benchtrackers.py drives it): the
figures of each Rasa tracker store configuration (closed-loop customers and the open loop at
fixed rates, scripts/benchlib/openloop.py), what limited them, the verdict, its section of
BENCHMARKS.md and the carry-over of an earlier run's. No I/O: tests/unit/test_bench_trackers.py.

The target (issue 21): one Rasa worker answers at least 25 messages a second on the realistic
script with the production tracker store; it is judged here on both production configurations,
through the gateway (which keeps 90-95% of Rasa's throughput: the gateway part).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from scripts.benchlib.figures import PathRun, Verdict
from scripts.benchlib.machine import CpuUse
from scripts.benchlib.markdown import carried_part, comment_json, not_measured_part
from scripts.benchlib.openloop import OpenRate
from scripts.benchlib.report import Part, RunInfo, markdown_table, text_table

MIN_WORKER_RATE = 25.0
"""Target (issue 21): one Rasa worker's messages a second with the production tracker store."""
FULL = 0.85
"""A process busy this share of a core, or the machine this share of all cores, is the limit."""
TRACKERS = ("memory", "sql", "postgres")
PRODUCTION = ("sql", "postgres")
"""`make run`'s and Docker Compose's: the target is judged on these."""
DESCRIPTIONS = {
    "memory": "Rasa's in-memory tracker store (the gateway part's); the assistant's database a"
    " temporary SQLite file",
    "sql": "`make run`'s: Rasa's SQL tracker store on a SQLite file (the tracker store of"
    " endpoints.yml, RASA_TRACKER_DIALECT=sqlite, RASA_TRACKER_DB a temporary file); the"
    " assistant's database a temporary SQLite file, as `make run`'s is",
    "postgres": "Docker Compose's: Rasa's SQL tracker store on PostgreSQL and its Redis lock"
    " store (the tracker and lock stores of deploy/endpoints.compose.yml, pointed at"
    " $BENCH_DATABASE_URL's or $TEST_DATABASE_URL's server in a scratch database and at"
    " $BENCH_REDIS_URL or $TEST_REDIS_URL under a key prefix of its own); the assistant's"
    " database a scratch PostgreSQL database too, the gateway sharing through Redis"
    " (GATEWAY_SHARED=1) as Compose runs it; both databases dropped and the keys deleted at"
    " the end",
}
NAME = "the tracker stores"
TITLE = "## Rasa's tracker stores: closed-loop customers and an open-loop load"
BEGIN, END = "<!-- trackers: begin -->", "<!-- trackers: end -->"
COMMENT = re.compile(r"<!-- trackers target: (\{.*?\}) -->")
COLUMNS = ("load", "offered msg/s", "achieved msg/s", "answered", "p50 ms", "p95 ms", "errors",
           "conversations", "client lag ms", "Rasa CPU (of a core)", "cores busy")  # fmt: skip


@dataclass(frozen=True)
class TrackerRun:
    """One tracker store configuration, on a stack of its own."""

    tracker: str
    conditions: str
    closed: PathRun
    """The closed-loop customers through the gateway."""
    closed_cpu: CpuUse
    open_rates: tuple[OpenRate, ...]
    """The open loop through the gateway, lowest rate first."""
    open_cpu: tuple[CpuUse, ...]
    """CPU use at each open rate, in the same order."""


@dataclass(frozen=True)
class TrackerBench:
    run: RunInfo
    model: str
    customers: int
    closed_seconds: float
    open_seconds: float
    rates: tuple[float, ...]
    warmup: int
    configs: tuple[TrackerRun, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    """(tracker, why) of a configuration this run could not measure."""


def target_text() -> str:
    return (
        f"one Rasa worker answers at least {MIN_WORKER_RATE:g} messages a second on the"
        " realistic script with the production tracker stores (`make run`'s SQL on SQLite,"
        " Compose's PostgreSQL with Redis)"
    )


def tracker_verdict(bench: TrackerBench) -> Verdict:
    """Met when both production configurations were measured and each one's closed-loop
    customers got at least the target's messages a second through the gateway."""
    found = {run.tracker: run for run in bench.configs}
    parts, met = [], True
    for tracker in PRODUCTION:
        run = found.get(tracker)
        if run is None:
            parts.append(f"{tracker} not measured")
            met = False
            continue
        parts.append(f"{tracker} {_rate(run.closed.rate)} msg/s")
        met = met and run.closed.rate >= MIN_WORKER_RATE  # NaN never is
    measured = (
        f"{', '.join(parts)} ({bench.customers} closed-loop customers through the gateway,"
        " one Rasa worker)"
    )
    return Verdict(target_text(), measured, met)


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f}"


def _rate(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def _share(value: float) -> str:
    return f"{value:.0%}"


def _processes(cpu: CpuUse) -> str:
    shown = [f"{name} {value:.0%}" for name, value in cpu.by_process if value >= 0.005]
    return ", ".join(shown) or "none measurable"


def limit_text(cpu: CpuUse) -> str:
    """What limited a load, from who kept the cores busy: one Rasa process filling its core
    (Rasa handles a worker's messages one after another), the machine's cores, or neither (the
    customers themselves, each waiting for its reply, or waiting on I/O and locks)."""
    rasa = cpu.of("rasa")
    used = (
        f"CPU of one core each: {_processes(cpu)}; all {cpu.cores} cores {cpu.busy:.0%} busy,"
        " every process on the machine counted"
    )
    if rasa >= FULL and cpu.busy >= FULL:
        return (
            f"the one Rasa process ({rasa:.0%} of a core) and the machine's cores both: a"
            f" second Rasa worker needs a core of its own, which this machine has not ({used})"
        )
    if rasa >= FULL:
        return (
            f"the one Rasa process, {rasa:.0%} of a core: it handles its messages one after"
            " another, so more load only queues; a second worker on a free core, or a cheaper"
            f" message, raises it ({used})"
        )
    if cpu.busy >= FULL:
        return (
            f"the machine's {cpu.cores} cores, {cpu.busy:.0%} busy, shared by every process"
            f" below, though no one process filled a core ({used})"
        )
    return (
        "neither one process nor the cores were full: the load itself (closed-loop customers"
        " each wait for their reply, so messages a second = customers ÷ latency) or waiting on"
        f" I/O and locks ({used})"
    )


def summary_rows(bench: TrackerBench) -> list[list[str]]:
    rows = []
    for run in bench.configs:
        by_rate = {rate.offered: rate for rate in run.open_rates}
        open_p95 = [_ms(by_rate[r].p95) if r in by_rate else "–" for r in bench.rates]
        closed = run.closed
        rows.append([run.tracker, _rate(closed.rate), _ms(closed.p50), _ms(closed.p95),
                     str(closed.errors), *open_p95])  # fmt: skip
    return rows


def summary_columns(bench: TrackerBench) -> tuple[str, ...]:
    return (
        "tracker store",
        f"closed loop msg/s ({bench.customers} customers)",
        "p50 ms",
        "p95 ms",
        "errors",
        *(f"open loop p95 ms at {rate:g}/s" for rate in bench.rates),
    )


def config_rows(run: TrackerRun, customers: int) -> list[list[str]]:
    closed = run.closed
    rows = [
        [f"closed loop, {customers} customers", "–", _rate(closed.rate), str(closed.messages),
         _ms(closed.p50), _ms(closed.p95), str(closed.errors), "–", "–",
         _share(run.closed_cpu.of("rasa")), _share(run.closed_cpu.busy)]
    ]  # fmt: skip
    for rate, cpu in zip(run.open_rates, run.open_cpu, strict=True):
        rows.append(
            [f"open loop, {rate.offered:g}/s", f"{rate.offered:g}", _rate(rate.achieved),
             f"{rate.answered} of {rate.sent}", _ms(rate.p50), _ms(rate.p95), str(rate.errors),
             str(rate.conversations), _ms(rate.late_ms), _share(cpu.of("rasa")),
             _share(cpu.busy)]
        )  # fmt: skip
    return rows


def notes(run: TrackerRun) -> list[str]:
    """What the figures of one configuration say about themselves."""
    found = []
    for rate in run.open_rates:
        if not math.isnan(rate.achieved) and rate.achieved < 0.9 * rate.offered:
            found.append(
                f"At {rate.offered:g}/s the stack answered {_rate(rate.achieved)} a second: past"
                " what it can answer, the backlog grows for as long as the rate lasts, so the"
                " latencies there grow with `--open-seconds` rather than settle."
            )
        if rate.errors:
            kinds = ", ".join(f"{kind}: {count}" for kind, count in rate.errors_by_kind)
            found.append(
                f"At {rate.offered:g}/s {rate.errors} messages failed ({kinds}); they are"
                " counted as errors, not in p50 and p95, which flatters those figures there."
            )
    if run.closed.errors:
        kinds = ", ".join(f"{kind}: {count}" for kind, count in run.closed.errors_by_kind)
        found.append(f"The closed-loop customers' errors: {kinds}.")
    return found


def setup_text(bench: TrackerBench) -> str:
    rates = ", ".join(f"{rate:g}" for rate in bench.rates)
    return (
        "Each tracker store configuration gets a stack of its own, one after another (each"
        " stopped before the next starts): the action server, one `rasa run` with the trained"
        " model and the gateway on loopback, as in the gateway part. After a warm-up of"
        f" {bench.warmup} whole conversations per path, {bench.customers} closed-loop customers"
        f" chat through the gateway's JSON API for {bench.closed_seconds:g} s (the gateway"
        " part's script; each sends its next message as soon as the reply is in): its messages"
        " a second are the throughput. Then the open loop, through the gateway too: messages"
        f" due at a fixed rate ({rates} a second, {bench.open_seconds:g} s each, lowest first),"
        " each the next line of a simulated conversation following the same script whose"
        " previous reply is in, a new conversation started whenever none is free (at the"
        " script's phases in turn), so the rate sets the pace, not the replies. A message's"
        " latency runs from its due time to its complete reply: time it waits because the"
        " stack is behind counts (no coordinated omission); client lag: the most a message left"
        " after its due time. Achieved: answered messages a second, from the first due time to"
        " the last reply (at least the rate's seconds). Errors: refused, timed out, not 200,"
        " or '系统繁忙' (the gateway waits for Rasa at most `RASA_TIMEOUT`). Rasa CPU: the Rasa"
        " process group's CPU time as a share of one core (its TensorFlow threads included);"
        " cores busy: every process on the machine, the bench's client among them."
    )


def _config_md(run: TrackerRun, customers: int) -> list[str]:
    lines = [
        f"### {run.tracker}",
        "",
        f"{DESCRIPTIONS.get(run.tracker, run.tracker)}.",
        "",
        markdown_table(("", ""), [["conditions", run.conditions],
                                  ["limit (closed loop)", limit_text(run.closed_cpu)]]),
        "",
        markdown_table(COLUMNS, config_rows(run, customers)),
        "",
    ]  # fmt: skip
    found = notes(run)
    if found:
        lines += [*(f"- {note}" for note in found), ""]
    return lines


def block(bench: TrackerBench) -> str:
    """The section between its markers: what a later run carries over as it is."""
    verdict = tracker_verdict(bench)
    lines = [
        markdown_table(("tracker store measurement", ""),
                       [["measured", bench.run.text()], ["model", bench.model]]),
        "",
        setup_text(bench),
        "",
        markdown_table(summary_columns(bench), summary_rows(bench)),
        "",
    ]  # fmt: skip
    for tracker, why in bench.skipped:
        lines += [f"{tracker} was not measured: {why}.", ""]
    for run in bench.configs:
        lines += _config_md(run, bench.customers)
    target = {"date": bench.run.date, "target": [verdict.target, verdict.measured, verdict.met]}
    lines.append(f"<!-- trackers target: {comment_json(target)} -->")
    return "\n".join(lines) + "\n"


def part(bench: TrackerBench) -> Part:
    return Part(NAME, (TITLE, "", BEGIN, block(bench) + END), tracker_verdict(bench), measured=True)


def not_measured() -> Part:
    return not_measured_part(name=NAME, title=TITLE, only="trackers", target=target_text())


def previous_trackers(markdown: str) -> Part | None:
    """The section an earlier run wrote, with its verdict, carried over as it is."""
    return carried_part(markdown, name=NAME, title=TITLE, begin=BEGIN, end=END, comment=COMMENT)


def tracker_part(bench: TrackerBench | None, existing: str) -> Part:
    """Measured now, carried over, or not measured yet."""
    if bench is not None:
        return part(bench)
    return previous_trackers(existing) or not_measured()


def summary(bench: TrackerBench) -> str:
    """What the terminal shows at the end of the part."""
    verdict = tracker_verdict(bench)
    state = "met" if verdict.met else "NOT MET"
    lines: list[str] = [text_table(summary_columns(bench), summary_rows(bench)), ""]
    for run in bench.configs:
        table: Sequence[Sequence[str]] = config_rows(run, bench.customers)
        lines += [f"{run.tracker}: limit: {limit_text(run.closed_cpu)}",
                  text_table(COLUMNS, table), ""]  # fmt: skip
    for tracker, why in bench.skipped:
        lines.append(f"{tracker} not measured: {why}")
    lines.append(f"{state:8} {verdict.target}: {verdict.measured}")
    return "\n".join(lines)
