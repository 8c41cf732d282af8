"""The scaling part of `make bench` (scripts/benchscaling.py) without servers: the cells, each
process group's CPU, what limited a cell and what it would answer where the cores are not the
limit, the verdict, the BENCHMARKS.md section and its carry-over, and the options."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from scripts.bench import parse_args
from scripts.benchlib import Machine, PathRun, Report, RunInfo, render_markdown
from scripts.benchlib.machine import CpuUse
from scripts.benchlib.scaling import (
    CELLS,
    Cell,
    ScalingBench,
    limit_text,
    parse_cells,
    scaling_part,
    scaling_verdict,
    summary,
)
from scripts.benchscaling import scaling_options
from scripts.benchstack import BenchError

RUN = RunInfo("2026-12-08 01:00 UTC", "make bench BENCH_ARGS='--only scaling'", "abc1234")
MACHINE = Machine("AMD EPYC", 2, 23.5, "Debian 12", "3.11.7", "3.10.13", "3.6.21")


def closed(rate: float, p50: float, errors: tuple[tuple[str, int], ...] = ()) -> PathRun:
    seconds = 20.0
    return PathRun("gateway", 20, tuple([p50] * round(rate * seconds)), seconds, errors)


def cell(
    workers: int, replicas: int, rate: float, busy: float, rasa: tuple[float, ...], **more: float
) -> Cell:
    """A cell whose Rasa workers used `rasa` cores each; the other servers `more` (by server
    name, e.g. gateway_2=0.1 for "gateway-2")."""
    names = {f"rasa-{n}" if n > 1 else "rasa": share for n, share in enumerate(rasa, 1)}
    names |= {name.replace("_2", "-2").replace("_", " "): share for name, share in more.items()}
    ordered = tuple(sorted(names.items(), key=lambda item: -item[1]))
    return Cell(workers, replicas, closed(rate, 900), CpuUse(2, busy, ordered))


ONE = cell(1, 1, 20.0, 0.70, (0.90, 0.0), gateway=0.15, actions=0.25, postgres=0.08, redis=0.02,
           bench_driver=0.05)  # fmt: skip
TWO = cell(2, 1, 28.0, 0.97, (0.70, 0.66), gateway=0.22, actions=0.30, postgres=0.12,
           redis=0.03, bench_driver=0.06)  # fmt: skip
TWO_REPLICAS = cell(1, 2, 19.0, 0.74, (0.88, 0.01), gateway=0.10, gateway_2=0.10, actions=0.25,
                    postgres=0.08, redis=0.04, bench_driver=0.05)  # fmt: skip
BOTH = cell(2, 2, 27.0, 0.98, (0.68, 0.64), gateway=0.12, gateway_2=0.12, actions=0.29,
            postgres=0.12, redis=0.04, bench_driver=0.06)  # fmt: skip
BENCH = ScalingBench(
    run=RUN,
    model="`models/current.tar.gz`, trained 2026-12-07 23:40 UTC",
    customers=20,
    seconds=20,
    warmup=3,
    conditions="1-minute load average 0.50 before the stack started",
    cells=(ONE, TWO, TWO_REPLICAS, BOTH),
)


# --- the cells ----------------------------------------------------------------------------------


def test_cells_are_read_in_their_measuring_order() -> None:
    assert parse_cells("2x2,1x1") == ((1, 1), (2, 2))
    assert parse_cells(" 2×1 , 1X2,") == ((2, 1), (1, 2))
    assert parse_cells("1x1,2x1,1x2,2x2") == CELLS
    for wrong, why in (
        ("3x1", "the cells are 1x1, 2x1, 1x2, 2x2"),
        ("2", "WORKERSxREPLICAS"),
        ("ax1", "WORKERSxREPLICAS"),
        ("", "no cell"),
        ("1x1x1", "WORKERSxREPLICAS"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_cells(wrong)


def test_process_groups_gather_their_servers_by_name() -> None:
    assert TWO_REPLICAS.group("gateways") == pytest.approx(0.20)  # gateway + gateway-2
    assert BOTH.group("Rasa workers") == pytest.approx(1.32)  # rasa + rasa-2
    assert BOTH.group("bench driver") == pytest.approx(0.06)
    assert BOTH.rasa_cores == pytest.approx(1.32)
    # everything but the bench's driver: Rasa, gateways, action server, PostgreSQL, Redis
    assert BOTH.stack_cores == pytest.approx(1.32 + 0.24 + 0.29 + 0.12 + 0.04)


def test_the_expected_figure_is_the_rate_per_rasa_core_times_the_workers() -> None:
    # 27 msg/s on 1.32 cores of Rasa: 20.45 a Rasa core; two workers with a core each: 40.9
    assert BOTH.per_rasa_core == pytest.approx(27.0 / 1.32)
    assert BOTH.expected == pytest.approx(2 * 27.0 / 1.32)
    # the whole stack at that rate, at the cell's CPU per message: 2.01 cores for 27 msg/s
    assert BOTH.cores_needed == pytest.approx(BOTH.expected * 2.01 / 27.0)
    assert ONE.expected == pytest.approx(20.0 / 0.90)
    idle = cell(1, 1, 0.0, 0.05, (0.0,))
    assert math.isnan(idle.per_rasa_core)
    assert math.isnan(idle.expected)
    assert math.isnan(idle.cores_needed)


def test_the_limit_is_named_from_who_kept_the_cores_busy() -> None:
    full = limit_text(BOTH)
    assert full.startswith("the machine's 2 cores, 98% busy: the 2-core ceiling; every process")
    assert "the Rasa workers got 66% of a core each (CPU of one core each: Rasa workers 132%," in (
        full
    )
    assert "gateways 24%, action server 29%, PostgreSQL 12%, Redis 4%, bench driver 6%)" in full
    assert full.endswith(
        ". Where cores are not the limit: 27.0 msg/s ÷ 1.32 cores of Rasa × 2 workers = about"
        " 40.9 msg/s, needing about 3.0 cores in all (2 for Rasa, 1.0 for the rest at this"
        " cell's CPU per message)"
    )
    worker = limit_text(ONE)
    assert worker.startswith("the Rasa worker, 90% of its core: a worker handles its messages")
    assert "the cores 70% busy" in worker
    assert "× 1 worker = about 22.2 msg/s" in worker
    light = cell(2, 1, 10.0, 0.40, (0.30, 0.28), gateway=0.1)
    assert limit_text(light).startswith("neither the Rasa workers nor the cores were full")


# --- the verdict and the section ----------------------------------------------------------------


def test_the_verdict_asks_more_from_two_of_each_up_to_the_cores() -> None:
    verdict = scaling_verdict(BENCH)
    assert verdict.met is True  # the cores were full in 2×2, and it answered more than 1×1
    assert verdict.measured.startswith("2×2 27.0 msg/s, 1×1 20.0 (×1.35); the 2 cores 98% busy")
    assert "2 workers would answer about 40.9" in verdict.measured
    # cores free and hardly more than one of each: not met
    free = replace(BOTH, closed=closed(24.0, 900), cpu=replace(BOTH.cpu, busy=0.70))
    assert scaling_verdict(replace(BENCH, cells=(ONE, free))).met is False
    # cores free and nearly twice one of each: met
    doubled = replace(free, closed=closed(36.0, 900))
    assert scaling_verdict(replace(BENCH, cells=(ONE, doubled))).met is True
    # full cores but fewer messages than one of each: not met
    worse = replace(BOTH, closed=closed(19.0, 900))
    assert scaling_verdict(replace(BENCH, cells=(ONE, worse))).met is False
    alone = scaling_verdict(replace(BENCH, cells=(BOTH,)))
    assert alone.met is None
    assert "1×1 and 2×2 not both measured" in alone.measured


def test_the_section_has_every_cell_its_limit_and_is_carried_over() -> None:
    errors = replace(TWO, closed=closed(28.0, 900, (("timeout", 2),)))
    bench = replace(BENCH, cells=(ONE, errors, TWO_REPLICAS, BOTH))
    text = render_markdown(Report(RUN, MACHINE, None, None, (scaling_part(bench, ""),)))
    assert "## Scaling out: Rasa workers and gateway replicas (PostgreSQL + Redis)" in text
    assert "this run measured scaling out only" in text
    assert "| conditions | 1-minute load average 0.50 before the stack started |" in text
    assert (
        "| Rasa workers × gateway replicas | msg/s | × 1×1 | p50 ms | p95 ms | errors | cores busy"
        " | Rasa workers CPU | gateways CPU | action server CPU | PostgreSQL CPU | Redis CPU |"
        " bench driver CPU | expected msg/s where cores are not the limit | cores it needs |"
    ) in text
    assert (
        "| 1×1 | 20.0 | ×1.00 | 900 | 900 | 0 | 70% | 90% | 15% | 25% | 8% | 2% | 5% | 22.2 |"
        in (text)
    )
    assert "| 1×2 | 19.0 | ×0.95 | 900 | 900 | 0 | 74% | 89% | 20% | 25% |" in text
    assert (
        "| 2×2 | 27.0 | ×1.35 | 900 | 900 | 0 | 98% | 132% | 24% | 29% | 12% | 4% | 6% | 40.9 |"
        in (text)
    )
    assert "- **2×2**: the machine's 2 cores, 98% busy: the 2-core ceiling;" in text
    assert "- **1×1**: the Rasa worker, 90% of its core" in text
    assert "about 40.9 msg/s, needing about 3.0 cores in all" in text
    assert "- 2×1's errors: timeout: 2." in text
    assert "GATEWAY_SHARED=1" in text
    assert "| met |" in text
    carried = scaling_part(None, text)
    assert carried.carried
    assert not carried.measured
    assert carried.verdict.met is True
    assert "recorded 2026-12-08 01:00 UTC, not measured again" in carried.verdict.measured
    later = render_markdown(Report(RUN, MACHINE, None, None, (carried,)))
    assert "| 2×2 | 27.0 | ×1.35 |" in later
    assert "Not measured by this run: recorded 2026-12-08 01:00 UTC, carried over." in later


def test_nothing_to_carry_over_says_not_measured_and_a_skipped_part_says_why() -> None:
    part = scaling_part(None, "# Benchmarks\n")
    assert part.verdict.met is None
    assert "--only scaling" in part.lines[-1]
    skipped = replace(BENCH, cells=(), skipped="neither BENCH_REDIS_URL nor TEST_REDIS_URL is set")
    text = render_markdown(Report(RUN, MACHINE, None, None, (scaling_part(skipped, ""),)))
    assert "Not measured: neither BENCH_REDIS_URL nor TEST_REDIS_URL is set." in text
    assert scaling_verdict(skipped).met is None
    assert "scaling not measured: neither BENCH_REDIS_URL" in summary(skipped)


def test_the_terminal_summary() -> None:
    text = summary(BENCH)
    assert any(line.split()[:3] == ["2×2", "27.0", "×1.35"] for line in text.splitlines())
    assert "1×1: the Rasa worker, 90% of its core" in text
    assert text.splitlines()[-1].startswith("met      two Rasa workers behind two gateway")


# --- the options --------------------------------------------------------------------------------


def test_the_options() -> None:
    options = scaling_options(parse_args(["--only", "scaling", "--scaling-seconds", "5",
                                          "--scaling-cells", "2x2"]))  # fmt: skip
    assert options is not None
    assert (options.cells, options.customers, options.seconds, options.warmup) == (
        ((2, 2),), 20, 5, 3,
    )  # fmt: skip
    default = scaling_options(parse_args([]))
    assert default is not None
    assert default.cells == CELLS
    assert scaling_options(parse_args(["--scaling-seconds", "0"])) is None
    assert scaling_options(parse_args(["--only", "trackers"])) is None
    with pytest.raises(BenchError):
        scaling_options(parse_args(["--only", "scaling", "--scaling-seconds", "0.5"]))
    with pytest.raises(BenchError):
        scaling_options(parse_args(["--only", "scaling", "--scaling-customers", "0"]))
    for wrong in (["--scaling-cells", "3x3"], ["--only", "nothing"]):
        with pytest.raises(SystemExit):
            parse_args(wrong)
