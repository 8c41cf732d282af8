"""`make bench`'s load: simulated customers (scripts/benchlib/customer.py) driven down one path
at a time (the gateway's JSON API, or Rasa's REST webhook) on one client session, with the
gateway's memory sampled and the machine's CPU watched meanwhile (scripts/bench.py runs it);
closed-loop (each customer's next message when the reply is in) or open-loop (`open_loop`:
messages at a fixed rate, the tracker part's, scripts/benchtrackers.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

from bot.rasa_pool import ranked
from bot.timing import parse_server_timing
from scripts.benchflood import FloodFigures, measure_flood
from scripts.benchlib.customer import Customer, phone_number
from scripts.benchlib.figures import GATEWAY, RASA, Level, PathRun, percentile
from scripts.benchlib.openloop import Conversations, OpenRate, Turn, open_rate, schedule
from scripts.benchstack import BenchError, CpuWatch, MemorySampler, Stack, say

REQUEST_TIMEOUT = 60.0
"""Seconds a client waits for one reply before counting a timeout."""
SETTLE = 1.0
"""Pause before each run, so the gateway's background work of the previous one is done."""
OPEN_LEAD = 0.05
"""The open loop's first message is due this long after it starts (its clock is read first)."""


class Failed(Exception):
    """One message got no usable answer; `kind` is how it failed."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


# --- driving the customers ---------------------------------------------------------------------

Send = Callable[[aiohttp.ClientSession, str, str], Awaitable[tuple[str, float | None]]]
"""Send one message: the reply texts and, from the gateway, its time waiting for Rasa (ms)."""


def _texts(replies: object) -> str:
    if not isinstance(replies, list):
        raise Failed("malformed answer")
    return "\n".join(str(r.get("text") or "") for r in replies if isinstance(r, dict))


async def _post(
    session: aiohttp.ClientSession, url: str, payload: dict[str, str]
) -> tuple[object, str]:
    """The decoded JSON answer and its Server-Timing header; Failed unless 200 with JSON."""
    async with session.post(url, json=payload) as response:
        body = await response.read()
        if response.status != 200:
            raise Failed(f"HTTP {response.status}")
        timing = response.headers.get("Server-Timing", "")
    try:
        return json.loads(body), timing
    except ValueError:
        raise Failed("malformed answer") from None


def via_gateway(base: str) -> Send:
    url = f"{base}/api/v1/messages"

    async def send(
        session: aiohttp.ClientSession, sender: str, text: str
    ) -> tuple[str, float | None]:
        data, timing = await _post(session, url, {"sender": sender, "text": text})
        if not isinstance(data, dict):
            raise Failed("malformed answer")
        if data.get("degraded"):
            raise Failed("degraded (系统繁忙)")
        return _texts(data.get("replies")), parse_server_timing(timing).get("rasa")

    return send


def via_rasa(workers: tuple[str, ...]) -> Send:
    """Straight to Rasa's REST webhook; with several workers, each conversation to the worker
    the gateway would give it (bot.rasa_pool.ranked)."""

    async def send(
        session: aiohttp.ClientSession, sender: str, text: str
    ) -> tuple[str, float | None]:
        url = f"{ranked(sender, workers)[0]}/webhooks/rest/webhook"
        data, _ = await _post(session, url, {"sender": sender, "message": text})
        return _texts(data), None

    return send


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    own_ms: list[float] = field(default_factory=list)
    """Gateway path: latency minus the gateway's time waiting for Rasa, per message."""
    errors: Counter[str] = field(default_factory=Counter)
    off_script: int = 0
    conversations: int = 0
    seconds: float = 0.0
    peak_rss_kib: int | None = None

    def add(self, other: Tally) -> None:
        self.latencies_ms += other.latencies_ms
        self.own_ms += other.own_ms
        self.errors += other.errors
        self.off_script += other.off_script
        self.conversations += other.conversations
        self.seconds += other.seconds
        if other.peak_rss_kib is not None:
            self.peak_rss_kib = max(self.peak_rss_kib or 0, other.peak_rss_kib)

    def run(self, path: str, customers: int) -> PathRun:
        peak = None if self.peak_rss_kib is None else self.peak_rss_kib / 1024
        return PathRun(
            path=path,
            customers=customers,
            latencies_ms=tuple(self.latencies_ms),
            errors_by_kind=tuple(sorted(self.errors.items())),
            off_script=self.off_script,
            seconds=self.seconds,
            peak_rss_mb=peak,
            own_ms=tuple(self.own_ms),
        )


async def attempt(
    send: Send, session: aiohttp.ClientSession, sender: str, text: str
) -> tuple[str, float | None] | str:
    """One message sent: what `send` answers, or how it failed (a kind of error)."""
    try:
        return await send(session, sender, text)
    except Failed as exc:
        return exc.kind
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError as exc:
        return type(exc).__name__


async def customer(
    session: aiohttp.ClientSession,
    send: Send,
    tag: str,
    deadline: float,
    tally: Tally,
    phones: Iterator[int],
    *,
    offset: int = 0,
    conversations: int | None = None,
) -> None:
    """One simulated customer: conversation after conversation (each a new sender id, the first
    one starting at phase `offset` of the script), the next message as soon as the reply is
    there, no new message after the deadline."""
    for number in itertools.count():
        if time.monotonic() >= deadline or (conversations is not None and number >= conversations):
            return
        script = Customer(phone_number(next(phones)), first_phase=offset if number == 0 else 0)
        sender, reply = f"bench-{tag}-{number}", None
        while (text := script.next_message(reply)) is not None and time.monotonic() < deadline:
            started = time.perf_counter()
            outcome = await attempt(send, session, sender, text)
            if isinstance(outcome, str):
                tally.errors[outcome] += 1
                await asyncio.sleep(0.5)  # a failing server is not hammered
                break
            reply, rasa_ms = outcome
            latency = (time.perf_counter() - started) * 1000
            tally.latencies_ms.append(latency)
            if rasa_ms is not None:
                tally.own_ms.append(latency - rasa_ms)
        tally.off_script += script.off_script
        tally.conversations += 1


async def open_loop(
    session: aiohttp.ClientSession,
    send: Send,
    rate: float,
    seconds: float,
    conversations: Conversations,
) -> OpenRate:
    """`rate` messages a second for `seconds` down one path, each sent when it is due whether
    or not the earlier replies are in, its latency counted from that due time; then the replies
    still due (scripts/benchlib/openloop.py says why)."""
    due_times: list[float] = []
    done: list[tuple[float, float]] = []
    errors: Counter[str] = Counter()
    last = late = 0.0

    async def one(turn: Turn, due: float) -> None:
        nonlocal last
        outcome = await attempt(send, session, turn.sender, turn.text)
        now = time.perf_counter()
        last = max(last, now)
        if isinstance(outcome, str):
            errors[outcome] += 1
            conversations.failed(turn)
        else:
            done.append((due, now))
            conversations.answered(turn, outcome[0])

    start = time.perf_counter() + OPEN_LEAD
    sending: list[asyncio.Task[None]] = []
    for offset in schedule(rate, seconds):
        due = start + offset
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        late = max(late, time.perf_counter() - due)
        due_times.append(due)
        sending.append(asyncio.create_task(one(conversations.take(), due)))
    await asyncio.gather(*sending)
    return open_rate(rate, seconds, due_times, done, errors, conversations, last=last, late=late)


def _short(tally: Tally) -> str:
    p50 = percentile(tally.latencies_ms, 50)
    errors = sum(tally.errors.values())
    return f"{len(tally.latencies_ms)} messages, p50 {p50:.0f} ms, errors {errors}"


@dataclass(frozen=True)
class FloodOptions:
    rate: float
    seconds: float
    customers: int


@dataclass(frozen=True)
class Measured:
    levels: tuple[Level, ...]
    gateway_peak_mb: float | None
    errors_by_kind: tuple[tuple[str, int], ...]
    cpu_shares: tuple[float, float]
    flood: tuple[FloodFigures, tuple[float, float]] | None = None
    """The flood part's figures and the CPU shares while it ran."""


class Driver:
    """Drives simulated customers down one path at a time, on one client session."""

    def __init__(self, session: aiohttp.ClientSession, stack: Stack, sampler: MemorySampler):
        self.session = session
        self.sends = {GATEWAY: via_gateway(stack.gateway_url), RASA: via_rasa(stack.rasa_urls)}
        self.sampler = sampler
        self.phones = itertools.count(1)

    async def warm_up(self, conversations: int) -> None:
        """Whole conversations on both paths at once (TensorFlow traces its graphs on first use),
        not counted; any error here stops the bench."""
        say(f"warming up: {conversations} whole conversation(s) on each path ...")
        warm = {path: Tally() for path in self.sends}
        deadline = time.monotonic() + 180
        await asyncio.gather(
            *(
                customer(self.session, send, f"w-{path}-{n}", deadline, warm[path], self.phones,
                         offset=0, conversations=1)
                for path, send in self.sends.items()
                for n in range(conversations)
            )
        )  # fmt: skip
        for path, tally in warm.items():
            say(f"warm-up {path}: {_short(tally)}, off-script {tally.off_script}")
            if tally.errors:
                raise BenchError(f"the {path} path fails already in the warm-up: {tally.errors}")

    async def drive(
        self, path: str, customers: int, seconds: float, tag: str, *, settle: float = SETTLE
    ) -> Tally:
        """`customers` at once down `path` for `seconds` (then the replies still due), after a
        pause of `settle` seconds."""
        await asyncio.sleep(settle)
        tally = Tally()
        self.sampler.reset()
        started, deadline = time.perf_counter(), time.monotonic() + seconds
        await asyncio.gather(
            *(
                customer(self.session, self.sends[path], f"{tag}-C{n}", deadline, tally,
                         self.phones, offset=n)
                for n in range(customers)
            )
        )  # fmt: skip
        tally.seconds = time.perf_counter() - started
        if path == GATEWAY:
            tally.peak_rss_kib = self.sampler.peak_kib
        return tally

    async def level(self, customers: int, duration: float, rounds: int) -> Level:
        """Both paths, alternating round by round (gateway first, then Rasa first, ...), so
        the machine's other work falls on both alike."""
        tallies = {path: Tally() for path in self.sends}
        for round_no in range(rounds):
            for path in (GATEWAY, RASA) if round_no % 2 == 0 else (RASA, GATEWAY):
                tag = f"{path}-L{customers}-R{round_no}"
                part = await self.drive(path, customers, duration / rounds, tag)
                say(f"{customers} customers, {path}, round {round_no + 1}: {_short(part)}")
                tallies[path].add(part)
        return Level(
            customers,
            tallies[GATEWAY].run(GATEWAY, customers),
            tallies[RASA].run(RASA, customers),
        )


@asynccontextmanager
async def warmed_driver(stack: Stack, warmup: int) -> AsyncIterator[Driver]:
    """A Driver on a client session of its own, after `warmup` whole conversations per path."""
    sampler = MemorySampler(stack.gateway_pid)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        driver = Driver(session, stack, sampler)
        await driver.warm_up(warmup)
        yield driver


async def measure(
    stack: Stack,
    groups: set[int],
    levels: list[int],
    duration: float,
    rounds: int,
    warmup: int,
    flood: FloodOptions | None,
) -> Measured:
    sampler = MemorySampler(stack.gateway_pid)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sampling = asyncio.create_task(sampler.run())
        try:
            driver = Driver(session, stack, sampler)
            await driver.warm_up(warmup)
            cpu = CpuWatch(groups)
            results = [await driver.level(n, duration, rounds) for n in levels]
            shares = cpu.shares()
            high_water = sampler.high_water_kib()  # before the flood: its hashes take 64 MiB
            flooded = None
            if flood is not None:
                flood_cpu = CpuWatch(groups)
                figures = await _flood(driver, session, stack, flood)
                flooded = (figures, flood_cpu.shares())
        finally:
            sampling.cancel()
    errors: Counter[str] = Counter()
    for level in results:
        for run in (level.gateway, level.rasa):
            for kind, count in run.errors_by_kind:
                errors[f"{run.path}: {kind}"] += count
    return Measured(
        tuple(results),
        None if high_water is None else high_water / 1024,
        tuple(sorted(errors.items())),
        shares,
        flooded,
    )


async def _flood(
    driver: Driver, session: aiohttp.ClientSession, stack: Stack, flood: FloodOptions
) -> FloodFigures:
    say(
        f"flood: {flood.customers} customers, {flood.seconds / 2:g} s quiet, {flood.seconds:g} s"
        f" with {flood.rate:g} logins/s, {flood.seconds / 2:g} s quiet ..."
    )
    figures = await measure_flood(
        driver,
        session,
        stack.gateway_url,
        GATEWAY,
        customers=flood.customers,
        rate=flood.rate,
        seconds=flood.seconds,
        settle=SETTLE,
    )
    say(f"flood: logins answered {dict(figures.logins)}")
    return figures
