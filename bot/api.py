"""The JSON API: other systems (a station's app, a WeChat bridge, tests) talk to the assistant.

    POST /api/v1/messages {"sender", "text", "message_id"?, "language"?}
         → {"conversation_id": "api:<sender>", "replies": [...], "degraded", "duplicate"}
    GET  /api/v1/conversations/api:<sender>/messages?limit=N → the transcript, oldest first

Every error is JSON, {"error": {"code", "message"}}, with the HTTP status that says what to
fix. `message_id` makes a POST idempotent: sent again, it is not processed again and returns
the replies stored the first time. A POST's answer says in its `Server-Timing` header how
long it waited for Rasa and how long the gateway's own work took (`rasa;dur=78.30,
gateway;dur=4.10`, milliseconds; `make bench` uses it). When GATEWAY_API_TOKEN is set every
call needs `Authorization: Bearer <token>`. Only `api:` conversations can be read here: a
Telegram or web-chat transcript is not the business of an integration.

Rate limits (bot/limits.py): every call, authorised or not, counts against its client address
(RATE_LIMIT_API), every message against its sender (RATE_LIMIT_API_SENDER); over either the
answer is 429 with `Retry-After` and the message is neither stored nor processed. A text in
Rasa's command syntax (`/intent{...}`) is passed on only when it is the payload of a button
the bot sent in this conversation; otherwise as plain words (bot/commands.py).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

from bot import limits
from bot.clientaddr import client_ip, limit_key
from bot.commands import screened
from bot.keys import CORE_ROUTER, SETTINGS
from bot.limits import CHANNEL_LIMITS
from bot.messages import Inbound, client_metadata
from bot.router import RouterClosed
from bot.timing import start_request

log = logging.getLogger(__name__)

CHANNEL = "api"
SENDER = re.compile(r"[A-Za-z0-9_.@:-]{1,64}")
MAX_MESSAGE_ID_CHARS = 128
HISTORY_DEFAULT = 200
HISTORY_MAX = 500

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers or None
    )


class _Invalid(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error(status, code, message)


def _authorized(request: web.Request) -> bool:
    token = request.app[SETTINGS].api_token
    if not token:
        return True
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode("utf-8"), token.encode("utf-8")
    )


def _unauthorized() -> web.Response:
    return error(
        401,
        "unauthorized",
        "send the API token as 'Authorization: Bearer <token>'",
        **{"WWW-Authenticate": 'Bearer realm="gateway"'},
    )


def _too_many(request: web.Request, name: str, wait: int) -> web.Response:
    log.warning("api: %s limit reached by %s; refused for %d s", name, client_ip(request), wait)
    return error(
        429,
        "rate_limited",
        f"too many requests; retry in {wait} s",
        **{"Retry-After": str(wait)},
    )


async def _address_limited(request: web.Request) -> web.Response | None:
    """429 when the client's address is over RATE_LIMIT_API, else None (a token taken)."""
    limiters = request.app[CHANNEL_LIMITS]
    wait = await limiters.address_wait("api", limiters.api, request)
    return _too_many(request, "address", wait) if wait else None


async def _sender_limited(request: web.Request, sender: str) -> web.Response | None:
    limiters = request.app[CHANNEL_LIMITS]
    wait = await limiters.check("api_sender", limiters.api_sender, sender)
    return _too_many(request, "sender", wait) if wait else None


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise _Invalid(415, "unsupported_media_type", "send the body as application/json")
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _Invalid(413, "body_too_large", f"the body may have at most {limit} bytes")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _Invalid(413, "body_too_large", f"the body may have at most {limit} bytes") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[...
        raise _Invalid(400, "malformed_json", "the body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise _Invalid(400, "malformed_json", "the body must be a JSON object")
    return data


def _inbound(data: dict[str, Any], max_chars: int) -> Inbound:
    sender = data.get("sender")
    if not isinstance(sender, str) or not SENDER.fullmatch(sender):
        raise _Invalid(
            422, "invalid_sender", "sender must be 1-64 characters of A-Z a-z 0-9 _ . @ : -"
        )
    text = data.get("text")
    if not isinstance(text, str):
        raise _Invalid(422, "invalid_text", "text must be a string")
    if len(text) > max_chars:
        raise _Invalid(422, "text_too_long", f"text may have at most {max_chars} characters")
    message_id = data.get("message_id")
    if message_id is not None:
        if isinstance(message_id, bool) or not isinstance(message_id, str | int):
            raise _Invalid(422, "invalid_message_id", "message_id must be a string or a number")
        message_id = str(message_id)
        if not 1 <= len(message_id) <= MAX_MESSAGE_ID_CHARS:
            raise _Invalid(
                422, "invalid_message_id", f"message_id must be 1-{MAX_MESSAGE_ID_CHARS} characters"
            )
    language = data.get("language")
    if language is not None and language not in ("zh", "en"):
        raise _Invalid(422, "invalid_language", "language must be 'zh' or 'en'")
    return Inbound(
        channel=CHANNEL,
        chat_id=sender,
        user_id=sender,
        text=text,
        external_id=message_id,
        language=language,
    )


async def post_message(request: web.Request) -> web.Response:
    timing = start_request()
    if (limited := await _address_limited(request)) is not None:
        return limited
    if not _authorized(request):
        return _unauthorized()
    try:
        message = _inbound(await _json_body(request), request.app[SETTINGS].max_text_chars)
    except _Invalid as exc:
        return exc.response
    if (limited := await _sender_limited(request, message.chat_id)) is not None:
        return limited
    router = request.app[CORE_ROUTER]
    text = await screened(router, message.conversation_id, message.text)
    message = replace(message, text=text, metadata=client_metadata(limit_key(client_ip(request))))
    try:
        result = await router.handle(message)
    except RouterClosed:
        return error(503, "shutting_down", "the gateway is restarting; send the message again")
    replies = result.replies
    if result.duplicate and message.external_id is not None:
        replies = tuple(await router.replies_for(result.conversation_id, message.external_id))
    return web.json_response(
        {
            "conversation_id": result.conversation_id,
            "replies": [r.as_json() for r in replies],
            "degraded": result.degraded,
            "duplicate": result.duplicate,
        },
        headers={"Server-Timing": timing.header()},
    )


async def get_messages(request: web.Request) -> web.Response:
    if (limited := await _address_limited(request)) is not None:
        return limited
    if not _authorized(request):
        return _unauthorized()
    conversation_id = request.match_info["conversation_id"]
    channel, _, sender = conversation_id.partition(":")
    if channel != CHANNEL or not SENDER.fullmatch(sender):
        return error(404, "not_found", "only api:<sender> conversations can be read here")
    raw_limit = request.query.get("limit", str(HISTORY_DEFAULT))
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= HISTORY_MAX:
        return error(422, "invalid_limit", f"limit must be a whole number 1-{HISTORY_MAX}")
    entries = await request.app[CORE_ROUTER].history(conversation_id, int(raw_limit))
    messages = []
    for entry in entries:
        item: dict[str, Any] = {
            "direction": entry.direction,
            "sender": entry.sender,
            "text": entry.text,
            "at": entry.at,
        }
        if entry.buttons:
            item["buttons"] = [{"title": b.title, "payload": b.payload} for b in entry.buttons]
        messages.append(item)
    return web.json_response({"conversation_id": conversation_id, "messages": messages})


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under /api/, routing, size and unexpected errors are JSON too (aiohttp's are text)."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status, "http_error"
        )
        return error(exc.status, code, exc.reason)
    except Exception:  # e.g. the database is down: say so in JSON, log the details
        log.exception("%s %s failed", request.method, request.path)
        return error(503, "unavailable", "the gateway cannot handle this right now; retry later")


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/messages", post_message, name="api-messages")
    app.router.add_get(
        "/api/v1/conversations/{conversation_id}/messages",
        get_messages,
        name="api-conversation-messages",
    )
    app.middlewares.append(json_errors)
    limits.setup(app)
