"""Failed identity checks for supervisors: GET /api/v1/agent/supervisor/verification-failures.

Is somebody spraying guesses at customers' accounts? The answer covers the counting window of
conf/commitments.yml `verification`: totals (failures, and attempts refused while a back-off
ran), the latest failures, and the client addresses and account numbers with the most. Ids and
account numbers are masked (store/services/verification_log.py). Supervisors and managers only
(the console's session and roles, as every agent route); `?limit` 1-200 [50].
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.state import CONSOLE, ApiError
from store import roles
from store.config import Settings, default_conf_dir, load_settings
from store.services import verification_log

ROLES: Final = roles.SEES_STATION
"""Who reads the failed identity checks: supervisors and managers."""
LIMIT_MAX: Final = 200
PATH: Final = "/api/v1/agent/supervisor/verification-failures"
STORE_SETTINGS: Final = web.AppKey("verification_store_settings", Settings)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= LIMIT_MAX:
        raise ApiError(422, "invalid", f"limit must be a whole number from 1 to {LIMIT_MAX}")
    return int(raw)


@auth.require(ROLES)
async def get_failures(request: web.Request) -> web.Response:
    limit = _limit(request)
    state = request.app[CONSOLE]
    settings = request.app[STORE_SETTINGS]
    now = state.clock()

    def work(session: Session) -> dict[str, Any]:
        report = verification_log.failure_report(session, settings, now=now, limit=limit)
        return report.as_json()

    return web.json_response(await state.db(work))


async def _load_settings(app: web.Application) -> None:
    conf_dir = app[CONSOLE].settings.conf_dir or default_conf_dir()
    app[STORE_SETTINGS] = await asyncio.to_thread(load_settings, conf_dir)


def setup(app: web.Application) -> None:
    """Register the route (after the console's own setup: it needs app[CONSOLE])."""
    app.router.add_get(PATH, get_failures, name="agent-verification-failures")
    app.on_startup.append(_load_settings)
