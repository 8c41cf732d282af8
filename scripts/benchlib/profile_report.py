"""The profile part's figures, verdict, section of BENCHMARKS.md and carry-over (the
classification: scripts/benchlib/profile.py; the measuring: scripts/benchprofile.py). No I/O:
tests/unit/test_bench_profile.py."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scripts.benchlib.figures import Verdict
from scripts.benchlib.markdown import Section
from scripts.benchlib.profile import IDLE, Breakdown, Turns, per_message
from scripts.benchlib.report import Part, RunInfo, markdown_table, text_table
from scripts.benchlib.trackers import MIN_WORKER_RATE

SECTION = Section(
    key="profile",
    name="the Rasa worker's profile",
    title="## Where a Rasa worker's time goes per message (py-spy)",
    only="profile",
)
BEGIN, END = SECTION.begin, SECTION.end
COLUMNS = ("category", "share of the samples", "sampled ms per message", "≈ CPU ms per message")
FRAME_COLUMNS = ("leaf frame (self time)", *COLUMNS[1:])
SIDE_COLUMNS = ("category", "stock Rasa: share", "stock Rasa: ≈ CPU ms per message",
                "fast paths: share", "fast paths: ≈ CPU ms per message", "change, ms")  # fmt: skip
TOP = 15
STOCK_TOP = 8


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
    stock: ProfileBench | None = None
    """The same profile of stock Rasa (rasa_addons' fast paths off, TOWNSHIP_RASA_FAST=0),
    measured first on a stack of its own: the before of these figures."""

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
    if bench.stock is not None:
        stock = bench.stock
        measured += (
            f"; stock Rasa (the fast paths off) {_ms(stock.cpu_ms(stock.rasa))} ms,"
            f" {stock.messages_per_second:.1f} msg/s"
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


def top_rows(bench: ProfileBench, profile: Profile, top: int = TOP) -> list[list[str]]:
    busy, cpu = profile.breakdown.busy, bench.cpu_ms(profile)
    return [_row(bench, leaf, count, busy, cpu) for leaf, count in profile.breakdown.leaves[:top]]


def _shares(bench: ProfileBench, profile: Profile) -> dict[str, tuple[float, float]]:
    """(share of the samples, ≈ CPU ms per message) of each category of a profile."""
    busy, cpu = profile.breakdown.busy, bench.cpu_ms(profile)
    found = {}
    for name, count in profile.breakdown.samples.items():
        if name != IDLE:
            share = count / busy if busy else math.nan
            found[name] = (share, cpu * share)
    return found


def _process(bench: ProfileBench, process: str) -> Profile | None:
    return bench.rasa if process == "rasa" else bench.actions


def side_rows(stock: ProfileBench, fast: ProfileBench, process: str) -> list[list[str]]:
    """Each category of `process` ("rasa", "actions"): its share and ≈ CPU ms per message with
    stock Rasa and with the fast paths, side by side, costliest before first; a category one
    profile lacks counts 0 there."""
    profile0, profile1 = _process(stock, process), _process(fast, process)
    if profile0 is None or profile1 is None:
        return []
    before, after = _shares(stock, profile0), _shares(fast, profile1)
    none = (0.0, 0.0)
    names = sorted(
        set(before) | set(after),
        key=lambda name: (-before.get(name, none)[1], -after.get(name, none)[1], name),
    )
    rows = []
    for name in names:
        (share0, ms0), (share1, ms1) = before.get(name, none), after.get(name, none)
        rows.append([name, _percent(share0), _ms(ms0), _percent(share1), _ms(ms1),
                     _change(ms1 - ms0)])  # fmt: skip
    total0, total1 = stock.cpu_ms(profile0), fast.cpu_ms(profile1)
    rows.append(["**all categories**", "100%", _ms(total0), "100%", _ms(total1),
                 _change(total1 - total0)])  # fmt: skip
    return rows


def _percent(share: float) -> str:
    return "–" if math.isnan(share) else f"{share:.0%}"


def _change(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:+.1f}"


def before_after_rows(stock: ProfileBench, fast: ProfileBench) -> list[list[str]]:
    """The two runs' headline figures, side by side."""
    return [
        ["messages a second (closed loop, through the gateway)",
         f"{stock.messages_per_second:.1f}", f"{fast.messages_per_second:.1f}"],
        ["the Rasa process's CPU per message (/proc)", f"{_ms(stock.cpu_ms(stock.rasa))} ms",
         f"{_ms(fast.cpu_ms(fast.rasa))} ms"],
        ["errors", str(stock.errors), str(fast.errors)],
        ["conditions", stock.conditions, fast.conditions],
    ]  # fmt: skip


def turn_rows(turns: Turns) -> list[list[str]]:
    rows = [["policy predictions (action_listen included)", per_message(turns.predictions, turns)]]
    rows += [[f"actions run: {kind}", per_message(count, turns)]
             for kind, count in sorted(turns.actions.items())]  # fmt: skip
    rows.append(["action server calls", per_message(turns.remote_calls, turns)])
    return rows


def setup_text(bench: ProfileBench) -> str:
    stock = bench.stock
    runs = (
        "Two stacks of their own, one after the other, each"
        if stock is not None
        else "A stack of its own"
    )
    before = (
        ""
        if stock is None
        else " The first runs stock Rasa: started with TOWNSHIP_RASA_FAST=0, so rasa_addons"
        " installs none of its fast paths (rasa_addons/fast_*.py) and Rasa runs its own code,"
        " as before the cost cuts"
        f" ({stock.messages:.0f} messages answered in its window, {stock.errors} errors); the"
        " second runs Rasa as it runs by default, the fast paths on. Their categories side by"
        " side first, then the second's details."
    )
    return (
        f"{runs} with the `{bench.tracker}` tracker store configuration (the tracker"
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
        f" every conversation of the run ({bench.turns.messages} customer messages)." + before
    )


def block(bench: ProfileBench) -> str:
    verdict = profile_verdict(bench)
    head = bench.run.table("profile measurement", bench.conditions, bench.model)
    lines = [head, "", setup_text(bench), ""]
    if bench.stock is not None:
        lines += _before_after_md(bench.stock, bench)
    lines += [
        "### The Rasa worker" + ("" if bench.stock is None else ", with the fast paths"),
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
    lines.append(SECTION.comment(bench.run.date, verdict))
    return "\n".join(lines) + "\n"


def _before_after_md(stock: ProfileBench, fast: ProfileBench) -> list[str]:
    lines = [
        "### Before and after: stock Rasa and the fast paths",
        "",
        markdown_table(("", "stock Rasa", "fast paths"), before_after_rows(stock, fast)),
        "",
        "The Rasa worker, ms per message per category:",
        "",
        markdown_table(SIDE_COLUMNS, side_rows(stock, fast, "rasa")),
        "",
        f"Stock Rasa's {STOCK_TOP} busiest leaf frames (self time):",
        "",
        markdown_table(FRAME_COLUMNS, top_rows(stock, stock.rasa, STOCK_TOP)),
        "",
    ]
    actions = side_rows(stock, fast, "actions")
    if actions:
        lines += ["The action server, ms per message per category:", "",
                  markdown_table(SIDE_COLUMNS, actions), ""]  # fmt: skip
    return lines


def profile_part(bench: ProfileBench | None, existing: str) -> Part:
    """Measured now, carried over from `existing`, or not measured yet."""
    if bench is not None:
        return SECTION.measured(block(bench), profile_verdict(bench))
    return SECTION.earlier(existing, target_text())


def summary(bench: ProfileBench) -> str:
    """What the terminal shows at the end of the part."""
    verdict = profile_verdict(bench)
    lines = []
    if bench.stock is not None:
        lines += [
            "Rasa worker, stock Rasa beside the fast paths:",
            text_table(SIDE_COLUMNS, side_rows(bench.stock, bench, "rasa")),
            "",
        ]
    lines += [
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
