"""`make bench`'s flood part: console logins flood the gateway while customers chat.

On the stack of the gateway part (scripts/benchstack.py), `customers` simulated customers chat
through the JSON API for half of `seconds`, then for `seconds` while a flood sends `rate`
console logins a second, then again for half of `seconds` without it. The flood is open loop
(a login every 1/rate s whatever the answers), with wrong passwords for real and unknown
usernames, each from another address of the benchmarking network 198.18.0.0/15 through
X-Forwarded-For (the bench's gateway trusts loopback as its proxy): what a botnet sends, which
the per-address lock-out does not stop. The pure half (figures, verdict, report): floodlib.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

import aiohttp

from bot.console.ratelimit import MAX_FAILURES, WINDOW_SECONDS
from bot.limits import Limits

FLOOD_NETWORK: Final = ipaddress.ip_network("198.18.0.0/15")
USERNAMES: Final = ("agent1", "agent2", "supervisor", "operator", "admin", "zhangwei", "test")
LOGIN_TIMEOUT: Final = 60.0


class Tallied(Protocol):
    """What a drive of the customers counted (bench.Tally)."""

    latencies_ms: list[float]
    errors: Counter[str]


class Drives(Protocol):
    """Drives the simulated customers down a path (bench.Driver)."""

    async def drive(self, path: str, customers: int, seconds: float, tag: str) -> Tallied: ...


@dataclass
class Logins:
    answers: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class FloodFigures:
    quiet_ms: tuple[float, ...]
    flood_ms: tuple[float, ...]
    customer_errors: tuple[tuple[str, int], ...]
    logins: tuple[tuple[str, int], ...]
    login_ms: tuple[float, ...]


def flood_address(n: int) -> str:
    """The n-th flood address (never the network's first or last)."""
    return str(FLOOD_NETWORK[1 + n % (FLOOD_NETWORK.num_addresses - 2)])


async def _login(session: aiohttp.ClientSession, url: str, n: int, logins: Logins) -> None:
    body = {"username": USERNAMES[n % len(USERNAMES)], "password": f"guess-{n}"}
    headers = {"X-Forwarded-For": flood_address(n)}
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=LOGIN_TIMEOUT)
    try:
        async with session.post(url, json=body, headers=headers, timeout=timeout) as response:
            await response.read()
            kind = str(response.status)
    except TimeoutError:
        kind = "timeout"
    except aiohttp.ClientError as exc:
        kind = type(exc).__name__
    else:
        logins.latencies_ms.append((time.perf_counter() - started) * 1000)
    logins.answers[kind] += 1


async def flood(
    session: aiohttp.ClientSession,
    base: str,
    *,
    rate: float,
    seconds: float,
    delay: float,
    logins: Logins,
) -> None:
    """`rate` logins a second for `seconds` (after `delay`), then waits for their answers."""
    await asyncio.sleep(delay)
    loop = asyncio.get_running_loop()
    start = loop.time()
    url = f"{base}/api/v1/agent/login"
    sent: set[asyncio.Task[None]] = set()
    for n in itertools.count():
        due = start + n / rate
        if due >= start + seconds:
            break
        await asyncio.sleep(max(0.0, due - loop.time()))
        sent.add(asyncio.create_task(_login(session, url, n, logins)))
    await asyncio.gather(*sent)


def _counts(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items()))


async def measure_flood(
    driver: Drives,
    session: aiohttp.ClientSession,
    base: str,
    path: str,
    *,
    customers: int,
    rate: float,
    seconds: float,
    settle: float,
) -> FloodFigures:
    """Quiet, flood, quiet: the customers' latencies of each stretch and the logins' answers.
    `settle`: the pause `driver.drive` makes before driving (the flood waits as long)."""
    before = await driver.drive(path, customers, seconds / 2, "flood-quiet-1")
    logins = Logins()
    flooding = asyncio.create_task(
        flood(session, base, rate=rate, seconds=seconds, delay=settle, logins=logins)
    )
    during = await driver.drive(path, customers, seconds, "flood")
    await flooding  # the queued logins answered before the quiet stretch starts
    after = await driver.drive(path, customers, seconds / 2, "flood-quiet-2")
    errors: Counter[str] = Counter()
    for name, tally in (("without", before), ("during", during), ("without", after)):
        for kind, count in tally.errors.items():
            errors[f"{name} the flood: {kind}"] += count
    return FloodFigures(
        quiet_ms=tuple(before.latencies_ms + after.latencies_ms),
        flood_ms=tuple(during.latencies_ms),
        customer_errors=_counts(errors),
        logins=_counts(logins.answers),
        login_ms=tuple(logins.latencies_ms),
    )


def protections_text(env: Mapping[str, str]) -> str:
    """The gateway's login protections as the bench's gateway gets them (its environment)."""
    limits = Limits.from_env(env)
    overall = str(limits.login) if limits.login is not None else "off"
    return (
        f"CONSOLE_LOGIN_RATE {overall} (logins/seconds, all together),"
        f" CONSOLE_HASH_THREADS {limits.hash_threads}, CONSOLE_HASH_QUEUE {limits.hash_queue},"
        f" and {MAX_FAILURES} failures per (address, username) in {WINDOW_SECONDS // 60} min"
    )
