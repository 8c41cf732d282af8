"""`make bench`'s quality part (`--only quality`; `--quality-repetitions 0` leaves it out): the
service-quality dashboard's views and the annual report on a county's year, on PostgreSQL (the
pure half, figures and report: scripts/benchlib/quality.py).

In a throwaway database on the server of $BENCH_DATABASE_URL (else $TEST_DATABASE_URL), dropped
at the end: `python -m store history --scale county` writes thirteen months ending early on the
1st of January (so the whole of last year is in it), `python -m store quality-refresh` builds the
facts (both timed), a manager is created. Then the real gateway (`python -m bot`, no Rasa
behind it: the dashboard does not need one) serves the console: the bench logs in as the
manager, adds improvement measures, has the annual report generated through the console's API
(timed), and times every view of scripts/benchlib/quality.py round after round (the HTTP half:
scripts/benchquality_http.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, func, make_url, select, text

from scripts.benchlib.machine import conditions_text, cpu_model_and_cores
from scripts.benchlib.quality import (
    QualityBench,
    history_moment,
    measured_year,
    quality_part,
    summary,
)
from scripts.benchlib.quality_views import Choices
from scripts.benchlib.report import Part, RunInfo
from scripts.benchquality_http import MANAGER, Drive, drive
from scripts.benchstack import (
    BENCH_GATEWAY_ENV,
    ROOT,
    BenchError,
    CpuWatch,
    Servers,
    child_env,
    free_port,
    groups_of,
    read,
    say,
    wait_until_ready,
)
from store.config import load_settings
from store.db import normalise_url
from store.models import (
    Conversation,
    Message,
    QualityConversationDay,
    QualityHandoffFacts,
    QualityTicketFacts,
    ServiceArea,
    StaffUser,
    Ticket,
)

SCALE = "county"


@dataclass(frozen=True)
class QualityOptions:
    repetitions: int
    reports: int = 3
    scale: str = SCALE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quality-repetitions",
        type=int,
        default=20,
        help="requests of each dashboard view in the quality part [20]; 0: no quality part",
    )


def database_server() -> str | None:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or None


@contextmanager
def scratch_database(server: str, prefix: str = "quality_bench") -> Iterator[str]:
    """A new, empty database on `server`'s PostgreSQL (its URL), dropped afterwards."""
    base = make_url(normalise_url(server))
    if base.get_backend_name() != "postgresql":
        raise BenchError(f"the bench needs PostgreSQL there, not {base.get_backend_name()}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def store_command(url: str, *args: str, stdin: str | None = None) -> tuple[float, str]:
    """`python -m store --url URL ARGS...`: its seconds and its output (BenchError if it fails)."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "store", "--url", url, *args],
        cwd=ROOT, env=child_env(), input=stdin, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        shown = " ".join(args[:2])
        raise BenchError(f"`python -m store {shown}` failed:\n{done.stdout}{done.stderr}")
    return time.monotonic() - began, done.stdout.strip()


def vacuum(url: str) -> float:
    """`VACUUM (ANALYZE)` of the whole database, its seconds: after millions of rows by COPY the
    planner has no statistics until autovacuum gets round to them, which a station's database in
    daily use has."""
    began = time.monotonic()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    finally:
        engine.dispose()
    return time.monotonic() - began


def year_data(url: str, year: int, tz: ZoneInfo) -> tuple[tuple[tuple[str, int], ...], Choices]:
    """How many tickets, conversations and messages were created in `year`, and the year's
    busiest area, crew, agent and channel (the filtered views use them)."""
    start, end = datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
    first, last = start.date(), end.date()
    T, H, D = QualityTicketFacts, QualityHandoffFacts, QualityConversationDay
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            counts = tuple(
                (what, int(conn.scalar(select(func.count()).where(at >= start, at < end)) or 0))
                for what, at in (("tickets", Ticket.created_at),
                                 ("conversations", Conversation.created_at),
                                 ("messages", Message.created_at))
            )  # fmt: skip
            most = func.count().desc()
            area = conn.scalar(
                select(ServiceArea.code).join(T, T.area_id == ServiceArea.id)
                .where(T.day >= first, T.day < last).group_by(ServiceArea.code)
                .order_by(most).limit(1)
            )  # fmt: skip
            crew = conn.scalar(
                select(T.crew_id).where(T.day >= first, T.day < last, T.crew_id.is_not(None))
                .group_by(T.crew_id).order_by(most).limit(1)
            )  # fmt: skip
            agent = conn.scalar(
                select(StaffUser.username).join(H, H.agent_id == StaffUser.id)
                .where(H.day >= first, H.day < last).group_by(StaffUser.username)
                .order_by(most).limit(1)
            )  # fmt: skip
            channel = conn.scalar(
                select(D.channel).where(D.day >= first, D.day < last).group_by(D.channel)
                .order_by(most).limit(1)
            )  # fmt: skip
    finally:
        engine.dispose()
    if area is None or crew is None or agent is None or channel is None:
        raise BenchError(f"the generated history has no repairs or chats in {year}")
    return counts, Choices(area, crew, agent, channel)


def start_gateway(servers: Servers, url: str) -> str:
    """The gateway on a free loopback port with the console on `url`'s database; its base URL.
    Rasa and the action server are never reached (nothing listens on their ports)."""
    port = free_port()
    servers.start(
        "gateway",
        [sys.executable, "-m", "bot"],
        child_env(
            GATEWAY_HOST="127.0.0.1",
            GATEWAY_PORT=str(port),
            RASA_URL=f"http://127.0.0.1:{free_port()}",
            RASA_TOKEN=secrets.token_hex(16),
            ACTION_SERVER_URL=f"http://127.0.0.1:{free_port()}",
            DATABASE_URL=url,
            GATEWAY_SHUTDOWN_TIMEOUT="5",
            QUALITY_REPORTS="0",
            OUTAGE_NOTICES="0",
            **BENCH_GATEWAY_ENV,
        ),
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_ready(servers, [f"{base}/console/login"])
    return base


def postgres_groups() -> set[int]:
    """The process groups of the PostgreSQL server's processes on this machine: its backends
    do the dashboard's work, so their CPU counts as the bench's (other sessions on the same
    server included)."""
    return groups_of("postgres")


@dataclass(frozen=True)
class Prepared:
    """The data written and measured before the gateway starts."""

    url: str
    command: str
    year: int
    counts: tuple[tuple[str, int], ...]
    choices: Choices
    history_seconds: float
    facts_seconds: float
    facts_summary: str


def prepare(url: str, scale: str, password: str) -> Prepared:
    """The history, its facts and the manager, in the database at `url`."""
    settings = load_settings()
    at = history_moment(datetime.now(UTC), settings.tz)
    args = ["history", "--scale", scale, "--now", at.isoformat()]
    say(f"quality: writing the history ({' '.join(args)}), about 2 minutes ...")
    history_seconds, _ = store_command(url, *args)
    say(f"quality: history written in {history_seconds:.0f} s; building the facts ...")
    facts_seconds, printed = store_command(url, "quality-refresh")
    say(f"quality: {printed}; VACUUM (ANALYZE) ...")
    say(f"quality: vacuumed and analysed in {vacuum(url):.0f} s")
    store_command(url, "create-user", MANAGER, "--role", "manager", "--password-stdin",
                  stdin=password + "\n")  # fmt: skip
    year = measured_year(at, settings.tz)
    counts, choices = year_data(url, year, settings.tz)
    command = f"python -m store {' '.join(args)}"
    return Prepared(url, command, year, counts, choices, history_seconds, facts_seconds, printed)


def _measure(
    ready: Prepared, options: QualityOptions, password: str
) -> tuple[Drive, tuple[float, float]]:
    """The gateway's part: the report generated and the views timed; the CPU shares."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-quality-") as work,
        Servers(Path(work)) as servers,
    ):
        base = start_gateway(servers, ready.url)
        cpu = CpuWatch(servers.groups() | postgres_groups())
        driven = asyncio.run(drive(base, password, ready.year, ready.choices, options.repetitions,
                                   options.reports))  # fmt: skip
        shares = cpu.shares()
        servers.check()
        say("quality: stopping the gateway ...")
    return driven, shares


def measure_quality(run: RunInfo, options: QualityOptions, note: str) -> QualityBench:
    """The whole part, its database dropped at the end."""
    server = database_server()
    if server is None:
        raise BenchError(
            "the quality part needs PostgreSQL: set BENCH_DATABASE_URL or TEST_DATABASE_URL"
        )
    load_before = read("/proc/loadavg").split(" ")[0] or "unknown"
    password = secrets.token_urlsafe(18)
    with scratch_database(server) as url:
        ready = prepare(url, options.scale, password)
        driven, shares = _measure(ready, options, password)
        say("quality: dropping the database ...")
    cores = cpu_model_and_cores(read("/proc/cpuinfo"))[1] or os.cpu_count() or 0
    conditions = conditions_text(
        load_before, shares, cores, note, started="the quality part started",
        ours="the bench, its gateway and the PostgreSQL server (shared with other sessions)",
    )  # fmt: skip
    return QualityBench(
        run=run, conditions=conditions, history_command=ready.command, year=ready.year,
        year_counts=ready.counts, history_seconds=ready.history_seconds,
        facts_seconds=ready.facts_seconds, facts_summary=ready.facts_summary,
        repetitions=options.repetitions, plan_measures=driven.plan_measures,
        timings=driven.timings, report_seconds=driven.report_seconds,
        report_pdf_bytes=driven.report_pdf_bytes,
    )  # fmt: skip


def quality_section(args: argparse.Namespace, run: RunInfo, existing: str) -> Part:
    """The part's section: measured when this run includes it (printing its summary), else
    carried over from `existing`."""
    if args.only not in (None, "quality") or args.quality_repetitions < 1:
        return quality_part(None, existing)
    if database_server() is None and args.only is None:
        say("quality: neither BENCH_DATABASE_URL nor TEST_DATABASE_URL is set: not measured")
        return quality_part(None, existing)
    bench = measure_quality(run, QualityOptions(args.quality_repetitions), args.note)
    print(summary(bench))
    return quality_part(bench, existing)
