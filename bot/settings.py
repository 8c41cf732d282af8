"""Gateway configuration, read from the environment once at start-up and validated."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.clientaddr import Network, parse_networks
from bot.limits import Limits, LimitsError


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1/true/yes/on or 0/false/no/off, got {raw!r}")


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _positive_float(env: dict[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be more than 0, got {value}")
    return value


_ORIGIN = re.compile(r"https?://[^/?#@\s]+")


def normalise_origin(origin: str) -> str | None:
    """'scheme://host[:port]' lower-cased, default port dropped; None unless http(s) with a host."""
    origin = origin.strip().lower().rstrip("/")
    if not _ORIGIN.fullmatch(origin):
        return None
    parts = urlsplit(origin)
    netloc = parts.netloc
    default = ":443" if parts.scheme == "https" else ":80"
    if netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{parts.scheme}://{netloc}" if netloc else None


def _origins(env: dict[str, str], name: str) -> tuple[str, ...]:
    origins = []
    for raw in env.get(name, "").replace(",", " ").split():
        origin = normalise_origin(raw)
        if origin is None:
            raise ConfigError(
                f"{name}: {raw!r} is not an origin; write scheme://host[:port],"
                " e.g. https://www.example.com (no path), separated by commas"
            )
        origins.append(origin)
    return tuple(origins)


def _networks(env: dict[str, str], name: str) -> tuple[Network, ...]:
    try:
        return parse_networks(env.get(name, ""), name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _urls(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A list of Rasa worker URLs, separated by commas or spaces (each http(s)://host[:port])."""
    urls = []
    for raw in env.get(name, "").replace(",", " ").split():
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"{name}: {raw!r} is not a Rasa URL; write http://host:port, several"
                " separated by commas"
            )
        urls.append(raw.rstrip("/"))
    if len(set(urls)) != len(urls):
        raise ConfigError(f"{name} names a worker twice")
    return tuple(urls)


def _discovery(env: dict[str, str]) -> bool:
    raw = env.get("RASA_DISCOVERY", "").strip().lower()
    if raw not in ("", "off", "dns"):
        raise ConfigError(f"RASA_DISCOVERY must be 'dns' or 'off', got {raw!r}")
    return raw == "dns"


def _optional_path(env: dict[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value) if value else None


def _limits(env: dict[str, str]) -> Limits:
    try:
        return Limits.from_env(env)
    except LimitsError as exc:
        raise ConfigError(str(exc)) from None


def _shared(env: dict[str, str]) -> dict[str, Any]:
    """GATEWAY_SHARED and what goes with it (several replicas, docs/scaling.md)."""
    shared = _flag(env, "GATEWAY_SHARED", False)
    redis_url = env.get("REDIS_URL", "").strip() or None
    if shared and not redis_url:
        raise ConfigError(
            "GATEWAY_SHARED=1 needs REDIS_URL (e.g. redis://redis:6379/0): the replicas share"
            " conversation locks, live events and one-replica jobs through it"
        )
    if shared and urlsplit(redis_url or "").scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL must begin with redis://, rediss:// or unix://, got {redis_url!r}"
        )
    prefix = env.get("GATEWAY_REDIS_PREFIX", "").strip() or GatewaySettings.shared_prefix
    return {
        "shared": shared,
        "redis_url": redis_url,
        "shared_prefix": prefix,
        "lock_seconds": _positive_float(env, "GATEWAY_LOCK_SECONDS", GatewaySettings.lock_seconds),
        "lease_seconds": _positive_float(
            env, "GATEWAY_LEASE_SECONDS", GatewaySettings.lease_seconds
        ),
    }


def _loopback(host: str) -> bool:
    """Whether a listening address is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # a host name or "" (all interfaces)
        return False


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8080
    rasa_url: str = "http://127.0.0.1:5005"
    """RASA_URL's first worker: it names the serving pool (docs/scaling.md)."""
    rasa_token: str | None = None
    rasa_standby_url: str | None = None
    """RASA_STANDBY_URL: a second Rasa server (its first, when several) for blue/green model
    deployments; the gateway follows the database's rasa_serving row between the two pools
    (nlu/deploy.py)."""
    rasa_more_urls: tuple[str, ...] = ()
    """RASA_URL's other workers: every worker of a pool shares the conversations (the SQL
    tracker store, the Redis lock store); bot/rasa_pool.py spreads them."""
    rasa_standby_more_urls: tuple[str, ...] = ()
    rasa_discovery: bool = False
    """RASA_DISCOVERY=dns: each worker URL stands for every address its host name resolves to
    (Docker Compose's `--scale rasa=N`, bot/rasa_discovery.py)."""
    rasa_timeout: float = 15.0
    """Seconds to wait for Rasa before answering '系统繁忙' and keeping the message pending."""
    database_url: str | None = None
    """None: store.db's default (DATABASE_URL or var/assistant.db)."""
    max_text_chars: int = 2000
    """Longer messages are politely refused (the API answers 413/422)."""
    telegram_token: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_api_base_url: str | None = None
    wechat_app_id: str | None = None
    """WECHAT_APP_ID turns the WeChat Official Account channel on (docs/wechat.md); its other
    secrets: WECHAT_APP_SECRET, WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY (bot/channels/wechat)."""
    wechat_app_secret: str | None = None
    wechat_token: str | None = None
    wechat_encoding_aes_key: str | None = None
    wechat_api_base_url: str | None = None
    """WECHAT_API_BASE_URL: WeChat's API root (default https://api.weixin.qq.com)."""
    static_dir: Path = Path(__file__).resolve().parent / "static"
    allowed_origins: tuple[str, ...] = ()
    """Other origins (normalised 'https://host[:port]') trusted with the web chat: they may open
    its websocket and embed its page in a frame. The gateway's own host is always allowed."""
    action_server_url: str = "http://127.0.0.1:5055"
    """The action server, probed (GET /health) so /health and the retry worker know it is up."""
    api_token: str | None = None
    """GATEWAY_API_TOKEN: when set, /api/v1 requires `Authorization: Bearer <token>`."""
    max_body_bytes: int = 64 * 1024
    """Largest request body accepted (aiohttp client_max_size); larger ones get 413."""
    notify_interval: float = 15.0
    """Seconds between two notifier passes over ticket/application events; 0 turns it off."""
    retry_max_backoff: float = 60.0
    """Longest wait between two probes of Rasa while messages are pending."""
    shutdown_timeout: float = 20.0
    """How long a shutdown waits for messages being handled before closing anyway."""
    conf_dir: Path | None = None
    """Where gateway.yml and the stores' configuration are (None: $CONF_DIR or conf/)."""
    handoff_triggers: bool = True
    """HANDOFF_TRIGGERS=0 turns off the automatic handoff triggers of conf/handoff.yml (the
    gate, the console and the survey still work)."""
    handoff_watch: bool = True
    """HANDOFF_WATCH=0: no handoff watcher task (timeouts, auto-assignment passes)."""
    outage_notices: bool = True
    """OUTAGE_NOTICES=0: this gateway does not work the outage-notice queue (bot/outages/;
    another replica may). Publishing on the console still queues the notices."""
    quality_reports: bool = True
    """QUALITY_REPORTS=0: no scheduled job making the evaluation reports of closed periods
    (bot/report_schedule.py); the console still makes them on demand."""
    trusted_proxies: tuple[Network, ...] = ()
    """TRUSTED_PROXIES: the reverse proxies (addresses, CIDR networks) whose X-Forwarded-For
    is believed (bot/clientaddr.py); none: the TCP peer is the client."""
    health_token: str | None = None
    """HEALTH_TOKEN, else GATEWAY_API_TOKEN: `Authorization: Bearer <it>` on /health shows
    what is down and the queues; without it /health says only ok or not."""
    limits: Limits = field(default_factory=Limits)
    """Rate limits of the channels and the console's logins (bot/limits.py)."""
    supervisor_status_file: Path | None = None
    """SUPERVISOR_STATUS_FILE: `make run`'s supervisor status (restarts), shown in /health."""
    shared: bool = False
    """GATEWAY_SHARED=1: several replicas of the gateway take the messages (bot/replicas/):
    conversation locks, live events and one-replica jobs go through Redis (REDIS_URL)."""
    redis_url: str | None = None
    """REDIS_URL: read by the gateway only with GATEWAY_SHARED (Rasa's lock store uses it too)."""
    shared_prefix: str = "gateway"
    """GATEWAY_REDIS_PREFIX: the gateway's Redis keys and channel begin with it (one Redis can
    serve several deployments)."""
    lock_seconds: float = 30.0
    """GATEWAY_LOCK_SECONDS: a conversation's lock of a replica that died frees itself after
    this (its holder renews it every third of it)."""
    lease_seconds: float = 15.0
    """GATEWAY_LEASE_SECONDS: a one-replica job of a replica that died moves to another within
    this and a third of it."""

    @property
    def rasa_pools(self) -> tuple[tuple[str, ...], ...]:
        """The serving pool's workers, then the standby pool's (when there is one)."""
        serving = (self.rasa_url, *self.rasa_more_urls)
        if self.rasa_standby_url is None:
            return (serving,)
        return serving, (self.rasa_standby_url, *self.rasa_standby_more_urls)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> GatewaySettings:
        env = dict(os.environ if environ is None else environ)
        webhook_url = env.get("TELEGRAM_WEBHOOK_URL") or None
        secret = env.get("TELEGRAM_WEBHOOK_SECRET") or None
        if webhook_url and not secret:
            raise ConfigError("TELEGRAM_WEBHOOK_URL is set: set TELEGRAM_WEBHOOK_SECRET too")
        wechat = ("WECHAT_APP_SECRET", "WECHAT_TOKEN", "WECHAT_ENCODING_AES_KEY")
        if any(env.get(name, "").strip() for name in wechat) and not env.get("WECHAT_APP_ID"):
            raise ConfigError("WeChat secrets are set: set WECHAT_APP_ID too (docs/wechat.md)")
        host = env.get("GATEWAY_HOST", cls.host)
        if not env.get("GATEWAY_API_TOKEN") and not _loopback(host):
            # /api/v1/messages shows any sender's conversation: never open beyond this machine
            raise ConfigError(
                f"GATEWAY_HOST={host} makes the JSON API reachable from other machines: "
                "set GATEWAY_API_TOKEN (callers then send 'Authorization: Bearer <token>')"
            )
        workers = _urls(env, "RASA_URL") or (cls.rasa_url,)
        standby = _urls(env, "RASA_STANDBY_URL")
        return cls(
            host=host,
            port=_int(env, "GATEWAY_PORT", cls.port),
            rasa_url=workers[0],
            rasa_more_urls=workers[1:],
            rasa_token=env.get("RASA_TOKEN") or None,
            rasa_standby_url=standby[0] if standby else None,
            rasa_standby_more_urls=standby[1:],
            rasa_discovery=_discovery(env),
            rasa_timeout=_positive_float(env, "RASA_TIMEOUT", cls.rasa_timeout),
            database_url=env.get("DATABASE_URL") or None,
            max_text_chars=_positive_int(env, "MAX_TEXT_CHARS", cls.max_text_chars),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_webhook_url=webhook_url,
            telegram_webhook_secret=secret,
            telegram_api_base_url=env.get("TELEGRAM_API_BASE_URL") or None,
            wechat_app_id=env.get("WECHAT_APP_ID", "").strip() or None,
            wechat_app_secret=env.get("WECHAT_APP_SECRET", "").strip() or None,
            wechat_token=env.get("WECHAT_TOKEN", "").strip() or None,
            wechat_encoding_aes_key=env.get("WECHAT_ENCODING_AES_KEY", "").strip() or None,
            wechat_api_base_url=env.get("WECHAT_API_BASE_URL", "").strip() or None,
            allowed_origins=_origins(env, "ALLOWED_ORIGINS"),
            action_server_url=env.get("ACTION_SERVER_URL", cls.action_server_url).rstrip("/"),
            api_token=env.get("GATEWAY_API_TOKEN") or None,
            max_body_bytes=_positive_int(env, "GATEWAY_MAX_BODY_BYTES", cls.max_body_bytes),
            notify_interval=_float(env, "NOTIFY_INTERVAL", cls.notify_interval),
            retry_max_backoff=_positive_float(env, "RASA_RETRY_MAX_BACKOFF", cls.retry_max_backoff),
            shutdown_timeout=_positive_float(env, "GATEWAY_SHUTDOWN_TIMEOUT", cls.shutdown_timeout),
            conf_dir=_optional_path(env, "CONF_DIR"),
            handoff_triggers=_flag(env, "HANDOFF_TRIGGERS", cls.handoff_triggers),
            handoff_watch=_flag(env, "HANDOFF_WATCH", cls.handoff_watch),
            quality_reports=_flag(env, "QUALITY_REPORTS", cls.quality_reports),
            outage_notices=_flag(env, "OUTAGE_NOTICES", cls.outage_notices),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            health_token=env.get("HEALTH_TOKEN") or env.get("GATEWAY_API_TOKEN") or None,
            limits=_limits(env),
            supervisor_status_file=_optional_path(env, "SUPERVISOR_STATUS_FILE"),
            **_shared(env),
        )
