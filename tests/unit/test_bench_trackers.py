"""The tracker part of `make bench` (scripts/benchtrackers.py) without servers: the open loop's
schedule, its conversations and its latencies counted from each message's due time (driven
against a fake server that answers one message at a time), the figures and what limited them,
the verdict, the BENCHMARKS.md section and its carry-over, the configurations' endpoints, and
the options."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import yaml

from scripts.bench import parse_args
from scripts.benchlib import FAULT_OPENING, Machine, PathRun, Report, RunInfo, render_markdown
from scripts.benchlib.machine import CpuUse, cpu_use
from scripts.benchlib.openloop import Conversations, OpenRate, Turn, open_rate, schedule
from scripts.benchlib.trackers import (
    TrackerBench,
    TrackerRun,
    limit_text,
    previous_trackers,
    summary,
    tracker_part,
    tracker_verdict,
)
from scripts.benchload import Failed, open_loop
from scripts.benchtrackers import (
    COMPOSE_ENDPOINTS,
    compose_backing,
    endpoints_section,
    sql_backing,
    tracker_options,
)

# a reply with what every step of the customer's script expects (a ticket number ends the form)
ON_SCRIPT = "供电所 阶梯 户号 后4位 电费合计 不客气 工单号T0000000001"


# --- the schedule and the conversations -----------------------------------------------------------


def test_messages_are_due_at_the_rate_whatever_the_replies() -> None:
    assert schedule(4, 2) == [0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert len(schedule(2.5, 3)) == 7  # 7.5 messages' worth: the last due at 2.4 s
    assert len(schedule(20, 20)) == 400
    assert schedule(0.1, 1) == [0]  # a slow rate still sends its first message
    with pytest.raises(ValueError, match="above 0"):
        schedule(0, 10)


def test_a_new_conversation_starts_only_when_every_other_waits_for_its_reply() -> None:
    conversations = Conversations("t", itertools.count(1))
    first = conversations.take()
    second = conversations.take()  # the first has no reply yet: a new conversation
    assert (first.conversation, second.conversation) == (0, 1)
    assert first.sender != second.sender
    # new conversations start at the script's phases in turn: greeting, fault report, ...
    assert (first.text, second.text) == ("你好", FAULT_OPENING)
    assert [conversations.take().text for _ in range(4)] == ["阶梯电价咋算", "查下上个月电费多少",
                                                             "谢谢", "你好"]  # fmt: skip
    conversations.answered(first, ON_SCRIPT)
    third = conversations.take()
    assert third.conversation == 0  # the first's next line, not a new conversation
    assert third.text == FAULT_OPENING
    assert conversations.started == 6


def test_conversations_follow_the_script_to_its_end_and_count_off_script() -> None:
    conversations = Conversations("t", itertools.count(1))
    turn = conversations.take()
    said = [turn.text]
    while True:
        conversations.answered(turn, ON_SCRIPT)
        if not conversations.waiting:
            break
        turn = conversations.take()
        said.append(turn.text)
    assert said == ["你好", FAULT_OPENING, "阶梯电价咋算", "查下上个月电费多少", "3301000001",
                    "0001", "谢谢"]  # fmt: skip
    assert (conversations.finished, conversations.off_script) == (1, 0)
    lost = Conversations("u", itertools.count(1))
    lost.answered(lost.take(), "听不懂")  # the greeting's reply lacks 供电所
    assert lost.off_script == 0  # counted when the conversation ends
    lost.close()
    assert (lost.finished, lost.off_script) == (1, 1)


def test_a_failed_message_ends_its_conversation() -> None:
    conversations = Conversations("t", itertools.count(1))
    turn = conversations.take()
    conversations.failed(turn)
    assert conversations.finished == 1
    assert conversations.take().conversation == 1  # nobody is left to say the next line


def test_latency_runs_from_the_due_time_not_from_the_send() -> None:
    conversations = Conversations("t", itertools.count(1))
    for _ in range(3):
        conversations.take()
    due = [10.0, 10.5, 11.0]
    # the second message was answered 2 s after it was due, however late it went out
    figures = open_rate(
        2, 1.5, due, [(10.0, 10.1), (10.5, 12.5)], Counter({"timeout": 1}), conversations,
        last=13.0, late=0.004,
    )  # fmt: skip
    assert figures.latencies_ms == pytest.approx((100.0, 2000.0))
    assert (figures.sent, figures.answered, figures.errors) == (3, 2, 1)
    assert figures.elapsed == 3.0  # first due time to the last answer or failure
    assert figures.achieved == pytest.approx(2 / 3)
    assert figures.p50 == pytest.approx(1050.0)
    assert figures.late_ms == pytest.approx(4.0)
    assert (figures.conversations, conversations.finished) == (3, 3)
    # a stack that keeps up achieves the offered rate: the time is at least the schedule's
    kept_up = open_rate(
        2, 2, [0.0, 0.5, 1.0, 1.5], [(0.0, 0.1), (0.5, 0.6), (1.0, 1.1), (1.5, 1.6)],
        Counter(), Conversations("k", itertools.count(1)), last=1.6, late=0.0,
    )  # fmt: skip
    assert (kept_up.elapsed, kept_up.achieved) == (2, 2)
    empty = OpenRate(5, 1, 0, (), 0.0)
    assert math.isnan(empty.achieved)
    assert math.isnan(empty.p95)


# --- the open loop against a fake server --------------------------------------------------------


class OneAtATime:
    """A server that answers one message at a time, each taking `service` seconds."""

    def __init__(self, service: float, fail: set[int] | None = None) -> None:
        self.service = service
        self.fail = fail or set()
        self.sent_at: list[float] = []
        self.lock = asyncio.Lock()

    async def send(
        self, session: aiohttp.ClientSession, sender: str, text: str
    ) -> tuple[str, float | None]:
        number = len(self.sent_at)
        self.sent_at.append(time.perf_counter())
        async with self.lock:
            await asyncio.sleep(self.service)
        if number in self.fail:
            raise Failed("HTTP 500")
        return ON_SCRIPT, None


async def test_the_open_loop_keeps_its_pace_and_counts_the_queue_a_slow_server_builds() -> None:
    server = OneAtATime(service=0.04)
    async with aiohttp.ClientSession() as session:  # never used by the fake
        figures = await open_loop(
            session, server.send, 50, 0.2, Conversations("t", itertools.count(1))
        )
    assert (figures.sent, figures.answered, figures.errors) == (10, 10, 0)
    # sent every 20 ms although each reply takes 40 ms: the replies do not set the pace
    gaps = [b - a for a, b in itertools.pairwise(server.sent_at)]
    assert sum(gaps) / len(gaps) == pytest.approx(0.02, abs=0.01)
    # message k waits for the k before it: ~40 + 20 k ms from its due time; a closed loop
    # would have measured 40 ms for every one of them
    assert max(figures.latencies_ms) >= 200
    assert min(figures.latencies_ms) >= 39
    assert figures.achieved < 30  # the server answers at most 25 a second
    assert figures.conversations > 1  # waiting conversations made new ones start


async def test_a_message_sent_late_counts_its_delay() -> None:
    """The client itself stalls 100 ms on the first message: the next ones leave late and are
    answered at once, but their latency counts from when they were due."""

    async def stalling(
        session: aiohttp.ClientSession, sender: str, text: str
    ) -> tuple[str, float | None]:
        if text == "你好" and sender.endswith("-0"):
            time.sleep(0.1)  # noqa: ASYNC251 - blocks the event loop, as an overloaded client would
        return ON_SCRIPT, None

    async with aiohttp.ClientSession() as session:
        figures = await open_loop(
            session, stalling, 50, 0.1, Conversations("t", itertools.count(1))
        )
    assert figures.sent == 5
    assert figures.late_ms >= 60
    # due at 0 (the stalled one), 20, 40, 60, 80 ms, none answered before the stall's end at
    # 100 ms (from when each was sent, the last four took next to nothing)
    waited = sorted(figures.latencies_ms)
    assert all(w >= due - 5 for w, due in zip(waited, [20, 40, 60, 80, 100], strict=True))


async def test_the_open_loop_counts_failures_and_goes_on() -> None:
    server = OneAtATime(service=0.001, fail={1, 2})
    async with aiohttp.ClientSession() as session:
        figures = await open_loop(
            session, server.send, 100, 0.05, Conversations("t", itertools.count(1))
        )
    assert figures.sent == 5
    assert figures.errors_by_kind == (("HTTP 500", 2),)
    assert figures.answered == 3


# --- figures, limits, verdict ------------------------------------------------------------------


def test_cpu_use_per_process_is_a_share_of_one_core() -> None:
    # 2 cores, 1000 ticks of both passed (500 of one core); 800 busy
    use = cpu_use((0, 0, {"rasa": 100, "gateway": 0}), (800, 1000, {"rasa": 575, "gateway": 50}), 2)
    assert use.by_process == (("rasa", 0.95), ("gateway", 0.1))
    assert use.busy == 0.8
    assert use.of("rasa") == 0.95
    assert use.of("postgres") == 0.0
    assert use.shares() == (pytest.approx(0.525), pytest.approx(0.275))


def cpu(rasa: float, busy: float) -> CpuUse:
    return CpuUse(2, busy, (("rasa", rasa), ("gateway", 0.2), ("bench client", 0.1)))


def test_the_limit_is_named_from_who_kept_the_cores_busy() -> None:
    assert limit_text(cpu(0.97, 0.70)).startswith("the one Rasa process, 97% of a core")
    assert "CPU of one core each: rasa 97%, gateway 20%, bench client 10%" in limit_text(
        cpu(0.97, 0.70)
    )
    assert limit_text(cpu(0.90, 0.95)).startswith("the one Rasa process (90% of a core) and the")
    assert limit_text(cpu(0.60, 0.92)).startswith("the machine's 2 cores, 92% busy")
    assert limit_text(cpu(0.30, 0.40)).startswith("neither one process nor the cores were full")


RUN = RunInfo("2026-12-07 21:00 UTC", "make bench BENCH_ARGS='--only trackers'", "abc1234")
MACHINE = Machine("AMD EPYC", 2, 7.6, "Debian 12", "3.11.7", "3.10.13", "3.6.21")


def closed(rate: float, p50: float) -> PathRun:
    seconds = 20.0
    count = round(rate * seconds)
    return PathRun("gateway", 10, tuple([p50] * count), seconds)


def opened(rate: float, p95: float, errors: int = 0) -> OpenRate:
    count = round(rate * 20)
    latencies = tuple([p95 / 2] * (count - count // 10 - errors) + [p95] * (count // 10))
    kinds = (("degraded (系统繁忙)", errors),) if errors else ()
    return OpenRate(rate, 20, count, latencies, 20.2, kinds, 0, 7, 1.5)


def config(tracker: str, rate: float, p50: float) -> TrackerRun:
    return TrackerRun(
        tracker=tracker,
        conditions=f"1-minute load average 0.20 before the stack started ({tracker})",
        closed=closed(rate, p50),
        closed_cpu=cpu(0.96, 0.75),
        open_rates=(opened(5, 300), opened(20, 9000, errors=40)),
        open_cpu=(cpu(0.40, 0.35), cpu(0.97, 0.80)),
    )


BENCH = TrackerBench(
    run=RUN,
    model="`models/current.tar.gz`, trained 2026-12-07 20:15 UTC",
    customers=10,
    closed_seconds=20,
    open_seconds=20,
    rates=(5, 10, 20),
    warmup=3,
    configs=(config("memory", 13.0, 700), config("sql", 26.0, 380), config("postgres", 25.5, 390)),
)


def test_the_verdict_needs_both_production_stores_at_the_target() -> None:
    verdict = tracker_verdict(BENCH)
    assert verdict.met is True
    assert verdict.measured.startswith("sql 26.0 msg/s, postgres 25.5 msg/s (10 closed-loop")
    slow = replace(BENCH, configs=(*BENCH.configs[:2], config("postgres", 24.9, 390)))
    assert tracker_verdict(slow).met is False
    skipped = replace(BENCH, configs=BENCH.configs[:2], skipped=(("postgres", "no URL"),))
    verdict = tracker_verdict(skipped)
    assert verdict.met is False
    assert verdict.measured.startswith("sql 26.0 msg/s, postgres not measured")


def test_the_section_has_a_table_per_configuration_and_is_carried_over() -> None:
    text = render_markdown(Report(RUN, MACHINE, None, None, (tracker_part(BENCH, ""),)))
    assert "## Rasa's tracker stores: closed-loop customers and an open-loop load" in text
    assert "this run measured the tracker stores only" in text
    # the summary: closed-loop figures and the open loop's p95 at each rate (10/s not run here)
    assert "| sql | 26.0 | 380 | 380 | 0 | 300 | – | 9000 |" in text
    assert "### postgres" in text
    assert "Docker Compose's" in text
    assert "| conditions | 1-minute load average 0.20 before the stack started (sql) |" in text
    assert "| limit (closed loop) | the one Rasa process, 96% of a core" in text
    assert (
        "| closed loop, 10 customers | – | 26.0 | 520 | 380 | 380 | 0 | – | – | 96% | 75% |"
    ) in text
    assert (
        "| open loop, 20/s | 20 | 17.8 | 360 of 400 | 4500 | 9000 | 40 | 7 | 2 | 97% | 80% |"
        in (text)
    )
    assert "At 20/s 40 messages failed (degraded (系统繁忙): 40)" in text
    assert "At 20/s the stack answered 17.8 a second: past what it can answer" in text
    assert "| sql 26.0 msg/s, postgres 25.5 msg/s" in text
    assert "| met |" in text
    carried = previous_trackers(text)
    assert carried is not None
    assert carried.carried
    assert not carried.measured
    assert carried.verdict.met is True
    assert "recorded 2026-12-07 21:00 UTC, not measured again" in carried.verdict.measured
    later = render_markdown(Report(RUN, MACHINE, None, None, (carried,)))
    assert "| open loop, 20/s | 20 | 17.8 | 360 of 400 |" in later
    assert "Not measured by this run: recorded 2026-12-07 21:00 UTC, carried over." in later


def test_nothing_to_carry_over_says_not_measured_and_a_skipped_store_says_why() -> None:
    assert previous_trackers("# Benchmarks\n") is None
    part = tracker_part(None, "# Benchmarks\n")
    assert part.verdict.met is None
    assert "--only trackers" in part.lines[-1]
    skipped = replace(BENCH, configs=BENCH.configs[:1], skipped=(("postgres", "no URL set"),))
    text = render_markdown(Report(RUN, MACHINE, None, None, (tracker_part(skipped, ""),)))
    assert "postgres was not measured: no URL set." in text
    assert "postgres not measured: no URL set" in summary(skipped)


# --- the configurations and the options ----------------------------------------------------------


def test_endpoint_sections_keep_variables_unquoted() -> None:
    values = {"type": "SQL", "dialect": "${RASA_TRACKER_DIALECT}", "port": 5432}
    text = endpoints_section("tracker_store", values)
    assert "  dialect: ${RASA_TRACKER_DIALECT}\n" in text  # Rasa fills in unquoted ones only
    assert yaml.safe_load(text) == {"tracker_store": values}


def test_the_sql_configuration_is_make_runs_tracker_store(tmp_path: Path) -> None:
    backing = sql_backing(tmp_path / "tracker.db")
    stores = yaml.safe_load(backing.rasa_endpoints)
    assert stores == {
        "tracker_store": {"type": "SQL", "dialect": "${RASA_TRACKER_DIALECT}",
                          "db": "${RASA_TRACKER_DB}"}
    }  # fmt: skip
    assert backing.rasa_env == {
        "RASA_TRACKER_DIALECT": "sqlite",
        "RASA_TRACKER_DB": str(tmp_path / "tracker.db"),
    }
    assert backing.database_url is None  # the assistant's database: SQLite, as make run's


def test_the_postgres_configuration_is_composes_pointed_at_this_machine() -> None:
    backing = compose_backing(
        "postgresql+psycopg://postgres@127.0.0.1:5433/bench_assistant_1",
        "postgresql+psycopg://postgres@127.0.0.1:5433/bench_tracker_1",
        "redis://127.0.0.1:6380/2",
        "bench1a2b",
        COMPOSE_ENDPOINTS,
    )
    stores = yaml.safe_load(backing.rasa_endpoints)
    compose = yaml.safe_load(COMPOSE_ENDPOINTS.read_text(encoding="utf-8"))
    tracker, lock = stores["tracker_store"], stores["lock_store"]
    assert (tracker["type"], tracker["dialect"]) == (compose["tracker_store"]["type"], "postgresql")
    assert (tracker["url"], tracker["port"], tracker["db"]) == ("127.0.0.1", 5433,
                                                               "${RASA_TRACKER_DB}")  # fmt: skip
    assert "password" not in tracker  # the server's URL has none
    assert lock == {"type": "redis", "url": "127.0.0.1", "port": 6380, "db": 2,
                    "key_prefix": "bench1a2b"}  # fmt: skip
    assert backing.rasa_env == {
        "RASA_TRACKER_DB": "bench_tracker_1",
        "POSTGRES_DB": "bench_assistant_1",
        "POSTGRES_USER": "postgres",
    }
    assert backing.database_url == "postgresql+psycopg://postgres@127.0.0.1:5433/bench_assistant_1"
    assert backing.gateway_env == {
        "GATEWAY_SHARED": "1",
        "REDIS_URL": "redis://127.0.0.1:6380/2",
        "GATEWAY_REDIS_PREFIX": "bench1a2bgateway",
    }
    secret = compose_backing(
        "postgresql+psycopg://app:s3cret@db/assistant", "postgresql+psycopg://app:s3cret@db/t",
        "redis://:r3dis@cache:6379/0", "bench1", COMPOSE_ENDPOINTS,
    )  # fmt: skip
    assert "s3cret" not in secret.rasa_endpoints
    assert "r3dis" not in secret.rasa_endpoints
    stores = yaml.safe_load(secret.rasa_endpoints)
    assert stores["tracker_store"]["password"] == "${POSTGRES_PASSWORD}"
    assert stores["lock_store"]["password"] == "${REDIS_PASSWORD}"
    assert (secret.rasa_env["POSTGRES_PASSWORD"], secret.rasa_env["REDIS_PASSWORD"]) == (
        "s3cret",
        "r3dis",
    )


def test_the_options() -> None:
    args = parse_args(["--only", "trackers", "--trackers", "postgres,memory",
                       "--open-rates", "20,2.5", "--open-seconds", "5"])  # fmt: skip
    options = tracker_options(args)
    assert options is not None
    assert options.trackers == ("postgres", "memory")
    assert options.rates == (2.5, 20.0)
    assert (options.customers, options.closed_seconds, options.open_seconds) == (10, 20, 5)
    default = parse_args([])
    assert default.trackers == ("memory", "sql", "postgres")
    assert default.open_rates == (5.0, 10.0, 20.0)
    assert tracker_options(default) is not None
    assert tracker_options(parse_args(["--trackers", "none"])) is None
    assert tracker_options(parse_args(["--only", "gateway"])) is None
    for wrong in (["--trackers", "mongo"], ["--open-rates", "0,5"], ["--open-rates", "x"]):
        with pytest.raises(SystemExit):
            parse_args(wrong)


def test_a_turn_names_its_conversation() -> None:
    turn = Conversations("sql-5", itertools.count(7)).take()
    assert turn == Turn(0, "open-sql-5-0", "你好")
