"""GET /health: whether customers are being answered right now.

Anybody (a load balancer, run.sh, a container's health check) gets only that: 200
{"status": "ok"} when Rasa, the action server and the database answer, else 503
{"status": "degraded"}. It is cheap whoever calls it and however often: one probe of the three
runs at a time and its result serves every caller for `CACHE_SECONDS`.

An operator who sends `Authorization: Bearer <HEALTH_TOKEN>` (GATEWAY_API_TOKEN when
HEALTH_TOKEN is unset) gets fresh probes and the details: which of the three is down (and each
Rasa worker's state), how many customer messages wait for an answer, whether this process
keeps new messages for its retry worker (`holding`: a turn failed, and Rasa has not run a turn
since, here or on a replica that said so), since when this process runs (a restart shows), and the
channels' reports (open web-chat sockets, console logins waiting, rate-limit refusals) and,
under `make run`, its supervisor's status file
(SUPERVISOR_STATUS_FILE): each server's state and how often it was restarted, with its last
exit. A wrong token is refused (401); without a configured token nobody gets the details.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aiohttp import hdrs, web

from bot.keys import BACKENDS, CORE_ROUTER, SETTINGS

CACHE_SECONDS: Final = 2.0
"""How long one probe answers the public check (a flood of /health probes nothing more)."""

Detail = Callable[[], Any]


@dataclass(frozen=True)
class Probes:
    rasa: bool
    actions: bool
    database: bool

    @property
    def ok(self) -> bool:
        return self.rasa and self.actions and self.database


@dataclass
class HealthState:
    """Per application: the last probe, the one running, and the channels' detail reporters."""

    clock: Callable[[], float] = time.monotonic
    details: dict[str, Detail] = field(default_factory=dict)
    started_at: datetime | None = None
    _last: tuple[float, Probes] | None = None
    _running: asyncio.Future[Probes] | None = None

    async def cached(self, probe: Callable[[], Awaitable[Probes]]) -> Probes:
        """The last result if recent, else the result of the probe running (or started) now."""
        last = self._last
        if last is not None and self.clock() - last[0] < CACHE_SECONDS:
            return last[1]
        if self._running is None:
            self._running = asyncio.ensure_future(self._probe(probe))
        return await asyncio.shield(self._running)

    async def _probe(self, probe: Callable[[], Awaitable[Probes]]) -> Probes:
        try:
            result = await probe()
            self._last = (self.clock(), result)
            return result
        finally:
            self._running = None


HEALTH: Final = web.AppKey("health", HealthState)


def add_detail(app: web.Application, name: str, detail: Detail) -> None:
    """Let a channel report something in the operators' details (`name`: its JSON key)."""
    if HEALTH not in app:
        app[HEALTH] = HealthState()
    app[HEALTH].details[name] = detail


async def _probe(request: web.Request) -> Probes:
    backends = request.app[BACKENDS]
    router = request.app[CORE_ROUTER]
    rasa_ok, actions_ok, database_ok = await asyncio.gather(
        backends.rasa_up(), backends.actions_up(fresh=True), router.database_ok()
    )
    return Probes(rasa_ok, actions_ok, database_ok)


def _token_given(request: web.Request) -> str | None:
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _operator(request: web.Request, given: str) -> bool:
    token = request.app[SETTINGS].health_token
    return bool(token) and hmac.compare_digest(given.encode("utf-8"), (token or "").encode("utf-8"))


async def _details(request: web.Request, state: HealthState) -> web.Response:
    probes = await _probe(request)
    pending = await request.app[CORE_ROUTER].count_pending() if probes.database else None
    started = state.started_at
    body: dict[str, Any] = {
        "status": "ok" if probes.ok else "degraded",
        "rasa": "ok" if probes.rasa else "down",
        "actions": "ok" if probes.actions else "down",
        "database": "ok" if probes.database else "down",
        "rasa_workers": request.app[BACKENDS].rasa.describe(),
        "pending": pending,
        # after a failed turn new messages are kept ('系统繁忙') until Rasa runs a turn again,
        # this process's retry worker's or another replica's (bot/backends.py), whatever the
        # probes say; a replica that missed the other's news clears it at its next message
        "holding": request.app[BACKENDS].down,
        "started_at": started.isoformat() if started else None,
        "uptime_seconds": int((datetime.now(UTC) - started).total_seconds()) if started else None,
    }
    supervisor = request.app[SETTINGS].supervisor_status_file
    if supervisor is not None:
        body["supervisor"] = supervisor_status(supervisor)
    body.update({name: detail() for name, detail in sorted(state.details.items())})
    return _json(body, 200 if probes.ok else 503)


def supervisor_status(path: Path) -> dict[str, Any]:
    """The status file `make run`'s supervisor keeps (scripts/supervisor/status.py): its state
    and each server's state, restarts and last exit."""
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return {"state": "unknown", "error": f"{path.name} unreadable: {error.__class__.__name__}"}
    return status if isinstance(status, dict) else {"state": "unknown"}


def _json(body: dict[str, Any], status: int) -> web.Response:
    return web.json_response(body, status=status, headers={hdrs.CACHE_CONTROL: "no-store"})


async def health(request: web.Request) -> web.Response:
    state = request.app[HEALTH]
    given = _token_given(request)
    if given is not None:
        if not _operator(request, given):
            return web.json_response(
                {"error": {"code": "unauthorized", "message": "wrong or unconfigured token"}},
                status=401,
                headers={hdrs.WWW_AUTHENTICATE: 'Bearer realm="gateway health"'},
            )
        return await _details(request, state)
    probes = await state.cached(lambda: _probe(request))
    return _json({"status": "ok" if probes.ok else "degraded"}, 200 if probes.ok else 503)


async def _started(app: web.Application) -> None:
    app[HEALTH].started_at = datetime.now(UTC)


def setup(app: web.Application) -> None:
    if HEALTH not in app:
        app[HEALTH] = HealthState()
    app.router.add_get("/health", health, name="health")
    app.on_startup.append(_started)
