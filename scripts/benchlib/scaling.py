"""The pure half of `make bench`'s scaling part (scripts/benchscaling.py drives it): the
assistant as Docker Compose runs it (the SQL tracker store on PostgreSQL, the Redis lock store,
gateways shared through Redis) with 1 and 2 Rasa workers and 1 and 2 gateway replicas, under
closed-loop customers spread over the replicas: each cell's messages a second and latency, each
process group's CPU, what limited it on this machine's cores, and what it would answer where
the cores are not the limit. No I/O: tests/unit/test_bench_scaling.py.

The expected figure where the cores are not the limit: a Rasa worker handles its messages one
after another on one core, so what one core of Rasa answers is the cell's messages a second over
the CPU its Rasa workers used (in cores); with a core of its own for each worker that many
workers would answer that times the workers. The other processes then need cores too: the
stack's CPU per message (every process group but the bench's driver) times that rate says how
many in all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scripts.benchlib.figures import PathRun, Verdict
from scripts.benchlib.machine import CpuUse
from scripts.benchlib.markdown import Section
from scripts.benchlib.report import Part, RunInfo, markdown_table, text_table
from scripts.benchlib.trackers import FULL

CELLS: tuple[tuple[int, int], ...] = ((1, 1), (2, 1), (1, 2), (2, 2))
"""(Rasa workers, gateway replicas) of each cell, in the order they are measured."""
SCALE_OUT = 1.8
"""Where the cores are not full, a second worker and replica should answer at least this many
times what one of each does (the target)."""
GROUPS: tuple[tuple[str, str], ...] = (
    ("Rasa workers", "rasa"),
    ("gateways", "gateway"),
    ("action server", "actions"),
    ("PostgreSQL", "postgres"),
    ("Redis", "redis"),
    ("bench driver", "bench driver"),
)
"""(process group, the server name it gathers): "rasa" gathers rasa, rasa-2, ..."""
DRIVER = "bench driver"
SECTION = Section(
    key="scaling",
    name="scaling out",
    title="## Scaling out: Rasa workers and gateway replicas (PostgreSQL + Redis)",
    only="scaling",
)
LEAD_COLUMNS = ("Rasa workers × gateway replicas", "msg/s", "× 1×1", "p50 ms", "p95 ms",
                "errors", "cores busy")  # fmt: skip
TAIL_COLUMNS = ("expected msg/s where cores are not the limit", "cores it needs")


def cell_name(workers: int, replicas: int) -> str:
    return f"{workers}×{replicas}"


def parse_cells(raw: str) -> tuple[tuple[int, int], ...]:
    """Cells written "1x1,2x2" (or ×): (workers, replicas) pairs in CELLS' order; ValueError
    for anything else, or a cell not in CELLS (the bench starts at most two of each)."""
    found = set()
    for item in (part.strip().lower().replace("×", "x") for part in raw.split(",")):
        if not item:
            continue
        workers, _, replicas = item.partition("x")
        if not (workers.isdigit() and replicas.isdigit()):
            raise ValueError(f"a cell is WORKERSxREPLICAS, e.g. 2x1, got {item!r}")
        pair = (int(workers), int(replicas))
        if pair not in CELLS:
            raise ValueError(f"the cells are {', '.join('x'.join(map(str, c)) for c in CELLS)}")
        found.add(pair)
    if not found:
        raise ValueError("no cell given, e.g. 1x1,2x1,1x2,2x2")
    return tuple(cell for cell in CELLS if cell in found)


def _grouped(name: str, server: str) -> bool:
    return name == server or name.startswith(f"{server}-")


@dataclass(frozen=True)
class Cell:
    """One cell: this many Rasa workers behind this many gateway replicas."""

    workers: int
    replicas: int
    closed: PathRun
    """The closed-loop customers, spread over the replicas."""
    cpu: CpuUse
    """Over the customers' stretch; by server name ("rasa", "rasa-2", "gateway", ...)."""

    @property
    def name(self) -> str:
        return cell_name(self.workers, self.replicas)

    @property
    def rate(self) -> float:
        return self.closed.rate

    def group(self, label: str) -> float:
        """A process group's CPU, in cores (1.0: one core busy throughout)."""
        server = dict(GROUPS)[label]
        return sum(share for name, share in self.cpu.by_process if _grouped(name, server))

    @property
    def rasa_cores(self) -> float:
        return self.group("Rasa workers")

    @property
    def stack_cores(self) -> float:
        """The CPU of every process group but the bench's driver, in cores."""
        return sum(self.group(label) for label, _ in GROUPS if label != DRIVER)

    @property
    def per_rasa_core(self) -> float:
        """Messages a second one core of Rasa answers: the rate over the workers' CPU."""
        if not self.rasa_cores or math.isnan(self.rate):
            return math.nan
        return self.rate / self.rasa_cores

    @property
    def expected(self) -> float:
        """Messages a second with a core of its own for each worker."""
        return self.per_rasa_core * self.workers

    @property
    def cores_needed(self) -> float:
        """Cores the whole stack needs at the expected rate, at this cell's CPU per message."""
        if not self.rate or math.isnan(self.rate):
            return math.nan
        return self.expected * self.stack_cores / self.rate


@dataclass(frozen=True)
class ScalingBench:
    run: RunInfo
    model: str
    customers: int
    seconds: float
    warmup: int
    conditions: str
    cells: tuple[Cell, ...]
    skipped: str = ""
    """Why the part could not be measured on this machine (no PostgreSQL or no Redis)."""

    def cell(self, workers: int, replicas: int) -> Cell | None:
        return next((c for c in self.cells if (c.workers, c.replicas) == (workers, replicas)), None)


def _rate(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f}"


def _share(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0%}"


def _cores(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def target_text() -> str:
    return (
        "two Rasa workers behind two gateway replicas (Compose's PostgreSQL + Redis) answer more"
        " than one of each, scaling until the machine's cores are full (at least"
        f" ×{SCALE_OUT:g} where they are not)"
    )


def scaling_verdict(bench: ScalingBench) -> Verdict:
    """Met when 2×2 answered more than 1×1 and either the cores were full in 2×2 or it answered
    at least SCALE_OUT times as many; not measured without both cells."""
    one, both = bench.cell(1, 1), bench.cell(2, 2)
    if one is None or both is None:
        why = bench.skipped or "1×1 and 2×2 not both measured"
        return Verdict(target_text(), f"not measured: {why}", None)
    ratio = both.rate / one.rate if one.rate else math.nan
    measured = (
        f"2×2 {_rate(both.rate)} msg/s, 1×1 {_rate(one.rate)} (×{ratio:.2f}); the"
        f" {both.cpu.cores} cores {_share(both.cpu.busy)} busy in 2×2, where cores are not the"
        f" limit 2 workers would answer about {_rate(both.expected)}"
    )
    full = both.cpu.busy >= FULL
    met = both.rate > one.rate and (full or ratio >= SCALE_OUT)  # NaN never is
    return Verdict(target_text(), measured, met)


def columns() -> tuple[str, ...]:
    return (*LEAD_COLUMNS, *(f"{label} CPU" for label, _ in GROUPS), *TAIL_COLUMNS)


def rows(bench: ScalingBench) -> list[list[str]]:
    base = bench.cell(1, 1)
    found = []
    for cell in bench.cells:
        times = "–" if base is None or not base.rate else f"×{cell.rate / base.rate:.2f}"
        closed = cell.closed
        found.append(
            [cell.name, _rate(cell.rate), times, _ms(closed.p50), _ms(closed.p95),
             str(closed.errors), _share(cell.cpu.busy),
             *(_share(cell.group(label)) for label, _ in GROUPS),
             _rate(cell.expected), _cores(cell.cores_needed)]
        )  # fmt: skip
    return found


def _used(cell: Cell) -> str:
    shown = [f"{label} {cell.group(label):.0%}" for label, _ in GROUPS]
    return f"CPU of one core each: {', '.join(shown)}"


def expected_text(cell: Cell) -> str:
    """The expected figure of a cell where the cores are not the limit, with its derivation."""
    rest = (
        cell.expected * (cell.stack_cores - cell.rasa_cores) / cell.rate if cell.rate else math.nan
    )
    workers = f"{cell.workers} worker{'s' if cell.workers > 1 else ''}"
    return (
        f"where cores are not the limit: {_rate(cell.rate)} msg/s ÷ {cell.rasa_cores:.2f} cores"
        f" of Rasa × {workers} = about {_rate(cell.expected)} msg/s, needing about"
        f" {_cores(cell.cores_needed)} cores in all ({cell.workers} for Rasa, {_cores(rest)} for"
        " the rest at this cell's CPU per message)"
    )


def limit_text(cell: Cell) -> str:
    """What limited a cell, from who kept the cores busy: the machine's cores (the ceiling of
    this machine), its Rasa workers each filling a core, or neither; then its expected figure."""
    cores, busy = cell.cpu.cores, cell.cpu.busy
    per_worker = cell.rasa_cores / cell.workers
    several = cell.workers > 1
    used = _used(cell)
    if busy >= FULL:
        found = (
            f"the machine's {cores} cores, {busy:.0%} busy: the {cores}-core ceiling; every"
            f" process shares them, so the Rasa worker{'s' if several else ''} got"
            f" {per_worker:.0%} of a core{' each' if several else ''} ({used})"
        )
    elif per_worker >= FULL:
        found = (
            f"the Rasa worker{'s' if several else ''}, {per_worker:.0%} of"
            f" {'a core each' if several else 'its core'}: a worker handles its messages one"
            " after another, so more load only queues, and another worker on a free core raises"
            f" it; the cores {busy:.0%} busy ({used})"
        )
    else:
        found = (
            "neither the Rasa workers nor the cores were full: the load itself (closed-loop"
            " customers each wait for their reply: messages a second = customers ÷ latency) or"
            f" waiting on I/O and locks; the cores {busy:.0%} busy ({used})"
        )
    expected = expected_text(cell)
    return f"{found}. {expected[0].upper()}{expected[1:]}"


def notes(bench: ScalingBench) -> list[str]:
    found = []
    for cell in bench.cells:
        if cell.closed.errors:
            kinds = ", ".join(f"{kind}: {count}" for kind, count in cell.closed.errors_by_kind)
            found.append(f"{cell.name}'s errors: {kinds}.")
        if cell.closed.off_script:
            found.append(f"{cell.name}: {cell.closed.off_script} replies off the script.")
    return found


def setup_text(bench: ScalingBench) -> str:
    return (
        "One stack for every cell, as Docker Compose runs it: the tracker part's `postgres`"
        " configuration (Rasa's SQL tracker store and the assistant's database in scratch"
        " PostgreSQL databases of $BENCH_DATABASE_URL's or $TEST_DATABASE_URL's server, Rasa's"
        " lock store and the gateways' shared state, GATEWAY_SHARED=1, under a key prefix of"
        " its own in $BENCH_REDIS_URL or $TEST_REDIS_URL; all of it removed at the end), the"
        " action server, two `rasa run` workers loaded once with the trained model, and for each"
        " cell its gateway replicas started afresh (`python -m bot`, RASA_URL naming the cell's"
        " workers: each conversation on one of them by rendezvous hashing; default settings but"
        " QUALITY_REPORTS=0, whose job of the evaluation reports runs once at a gateway's"
        " start, which a deployment's running replicas do not do), stopped after it; a"
        " worker a cell does not use stays idle. Each cell: a warm-up of"
        f" {bench.warmup} whole conversation(s) straight to each of its workers and one through"
        f" each replica, then {bench.customers} closed-loop customers (the gateway part's"
        " script, scripts/benchlib/customer.py), customer n on replica n mod replicas, for"
        f" {bench.seconds:g} s: msg/s is the answered messages a second, p50 and p95 from"
        " sending to the complete reply. CPU: each process group's CPU time over the"
        " customers' stretch from /proc, as a share of one core (200% = both cores of this"
        " machine); PostgreSQL and Redis are the machine's servers, other sessions' work on them"
        " included; cores busy: every process on the machine. The 1×1 cell is the tracker"
        " part's `postgres` configuration."
    )


def block(bench: ScalingBench) -> str:
    """The section between its markers: what a later run carries over as it is."""
    verdict = scaling_verdict(bench)
    head = bench.run.table("scaling measurement", bench.conditions, bench.model)
    lines = [head, "", setup_text(bench), ""]
    if bench.skipped:
        lines += [f"Not measured: {bench.skipped}.", ""]
    if bench.cells:
        lines += [
            markdown_table(columns(), rows(bench)),
            "",
            "What limited each cell on this machine, and what it would answer where cores are"
            " not the limit: a worker handles its messages one after another on one core, so the"
            " cell's msg/s over its Rasa workers' CPU (in cores) is what one core of Rasa"
            " answers, and that times the workers is what they answer with a core of their own"
            " each; the other processes' CPU per message times that rate is what they need"
            " besides (the cores it needs):",
            "",
            *(f"- **{cell.name}**: {limit_text(cell)}." for cell in bench.cells),
            "",
        ]
    found = notes(bench)
    if found:
        lines += [*(f"- {note}" for note in found), ""]
    lines.append(SECTION.comment(bench.run.date, verdict))
    return "\n".join(lines) + "\n"


def scaling_part(bench: ScalingBench | None, existing: str) -> Part:
    """Measured now, carried over from `existing`, or not measured yet."""
    if bench is not None:
        return SECTION.measured(block(bench), scaling_verdict(bench))
    return SECTION.earlier(existing, target_text())


def summary(bench: ScalingBench) -> str:
    """What the terminal shows at the end of the part."""
    verdict = scaling_verdict(bench)
    lines: list[str] = []
    if bench.cells:
        table: Sequence[Sequence[str]] = rows(bench)
        lines += [text_table(columns(), table), ""]
        lines += [f"{cell.name}: {limit_text(cell)}" for cell in bench.cells]
    if bench.skipped:
        lines.append(f"scaling not measured: {bench.skipped}")
    state = {True: "met", False: "NOT MET", None: "n/a"}[verdict.met]
    lines.append(f"{state:8} {verdict.target}: {verdict.measured}")
    return "\n".join(lines)
