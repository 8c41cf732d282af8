"""`make bench`'s scaling part (`--only scaling` measures only it, `--scaling-seconds 0` leaves
it out): the assistant as Docker Compose runs it (the tracker part's `postgres` configuration:
the SQL tracker store on PostgreSQL, the Redis lock store, the gateways shared through Redis)
with 1 and 2 Rasa workers behind 1 and 2 gateway replicas, closed-loop customers spread over
the replicas (issue 21, items 3 and 4). The action server and two Rasa workers are started once;
each cell starts its gateway replicas in front of its workers and stops them after. The pure
half, figures and report: scripts/benchlib/scaling.py.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from scripts.benchlib.figures import GATEWAY
from scripts.benchlib.machine import CpuUse, conditions_text
from scripts.benchlib.report import Part, RunInfo
from scripts.benchlib.scaling import (
    CELLS,
    DRIVER,
    Cell,
    ScalingBench,
    cell_name,
    parse_cells,
    scaling_part,
    summary,
)
from scripts.benchload import REQUEST_TIMEOUT, SETTLE, Send, Tally, customer, via_gateway, via_rasa
from scripts.benchstack import (
    MODEL,
    Backends,
    BenchError,
    ServerCpu,
    Servers,
    groups_of,
    model_text,
    read,
    say,
    start_backends,
    start_gateway,
    wait_until_ready,
)
from scripts.benchtrackers import backing, missing

WARMUP_SECONDS = 180.0
"""A warm-up that takes longer than this stops the bench (a server hangs)."""
CELL_GATEWAY_ENV = {"QUALITY_REPORTS": "0"}
"""The cells' gateways start afresh, minutes apart: the scheduled job of the evaluation reports
(bot/report_schedule.py), which builds the service-quality facts and makes the reports due once
at start-up in a child process of the gateway, would run inside each cell's measurement, which
a deployment's running replicas do not do."""


@dataclass(frozen=True)
class ScalingOptions:
    cells: tuple[tuple[int, int], ...]
    customers: int
    seconds: float
    warmup: int


def _cells(raw: str) -> tuple[tuple[int, int], ...]:
    try:
        return parse_cells(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scaling-seconds", type=float, default=20.0,
        help="seconds of closed-loop customers per cell of the scaling part [20]; 0: no scaling"
        " part",
    )  # fmt: skip
    parser.add_argument(
        "--scaling-customers", type=int, default=20, help="its closed-loop customers [20]"
    )
    parser.add_argument(
        "--scaling-cells", type=_cells, default=CELLS,
        help="its cells, Rasa workers x gateway replicas [1x1,2x1,1x2,2x2]",
    )  # fmt: skip


def scaling_options(args: argparse.Namespace) -> ScalingOptions | None:
    """The scaling part, when this run measures it (BenchError: its options make no sense)."""
    if args.only not in (None, "scaling") or args.scaling_seconds == 0:
        return None
    if args.scaling_seconds < 1 or args.scaling_customers < 1:
        raise BenchError(
            "--scaling-seconds must be 0 (no scaling part) or at least 1, --scaling-customers"
            " at least 1"
        )
    return ScalingOptions(args.scaling_cells, args.scaling_customers, args.scaling_seconds,
                          args.warmup)  # fmt: skip


# --- one cell -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarmUp:
    name: str
    """What the error says: "Rasa worker 2", "gateway replica 1"."""
    tag: str
    """In the conversations' sender ids (letters, digits and dashes)."""
    send: Send
    conversations: int


async def _warm_up(
    session: aiohttp.ClientSession, paths: list[WarmUp], phones: Iterator[int]
) -> None:
    """Whole conversations down each path, not counted; an error stops the bench."""
    deadline = time.monotonic() + WARMUP_SECONDS
    tallies = {path.name: Tally() for path in paths}
    await asyncio.gather(
        *(
            customer(session, path.send, f"w-{path.tag}-{n}", deadline, tallies[path.name],
                     phones, conversations=1)
            for path in paths
            for n in range(path.conversations)
        )
    )  # fmt: skip
    for name, tally in tallies.items():
        if tally.errors:
            raise BenchError(f"{name} fails already in the warm-up: {dict(tally.errors)}")


async def _drive(
    gateways: list[str],
    workers: tuple[str, ...],
    named: Mapping[str, set[int]],
    options: ScalingOptions,
    tag: str,
    phones: Iterator[int],
) -> tuple[Tally, CpuUse]:
    """The cell's customers (customer n on replica n mod replicas) after the warm-up, and the
    CPU use over their stretch."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sends = [via_gateway(url) for url in gateways]
        warm = [WarmUp(f"Rasa worker {n}", f"{tag}-rasa{n}", via_rasa((url,)), options.warmup)
                for n, url in enumerate(workers, 1)]  # fmt: skip
        warm += [WarmUp(f"gateway replica {n}", f"{tag}-gateway{n}", send, 1)
                 for n, send in enumerate(sends, 1)]  # fmt: skip
        say(f"scaling {tag}: warming up ...")
        await _warm_up(session, warm, phones)
        await asyncio.sleep(SETTLE)
        cpu = ServerCpu(named)
        tally = Tally()
        started, deadline = time.perf_counter(), time.monotonic() + options.seconds
        await asyncio.gather(
            *(
                customer(session, sends[n % len(sends)], f"scaling-{tag}-C{n}", deadline, tally,
                         phones, offset=n)
                for n in range(options.customers)
            )
        )  # fmt: skip
        tally.seconds = time.perf_counter() - started
        use = cpu.use()
    return tally, use


def _watched(servers: Servers, gateways: Servers) -> dict[str, set[int]]:
    """The process groups a cell's CPU names: the servers by name, the bench's driver, and the
    machine's PostgreSQL and Redis servers."""
    named = {name: {group} for name, group in servers.named().items()}
    named.update({name: {group} for name, group in gateways.named().items()})
    named[DRIVER] = {os.getpgrp()}
    named["postgres"] = groups_of("postgres")
    named["redis"] = groups_of("redis-server")
    return named


def measure_cell(
    servers: Servers,
    backends: Backends,
    work: Path,
    cell: tuple[int, int],
    options: ScalingOptions,
    phones: Iterator[int],
) -> Cell:
    """One cell: its gateway replicas started in front of its workers, driven, stopped. The
    cells share the stack's databases: their conversations' sender ids name the cell, and
    `phones` goes on from one cell to the next (a fault report's duplicate check matches
    phone numbers)."""
    workers, replicas = cell
    tag = cell_name(workers, replicas).replace("×", "x")
    logs = work / f"cell-{tag}"
    logs.mkdir()
    rasa_urls = backends.rasa_urls[:workers]
    with Servers(logs) as gateways:
        urls = [
            start_gateway(
                gateways,
                backends,
                "gateway" if n == 1 else f"gateway-{n}",
                rasa_urls,
                CELL_GATEWAY_ENV,
            )[0]
            for n in range(1, replicas + 1)
        ]
        wait_until_ready(gateways, [f"{url}/health" for url in urls])
        named = _watched(servers, gateways)
        tally, use = asyncio.run(_drive(urls, rasa_urls, named, options, tag, phones))
        gateways.check()
        servers.check()
        say(f"scaling {tag}: stopping its gateway replicas ...")
    closed = tally.run(GATEWAY, options.customers)
    say(f"scaling {tag}: {closed.rate:.1f} msg/s, p50 {closed.p50:.0f} ms, p95"
        f" {closed.p95:.0f} ms, errors {closed.errors}, cores {use.busy:.0%} busy")  # fmt: skip
    return Cell(workers, replicas, closed, use)


# --- the part -----------------------------------------------------------------------------------


def measure_scaling(run: RunInfo, options: ScalingOptions, note: str) -> ScalingBench:
    if not MODEL.exists():
        raise BenchError(f"{MODEL} is missing: run `make train`")
    why = missing("postgres")
    if why is not None:
        say(f"scaling: not measured: {why}")
        return ScalingBench(run, model_text(), options.customers, options.seconds,
                            options.warmup, "", (), skipped=why)  # fmt: skip
    workers = max(workers for workers, _ in options.cells)
    load_before = read("/proc/loadavg").split(" ")[0] or "unknown"
    cells: list[Cell] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-scaling-") as name,
        backing("postgres", Path(name)) as data,
        Servers(Path(name)) as servers,
    ):
        work = Path(name)
        say(f"scaling: {workers} Rasa worker(s) on PostgreSQL + Redis ...")
        backends = start_backends(servers, work, workers, data)
        wait_until_ready(servers, backends.ready_urls())
        phones = itertools.count(1)
        for cell in options.cells:
            cells.append(measure_cell(servers, backends, work, cell, options, phones))
        say("scaling: stopping the stack ...")
    # the cells' stretches, alike in length: how busy the machine was while they were measured
    ours = sum(cell.cpu.shares()[0] for cell in cells) / len(cells)
    others = sum(cell.cpu.shares()[1] for cell in cells) / len(cells)
    conditions = conditions_text(
        load_before, (ours, others), cells[0].cpu.cores, note,
        ours="the bench's stack and driver, PostgreSQL and Redis (shared with other sessions)",
    )  # fmt: skip
    return ScalingBench(run, model_text(), options.customers, options.seconds, options.warmup,
                        conditions, tuple(cells))  # fmt: skip


def scaling_section(args: argparse.Namespace, run: RunInfo, existing: str) -> Part:
    """The part's section: measured when this run includes it (printing its summary), else
    carried over from `existing`."""
    options = scaling_options(args)
    if options is None:
        return scaling_part(None, existing)
    bench = measure_scaling(run, options, args.note)
    print(summary(bench))
    return scaling_part(bench, existing)
