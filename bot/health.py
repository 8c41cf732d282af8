"""GET /health: whether customers are being answered right now, for monitors and run.sh.

200 {"status": "ok"} when Rasa, the action server and the database all answer; otherwise 503
with what is down and how many customer messages wait for an answer. No authentication and
no personal data: a load balancer must be able to call it.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.keys import BACKENDS, CORE_ROUTER


async def health(request: web.Request) -> web.Response:
    backends = request.app[BACKENDS]
    router = request.app[CORE_ROUTER]
    rasa_ok, actions_ok, database_ok = await asyncio.gather(
        backends.rasa_up(), backends.actions_up(fresh=True), router.database_ok()
    )
    if rasa_ok and actions_ok and database_ok:
        return web.json_response({"status": "ok"})
    pending = await router.count_pending() if database_ok else None
    return web.json_response(
        {
            "status": "degraded",
            "rasa": "ok" if rasa_ok else "down",
            "actions": "ok" if actions_ok else "down",
            "database": "ok" if database_ok else "down",
            "pending": pending,
        },
        status=503,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/health", health, name="health")
