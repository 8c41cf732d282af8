"""The rate limits several gateway replicas share (GATEWAY_SHARED): bot/replicas/ratelimit.py and
the console login's SharedLoginLimiter (bot/console/ratelimit.py), against a real Redis
(TEST_REDIS_URL; skipped without it, failed under CI=true), on Redis's clock:

- a bucket: a burst, then one token per interval; a refused request takes nothing; no more than
  the burst after a long idle time (the idle key is gone); Retry-After in whole seconds;
- two "replicas" (two clients) spend one budget, atomically;
- the login's failures per (address, username) and its overall rate count both replicas';
- Redis away: each replica counts alone (never unlimited), says so once, and counts in Redis
  again once it answers.

Two gateways sharing a limit through HTTP: tests/integration/test_gateway_replicas.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from bot.console.ratelimit import (
    MAX_FAILURES,
    WINDOW_SECONDS,
    LoginLimiter,
    SharedLoginLimiter,
    Wait,
)
from bot.ratelimit import Limiter, Rate, RateLimiter
from bot.replicas import SOCKET_TIMEOUT_SECONDS
from bot.replicas.ratelimit import SharedLimits
from tests.conftest import redis_base_url
from tests.faults.proxy import TcpProxy


@pytest.fixture
async def clients() -> AsyncIterator[tuple[Redis, Redis]]:
    """One client of Redis per "replica"."""
    a, b = Redis.from_url(redis_base_url()), Redis.from_url(redis_base_url())
    yield a, b
    await a.aclose()
    await b.aclose()


def bucket(client: Redis, prefix: str, rate: Rate) -> Limiter:
    return SharedLimits(client, prefix).limiter("api", RateLimiter(rate))


async def admits(limiter: Limiter, count: int, key: str = "a") -> list[int]:
    return [await limiter.admit(key) for _ in range(count)]


async def test_a_burst_then_one_token_per_interval_on_redis_time(
    clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    client = clients[0]
    limiter = bucket(client, redis_prefix, Rate(3, 60))
    assert await admits(limiter, 3) == [0, 0, 0]
    assert await limiter.admit("a") == 20  # one token back every 20 s
    assert await limiter.admit("b") == 0  # another key has its own bucket
    # the key lives until the bucket is full again, no longer
    ttl = await client.pttl(f"{redis_prefix}:limit:api:a")
    assert 59_000 < ttl <= 60_000
    slow = bucket(client, redis_prefix, Rate(1, 3))
    assert await admits(slow, 2, "s") == [0, 3]
    await asyncio.sleep(1.2)  # Redis's clock moves: the wait shrinks
    assert await slow.admit("s") == 2


async def test_refused_requests_take_nothing_and_the_bucket_holds_its_burst_only(
    clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    client = clients[0]
    limiter = bucket(client, redis_prefix, Rate(2, 2))  # a token every second
    assert await admits(limiter, 2) == [0, 0]
    assert await admits(limiter, 30) == [1] * 30
    await asyncio.sleep(1.1)
    assert await admits(limiter, 2) == [0, 1]  # the refused ones took nothing
    await asyncio.sleep(2.1)  # idle: full again, and the key is gone
    assert await client.exists(f"{redis_prefix}:limit:api:a") == 0
    assert await admits(limiter, 3) == [0, 0, 1]  # no more than the burst


async def test_two_replicas_spend_one_budget(
    clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    a, b = (bucket(client, redis_prefix, Rate(4, 60)) for client in clients)
    assert [await r.admit("ip") for r in (a, b, a, b)] == [0, 0, 0, 0]
    assert (await a.admit("ip"), await b.admit("ip")) == (15, 15)
    # at once from both: exactly the burst gets in (each step is one script in Redis)
    results = await asyncio.gather(*(r.admit("burst") for r in (a, b) * 20))
    assert results.count(0) == 4
    assert all(wait > 0 for wait in results if wait)


OVERALL = Rate(100, 60)
"""The overall login rate where a test is not about it."""


def logins(
    client: Redis,
    prefix: str,
    *,
    overall: Rate = OVERALL,
    max_failures: int = MAX_FAILURES,
    window: float = WINDOW_SECONDS,
) -> SharedLoginLimiter:
    local = LoginLimiter(max_failures, window, overall=RateLimiter(overall))
    return SharedLoginLimiter(SharedLimits(client, prefix), local)


async def test_login_failures_count_on_every_replica(
    clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    a, b = (logins(client, redis_prefix) for client in clients)
    for n in range(5):  # a guesser spreading its tries over both replicas
        await (a, b)[n % 2].record("10.0.0.1", "Agent1", succeeded=False)
    for replica in (a, b):
        wait = await replica.check("10.0.0.1", "agent1 ")
        assert 15 * 60 - 5 < wait.seconds <= 15 * 60 + 1
        assert not wait.crowded
    assert await b.check("10.0.0.2", "agent1") == Wait()  # another computer
    assert await b.check("10.0.0.1", "agent2") == Wait()  # another user
    await b.record("10.0.0.1", "agent1", succeeded=True)  # a success clears the pair
    assert await a.check("10.0.0.1", "agent1") == Wait()


async def test_login_failures_leave_the_window(
    clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    a, b = (logins(c, redis_prefix, max_failures=2, window=1.0) for c in clients)
    await a.record("ip", "u", succeeded=False)
    await b.record("ip", "u", succeeded=False)
    assert await a.check("ip", "u") == Wait(1)
    await asyncio.sleep(1.1)
    assert await b.check("ip", "u") == Wait()
    assert [k async for k in clients[0].scan_iter(f"{redis_prefix}:limit:login-*")] == []


async def test_the_overall_login_rate_counts_every_replica(
    clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    a, b = (logins(client, redis_prefix, overall=Rate(3, 60)) for client in clients)
    assert [await r.check("ip", f"u{n}") for n, r in enumerate((a, b, a))] == [Wait()] * 3
    assert await b.check("ip", "u9") == Wait(20, crowded=True)


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.replicas.ratelimit"]


async def test_redis_away_each_replica_counts_alone_then_in_redis_again(
    redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = urlsplit(redis_base_url())
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 6379).start()
    user = url.netloc.rpartition("@")[0]
    client = Redis.from_url(
        url._replace(netloc=f"{user}@127.0.0.1:{proxy.port}".lstrip("@")).geturl(),
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
    )
    shared = SharedLimits(client, redis_prefix, retry_seconds=0.3)
    limiter = shared.limiter("api", RateLimiter(Rate(2, 3600)))
    login = SharedLoginLimiter(shared, LoginLimiter(max_failures=1))
    caplog.set_level(logging.WARNING, logger="bot.replicas.ratelimit")
    try:
        assert await limiter.admit("ip") == 0  # counted in Redis: one token left there
        proxy.cut()
        # this replica's own bucket: full at first, then limited, never unlimited
        assert await admits(limiter, 3, "ip") == [0, 0, 1800]
        assert shared.away
        await login.record("ip", "u", succeeded=False)  # the login counts alone too
        assert (await login.check("ip", "u")).seconds > 0
        away = said(caplog)
        assert len(away) == 1  # once an outage
        assert away[0].startswith("Redis unreachable")
        proxy.restore()
        await asyncio.sleep(0.4)
        assert await limiter.admit("ip") == 0  # Redis's bucket again: its last token
        assert not shared.away
        assert 1790 < await limiter.admit("ip") <= 1800  # Redis's count: 1800 s from the first
        assert await login.check("ip", "u") == Wait()  # Redis saw no failure of the pair
        assert said(caplog)[1:] == ["Redis answers again: rate limits shared by the replicas again"]
    finally:
        await client.aclose()
        proxy.close()
