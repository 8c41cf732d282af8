"""Logging in and out of the console: the form (pages) and JSON (integrations) flavours.

An attempt is refused (429 with Retry-After) before any password is checked when its
(address, username) has failed too often, when the gateway's overall login rate is spent, or
when the password-hashing pool is full (bot/console/ratelimit.py, hashing.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.hashing import PoolFull
from bot.console.pages import page_response
from bot.console.state import CONSOLE, ConsoleState, error
from store.services import console_sessions, staff
from store.services.console_sessions import StaffIdentity
from store.statuses import StaffAvailability

log = logging.getLogger(__name__)

MAX_FIELD = 256
POOL_FULL_RETRY_SECONDS = 1
"""Retry-After when every hashing thread is busy and the queue full: it drains in a second."""


HOMES: Final[dict[str, str]] = {
    "operator": "/console/supervisor",
    "dispatcher": "/console/tickets",
    "crew": "/console/crew",
    "clerk": "/console/feedback",
}
"""Where a role lands after logging in, where that is not the agent console."""


def home_of(role: str) -> str:
    """Where a role lands after logging in."""
    return HOMES.get(role, "/console")


def _stored_hash(username: str) -> Callable[[Session], str | None]:
    def work(session: Session) -> str | None:
        user = staff.get_by_username(session, username)
        return user.password_hash if user is not None else None

    return work


def _session_work(
    username: str, checked: str, new_hash: str | None, state: ConsoleState
) -> Callable[[Session], tuple[str, StaffIdentity] | None]:
    now = state.clock()

    def work(session: Session) -> tuple[str, StaffIdentity] | None:
        console_sessions.purge_expired(session, now=now, idle=state.idle)
        user = staff.get_by_username(session, username)
        if user is None or user.password_hash != checked:
            return None  # removed, or its password changed while this one was checked
        if new_hash is not None:
            user.password_hash = new_hash  # argon2 parameters raised since it was set
        if user.availability == StaffAvailability.OFFLINE:
            # online, not yet taking chats: the agent chooses
            user.availability = StaffAvailability.AWAY
        return console_sessions.create(session, user, now=now, lifetime=state.lifetime)

    return work


async def _log_in(
    state: ConsoleState, username: str, password: str
) -> tuple[str, StaffIdentity] | None:
    """The session of a right username and password, else None. The password is checked on
    the hashing pool (PoolFull when it is full) and outside any transaction: argon2 inside one
    would hold SQLite's write lock, and every customer's message would wait for it."""
    stored = await state.db(_stored_hash(username))
    matches, new_hash = await state.hashing.run(lambda: staff.check_password(stored, password))
    if not matches or stored is None:
        return None
    return await state.db(_session_work(username, stored, new_hash, state))


@dataclass(frozen=True)
class Outcome:
    """What one login attempt came to."""

    status: int
    """200 logged in, 401 wrong username or password, 429 refused before the check."""
    session: tuple[str, StaffIdentity] | None = None
    retry_after: int = 0
    crowded: bool = False
    """A 429 because of the overall rate or a full hashing pool, not this pair's failures."""


async def _refusal(request: web.Request, username: str) -> Outcome | None:
    """A 429 when the attempt must not even check the password, else None."""
    ip = auth.client_ip(request)
    wait = await request.app[CONSOLE].limiter.check(ip, username)
    if wait.crowded:
        log.warning("console: login of %r from %s refused: overall login rate spent", username, ip)
    elif wait.seconds:
        log.warning("console: login of %r from %s throttled", username, ip)
    if wait.seconds:
        return Outcome(429, retry_after=wait.seconds, crowded=wait.crowded)
    return None


async def _attempt(request: web.Request, username: str, password: str) -> Outcome:
    state = request.app[CONSOLE]
    ip = auth.client_ip(request)
    refusal = await _refusal(request, username)
    if refusal is not None:
        return refusal
    try:
        result = await _log_in(state, username, password)
    except PoolFull:
        log.warning("console: login of %r from %s refused: hashing pool full", username, ip)
        return Outcome(429, retry_after=POOL_FULL_RETRY_SECONDS, crowded=True)
    await state.limiter.record(ip, username, succeeded=result is not None)
    if result is None:
        log.info("console: failed login of %r from %s", username, ip)
        return Outcome(401)
    log.info("console: %s logged in from %s", result[1].username, ip)
    return Outcome(200, result)


def _refused_text(outcome: Outcome) -> str:
    if outcome.crowded:
        return f"登录请求过多，请 {outcome.retry_after} 秒后再试。"
    return f"登录失败次数过多，请 {max(1, outcome.retry_after // 60)} 分钟后再试。"


async def login_page(request: web.Request) -> web.StreamResponse:
    identity = await auth.identify(request)
    if identity is not None:
        raise web.HTTPFound(home_of(identity.role))
    return await _login_form(request, "", 200)


async def _login_form(request: web.Request, message: str, status: int) -> web.Response:
    files = request.app[CONSOLE].files
    response = await page_response(
        request, files, "console-login.html", {"error": message, "csrf": ""}, status=status
    )
    # the double-submit value must be in both the cookie and the form
    token = auth.login_csrf(request, response)
    response.text = files.render("console-login.html", {"error": message, "csrf": token})
    return response


async def login_form_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))[:MAX_FIELD].strip()
    password = str(form.get("password", ""))[:MAX_FIELD]
    given = form.get(auth.CSRF_FIELD)
    expected = request.cookies.get(auth.LOGIN_COOKIE, "")
    if not expected or not auth.csrf_ok(expected, given if isinstance(given, str) else None):
        return await _login_form(request, "页面已过期，请重新登录。", 403)
    if not username or not password:
        return await _login_form(request, "请输入用户名和密码。", 400)
    if not _storable(username + password):  # no account has such a name or password
        return await _login_form(request, "用户名或密码错误。", 401)
    outcome = await _attempt(request, username, password)
    if outcome.status == 429:
        response = await _login_form(request, _refused_text(outcome), 429)
        response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    if outcome.session is None:
        return await _login_form(request, "用户名或密码错误。", 401)
    token, identity = outcome.session
    response = web.HTTPSeeOther(home_of(identity.role))
    auth.set_session_cookie(request, response, token)
    response.del_cookie(auth.LOGIN_COOKIE, path="/console/login")
    raise response


def _storable(text: str) -> bool:
    """Whether the database and argon2 can take `text`: JSON can carry lone surrogates
    ("\\ud800"), which UTF-8 cannot encode, and NUL, which PostgreSQL refuses (a 5xx instead
    of a refusal)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def login_json(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return error(415, "unsupported_media_type", "send the body as application/json")
    try:
        data = json.loads(await request.text())
    except (ValueError, RecursionError):  # RecursionError: nested too deep ([[[[...)
        return error(400, "bad_json", "the body is not valid JSON")
    username = data.get("username") if isinstance(data, dict) else None
    password = data.get("password") if isinstance(data, dict) else None
    if (
        not isinstance(username, str)
        or not isinstance(password, str)
        or not username.strip()
        or not password
        or len(username) > MAX_FIELD
        or len(password) > MAX_FIELD
        or not _storable(username + password)
    ):
        return error(422, "invalid", "username and password (strings) are required")
    outcome = await _attempt(request, username.strip(), password)
    if outcome.status == 429:
        wait = outcome.retry_after
        if outcome.crowded:
            response = error(429, "too_many_logins", f"too many logins now; retry in {wait} s")
        else:
            response = error(429, "too_many_attempts", f"too many failed logins; retry in {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response
    if outcome.session is None:
        return error(401, "bad_credentials", "wrong username or password")
    token, identity = outcome.session
    response = web.json_response({"user": user_json(identity), "csrf_token": identity.csrf_token})
    auth.set_session_cookie(request, response, token)
    return response


def user_json(identity: StaffIdentity) -> dict[str, Any]:
    return {
        "id": identity.user_id,
        "username": identity.username,
        "display_name": identity.display_name,
        "role": identity.role,
    }


async def _logout(request: web.Request) -> None:
    state = request.app[CONSOLE]
    token = request.cookies.get(auth.COOKIE, "")
    identity = auth.staff_of(request)

    def work(session: Session) -> None:
        console_sessions.end(session, token)
        staff.set_availability(session, identity.user_id, StaffAvailability.OFFLINE)

    await state.db(work)
    log.info("console: %s logged out", identity.username)


@auth.require(auth.ALL_ROLES, kind="page")
async def logout_form(request: web.Request) -> web.StreamResponse:
    await _logout(request)
    response = web.HTTPSeeOther("/console/login")
    auth.clear_session_cookie(request, response)
    raise response


@auth.require(auth.ALL_ROLES)
async def logout_json(request: web.Request) -> web.Response:
    await _logout(request)
    response = web.json_response({"ok": True})
    auth.clear_session_cookie(request, response)
    return response
