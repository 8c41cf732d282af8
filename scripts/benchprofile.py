"""`make bench`'s profile part (`--only profile` measures only it, `--profile-seconds 0` leaves
it out): where one Rasa worker's time goes per customer message (issue 21 item 2), before and
after the cost cuts. Two stacks of their own, one after the other, with `make run`'s tracker
store (the SQL one on SQLite, scripts/benchtrackers.py's `sql`): first stock Rasa (Rasa started
with TOWNSHIP_RASA_FAST=0, so rasa_addons installs none of its fast paths; `--no-profile-stock`
leaves this run out), then Rasa as it runs (the fast paths on). On each, closed-loop customers on
the realistic script through the gateway, and py-spy (a pinned dev dependency of .venv)
recording the Rasa process and the action server by pid meanwhile. The classification and the
report: scripts/benchlib/profile.py, scripts/benchlib/profile_report.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
import tempfile
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from scripts.benchlib.figures import GATEWAY
from scripts.benchlib.machine import conditions_text
from scripts.benchlib.profile import Turns, breakdown, classify_actions, turns
from scripts.benchlib.profile_report import Profile, ProfileBench, profile_part, summary
from scripts.benchlib.report import Part, RunInfo
from scripts.benchload import SETTLE, Tally, warmed_driver
from scripts.benchstack import (
    MODEL,
    ROOT,
    BenchError,
    ServerCpu,
    Servers,
    Stack,
    model_text,
    read,
    say,
    start_stack,
)
from scripts.benchtrackers import sql_backing

FAST_SWITCH = "TOWNSHIP_RASA_FAST"
"""rasa_addons' switch (rasa_addons/pinned.py FAST_SWITCH): 0 leaves Rasa's own code in place."""

PY_SPY = Path(sys.executable).with_name("py-spy")
TRACKER = "sql"
LEAD = 3.0
"""Seconds of load before py-spy starts and after it stops: the window is all steady load."""


@dataclass(frozen=True)
class ProfileOptions:
    customers: int
    seconds: float
    rate: int
    warmup: int
    keep: Path | None = None
    """Where py-spy's raw output is kept (rasa.txt, actions.txt; stock-rasa.txt,
    stock-actions.txt of the stock run), for a flame graph."""
    stock: bool = True
    """Profile stock Rasa first (the fast paths off), for the before and after."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile-seconds", type=float, default=30.0,
        help="seconds py-spy records the Rasa worker under load [30]; 0: no profile part",
    )  # fmt: skip
    parser.add_argument(
        "--profile-customers", type=int, default=10, help="its closed-loop customers [10]"
    )
    parser.add_argument(
        "--profile-rate", type=int, default=100, help="py-spy's samples a second [100]"
    )
    parser.add_argument(
        "--profile-keep", type=Path, default=None,
        help="a directory to keep py-spy's collapsed stacks in (rasa.txt, actions.txt)",
    )  # fmt: skip
    parser.add_argument(
        "--profile-stock", action=argparse.BooleanOptionalAction, default=True,
        help="profile stock Rasa too (TOWNSHIP_RASA_FAST=0), before the fast paths [yes]",
    )  # fmt: skip


def profile_options(args: argparse.Namespace) -> ProfileOptions | None:
    """The profile part, when this run measures it (BenchError: its options make no sense)."""
    if args.only not in (None, "profile") or args.profile_seconds == 0:
        return None
    if args.profile_seconds < 1 or args.profile_customers < 1 or args.profile_rate < 1:
        raise BenchError(
            "--profile-seconds must be 0 (no profile) or at least 1, --profile-customers and"
            " --profile-rate at least 1"
        )
    return ProfileOptions(
        args.profile_customers, args.profile_seconds, args.profile_rate, args.warmup,
        args.profile_keep, args.profile_stock,
    )  # fmt: skip


def _spy(pid: int, output: Path, options: ProfileOptions) -> list[str]:
    return [str(PY_SPY), "record", "--pid", str(pid), "--format", "raw", "--rate",
            str(options.rate), "--duration", str(round(options.seconds)), "--subprocesses",
            "--nonblocking", "--output", str(output)]  # fmt: skip


async def _record(
    stack: Stack, named: dict[str, set[int]], options: ProfileOptions, work: Path
) -> tuple[Tally, float, dict[str, float]]:
    """The customers' tally, their messages a second, and each watched group's CPU share over
    py-spy's window; py-spy's output in work/<name>.txt."""
    async with warmed_driver(stack, options.warmup) as driver:
        await asyncio.sleep(SETTLE)
        seconds = options.seconds + 2 * LEAD
        load = asyncio.create_task(
            driver.drive(GATEWAY, options.customers, seconds, "profile", settle=0)
        )
        await asyncio.sleep(LEAD)
        cpu = ServerCpu(named)
        spies = [
            await asyncio.create_subprocess_exec(
                *_spy(min(named[name]), work / f"{name}.txt", options),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
            for name in ("rasa", "actions")
        ]  # fmt: skip
        outcomes = [await spy.communicate() for spy in spies]
        use = cpu.use()
        tally = await load
    for spy, (_, err) in zip(spies, outcomes, strict=True):
        if spy.returncode != 0:
            raise BenchError(f"py-spy failed ({spy.returncode}): {err.decode()[-2000:]}")
    rate = len(tally.latencies_ms) / tally.seconds if tally.seconds else float("nan")
    return tally, rate, {name: use.of(name) for name in ("rasa", "actions")}


def tracker_turns(database: Path) -> Turns:
    """What Rasa ran per customer message, from its SQL tracker store's events (every
    conversation of the run, the warm-up's included)."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    custom = frozenset(str(name) for name in domain.get("actions") or ())
    forms = frozenset(str(name) for name in domain.get("forms") or {})
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT type_name, action_name, data FROM events ORDER BY id"
        ).fetchall()
    return turns(rows, custom, forms)


def measure_run(run: RunInfo, options: ProfileOptions, note: str, *, fast: bool) -> ProfileBench:
    """One stack: Rasa with its fast paths (`fast`) or stock, profiled under load."""
    which = "with the fast paths" if fast else "stock Rasa (TOWNSHIP_RASA_FAST=0)"
    say(f"profile: {which}, the {TRACKER} tracker store, py-spy for {options.seconds:g} s ...")
    load_before = read("/proc/loadavg").split(" ")[0] or "unknown"
    prefix = "" if fast else "stock-"
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as name:
        work = Path(name)
        tracker_db = work / "rasa-tracker.db"
        data = sql_backing(tracker_db)
        data = replace(data, rasa_env={**data.rasa_env, FAST_SWITCH: "1" if fast else "0"})
        with Servers(work) as servers:
            stack = start_stack(servers, work, backing=data)
            named = {server: {group} for server, group in servers.named().items()}
            named["bench client"] = {os.getpgrp()}
            whole = ServerCpu(named)
            tally, rate, shares = asyncio.run(_record(stack, named, options, work))
            servers.check()
            use = whole.use()
            say("profile: stopping the stack ...")
        found = tracker_turns(tracker_db)
        if options.keep is not None:
            options.keep.mkdir(parents=True, exist_ok=True)
            for server in ("rasa", "actions"):
                shutil.copyfile(work / f"{server}.txt", options.keep / f"{prefix}{server}.txt")
        rasa = Profile("rasa", breakdown(read(work / "rasa.txt")), shares["rasa"])
        actions = Profile(
            "actions", breakdown(read(work / "actions.txt"), classify_actions), shares["actions"]
        )
    conditions = conditions_text(load_before, use.shares(), use.cores, note)
    return ProfileBench(
        run=run, model=model_text(), tracker=TRACKER, customers=options.customers,
        seconds=round(options.seconds), rate_hz=options.rate, messages_per_second=rate,
        errors=sum(tally.errors.values()), conditions=conditions, rasa=rasa, actions=actions,
        turns=found,
    )  # fmt: skip


def measure_profile(run: RunInfo, options: ProfileOptions, note: str) -> ProfileBench:
    """Stock Rasa first (unless left out), then Rasa with its fast paths, on stacks of their
    own: the fast one's figures, the stock one's beside them."""
    if not MODEL.exists():
        raise BenchError(f"{MODEL} is missing: run `make train`")
    if not PY_SPY.exists():
        raise BenchError(f"{PY_SPY} is missing: run `make setup` (py-spy is a dev dependency)")
    stock = measure_run(run, options, note, fast=False) if options.stock else None
    return replace(measure_run(run, options, note, fast=True), stock=stock)


def profile_section(args: argparse.Namespace, run: RunInfo, existing: str) -> Part:
    """The part's section: measured when this run includes it (printing its summary), else
    carried over from `existing`."""
    options = profile_options(args)
    bench = None if options is None else measure_profile(run, options, args.note)
    if bench is not None:
        print(summary(bench))
    return profile_part(bench, existing)
