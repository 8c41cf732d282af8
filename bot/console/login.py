"""Logging in and out of the console: the form (pages) and JSON (integrations) flavours."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.pages import page_response
from bot.console.state import CONSOLE, ConsoleState, error
from store.services import console_sessions, staff
from store.services.console_sessions import StaffIdentity

log = logging.getLogger(__name__)

MAX_FIELD = 256


def home_of(role: str) -> str:
    """Where a role lands after logging in."""
    return "/console/supervisor" if role == "operator" else "/console"


def _login_work(
    username: str, password: str, state: ConsoleState
) -> Callable[[Session], tuple[str, StaffIdentity] | None]:
    now = state.clock()

    def work(session: Session) -> tuple[str, StaffIdentity] | None:
        console_sessions.purge_expired(session, now=now, idle=state.idle)
        user = staff.authenticate(session, username, password)
        if user is None:
            return None
        if user.availability == "offline":
            user.availability = "away"  # online, not yet taking chats: the agent chooses
        return console_sessions.create(session, user, now=now, lifetime=state.lifetime)

    return work


async def _attempt(
    request: web.Request, username: str, password: str
) -> tuple[int, tuple[str, StaffIdentity] | None, int]:
    """(status, session or None, retry-after seconds): 200, 401 wrong, 429 throttled."""
    state = request.app[CONSOLE]
    ip = auth.client_ip(request)
    wait = state.limiter.retry_after(ip, username)
    if wait:
        log.warning("console: login of %r from %s throttled", username, ip)
        return 429, None, wait
    result = await state.db(_login_work(username, password, state))
    if result is None:
        state.limiter.failed(ip, username)
        log.info("console: failed login of %r from %s", username, ip)
        return 401, None, 0
    state.limiter.succeeded(ip, username)
    log.info("console: %s logged in from %s", result[1].username, ip)
    return 200, result, 0


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
    status, result, wait = await _attempt(request, username, password)
    if status == 429:
        response = await _login_form(
            request, f"登录失败次数过多，请 {max(1, wait // 60)} 分钟后再试。", 429
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if result is None:
        return await _login_form(request, "用户名或密码错误。", 401)
    token, identity = result
    response = web.HTTPSeeOther(home_of(identity.role))
    auth.set_session_cookie(request, response, token)
    response.del_cookie(auth.LOGIN_COOKIE, path="/console/login")
    raise response


async def login_json(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return error(415, "unsupported_media_type", "send the body as application/json")
    try:
        data = json.loads(await request.text())
    except ValueError:
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
    ):
        return error(422, "invalid", "username and password (strings) are required")
    status, result, wait = await _attempt(request, username.strip(), password)
    if status == 429:
        response = error(429, "too_many_attempts", f"too many failed logins; retry in {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response
    if result is None:
        return error(401, "bad_credentials", "wrong username or password")
    token, identity = result
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
        staff.set_availability(session, identity.user_id, "offline")

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
