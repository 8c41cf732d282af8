"""bot/ratelimit.py and bot/limits.py: token buckets per key, and their settings."""

from __future__ import annotations

import pytest

from bot.limits import Limits
from bot.ratelimit import Rate, RateLimiter
from bot.settings import ConfigError, GatewaySettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(3, 60), clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == 20  # one token comes back every 20 s
    assert limiter.take("b") == 0  # another key has its own bucket
    clock.now += 19
    assert limiter.take("a") == 1
    clock.now += 1
    assert limiter.take("a") == 0
    assert limiter.take("a") == 20


def test_refused_requests_take_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(1, 10), clock=clock)
    assert limiter.take("a") == 0
    for _ in range(100):
        assert limiter.take("a") > 0
    clock.now += 10
    assert limiter.take("a") == 0


def test_the_bucket_never_holds_more_than_its_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(2, 1), clock=clock)
    clock.now += 3600
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 1]


def test_no_rate_no_limit_and_bounded_keys() -> None:
    assert all(RateLimiter(None).take("a") == 0 for _ in range(1000))
    limiter = RateLimiter(Rate(1, 60), max_keys=3)
    for key in "abcd":
        limiter.take(key)
    assert len(limiter) == 3  # 'a', the oldest, forgotten
    assert limiter.take("a") == 0
    assert limiter.take("d") > 0


@pytest.mark.parametrize(
    ("raw", "rate"),
    [("30/60", Rate(30, 60)), (" 5 / 1.5s ", Rate(5, 1.5)), ("0", None), ("off", None)],
)
def test_rate_parse(raw: str, rate: Rate | None) -> None:
    assert Rate.parse(raw, "X") == rate


@pytest.mark.parametrize("raw", ["30", "30/0", "0/60", "-1/60", "thirty/60", "30/60/2"])
def test_rate_parse_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match="X must be COUNT/SECONDS"):
        Rate.parse(raw, "X")


def test_limit_settings_from_the_environment() -> None:
    assert GatewaySettings.from_env({}).limits == Limits()
    limits = GatewaySettings.from_env(
        {
            "RATE_LIMIT_WEBCHAT": "10/60",
            "RATE_LIMIT_API": "0",
            "RATE_LIMIT_API_SENDER": "5/10",
            "CONSOLE_LOGIN_RATE": "2/1",
            "CONSOLE_HASH_THREADS": "2",
            "CONSOLE_HASH_QUEUE": "0",
        }
    ).limits
    assert limits == Limits(Rate(10, 60), None, Rate(5, 10), Rate(2, 1), 2, 0)
    with pytest.raises(ConfigError, match="RATE_LIMIT_API_SENDER"):
        GatewaySettings.from_env({"RATE_LIMIT_API_SENDER": "lots"})
    with pytest.raises(ConfigError, match="CONSOLE_HASH_THREADS must be a whole number of at"):
        GatewaySettings.from_env({"CONSOLE_HASH_THREADS": "0"})
