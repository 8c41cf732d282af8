"""`make bench`'s outage part: one outage notice fanned out to 20,000 Telegram subscribers while
customers chat (the pure half, figures and report: scripts/benchlib/outages.py).

A stack of its own (scripts/benchstack.py: a seeded SQLite database, the action server, Rasa
with the trained model, the gateway), the gateway's Telegram channel pointed at a fake Bot API
on loopback (scripts/benchlib/fakebot.py: Telegram's flood limits enforced with 429s). The
subscribers are written straight into the database; then `customers` simulated customers chat
through the JSON API for `seconds`, a planned outage is published for the subscribers' village
(as the console publishes it), and the customers chat for `seconds` more while the gateway's
outage worker fans the notice out. The part ends when every subscriber has it (or the time the
pace allows, twice over, has passed).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from scripts.benchlib.fakebot import TOKEN, FakeBotApi
from scripts.benchlib.figures import GATEWAY
from scripts.benchlib.machine import conditions_text, cpu_model_and_cores
from scripts.benchlib.outages import OutageBench, peak_per_second
from scripts.benchlib.report import RunInfo
from scripts.benchload import warmed_driver
from scripts.benchstack import (
    MODEL,
    BenchError,
    CpuWatch,
    Servers,
    Stack,
    read,
    say,
    start_stack,
)
from store.config import load_settings
from store.configuration.outages import load_outages
from store.db import make_engine, make_session_factory, unit_of_work
from store.models import OutageSubscription
from store.outages import publishing
from store.services import areas

VILLAGE = "东山村"
TELEGRAM_LIMIT = 30
FIRST_CHAT = 1_000_000_000


@dataclass(frozen=True)
class OutageOptions:
    subscribers: int
    customers: int
    seconds: float
    warmup: int


def subscribe_all(url: str, count: int) -> None:
    """`count` Telegram chats subscribed to VILLAGE, in one transaction."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            area = areas.match_area(session, VILLAGE)
            if area is None:
                raise BenchError(f"{VILLAGE} is not in the seeded database")
            rows = [
                {"conversation_id": f"telegram:{FIRST_CHAT + n}", "channel": "telegram",
                 "area_id": area.id, "created_at": now, "updated_at": now}
                for n in range(count)
            ]  # fmt: skip
            session.execute(insert(OutageSubscription), rows)
    finally:
        engine.dispose()


def publish(url: str) -> str:
    """A planned outage in VILLAGE, ten days ahead, published as the console does it."""
    settings = load_settings()
    config = load_outages(settings.conf_dir, [a.code for a in settings.areas])
    engine = make_engine(url)
    now = datetime.now(UTC)
    start = now + timedelta(days=10)
    draft = publishing.Draft(
        "planned", (VILLAGE,), start, start + timedelta(hours=8), "10kV东山线检修（压力测试）"
    )
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            desk = publishing.Desk(session, settings, config, "bench", "dispatcher", now)
            return publishing.publish(desk, draft).outage.outage_no
    finally:
        engine.dispose()


async def _wait_for_all(bot: FakeBotApi, subscribers: int, within: float) -> None:
    deadline, reported = time.monotonic() + within, time.monotonic()
    while len(bot.record.per_chat()) < subscribers and time.monotonic() < deadline:
        await asyncio.sleep(1)
        if time.monotonic() - reported >= 30:
            reported = time.monotonic()
            say(f"outages: {len(bot.record.per_chat()):,} of {subscribers:,} told")


async def _drive(stack: Stack, url: str, bot: FakeBotApi, options: OutageOptions) -> OutageBench:
    async with warmed_driver(stack, options.warmup) as driver:
        say(f"outages: {options.customers} customers chat {options.seconds:g} s without ...")
        quiet = await driver.drive(GATEWAY, options.customers, options.seconds, "outage-quiet")
        published = time.monotonic()
        number = await asyncio.to_thread(publish, url)
        say(f"outages: {number} published for {options.subscribers:,} subscribers")
        during = await driver.drive(GATEWAY, options.customers, options.seconds, "outage-during")
        settings = load_settings()
        pace = load_outages(settings.conf_dir, [a.code for a in settings.areas]).delivery
        within = 2 * options.subscribers / pace.pace("telegram").per_second + 120
        await _wait_for_all(bot, options.subscribers, within)
    sent = bot.record.sent
    chats = bot.record.per_chat()
    errors = {f"{name}: {kind}": count for name, tally in (("without", quiet), ("during", during))
              for kind, count in tally.errors.items()}  # fmt: skip
    return OutageBench(
        run=RunInfo("", "", ""),
        conditions="",
        subscribers=options.subscribers,
        pace=pace.pace("telegram").per_second,
        limit=TELEGRAM_LIMIT,
        told=len(chats),
        twice=sum(1 for count in chats.values() if count > 1),
        seconds=(max(t for t, _ in sent) - published) if sent else 0.0,
        peak=peak_per_second([t for t, _ in sent]),
        refused=len(bot.record.refused),
        customers=options.customers,
        quiet_ms=tuple(quiet.latencies_ms),
        during_ms=tuple(during.latencies_ms),
        customer_errors=tuple(sorted(errors.items())),
    )


def measure_outages(run: RunInfo, options: OutageOptions, note: str) -> OutageBench:
    """The whole part: its stack, the fan-out, the figures with the run's conditions."""
    if not MODEL.exists():
        raise BenchError(f"{MODEL} is missing: run `make train`")
    load_before = read("/proc/loadavg").split(" ")[0] or "unknown"
    with (
        FakeBotApi(per_second=TELEGRAM_LIMIT) as bot,
        tempfile.TemporaryDirectory(prefix="bench-outages-") as work,
        Servers(Path(work)) as servers,
    ):
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": bot.base_url}
        stack = start_stack(servers, Path(work), gateway_env=env)
        url = f"sqlite:///{Path(work) / 'assistant.db'}"
        say(f"outages: subscribing {options.subscribers:,} Telegram chats ...")
        subscribe_all(url, options.subscribers)
        cpu = CpuWatch(servers.groups())
        measured = asyncio.run(_drive(stack, url, bot, options))
        shares = cpu.shares()
        servers.check()
        say("stopping the outage part's servers ...")
    cores = cpu_model_and_cores(read("/proc/cpuinfo"))[1] or os.cpu_count() or 0
    conditions = conditions_text(load_before, shares, cores, note)
    return replace(measured, run=run, conditions=conditions)
