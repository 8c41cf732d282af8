"""How much one client may ask of the gateway: the settings (from the environment) and the
limiters the customer channels share at run time.

| variable | counts | default |
|---|---|---|
| RATE_LIMIT_WEBCHAT | web-chat websocket frames (hello, messages) per client address | 60/60 |
| RATE_LIMIT_API | JSON API requests per client address | 600/60 |
| RATE_LIMIT_API_SENDER | JSON API messages per sender | 30/60 |
| CONSOLE_LOGIN_RATE | console login attempts, all users and addresses together | 30/60 |
| CONSOLE_HASH_THREADS | threads checking console passwords (argon2) | 1 |
| CONSOLE_HASH_QUEUE | logins waiting for one of them before more are refused | 8 |

Rates are COUNT/SECONDS, 0 turns one off. Per-address limits count IPv6 clients by /64 and
see the address bot/clientaddr.py derives (TRUSTED_PROXIES), so behind a proxy they need it.
One gateway counts in its memory; several replicas (GATEWAY_SHARED) count in Redis, together
(bot/replicas/ratelimit.py). The refusals /health shows are each replica's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from aiohttp import web

from bot import health
from bot.clientaddr import client_ip, limit_key
from bot.keys import REPLICAS, SETTINGS
from bot.ratelimit import Limiter, Rate, RateLimiter

if TYPE_CHECKING:
    from bot.replicas.ratelimit import SharedLimits


class LimitsError(ValueError):
    """A limit setting is malformed (the message names the variable)."""


def _rate(env: Mapping[str, str], name: str, default: Rate | None) -> Rate | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return Rate.parse(raw, name)
    except ValueError as exc:
        raise LimitsError(str(exc)) from None


def _count(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise LimitsError(f"{name} must be a whole number of at least {minimum}, got {raw!r}")
    return int(raw)


WEBCHAT: Final = Rate(60, 60)
API: Final = Rate(600, 60)
API_SENDER: Final = Rate(30, 60)
LOGIN: Final = Rate(30, 60)


@dataclass(frozen=True)
class Limits:
    webchat: Rate | None = WEBCHAT
    """Frames per web-chat client address: generous, as many households share one carrier
    address (CGNAT); one socket's queue (20) and tabs per session (8) are limited as well."""
    api: Rate | None = API
    """JSON API requests per client address: a bridge (WeChat, the station's app) sends for
    many customers from one address; raise it for a big one."""
    api_sender: Rate | None = API_SENDER
    """JSON API messages per sender (one customer of such a bridge)."""
    login: Rate | None = LOGIN
    """Console login attempts per gateway (all replicas together), whoever tries: each costs
    ~150 ms of CPU and 64 MiB (argon2id), so a flood of them is capped whatever addresses it
    comes from."""
    hash_threads: int = 1
    hash_queue: int = 8

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        return cls(
            webchat=_rate(env, "RATE_LIMIT_WEBCHAT", cls.webchat),
            api=_rate(env, "RATE_LIMIT_API", cls.api),
            api_sender=_rate(env, "RATE_LIMIT_API_SENDER", cls.api_sender),
            login=_rate(env, "CONSOLE_LOGIN_RATE", cls.login),
            hash_threads=_count(env, "CONSOLE_HASH_THREADS", cls.hash_threads, 1),
            hash_queue=_count(env, "CONSOLE_HASH_QUEUE", cls.hash_queue, 0),
        )


@dataclass
class ChannelLimiters:
    """The customer channels' limiters of one gateway (app[CHANNEL_LIMITS])."""

    webchat: Limiter
    api: Limiter
    api_sender: Limiter
    refused: dict[str, int] = field(default_factory=dict)
    """Refusals per limit since start (for /health's details): this replica's."""

    @classmethod
    def of(cls, limits: Limits) -> ChannelLimiters:
        return cls(
            RateLimiter(limits.webchat), RateLimiter(limits.api), RateLimiter(limits.api_sender)
        )

    def share(self, shared: SharedLimits) -> None:
        """Several replicas: count in Redis (this replica's own buckets while it is away)."""
        self.webchat = shared.limiter("webchat", RateLimiter(self.webchat.rate))
        self.api = shared.limiter("api", RateLimiter(self.api.rate))
        self.api_sender = shared.limiter("api_sender", RateLimiter(self.api_sender.rate))

    async def check(self, name: str, limiter: Limiter, key: str) -> int:
        """0 when allowed, else the seconds to wait (the refusal counted under `name`)."""
        wait = await limiter.admit(key)
        if wait:
            self.refused[name] = self.refused.get(name, 0) + 1
        return wait

    async def address_wait(self, name: str, limiter: Limiter, request: web.Request) -> int:
        """`check` keyed by the request's client address (IPv6 by /64)."""
        return await self.check(name, limiter, limit_key(client_ip(request)))


CHANNEL_LIMITS: Final = web.AppKey("channel_limits", ChannelLimiters)


def setup(app: web.Application) -> ChannelLimiters:
    """The app's limiters, made from its settings the first time a channel is set up (before
    the app starts: the JSON API's and the web chat's `setup` both call it). With several
    replicas they count in Redis once the core has started (app[REPLICAS])."""
    limiters = app.get(CHANNEL_LIMITS)
    if limiters is None:
        settings = app.get(SETTINGS)
        limiters = ChannelLimiters.of(settings.limits if settings is not None else Limits())
        app[CHANNEL_LIMITS] = limiters
        health.add_detail(app, "refused", lambda: dict(limiters.refused))
        app.on_startup.append(_share)
    return limiters


async def _share(app: web.Application) -> None:
    replicas = app.get(REPLICAS)
    if replicas is not None:
        app[CHANNEL_LIMITS].share(replicas.limits)
