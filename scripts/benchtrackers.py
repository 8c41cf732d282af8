"""`make bench`'s tracker part (`--only trackers` measures only it, `--trackers none` leaves it
out): the assistant with each of Rasa's tracker store configurations, one stack after another,
under closed-loop customers and an open-loop load at fixed rates (the pure half, figures and
report: scripts/benchlib/trackers.py; the open loop: scripts/benchlib/openloop.py and
scripts/benchload.py `open_loop`).

- `memory`: Rasa's in-memory tracker store, the gateway part's stack.
- `sql`: what `make run` runs: the tracker store of endpoints.yml, a SQLite file
  (RASA_TRACKER_DIALECT=sqlite, RASA_TRACKER_DB), as scripts/run.sh sets them.
- `postgres`: what Docker Compose runs: the tracker and lock stores of
  deploy/endpoints.compose.yml (PostgreSQL, Redis) pointed at this machine's servers, the
  assistant's database on PostgreSQL too and the gateway shared through Redis
  (GATEWAY_SHARED=1). PostgreSQL: the server of $BENCH_DATABASE_URL, else $TEST_DATABASE_URL,
  in two scratch databases dropped at the end; Redis: $BENCH_REDIS_URL, else $TEST_REDIS_URL,
  under a key prefix of its own whose keys are deleted at the end. Without either it is reported
  as not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import redis
import yaml
from sqlalchemy import make_url

from scripts.benchlib.figures import GATEWAY
from scripts.benchlib.machine import CpuUse, conditions_text
from scripts.benchlib.openloop import Conversations, OpenRate
from scripts.benchlib.report import Part, RunInfo
from scripts.benchlib.trackers import (
    TRACKERS,
    TrackerBench,
    TrackerRun,
    summary,
    tracker_part,
)
from scripts.benchload import SETTLE, open_loop, warmed_driver
from scripts.benchquality import database_server, scratch_database
from scripts.benchstack import (
    MODEL,
    ROOT,
    Backing,
    BenchError,
    ServerCpu,
    Servers,
    Stack,
    groups_of,
    model_text,
    read,
    say,
    start_stack,
)

RUN_ENDPOINTS = ROOT / "endpoints.yml"
COMPOSE_ENDPOINTS = ROOT / "deploy" / "endpoints.compose.yml"


@dataclass(frozen=True)
class TrackerOptions:
    trackers: tuple[str, ...]
    customers: int
    closed_seconds: float
    rates: tuple[float, ...]
    open_seconds: float
    warmup: int


def _trackers(raw: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    if names == ("none",):
        return ()
    wrong = [name for name in names if name not in TRACKERS]
    if wrong or not names:
        raise argparse.ArgumentTypeError(
            f"tracker stores are {', '.join(TRACKERS)} (comma-separated) or none, got {raw!r}"
        )
    return tuple(dict.fromkeys(names))


def _rates(raw: str) -> tuple[float, ...]:
    try:
        rates = sorted({float(x) for x in raw.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("rates are numbers, e.g. 5,10,20") from None
    if not rates or rates[0] <= 0:
        raise argparse.ArgumentTypeError("rates are messages a second above 0, e.g. 5,10,20")
    return tuple(rates)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trackers",
        type=_trackers,
        default=TRACKERS,
        help="the tracker part's configurations [memory,sql,postgres]; none: no tracker part",
    )
    parser.add_argument(
        "--tracker-customers", type=int, default=10, help="its closed-loop customers [10]"
    )
    parser.add_argument(
        "--tracker-seconds", type=float, default=20.0, help="their seconds per configuration [20]"
    )
    parser.add_argument(
        "--open-rates", type=_rates, default=(5.0, 10.0, 20.0),
        help="the open loop's messages a second [5,10,20]",
    )  # fmt: skip
    parser.add_argument(
        "--open-seconds", type=float, default=20.0, help="seconds of each open-loop rate [20]"
    )


def tracker_options(args: argparse.Namespace) -> TrackerOptions | None:
    """The tracker part, when this run measures it (BenchError: its options make no sense)."""
    if args.only not in (None, "trackers") or not args.trackers:
        return None
    if args.tracker_customers < 1 or args.tracker_seconds <= 0 or args.open_seconds <= 0:
        raise BenchError(
            "--tracker-customers must be at least 1, --tracker-seconds and --open-seconds more"
            " than 0"
        )
    return TrackerOptions(args.trackers, args.tracker_customers, args.tracker_seconds,
                          args.open_rates, args.open_seconds, args.warmup)  # fmt: skip


# --- the configurations -------------------------------------------------------------------------


def endpoints_section(name: str, values: Mapping[str, object]) -> str:
    """One section of Rasa's endpoints.yml, every value unquoted: Rasa fills in ${VARIABLES}
    only in unquoted values."""
    return "\n".join([f"{name}:", *(f"  {key}: {value}" for key, value in values.items())]) + "\n"


def _stores(path: Path) -> dict[str, dict[str, object]]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {name: dict(loaded[name]) for name in ("tracker_store", "lock_store") if name in loaded}


def sql_backing(tracker_db: Path) -> Backing:
    """`make run`'s tracker store: endpoints.yml's, with the variables scripts/run.sh sets."""
    store = _stores(RUN_ENDPOINTS)["tracker_store"]
    return Backing(
        rasa_endpoints=endpoints_section("tracker_store", store),
        rasa_env={"RASA_TRACKER_DIALECT": "sqlite", "RASA_TRACKER_DB": str(tracker_db)},
    )


def compose_backing(
    assistant_url: str, tracker_url: str, redis_url: str, prefix: str, compose: Path
) -> Backing:
    """Docker Compose's stores (`compose`: deploy/endpoints.compose.yml) pointed at this
    machine's PostgreSQL (the tracker in `tracker_url`'s database, as Compose keeps it in a
    database of its own beside the assistant's) and Redis (keys under `prefix`); the gateway
    and the action server on `assistant_url`, the gateway shared through Redis as Compose
    runs it. Secrets stay out of the file: Rasa fills them in from its environment."""
    stores = _stores(compose)
    tracker, lock = stores["tracker_store"], stores["lock_store"]
    database = make_url(tracker_url)
    cache = urlsplit(redis_url)
    env = {
        "RASA_TRACKER_DB": database.database or "",
        "POSTGRES_DB": make_url(assistant_url).database or "postgres",
        "POSTGRES_USER": database.username or "postgres",
    }
    tracker.update(url=database.host or "127.0.0.1", port=database.port or 5432)
    if database.password:
        env["POSTGRES_PASSWORD"] = database.password
    else:
        tracker.pop("password", None)
    redis_db = (cache.path or "/0").lstrip("/") or "0"
    lock.update(url=cache.hostname or "127.0.0.1", port=cache.port or 6379, db=redis_db,
                key_prefix=prefix)  # fmt: skip
    if cache.password:
        lock["password"] = "${REDIS_PASSWORD}"
        env["REDIS_PASSWORD"] = cache.password
    return Backing(
        database_url=assistant_url,
        rasa_endpoints=endpoints_section("tracker_store", tracker)
        + endpoints_section("lock_store", lock),
        rasa_env=env,
        gateway_env={
            "GATEWAY_SHARED": "1",
            "REDIS_URL": redis_url,
            "GATEWAY_REDIS_PREFIX": f"{prefix}gateway",
        },
    )


def redis_server() -> str | None:
    return os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or None


def delete_keys(redis_url: str, prefix: str) -> None:
    """Every key under `prefix` (Rasa's locks, the gateway's leases and limits) deleted."""
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
    finally:
        client.close()


@contextmanager
def backing(tracker: str, work: Path) -> Iterator[Backing]:
    """Where a configuration keeps its data, removed afterwards."""
    if tracker == "memory":
        yield Backing()
    elif tracker == "sql":
        yield sql_backing(work / "rasa-tracker.db")
    else:
        server, redis_url = database_server(), redis_server()
        if server is None or redis_url is None:
            raise BenchError("the postgres configuration needs PostgreSQL and Redis")
        prefix = f"bench{uuid.uuid4().hex[:10]}"
        with ExitStack() as cleanup:
            assistant = cleanup.enter_context(scratch_database(server, "bench_assistant"))
            tracker_db = cleanup.enter_context(scratch_database(server, "bench_tracker"))
            cleanup.callback(delete_keys, redis_url, prefix)
            yield compose_backing(assistant, tracker_db, redis_url, prefix, COMPOSE_ENDPOINTS)


def missing(tracker: str) -> str | None:
    """Why a configuration cannot be measured on this machine, or None."""
    if tracker != "postgres":
        return None
    if database_server() is None:
        return "neither BENCH_DATABASE_URL nor TEST_DATABASE_URL is set"
    if redis_server() is None:
        return "neither BENCH_REDIS_URL nor TEST_REDIS_URL is set"
    return None


# --- measuring ----------------------------------------------------------------------------------


async def _drive(
    stack: Stack, named: Mapping[str, set[int]], options: TrackerOptions, tracker: str
) -> tuple[TrackerRun, CpuUse]:
    """The configuration's figures (their conditions still to be written) and the CPU use
    over all of its loads."""
    async with warmed_driver(stack, options.warmup) as driver:
        whole = ServerCpu(named)
        await asyncio.sleep(SETTLE)
        cpu = ServerCpu(named)
        tally = await driver.drive(
            GATEWAY, options.customers, options.closed_seconds, f"{tracker}-closed", settle=0
        )
        closed, closed_cpu = tally.run(GATEWAY, options.customers), cpu.use()
        say(f"{tracker}: {options.customers} customers: {closed.rate:.1f} msg/s, p50"
            f" {closed.p50:.0f} ms, p95 {closed.p95:.0f} ms, errors {closed.errors}")  # fmt: skip
        rates: list[OpenRate] = []
        uses: list[CpuUse] = []
        for rate in options.rates:
            await asyncio.sleep(SETTLE)
            cpu = ServerCpu(named)
            conversations = Conversations(f"{tracker}-{rate:g}", driver.phones)
            found = await open_loop(
                driver.session, driver.sends[GATEWAY], rate, options.open_seconds, conversations
            )
            rates.append(found)
            uses.append(cpu.use())
            say(f"{tracker}: open loop {rate:g}/s: achieved {found.achieved:.1f}/s, p50"
                f" {found.p50:.0f} ms, p95 {found.p95:.0f} ms, errors {found.errors}")  # fmt: skip
    return TrackerRun(tracker, "", closed, closed_cpu, tuple(rates), tuple(uses)), whole.use()


def _watched(servers: Servers, tracker: str) -> dict[str, set[int]]:
    """The process groups whose CPU a configuration's figures name: its servers, the bench's
    client, and for `postgres` the PostgreSQL and Redis servers (other sessions' work on them
    included)."""
    named = {name: {group} for name, group in servers.named().items()}
    named["bench client"] = {os.getpgrp()}
    if tracker == "postgres":
        named["postgres"] = groups_of("postgres")
        named["redis"] = groups_of("redis-server")
    return named


def measure_config(tracker: str, options: TrackerOptions, note: str) -> TrackerRun:
    """One configuration on a stack of its own, stopped (and its data removed) at the end."""
    say(f"trackers: {tracker} ...")
    load_before = read("/proc/loadavg").split(" ")[0] or "unknown"
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-{tracker}-") as work,
        backing(tracker, Path(work)) as data,
        Servers(Path(work)) as servers,
    ):
        stack = start_stack(servers, Path(work), backing=data)
        measured, whole = asyncio.run(_drive(stack, _watched(servers, tracker), options, tracker))
        servers.check()  # every server still up at the end, or the figures are suspect
        say(f"trackers: stopping the {tracker} stack ...")
    ours = "the bench's stack and client" + (
        ", PostgreSQL and Redis (shared with other sessions)" if tracker == "postgres" else ""
    )
    conditions = conditions_text(load_before, whole.shares(), whole.cores, note, ours=ours)
    return replace(measured, conditions=conditions)


def measure_trackers(run: RunInfo, options: TrackerOptions, note: str) -> TrackerBench:
    if not MODEL.exists():
        raise BenchError(f"{MODEL} is missing: run `make train`")
    configs: list[TrackerRun] = []
    skipped: list[tuple[str, str]] = []
    for tracker in options.trackers:
        why = missing(tracker)
        if why is not None:
            say(f"trackers: {tracker} not measured: {why}")
            skipped.append((tracker, why))
            continue
        configs.append(measure_config(tracker, options, note))
    return TrackerBench(
        run=run, model=model_text(), customers=options.customers,
        closed_seconds=options.closed_seconds, open_seconds=options.open_seconds,
        rates=options.rates, warmup=options.warmup, configs=tuple(configs),
        skipped=tuple(skipped),
    )  # fmt: skip


def tracker_section(args: argparse.Namespace, run: RunInfo, existing: str) -> Part:
    """The part's section: measured when this run includes it (printing its summary), else
    carried over from `existing`."""
    options = tracker_options(args)
    if options is None:
        return tracker_part(None, existing)
    bench = measure_trackers(run, options, args.note)
    print(summary(bench))
    return tracker_part(bench, existing)
