"""The agent API, /api/v1/agent/...: everything the console page does, as JSON.

Same auth as the pages: the session cookie, and on every POST the session's CSRF token in the
`X-CSRF-Token` header. Errors are {"error": {"code", "message"}}: 401 not logged in, 403 role
not allowed / CSRF / not your chat, 404 unknown handoff or conversation, 409 claimed by
someone else / at your chat limit / not in a state that allows it, 422 invalid body.
Conversations are named by handle (`conversation`, the database id: what the transcript and
customer routes take) and masked id (`conversation_label`), never by their id; an agent opens
only the conversations they handle (store/services/console_access.py), and every opening, or
refusal, is recorded (store/services/access_audit.py; GET /supervisor/access-log lists it).
`POST /flag` (an agent marks a bot reply as wrong: the NLU inbox) answers 400 for a message
that is not a bot reply.
Reference: docs/agents.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from aiohttp import web

from bot.console import auth, fields, live
from bot.console.auth import ACCESS_LOG_ROLES, AGENT_ROLES, ALL_ROLES, SUPERVISOR_ROLES
from bot.console.login import user_json
from bot.console.state import CONSOLE, ApiError, ConsoleState
from bot.keys import NLU_SETTINGS
from nlu import inbox
from store.roles import SEES_STATION
from store.services import (
    access_audit,
    console_access,
    console_queries,
    handoffs,
    nlu_inbox,
    staff,
)
from store.services.console_sessions import StaffIdentity
from store.statuses import AccessKind, HandoffState, StaffAvailability
from store.workflow import IllegalTransition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from store.services.handoffs import Handoff
    from store.services.transcripts import Conversation

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_NOTE_CHARS: Final = 2000
MAX_FLAG_NOTE_CHARS: Final = 500
AVAILABILITY_CHOICES: Final = (StaffAvailability.AVAILABLE, StaffAvailability.AWAY)
HANDLE: Final = re.compile(r"[0-9]{1,18}")
"""A conversation's handle in a path or query (ASCII digits: not `²`, which isdigit() likes)."""
Refusal = Literal["missing", "refused"]


def _state(request: web.Request) -> ConsoleState:
    return request.app[CONSOLE]


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        data = json.loads(await request.text())
    except (ValueError, RecursionError):  # RecursionError: nested too deep ([[[[...)
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid", "the body must be a JSON object")
    return data


def _text_field(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "invalid", f"{name} must be a non-empty string")
    value = value.strip()
    if len(value) > limit:
        raise ApiError(422, "too_long", f"{name} may have at most {limit} characters")
    return value


def _handoff(session: Session, handoff_id: int) -> Handoff:
    try:
        return handoffs.get(session, handoff_id)
    except handoffs.NotFound:
        raise ApiError(404, "not_found", f"no handoff {handoff_id}") from None


def _own(
    session: Session, handoff_id: int, me: StaffIdentity, *, supervisor_may: bool = False
) -> Handoff:
    """The handoff, which must be assigned to `me` (403 otherwise; with `supervisor_may` a
    supervisor may act in any assigned chat)."""
    handoff = _handoff(session, handoff_id)
    if handoff.state != HandoffState.ASSIGNED:
        raise ApiError(409, "not_assigned", f"handoff {handoff_id} is {handoff.state}")
    if handoff.agent_id != me.user_id and not (supervisor_may and me.role in SEES_STATION):
        raise ApiError(403, "not_your_chat", "this chat is assigned to another agent")
    return handoff


async def _db(request: web.Request, work: Callable[[Session], T]) -> T:
    try:
        return await _state(request).db(work)
    except IllegalTransition as exc:
        raise ApiError(409, "illegal_transition", str(exc)) from None


# --- reading ------------------------------------------------------------------------------


@auth.require(AGENT_ROLES)
async def get_me(request: web.Request) -> web.Response:
    me = auth.staff_of(request)
    now = _state(request).clock()

    def work(session: Session) -> dict[str, Any]:
        user = staff.get(session, me.user_id)
        return {
            "user": user_json(me),
            "availability": user.availability if user else StaffAvailability.OFFLINE,
            "max_chats": user.max_chats if user else 0,
            "chats": console_queries.my_chats(session, me.user_id, now),
        }

    return web.json_response({**await _db(request, work), "csrf_token": me.csrf_token})


@auth.require(AGENT_ROLES)
async def get_queue(request: web.Request) -> web.Response:
    now = _state(request).clock()
    queue = await _db(request, lambda s: console_queries.queue_view(s, now))
    return web.json_response({"queue": queue})


def _handle(raw: str) -> int:
    if not HANDLE.fullmatch(raw):
        raise ApiError(404, "not_found", "no such conversation")
    return int(raw)


def _opening(request: web.Request, kind: str) -> access_audit.Opening:
    return access_audit.Opening(
        who=auth.staff_of(request),
        kind=kind,
        address=auth.client_ip(request),
        at=_state(request).clock(),
    )


def _open(
    opening: access_audit.Opening,
    handle: int,
    view: Callable[[Session, Conversation], dict[str, Any]],
) -> Callable[[Session], dict[str, Any] | Refusal]:
    """The work of opening a customer's data: the ownership check, the view and its record in
    one transaction (a refusal is recorded too, and committed: hence returned, not raised)."""

    def work(session: Session) -> dict[str, Any] | Refusal:
        conversation = console_access.conversation(session, handle)
        if conversation is None:
            return "missing"
        if not console_access.may_view(session, opening.who, conversation.id):
            access_audit.record(session, opening, conversation, allowed=False)
            return "refused"
        data = view(session, conversation)
        account = data.get("account")
        account_no = account.get("account_no") if isinstance(account, dict) else None
        access_audit.record(session, opening, conversation, allowed=True, account_no=account_no)
        return data

    return work


async def _conversation_data(
    request: web.Request,
    kind: str,
    view: Callable[[Session, Conversation], dict[str, Any]],
) -> web.Response:
    handle = _handle(request.match_info["conversation"])
    opening = _opening(request, kind)
    result = await _db(request, _open(opening, handle, view))
    if result == "missing":
        raise ApiError(404, "not_found", f"no conversation {handle}")
    if result == "refused":
        log.warning(
            "console: %s may not open the %s of conversation %s", opening.who.username, kind, handle
        )
        raise ApiError(403, "not_your_chat", "you do not handle this conversation")
    log.info("console: %s opened the %s of conversation %s", opening.who.username, kind, handle)
    return web.json_response(result)


@auth.require(AGENT_ROLES)
async def get_transcript(request: web.Request) -> web.Response:
    return await _conversation_data(request, AccessKind.TRANSCRIPT, console_queries.transcript_view)


@auth.require(AGENT_ROLES)
async def get_customer(request: web.Request) -> web.Response:
    return await _conversation_data(request, AccessKind.CUSTOMER, console_queries.customer_view)


@auth.require(AGENT_ROLES)
async def get_canned_replies(request: web.Request) -> web.Response:
    stored = await _db(request, console_queries.canned_replies)
    configured = [c.as_json() for c in _state(request).canned]
    return web.json_response({"canned_replies": configured + stored})


@auth.require(AGENT_ROLES)
async def get_agents(request: web.Request) -> web.Response:
    agents = await _db(request, console_queries.staff_list)
    return web.json_response({"agents": agents})


@auth.require(SUPERVISOR_ROLES)
async def get_overview(request: web.Request) -> web.Response:
    now = _state(request).clock()
    return web.json_response(await _db(request, lambda s: console_queries.overview(s, now)))


def _query_int(request: web.Request, name: str, *, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not HANDLE.fullmatch(raw) or int(raw) < 1:
        raise ApiError(422, "invalid", f"{name} must be a positive whole number")
    return int(raw)


@auth.require(ACCESS_LOG_ROLES)
async def get_access_log(request: web.Request) -> web.Response:
    """Who opened which customer's data, newest first: ?limit (1-200, 50), ?before (an id:
    the next page), ?user (a username), ?conversation (a handle)."""
    limit = _query_int(request, "limit", default=50) or 50
    if limit > access_audit.LIST_MAX:
        raise ApiError(422, "invalid", f"limit may be at most {access_audit.LIST_MAX}")
    before = _query_int(request, "before")
    conversation = _query_int(request, "conversation")
    username = request.query.get("user") or None
    if username is not None and len(username) > 64:
        raise ApiError(422, "invalid", "user may have at most 64 characters")

    def work(session: Session) -> list[dict[str, Any]]:
        rows = access_audit.recent(
            session,
            limit=limit,
            before_id=before,
            username=username,
            conversation_pk=conversation,
        )
        return [access_audit.as_json(row) for row in rows]

    entries = await _db(request, work)
    next_before = entries[-1]["id"] if len(entries) == limit else None
    return web.json_response({"entries": entries, "next_before": next_before})


# --- acting -------------------------------------------------------------------------------


def _handoff_id(request: web.Request) -> int:
    try:
        return int(request.match_info["handoff_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such handoff") from None


async def _view(request: web.Request, handoff_id: int) -> dict[str, Any]:
    now = _state(request).clock()
    return await _db(
        request, lambda s: console_queries.handoff_json(s, handoffs.get(s, handoff_id), now)
    )


@auth.require(AGENT_ROLES)
async def post_claim(request: web.Request) -> web.Response:
    handoff_id = _handoff_id(request)
    me = auth.staff_of(request)
    desk = live.desk_of(request.app)

    def room(session: Session) -> None:
        _handoff(session, handoff_id)
        user = staff.get(session, me.user_id)
        limit = user.max_chats if user else 0
        if console_queries.assigned_count(session, me.user_id) >= limit:
            raise ApiError(409, "at_capacity", f"you already have {limit} chat(s): close one first")

    lock = _state(request).claim_locks.setdefault(me.user_id, asyncio.Lock())
    async with lock:  # the limit check and the claim together (one gateway process)
        await _db(request, room)
        try:
            await desk.claim(handoff_id, me.user_id)
        except handoffs.AlreadyClaimed as exc:
            raise ApiError(409, "already_claimed", f"handoff {handoff_id} is {exc.state}") from None
        except IllegalTransition as exc:
            raise ApiError(409, "illegal_transition", str(exc)) from None
    log.info("console: %s claimed handoff %s", me.username, handoff_id)
    return web.json_response({"handoff": await _view(request, handoff_id)})


@auth.require(AGENT_ROLES)
async def post_reply(request: web.Request) -> web.Response:
    data = await json_body(request)
    handoff_id = fields.positive_int(data, "handoff_id")
    limit = request.app[CONSOLE].settings.max_text_chars
    text = _text_field(data, "text", limit)
    me = auth.staff_of(request)

    def work(session: Session) -> tuple[str, dict[str, Any]]:
        conversation = _own(session, handoff_id, me, supervisor_may=True).conversation
        return conversation.conversation_id, console_queries.conversation_ref(conversation)

    conversation_id, ref = await _db(request, work)
    status = await live.send_as_agent(request.app, conversation_id, text, me)
    return web.json_response({"ok": True, **ref, "status": status})


@auth.require(AGENT_ROLES)
async def post_note(request: web.Request) -> web.Response:
    data = await json_body(request)
    handoff_id = fields.positive_int(data, "handoff_id")
    text = _text_field(data, "text", MAX_NOTE_CHARS)
    me = auth.staff_of(request)
    now = _state(request).clock()

    def work(session: Session) -> dict[str, Any]:
        handoff = _handoff(session, handoff_id)
        if handoff.agent_id != me.user_id and me.role not in SEES_STATION:
            raise ApiError(403, "not_your_chat", "notes go on your own chats")
        note = handoffs.add_note(session, handoff_id, me.user_id, text, now=now)
        return console_queries.note_json(session, note)

    return web.json_response({"note": await _db(request, work)})


@auth.require(AGENT_ROLES)
async def post_transfer(request: web.Request) -> web.Response:
    data = await json_body(request)
    handoff_id = fields.positive_int(data, "handoff_id")
    to_agent_id = fields.positive_int(data, "to_agent_id")
    me = auth.staff_of(request)
    desk = live.desk_of(request.app)

    def check(session: Session) -> None:
        _own(session, handoff_id, me)
        target = staff.get(session, to_agent_id)
        if target is None or target.role not in AGENT_ROLES:
            raise ApiError(422, "invalid", f"no agent {to_agent_id}")
        if target.id == me.user_id:
            raise ApiError(422, "invalid", "that is you")
        if console_queries.assigned_count(session, target.id) >= target.max_chats:
            raise ApiError(409, "at_capacity", f"{target.display_name} has no room for a chat")

    await _db(request, check)
    try:
        await desk.transfer(handoff_id, me.user_id, to_agent_id)
    except IllegalTransition as exc:
        raise ApiError(409, "illegal_transition", str(exc)) from None
    log.info("console: %s transferred handoff %s to %s", me.username, handoff_id, to_agent_id)
    return web.json_response({"handoff": await _view(request, handoff_id)})


async def _finish(request: web.Request, action: str) -> web.Response:
    data = await json_body(request)
    handoff_id = fields.positive_int(data, "handoff_id")
    me = auth.staff_of(request)
    desk = live.desk_of(request.app)
    await _db(request, lambda s: _own(s, handoff_id, me))
    try:
        if action == "handback":
            await desk.return_to_bot(handoff_id, me.user_id)
        else:
            await desk.resolve(handoff_id, me.user_id)
    except IllegalTransition as exc:
        raise ApiError(409, "illegal_transition", str(exc)) from None
    log.info("console: %s %s handoff %s", me.username, action, handoff_id)
    return web.json_response({"handoff": await _view(request, handoff_id)})


@auth.require(AGENT_ROLES)
async def post_handback(request: web.Request) -> web.Response:
    return await _finish(request, "handback")


@auth.require(AGENT_ROLES)
async def post_close(request: web.Request) -> web.Response:
    return await _finish(request, "close")


@auth.require(AGENT_ROLES)
async def post_availability(request: web.Request) -> web.Response:
    data = await json_body(request)
    value = data.get("availability")
    if value not in AVAILABILITY_CHOICES:
        raise ApiError(422, "invalid", "availability must be 'available' or 'away'")
    me = auth.staff_of(request)
    await live.desk_of(request.app).set_availability(me.user_id, str(value))
    return web.json_response({"availability": value})


@auth.require(ALL_ROLES)
async def post_flag(request: web.Request) -> web.Response:
    """The bot's reply `message_id` was wrong: the customer message it answered goes to the
    NLU inbox (reason 'flagged') with the note, for the operators to label."""
    data = await json_body(request)
    message_id = fields.positive_int(data, "message_id")
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        raise ApiError(422, "invalid", "note must be a string")
    note = note.strip() if note else None
    if note and len(note) > MAX_FLAG_NOTE_CHARS:
        raise ApiError(422, "too_long", f"note may have at most {MAX_FLAG_NOTE_CHARS} characters")
    nlu_settings = request.app.get(NLU_SETTINGS)
    if nlu_settings is None:
        raise ApiError(503, "unavailable", "the gateway is starting")
    me = auth.staff_of(request)
    now = _state(request).clock()

    def work(session: Session) -> dict[str, Any] | None:
        try:
            item = inbox.flag_reply(
                session,
                reply_id=message_id,
                by=me.user_id,
                note=note or None,
                settings=nlu_settings.inbox,
                now=now,
            )
        except nlu_inbox.NotFound:
            raise ApiError(404, "not_found", f"no message {message_id}") from None
        except nlu_inbox.NotABotReply as exc:
            raise ApiError(400, "not_a_bot_reply", str(exc)) from None
        if item is None:
            return None
        return {"id": item.id, "count": item.count, "status": item.status}

    item = await _db(request, work)
    log.info(
        "console: %s flagged bot reply %s as wrong (inbox item %s)",
        me.username,
        message_id,
        item["id"] if item else None,
    )
    return web.json_response({"ok": True, "item": item})


def setup(app: web.Application) -> None:
    base = "/api/v1/agent"
    add = app.router
    add.add_get(f"{base}/me", get_me, name="agent-me")
    add.add_get(f"{base}/queue", get_queue, name="agent-queue")
    add.add_post(f"{base}/claim/{{handoff_id}}", post_claim, name="agent-claim")
    add.add_post(f"{base}/reply", post_reply, name="agent-reply")
    add.add_get(f"{base}/transcript/{{conversation}}", get_transcript, name="agent-transcript")
    add.add_get(f"{base}/customer/{{conversation}}", get_customer, name="agent-customer")
    add.add_post(f"{base}/note", post_note, name="agent-note")
    add.add_post(f"{base}/transfer", post_transfer, name="agent-transfer")
    add.add_post(f"{base}/handback", post_handback, name="agent-handback")
    add.add_post(f"{base}/close", post_close, name="agent-close")
    add.add_post(f"{base}/availability", post_availability, name="agent-availability")
    add.add_get(f"{base}/canned-replies", get_canned_replies, name="agent-canned-replies")
    add.add_get(f"{base}/agents", get_agents, name="agent-agents")
    add.add_get(f"{base}/supervisor/overview", get_overview, name="agent-supervisor-overview")
    add.add_get(f"{base}/supervisor/access-log", get_access_log, name="agent-access-log")
    add.add_post(f"{base}/flag", post_flag, name="agent-flag")
