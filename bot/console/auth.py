"""Console authentication: server-side sessions, CSRF, roles and login throttling.

- Login (`POST /console/login` form, `POST /api/v1/agent/login` JSON) checks the password with
  `store.services.staff`; a success creates a `staff_sessions` row (only the token's SHA-256
  is stored) and sets the random token in the `gds_console` cookie: HttpOnly, SameSite=Strict,
  Path=/, Secure when the request came over HTTPS (directly or per X-Forwarded-Proto).
- Every state-changing request (anything but GET/HEAD) must carry the session's CSRF token:
  the `X-CSRF-Token` header (fetch/JSON) or the `csrf_token` form field (forms).
- `require(...)` wraps a handler: anonymous → 401 JSON (API) or a redirect to the login page
  (pages); a role not allowed → 403. Which conversation a role may open is
  store/services/console_access.py's rule (ownership), checked by the handlers.
- Only human activity keeps a session alive: requests the page makes by itself (timers, live
  events) send `X-Console-Background: 1` and the websocket never touches the session, so an
  unattended console ends after the idle timeout like any other.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Final, Literal

from aiohttp import web

from bot import clientaddr
from bot.console.state import CONSOLE, ApiError, ConsoleState, error
from store import roles
from store.services import console_sessions
from store.services.console_sessions import StaffIdentity

log = logging.getLogger(__name__)

COOKIE: Final = "gds_console"
LOGIN_COOKIE: Final = "gds_console_login"
"""Login-form CSRF: a random value in this cookie and in the form's hidden field (double
submit), so another site cannot log a browser into an account of its choosing."""
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf_token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

BACKGROUND_HEADER: Final = "X-Console-Background"
"""Set to 1 by the pages on requests nobody clicked for: they do not extend the session."""

AGENT_ROLES: Final = roles.WORKS_CHATS
"""Who works chats: agents, and supervisors and managers who step in."""
SUPERVISOR_ROLES: Final = roles.OVERSEES
"""Who sees the supervisor overview: supervisors, managers and the station's operators."""
OPERATOR_ROLES: Final = roles.RETRAINS_NLU
"""Who retrains the bot's NLU (the NLU inbox, training, the model registry): operators only."""
ACCESS_LOG_ROLES: Final = roles.READS_ACCESS_LOG
"""Who lists the record of staff opening customers' data: supervisors and managers."""
DISPATCH_ROLES: Final = roles.DISPATCHES
"""Repair work orders: dispatchers and managers."""
CREW_ROLES: Final = roles.WORKS_CREW_TICKETS
"""A repair's steps on site: crew members (their crew's tickets only), dispatchers, managers."""
CASE_ROLES: Final = roles.WORKS_CASES
"""Complaints, feedback and applications: clerks and managers."""
CUSTOMER_RECORD_ROLES: Final = roles.READS_CUSTOMERS
"""Customer records: clerks, dispatchers, supervisors and managers."""
IMPORT_ROLES: Final = roles.IMPORTS_DATA
"""Importing the billing system's exports: managers."""
OUTAGE_ROLES: Final = roles.PUBLISHES_OUTAGES
"""Outages and their notices: dispatchers, supervisors and managers."""
QUALITY_ROLES: Final = roles.READS_QUALITY
"""The service-quality dashboard: managers (the station), supervisors (their team, or the chat
desk when they are in none: bot/console/quality_scope.py)."""
QUALITY_PLAN_ROLES: Final = roles.PLANS_QUALITY
"""Writing the improvement plan: managers."""
SCORECARD_ROLES: Final = roles.READS_SCORECARDS
"""The scorecards: managers, supervisors, and agents (their own only)."""
ALL_ROLES: Final = roles.ALL_ROLES

STAFF: Final = web.RequestKey("console_staff", StaffIdentity)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def state_of(request: web.Request) -> ConsoleState:
    return request.app[CONSOLE]


def is_https(request: web.Request) -> bool:
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    state = state_of(request)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(state.lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
    )


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/", samesite="Strict", secure=is_https(request))


def login_csrf(request: web.Request, response: web.StreamResponse | None = None) -> str:
    """The login form's CSRF value: the browser's cookie, or a new one set on `response`."""
    value = request.cookies.get(LOGIN_COOKIE, "")
    if len(value) < 20 and response is not None:
        value = secrets.token_urlsafe(24)
        response.set_cookie(
            LOGIN_COOKIE,
            value,
            path="/console/login",
            httponly=True,
            samesite="Strict",
            secure=is_https(request),
        )
    return value


def is_background(request: web.Request) -> bool:
    """Whether the page sent this request by itself (not a person's click or keystroke)."""
    return request.headers.get(BACKGROUND_HEADER) == "1"


async def identify(request: web.Request, *, touch: bool = True) -> StaffIdentity | None:
    """The staff member behind the request's session cookie, or None. With `touch` (and not a
    background request) the session's idle timer starts again."""
    if STAFF in request:
        return request[STAFF]
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    state = state_of(request)
    now = state.clock()
    touch = touch and not is_background(request)
    identity = await state.db(
        lambda s: console_sessions.lookup(s, token, now=now, idle=state.idle, touch=touch)
    )
    if identity is not None:
        request[STAFF] = identity
    return identity


def staff_of(request: web.Request) -> StaffIdentity:
    """The identity `require` checked (call only inside a wrapped handler)."""
    return request[STAFF]


def page_values(request: web.Request) -> dict[str, str]:
    """What every console page's template shows of the staff member `require` checked, and the
    CSRF token its forms and scripts send back."""
    me = staff_of(request)
    return {
        "csrf": me.csrf_token,
        "display_name": me.display_name,
        "username": me.username,
        "role": me.role,
    }


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


async def _csrf_given(request: web.Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def require(
    allowed: frozenset[str], *, kind: Literal["api", "page"] = "api", touches: bool = True
) -> Callable[[Handler], Handler]:
    """Wrap a handler: a live session with one of the `allowed` roles, and on a state-changing
    method the session's CSRF token. `touches=False`: the request never counts as activity
    (the websocket, which the page reopens by itself). The roles are kept on the handler
    (`console_roles`) for tests."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def inner(request: web.Request) -> web.StreamResponse:
            identity = await identify(request, touch=touches)
            if identity is None:
                if kind == "page":
                    raise web.HTTPFound("/console/login")
                return error(401, "unauthorized", "log in to the agent console first")
            if identity.role not in allowed:
                if kind == "page":
                    raise web.HTTPForbidden(text="403: 您的账号无权访问此页面。")
                return error(403, "forbidden", "your role may not do this")
            if request.method not in SAFE_METHODS and not csrf_ok(
                identity.csrf_token, await _csrf_given(request)
            ):
                log.warning("console: CSRF token missing or wrong for %s", identity.username)
                if kind == "page":
                    raise web.HTTPForbidden(text="403: 请求已过期，请刷新页面后重试。")
                return error(403, "csrf", "missing or wrong X-CSRF-Token")
            try:
                return await handler(request)
            except ApiError as exc:
                return exc.response()

        inner.console_roles = allowed  # type: ignore[attr-defined]
        return inner

    return wrap


def client_ip(request: web.Request) -> str:
    """The client's address as every limiter and log sees it (TRUSTED_PROXIES honoured)."""
    return clientaddr.client_ip(request)
