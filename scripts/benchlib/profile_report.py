"""The profile part's figures, verdict, section of BENCHMARKS.md and carry-over (the
classification: scripts/benchlib/profile.py; the measuring: scripts/benchprofile.py). No I/O:
tests/unit/test_bench_profile.py."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from scripts.benchlib.figures import Verdict
from scripts.benchlib.markdown import carried_part, comment_json, not_measured_part
from scripts.benchlib.profile import IDLE, Breakdown, Turns, per_message
from scripts.benchlib.report import Part, RunInfo, markdown_table, text_table
from scripts.benchlib.trackers import MIN_WORKER_RATE

NAME = "the Rasa worker's profile"
TITLE = "## Where a Rasa worker's time goes per message (py-spy)"
BEGIN, END = "<!-- profile: begin -->", "<!-- profile: end -->"
COMMENT = re.compile(r"<!-- profile target: (\{.*?\}) -->")
COLUMNS = ("category", "share of the samples", "sampled ms per message", "≈ CPU ms per message")
FRAME_COLUMNS = ("leaf frame (self time)", *COLUMNS[1:])
TOP = 15


@dataclass(frozen=True)
class Profile:
    """One process's profile over the window."""

    process: str
    breakdown: Breakdown
    cpu_share: float
    """Its process group's CPU over the window (/proc), as a share of one core."""


@dataclass(frozen=True)
class ProfileBench:
    run: RunInfo
    model: str
    tracker: str
    """The tracker store configuration profiled (scripts/benchtrackers.py's names)."""
    customers: int
    seconds: float
    """py-spy's window."""
    rate_hz: float
    """py-spy's samples a second."""
    messages_per_second: float
    """The closed-loop customers' answered messages a second (through the gateway)."""
    errors: int
    conditions: str
    rasa: Profile
    actions: Profile | None
    turns: Turns

    @property
    def messages(self) -> float:
        """Messages answered in py-spy's window."""
        return self.messages_per_second * self.seconds

    def ms(self, samples: int) -> float:
        """Samples as CPU ms per message answered."""
        if not self.messages or math.isnan(self.messages):
            return math.nan
        return samples / self.rate_hz * 1000 / self.messages

    def cpu_ms(self, profile: Profile) -> float:
        """A process's CPU per message from /proc (every thread, TensorFlow's included)."""
        if not self.messages_per_second or math.isnan(self.messages_per_second):
            return math.nan
        return profile.cpu_share * 1000 / self.messages_per_second


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def target_text() -> str:
    return (
        f"one Rasa worker's CPU per message of the realistic script at most"
        f" {1000 / MIN_WORKER_RATE:.0f} ms, what {MIN_WORKER_RATE:g} messages a second on one"
        " core allow"
    )


def profile_verdict(bench: ProfileBench) -> Verdict:
    cpu = bench.cpu_ms(bench.rasa)
    measured = (
        f"{_ms(cpu)} ms ({bench.tracker} tracker store, {bench.customers} closed-loop customers,"
        f" {bench.messages_per_second:.1f} msg/s; the Rasa process's CPU over the window)"
    )
    return Verdict(
        target_text(), measured, None if math.isnan(cpu) else cpu <= 1000 / MIN_WORKER_RATE
    )


def category_rows(bench: ProfileBench, profile: Profile) -> list[list[str]]:
    found = profile.breakdown
    busy, cpu = found.busy, bench.cpu_ms(profile)
    ordered = sorted(
        ((name, count) for name, count in found.samples.items() if name != IDLE),
        key=lambda item: (-item[1], item[0]),
    )
    rows = [_row(bench, name, count, busy, cpu) for name, count in ordered]
    rows.append(_row(bench, "**all categories**", busy, busy, cpu))
    return rows


def _row(bench: ProfileBench, name: str, count: int, busy: int, cpu: float) -> list[str]:
    """Its share of the samples, the samples as ms per message, and that share of the
    process's CPU per message (/proc)."""
    share = count / busy if busy else math.nan
    return [name, "–" if math.isnan(share) else f"{share:.0%}", _ms(bench.ms(count)),
            _ms(cpu * share)]  # fmt: skip


def top_rows(bench: ProfileBench, profile: Profile) -> list[list[str]]:
    busy, cpu = profile.breakdown.busy, bench.cpu_ms(profile)
    return [_row(bench, leaf, count, busy, cpu) for leaf, count in profile.breakdown.leaves[:TOP]]


def turn_rows(turns: Turns) -> list[list[str]]:
    rows = [["policy predictions (action_listen included)", per_message(turns.predictions, turns)]]
    rows += [[f"actions run: {kind}", per_message(count, turns)]
             for kind, count in sorted(turns.actions.items())]  # fmt: skip
    rows.append(["action server calls", per_message(turns.remote_calls, turns)])
    return rows


def setup_text(bench: ProfileBench) -> str:
    return (
        f"A stack of its own with the `{bench.tracker}` tracker store configuration (the tracker"
        f" part's, `make run`'s), {bench.customers} closed-loop customers on the realistic"
        " script through the gateway; after the warm-up and a few seconds of load, py-spy"
        f" records the Rasa process (and the action server) for {bench.seconds:g} s at"
        f" {bench.rate_hz:g} samples a second (`py-spy record --format raw --nonblocking`:"
        " the processes are not paused to be sampled, which would slow them down). Each"
        " sampled stack goes to one category"
        " (scripts/benchlib/profile.py: the first rule any of its frames matches; a tracker"
        " store load or save and an action server call count whole, logging anywhere is"
        " logging); idle threads are not sampled and a stack waiting at its leaf counts as"
        " idle, never as CPU. Sampled ms per message: samples ÷ rate ÷ messages answered in the"
        f" window ({bench.messages:.0f}: {bench.messages_per_second:.1f} a second,"
        f" {bench.errors} errors); py-spy counts a thread running or ready to run, so on a busy"
        " machine a sample is also time spent waiting for a core. ≈ CPU ms per message: the"
        " share of the samples times the process's CPU per message from /proc (every thread,"
        " TensorFlow's own included, which py-spy, seeing Python threads only, cannot place):"
        " the shares are the finding, the milliseconds an estimate. The actions per message"
        " count the tracker store's events of"
        f" every conversation of the run ({bench.turns.messages} customer messages)."
    )


def block(bench: ProfileBench) -> str:
    verdict = profile_verdict(bench)
    lines = [
        markdown_table(("profile measurement", ""),
                       [["measured", bench.run.text()], ["model", bench.model],
                        ["conditions", bench.conditions]]),
        "",
        setup_text(bench),
        "",
        "### The Rasa worker",
        "",
        markdown_table(COLUMNS, category_rows(bench, bench.rasa)),
        "",
        f"Its {TOP} busiest leaf frames (self time):",
        "",
        markdown_table(FRAME_COLUMNS, top_rows(bench, bench.rasa)),
        "",
        "### What Rasa runs per customer message",
        "",
        markdown_table(("per customer message", ""), turn_rows(bench.turns)),
        "",
    ]  # fmt: skip
    if bench.actions is not None:
        lines += [
            "### The action server",
            "",
            markdown_table(COLUMNS, category_rows(bench, bench.actions)),
            "",
            markdown_table(FRAME_COLUMNS,
                           top_rows(bench, bench.actions)),
            "",
        ]  # fmt: skip
    target = {"date": bench.run.date, "target": [verdict.target, verdict.measured, verdict.met]}
    lines.append(f"<!-- profile target: {comment_json(target)} -->")
    return "\n".join(lines) + "\n"


def part(bench: ProfileBench) -> Part:
    return Part(NAME, (TITLE, "", BEGIN, block(bench) + END), profile_verdict(bench), measured=True)


def profile_part(bench: ProfileBench | None, existing: str) -> Part:
    """Measured now, carried over from `existing`, or not measured yet."""
    if bench is not None:
        return part(bench)
    carried = carried_part(existing, name=NAME, title=TITLE, begin=BEGIN, end=END, comment=COMMENT)
    return carried or not_measured_part(
        name=NAME, title=TITLE, only="profile", target=target_text()
    )


def summary(bench: ProfileBench) -> str:
    """What the terminal shows at the end of the part."""
    verdict = profile_verdict(bench)
    lines = [
        f"Rasa worker ({bench.tracker}, {bench.messages_per_second:.1f} msg/s):",
        text_table(COLUMNS, category_rows(bench, bench.rasa)),
        "",
        text_table(FRAME_COLUMNS, top_rows(bench, bench.rasa)),
        "",
        text_table(("per customer message", ""), turn_rows(bench.turns)),
    ]
    if bench.actions is not None:
        lines += ["", "action server:", text_table(COLUMNS, category_rows(bench, bench.actions))]
    state = "met" if verdict.met else "NOT MET"
    lines.append(f"{state:8} {verdict.target}: {verdict.measured}")
    return "\n".join(lines)
