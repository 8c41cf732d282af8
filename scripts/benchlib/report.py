"""The records of a run (what was measured, on which machine) and what they say: the terminal's
summaries, the tables, the verdicts, the notes on how far to trust the figures."""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from scripts.benchlib.figures import (
    GATEWAY,
    MAX_RETRAIN_TO_DEPLOYED_S,
    Level,
    Verdict,
    verdicts,
)
from scripts.benchlib.machine import BUSY
from scripts.benchlib.training import minutes


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float | None
    os: str
    python: str
    rasa_python: str
    rasa: str


@dataclass(frozen=True)
class RunInfo:
    """When and how figures were measured."""

    date: str
    command: str
    commit: str

    def text(self) -> str:
        return f"{self.date} by `{self.command}` at commit {self.commit}"

    def table(self, what: str, conditions: str, model: str | None = None) -> str:
        """The head of a part's section: when and how it was measured, the model the stack
        loaded (when one did), and the conditions."""
        rows = [["measured", self.text()], *([["model", model]] if model else [])]
        return markdown_table((what, ""), [*rows, ["conditions", conditions]])


@dataclass(frozen=True)
class GatewayRun:
    """The gateway part, measured by this run."""

    run: RunInfo
    model: str
    conditions: str
    setup: str
    levels: tuple[Level, ...]
    gateway_peak_mb: float | None
    errors_by_kind: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class CarriedGateway:
    """The gateway part an earlier run wrote into BENCHMARKS.md, carried over as it is."""

    text: str
    date: str
    verdicts: tuple[Verdict, ...]


@dataclass(frozen=True)
class Training:
    """The training part: a full training of the shipped data, then an operator's retraining
    evaluated, guarded and deployed (scripts/benchtrain.py)."""

    run: RunInfo
    conditions: str
    full_seconds: float
    """`rasa train` of the shipped data with config.yml and an empty Rasa cache."""
    retrain_seconds: float
    """`rasa train` again after the new examples, with the cache the full training left."""
    evaluate_seconds: float
    """`rasa test nlu` of the candidate on the held-out set."""
    other_job_seconds: float
    """The rest of the retraining job: reading the data, the guard, the registry."""
    deploy_seconds: float
    """`PUT /model` until `GET /status` reports the candidate, models/current.tar.gz, registry."""
    intent: str
    examples: int
    restored: tuple[str, ...]
    """Components the retraining restored from Rasa's cache."""
    restored_took_seconds: float
    """What training those components had taken in the full training."""
    retrained: tuple[str, ...]
    macro_f1: float
    live_macro_f1: float | None
    guard_reasons: tuple[str, ...]
    """Why the regression guard refused the candidate (deployed then with a written reason,
    as an operator can); none: it passed."""
    carried_over: bool = False
    """Recorded by an earlier run and copied, not measured by this one."""

    @property
    def job_seconds(self) -> float:
        """The retraining job an operator starts, from the start to the candidate."""
        return self.retrain_seconds + self.evaluate_seconds + self.other_job_seconds

    @property
    def retrain_to_deployed(self) -> float:
        return self.job_seconds + self.deploy_seconds


@dataclass(frozen=True)
class Part:
    """A part of the bench with a module of its own (the login flood: scripts/floodlib.py):
    its section of the report, ready to print, and its verdict."""

    name: str
    lines: tuple[str, ...]
    verdict: Verdict
    measured: bool
    """By this run (else carried over from an earlier one, or not measured yet)."""
    carried: bool = False
    more: tuple[Verdict, ...] = ()
    """A part with more than one target (the quality part): the others, after `verdict`."""

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        return (self.verdict, *self.more)


@dataclass(frozen=True)
class Report:
    run: RunInfo
    machine: Machine
    gateway: GatewayRun | CarriedGateway | None
    training: Training | None
    parts: tuple[Part, ...] = ()


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def _mb(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


FIGURE_COLUMNS = (
    "customers",
    "path",
    "messages",
    "p50 ms",
    "p95 ms",
    "msg/s",
    "errors",
    "off-script",
    "gateway RSS MB",
)


def figure_rows(levels: Sequence[Level]) -> list[list[str]]:
    rows = []
    for level in levels:
        for run in (level.gateway, level.rasa):
            rows.append(
                [
                    str(level.customers),
                    "gateway → Rasa" if run.path == GATEWAY else "Rasa alone",
                    str(run.messages),
                    _ms(run.p50),
                    _ms(run.p95),
                    _ms(run.rate),
                    str(run.errors),
                    str(run.off_script),
                    _mb(run.peak_rss_mb),
                ]
            )
    return rows


COMPARISON_COLUMNS = (
    "customers",
    "gateway's own time p50 / p95, message by message",
    "p50 difference (gateway − Rasa)",
    "throughput ratio (gateway / Rasa)",
)


def comparison_rows(levels: Sequence[Level]) -> list[list[str]]:
    rows = []
    for level in levels:
        own = level.gateway
        own_text = "n/a" if not own.own_ms else f"{own.own_p50:.1f} / {own.own_p95:.1f} ms"
        rows.append(
            [
                str(level.customers),
                own_text,
                f"{level.overhead_ms:+.1f} ms",
                f"{level.throughput_ratio:.0%}",
            ]
        )
    return rows


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table for the terminal."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in [list(header), *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _state(met: bool | None) -> str:
    return "n/a" if met is None else "met" if met else "NOT MET"


def summary_text(levels: Sequence[Level], gateway_peak_mb: float | None) -> str:
    """What the terminal shows at the end of the gateway part: the figures, the comparison,
    the verdicts."""
    parts = [
        text_table(FIGURE_COLUMNS, figure_rows(levels)),
        "",
        text_table(COMPARISON_COLUMNS, comparison_rows(levels)),
        "",
    ]
    for verdict in verdicts(levels, gateway_peak_mb):
        parts.append(f"{_state(verdict.met):8} {verdict.target}: {verdict.measured}")
    return "\n".join(parts)


def training_summary(training: Training) -> str:
    """What the terminal shows at the end of the training part."""
    verdict = training_verdict(training)
    return "\n".join(
        [
            f"full training of the shipped data: {training.full_seconds:.0f} s",
            f"retraining {training.retrain_seconds:.0f} s + evaluation"
            f" {training.evaluate_seconds:.0f} s + rest of the job"
            f" {training.other_job_seconds:.0f} s + deployment {training.deploy_seconds:.0f} s"
            f" (the guard {'refused' if training.guard_reasons else 'passed'} the candidate)",
            f"{_state(verdict.met):8} {verdict.target}: {verdict.measured}",
        ]
    )


def training_verdict(training: Training | None) -> Verdict:
    """The issue's training target: an operator's retrain-to-deployed."""
    target = f"an operator's retrain-to-deployed under {MAX_RETRAIN_TO_DEPLOYED_S / 60:g} minutes"
    if training is None:
        return Verdict(target, "not measured", None)
    total = training.retrain_to_deployed
    measured = f"{total:.0f} s ({minutes(total)}): retraining, evaluation, guard, deployment"
    if training.conditions.startswith(BUSY):
        measured += " on a busy machine (see its conditions)"
    if training.carried_over:
        # training time follows the data, which changes between runs: an old figure is no
        # verdict on today's data
        measured += (
            f"; recorded {training.run.date} on the data of then, not measured again on today's"
        )
        return Verdict(target, measured, None)
    return Verdict(target, measured, total < MAX_RETRAIN_TO_DEPLOYED_S)


def gateway_verdicts(gateway: GatewayRun | CarriedGateway | None) -> list[Verdict]:
    """The gateway's targets: measured by this run, carried over (and said so), or not yet."""
    if isinstance(gateway, GatewayRun):
        return verdicts(gateway.levels, gateway.gateway_peak_mb)
    if isinstance(gateway, CarriedGateway):
        return [
            Verdict(v.target, f"{v.measured}; recorded {gateway.date}, not measured again", v.met)
            for v in gateway.verdicts
        ]
    return [Verdict(v.target, "not measured", None) for v in verdicts([], None)]


def command_line(argv: Sequence[str], *, make: bool, trained: bool) -> str:
    """How the run was started, for the report; a --note's text is shown in the conditions
    instead."""
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            shown.append("…")
            hide_next = False
        elif arg == "--note":
            shown.append(arg)
            hide_next = True
        elif arg.startswith("--note="):
            shown.append("--note=…")
        else:
            shown.append(arg)
    args = " ".join(a if a.endswith("…") else shlex.quote(a) for a in shown)
    prefix = "BENCH_TRAIN=1 " if trained else ""
    if make:
        return f"{prefix}make bench" + (f" BENCH_ARGS={shlex.quote(args)}" if args else "")
    return f"{prefix}python -m scripts.bench {args}".rstrip()


def notes(levels: Sequence[Level]) -> list[str]:
    """What the figures themselves say about how far to trust them."""
    found = []
    ahead = [str(level.customers) for level in levels
             if level.overhead_ms < 0 or level.throughput_ratio > 1]  # fmt: skip
    if ahead:
        found.append(
            f"At {' and '.join(ahead)} customer(s) the gateway path came out ahead of Rasa alone"
            " (a negative overhead or a ratio above 100%), which it cannot really be: there the"
            " machine's noise is larger than the gateway's cost, so those figures measure the"
            " noise; a quieter machine or a longer `--duration` narrows it."
        )
    single = next((level for level in levels if level.customers == 1), None)
    queued = [
        level
        for level in levels
        if single is not None and level.customers > 1 and level.rasa.p50 > 3 * single.rasa.p50
    ]
    if queued and single is not None:
        implied = [f"{level.rasa.p50 * (1 / level.throughput_ratio - 1):+.0f} ms at"
                   f" {level.customers}" for level in queued]  # fmt: skip
        found.append(
            f"At {' and '.join(str(level.customers) for level in queued)} customers the"
            " customers queue for Rasa (its p50 there is"
            f" {' and '.join(f'{level.rasa.p50 / single.rasa.p50:.0f}×' for level in queued)}"
            " its p50 with one customer). Each customer sends the next message as soon as the"
            " reply is in, so a message's time there is about customers ÷ messages per second"
            " (Little's law): the p50 difference at those levels restates the throughput ratio"
            " as time (the ratio alone implies " + ", ".join(implied) + " customers), not time"
            " the gateway spends on a message; that shows at 1 customer, where nothing queues."
        )
    for level in levels:
        degraded = sum(n for kind, n in level.gateway.errors_by_kind if kind.startswith("degraded"))
        if degraded:
            found.append(
                f"At {level.customers} customers the gateway answered '系统繁忙' {degraded} times."
                f" Rasa alone took {level.rasa.p95 / 1000:.1f} s at p95 there, and the gateway"
                " waits for Rasa at most `RASA_TIMEOUT` (15 s by default); after a timeout it"
                " answers at once and keeps the message for later, as designed. Those messages"
                " count as errors, not as throughput, and are left out of the gateway's"
                " latencies, which flatters its p50 and p95 at that level."
            )
    return found
