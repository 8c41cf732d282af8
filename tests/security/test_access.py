"""Access attack on the staff side: every console page, agent-API, NLU-API and customer-API
route, found by enumerating the gateway's router (a new route cannot slip through), requested
anonymously, with every role it does not allow, and as another agent (ownership, not only
role), and every GET also by the roles it allows; plus the live websocket.

The victim: a web chat (its id `web:<uuid>` is a bearer secret) handled by agent1, verified to
a real account, with a private note and an NLU inbox hit. Counted over every response:
0 leaks of the victim's data to anyone not entitled to it, and 0 full web-chat ids in any
staff-facing response (of any conversation, to anyone). Refused requests change nothing.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import quality_reports
from store.config import PROJECT_ROOT, load_settings
from store.configuration.dispatch import load_dispatch
from store.db import unit_of_work
from store.models import (
    Conversation,
    Handoff,
    Message,
    NluInboxHit,
    NluInboxItem,
    OutageNotice,
    VerificationAttempt,
)
from store.quality import Period
from store.roles import STAFF_ROLES
from store.services import (
    accounts,
    applications,
    areas,
    crews,
    dispatch,
    handoffs,
    staff,
    ticket_photos,
    tickets,
    transcripts,
)
from store.services.transcripts import OutboundText
from tests.fakes.console import (
    Console,
    StaffClient,
    handle_of,
)
from tests.fakes.gateway import message

pytestmark = pytest.mark.slow

MARKER: Final = "受害人的秘密：幸福路8号"
LIVE_MARKER: Final = "受害人又说：我家钥匙在门垫下"
NOTE: Final = "坐席私密备注：老客户"
ACCOUNT: Final = ("3301000002", "李秀英")
"""The demo account the victim verified (docs/demo-data.md): its number and holder."""
STAFF_PAGES: Final = (
    "/console", "/api/v1/agent", "/api/v1/nlu", "/api/v1/tickets", "/api/v1/imports",
    "/api/v1/feedback", "/api/v1/applications", "/api/v1/customers", "/api/v1/quality",
    "/api/v1/outages",
)  # fmt: skip
CUSTOMER_API: Final = "/api/v1/conversations/"
ENDS_A_SESSION: Final = frozenset({"/console/logout", "/api/v1/agent/logout"})
PUBLIC: Final = frozenset(
    {
        ("GET", "/console/login"),
        ("POST", "/console/login"),
        ("POST", "/api/v1/agent/login"),
        ("GET", "/console/static/{name}"),
    }
)
BY_ROLE: Final = {
    "agent": "agent2",
    "supervisor": "boss",
    "manager": "chief",
    "operator": "ops",
    "dispatcher": "dispatch",
    "crew": "crew1",
    "clerk": "clerk",
}
"""Who plays each role (the agent is always the *other* agent, never the victim's)."""


@dataclass
class Victim:
    conversation_id: str
    handle: int
    handoff_id: int
    bot_reply_id: int
    item_id: int
    ticket_no: str = ""
    """The victim's repair ticket, assigned to a crew crew1 is not in (and its photo)."""
    photo_id: int = 0
    case_no: str = ""
    """The victim's complaint (the back office's feedback), about their account."""
    application_no: str = ""
    """The victim's application, made in their chat for their account."""

    @property
    def chat(self) -> str:
        return self.conversation_id.removeprefix("web:")

    def secrets(self) -> tuple[str, ...]:
        """What nobody but agent1, supervisors and managers may ever read."""
        return (MARKER, LIVE_MARKER, NOTE, ACCOUNT[0], ACCOUNT[1], *ids(self.chat))


def ids(chat: str) -> tuple[str, str]:
    """A web chat's id as it could be written: with and without dashes."""
    return chat, chat.replace("-", "")


@dataclass
class Findings:
    """Every response read, and what it must not have contained."""

    responses: int = 0
    leaks: list[str] = field(default_factory=list)
    full_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self, where: str, status: int, text: str, *, forbidden: tuple[str, ...]) -> None:
        self.responses += 1
        if status >= 500:
            self.errors.append(f"{where}: {status}")
        text = readable(text)
        self.leaks += [f"{where}: {s!r}" for s in forbidden if s in text]


def readable(text: str) -> str:
    """JSON as its characters (the gateway escapes non-ASCII as \\uXXXX), other text as is."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


@pytest.fixture
def console_staff(seeded: Any) -> dict[str, tuple[str, int]]:
    """On the demo station's data, with a manager."""
    return {
        "chief": ("manager", 5),
        "dispatch": ("dispatcher", 0),
        "crew1": ("crew", 0),
        "clerk": ("clerk", 0),
    }


def _web_chat(factory: sessionmaker[Session], text: str) -> tuple[str, int]:
    """A web chat with a customer message, the bot's answer and a queued handoff."""
    chat = str(uuid.uuid4())
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        conversation = transcripts.touch_conversation(
            session, conversation_id=f"web:{chat}", channel="web", chat_id=chat, now=now
        )
        inbound = transcripts.record_inbound(
            session, conversation, text=text, now=now, status="processed"
        )
        transcripts.record_outbound(
            session,
            conversation,
            [OutboundText(text="请稍候，为您转人工")],
            sender="bot",
            now=now,
            in_reply_to=inbound.id,
        )
        session.add(
            VerificationAttempt(
                sender_id=conversation.conversation_id,
                account_no=ACCOUNT[0],
                success=True,
                at=now,
            )
        )
        handoff = handoffs.request(
            session, conversation_pk=conversation.id, reason="request_human", now=now
        )
        return conversation.conversation_id, handoff.id


def _inbox_hit(factory: sessionmaker[Session], conversation_id: str, message_id: int) -> int:
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        item = NluInboxItem(
            group_key="受害人的秘密", text="受害人的秘密", count=1, status="open",
            first_seen_at=now, last_seen_at=now,
        )  # fmt: skip
        item.reasons = ("flagged",)
        session.add(item)
        session.flush()
        session.add(
            NluInboxHit(
                item_id=item.id,
                message_id=message_id,
                conversation_id=conversation_id,
                reason="flagged",
                created_at=now,
            )
        )
        return item.id


async def _victim(console: Console, agent1: StaffClient) -> Victim:
    conversation_id, handoff_id = _web_chat(console.factory, MARKER)
    status, body = await agent1.json("POST", f"/api/v1/agent/claim/{handoff_id}")
    assert status == 200, body
    status, body = await agent1.json(
        "POST", "/api/v1/agent/note", {"handoff_id": handoff_id, "text": NOTE}
    )
    assert status == 200, body
    with unit_of_work(console.factory) as session:
        rows = session.scalars(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_pk)
            .where(Conversation.conversation_id == conversation_id)
            .order_by(Message.id)
        ).all()
        customer, bot_reply = rows[0].id, next(m.id for m in rows if m.sender == "bot")
    ticket_no, photo_id = _repair(console.factory, conversation_id)
    return Victim(
        conversation_id,
        handle_of(console.factory, conversation_id),
        handoff_id,
        bot_reply,
        _inbox_hit(console.factory, conversation_id, customer),
        ticket_no,
        photo_id,
        *_cases(console.factory, conversation_id),
    )


def _cases(factory: sessionmaker[Session], conversation_id: str) -> tuple[str, str]:
    """The victim's complaint and application (the back office's cases), their words inside."""
    now = datetime.now(UTC)
    settings = load_settings()
    with unit_of_work(factory) as session:
        account = accounts.get_by_no(session, ACCOUNT[0])
        complaint = tickets.create_ticket(
            session, settings, type="complaint", description=MARKER, now=now, account=account,
            contact_phone="13905710002", sender_id=conversation_id, channel="web",
        )  # fmt: skip
        application = applications.start(
            session, settings, app_type="name_transfer", now=now, account=account,
            address=MARKER, sender_id=conversation_id, channel="web",
        )  # fmt: skip
        return complaint.ticket_no, application.application_no


def _repair(factory: sessionmaker[Session], conversation_id: str) -> tuple[str, int]:
    """The victim's fault report, sent to 山区抢修组 with a photo; crew1 is in 东片抢修组."""
    now = datetime.now(UTC)
    settings = load_settings()
    config = load_dispatch(settings.conf_dir, PROJECT_ROOT)
    with unit_of_work(factory) as session:
        area = areas.match_area(session, "高岭村")
        account = accounts.get_by_no(session, ACCOUNT[0])
        crew1 = staff.get_by_username(session, "crew1")
        assert area is not None
        assert crew1 is not None
        crews.set_member(session, crew1, crews.by_name(session, "东片抢修组"))
        ticket = tickets.report_fault(
            session, settings, area=area, address=MARKER, description=MARKER,
            contact_phone="13905710002", account=account, sender_id=conversation_id,
            channel="web", now=now,
        ).ticket  # fmt: skip
        mountain = crews.by_name(session, "山区抢修组")
        assert mountain is not None
        actor = dispatch.Actor("dispatch", "dispatcher")
        dispatch.assign(session, ticket, mountain, actor=actor, limits=config.step_time, now=now)
        photo = ticket_photos.save(
            session, replace(config.photos, directory=Path(tempfile.mkdtemp())), ticket,
            b"\xff\xd8\xff\xe0" + bytes(64), actor="dispatch", now=now,
        )  # fmt: skip
        return ticket.ticket_no, photo.id


def _quality_report(factory: sessionmaker[Session]) -> None:
    """This month's evaluation report so far, on the demo station with the victim's chat: the
    reports' routes (`{report_id}` 1) serve a real one, files and page."""
    settings, now = load_settings(), datetime.now(UTC)
    period = Period.parse(f"{now.astimezone(settings.tz):%Y-%m}")
    config = quality_reports.read_report_config(settings.conf_dir)
    made = quality_reports.generate(
        factory, settings, config, period, generated_by="chief", now=now
    )
    assert made.report.id == 1


def staff_routes(app: web.Application) -> list[tuple[str, str, web.AbstractRoute]]:
    """(method, path template, route) of every staff-facing route, and the customer API's
    transcript route (which staff cookies must not open for a web chat either)."""
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD":
            continue
        if path.startswith(STAFF_PAGES) or path.startswith(CUSTOMER_API):
            found.append((route.method, path, route))
    return found


def fill(path: str, victim: Victim) -> str:
    params = {
        "handoff_id": str(victim.handoff_id),
        "conversation": str(victim.handle),
        "conversation_id": victim.conversation_id,
        "item_id": str(victim.item_id),
        "job_id": "1",
        "model_id": "1",
        "name": "console.js",
        "ticket_no": victim.ticket_no,
        "photo_id": str(victim.photo_id),
        "case_no": victim.case_no,
        "application_no": victim.application_no,
        "account_no": ACCOUNT[0],
        "measure_id": "1",
        "report_id": "1",
        "outage_no": "TD00010101",  # the demo's fault outage (a refused change leaves it be)
    }
    return re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)


def body_for(victim: Victim, other_agent_id: int) -> dict[str, Any]:
    """One body for every POST, aimed at the victim's chat (a refusal must not act on it)."""
    return {
        "handoff_id": victim.handoff_id,
        "to_agent_id": other_agent_id,
        "text": "另一个坐席想插话",
        "message_id": victim.bot_reply_id,
        "availability": "away",
        "note": "x",
        "ids": [victim.item_id],
        "intent": "greet",
        "reason": "test",
    }


async def request(who: StaffClient, method: str, url: str, body: dict[str, Any]) -> tuple[int, str]:
    if method == "GET":
        response = await who.get(url)
    else:
        response = await who.post(url, body)
    # the reports' PDF and XLSX are binary: read as text, whatever their bytes
    return response.status, (await response.read()).decode("utf-8", "replace")


async def all_web_ids(factory: sessionmaker[Session]) -> tuple[str, ...]:
    with unit_of_work(factory) as session:
        chats = session.scalars(select(Conversation.chat_id).where(Conversation.channel == "web"))
        return tuple(i for chat in chats for i in ids(chat))


async def test_no_route_leaks_a_customer_or_a_web_chat_id(console: Console) -> None:
    app = console.client.app
    assert app is not None
    clients = {name: await console.browser(name) for name in ("agent1", *BY_ROLE.values())}
    anonymous = await console.browser()
    victim = await _victim(console, clients["agent1"])
    _web_chat(console.factory, "另一位客户的话")  # queued: every agent may read it
    _quality_report(console.factory)
    body = body_for(victim, console.staff_ids["agent2"])
    routes = staff_routes(app)
    assert len(routes) >= 40  # the console, the agent API, the NLU API, the customer API
    assert set(STAFF_ROLES) == set(BY_ROLE)  # every role is played
    web_ids = await all_web_ids(console.factory)
    found = Findings()

    for method, path, route in routes:
        url = fill(path, victim)
        roles = getattr(route.handler, "console_roles", None)
        customer_api = path.startswith(CUSTOMER_API)
        if (method, path) not in PUBLIC and not customer_api:
            assert roles, f"{method} {path} is not wrapped by bot.console.auth.require"
        # anonymous
        status, text = await request(anonymous, method, url, body)
        found.check(f"anonymous {method} {path}", status, text, forbidden=victim.secrets())
        if roles and (method, path) not in PUBLIC:
            assert status in (302, 401), (method, path, status)
        if customer_api:
            assert status == 404, (method, path, status)  # api:<sender> only, never web:
        # every role the route does not allow, and the other agent where agents are allowed
        for role, name in BY_ROLE.items():
            if path in ENDS_A_SESSION or (method, path) in PUBLIC:
                continue
            if roles and role in roles and role != "agent":
                continue  # an allowed role: its GETs are read below
            if method == "POST" and path.startswith("/api/v1/nlu") and role == "operator":
                continue
            status, text = await request(clients[name], method, url, body)
            where = f"{name} ({role}) {method} {path}"
            found.check(where, status, text, forbidden=victim.secrets())
            if roles and role not in roles:
                assert status == 403, (where, status)
        # every role the route allows reads it (GET): no full web-chat id, whoever reads
        for name, who in clients.items():
            if method != "GET" or path in ENDS_A_SESSION:
                continue
            status, text = await request(who, method, url, body)
            found.check(f"{name} {method} {path}", status, text, forbidden=web_ids)
        # a crew member on another crew's ticket: as if it did not exist
        if "{ticket_no}" in path and roles and "crew" in roles:
            status, text = await request(clients["crew1"], method, url, body)
            found.check(f"crew1 {method} {path}", status, text, forbidden=victim.secrets())
            assert status == 404, (method, path, status)

    assert found.responses >= 200
    assert found.errors == []
    assert found.leaks == []
    # nothing the refused requests asked for happened to the victim's chat
    with unit_of_work(console.factory) as session:
        handoff = session.get(Handoff, victim.handoff_id)
        assert handoff is not None
        assert (handoff.state, handoff.agent_id) == ("assigned", console.staff_ids["agent1"])
        agent_lines = session.scalars(
            select(Message.text).where(
                Message.conversation_pk == victim.handle, Message.sender == "agent"
            )
        ).all()
        assert "另一个坐席想插话" not in agent_lines  # only the other agent and wrong roles wrote
        repair = tickets.get_by_no(session, victim.ticket_no)
        assert repair is not None
        assert repair.crew is not None
        assert (repair.status, repair.crew.name) == ("dispatched", "山区抢修组")
        assert [e.actor for e in repair.events] == ["assistant", "dispatch", "dispatch"]
        complaint = tickets.get_by_no(session, victim.case_no)
        assert complaint is not None
        assert (complaint.status, len(complaint.events)) == ("received", 1)
        application = applications.get_by_no(session, victim.application_no)
        assert application is not None
        assert (application.stage, len(application.events)) == ("received", 1)
        # no refused outage change wrote a notice (the allowed roles only read)
        assert session.scalars(select(OutageNotice)).all() == []


async def test_the_live_feed_leaks_nothing(console: Console) -> None:
    clients = {name: await console.browser(name) for name in ("agent1", *BY_ROLE.values())}
    victim = await _victim(console, clients["agent1"])
    sockets = {
        name: await who.http.ws_connect(who.url("/console/ws"), headers={"Origin": console.origin})
        for name, who in clients.items()
    }
    for ws in sockets.values():
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await console.router.handle(message(LIVE_MARKER, chat=victim.chat, channel="web"))
    # a later event every connection gets: what came before it was sent or filtered out
    await console.router.handle(message("你好", chat="77"))  # another customer, with the bot
    desk = console.router.handoff
    assert desk is not None
    await desk.request("fake:77", reason="complaint", detail="投诉")
    web_ids = await all_web_ids(console.factory)
    frames: dict[str, list[str]] = {}
    for name, ws in sockets.items():
        frames[name] = []
        while '"queue_changed"' not in (frames[name] or [""])[-1]:
            frames[name].append(await ws.receive_str(timeout=10))
        await ws.close()
    found = Findings()
    for name, texts in frames.items():
        entitled = name in ("agent1", "boss", "chief")
        forbidden = web_ids if entitled else (*web_ids, *victim.secrets())
        for text in texts:
            found.check(f"{name} websocket", 200, text, forbidden=forbidden)
        if entitled:
            assert any(LIVE_MARKER in readable(text) for text in texts), name
    assert found.leaks == []
    assert found.responses >= 10


async def test_a_staff_websocket_frame_never_carries_an_id_key(console: Console) -> None:
    """Belt and braces for the frames: no key that holds a conversation id, whoever reads."""
    boss = await console.browser("boss")
    agent1 = await console.browser("agent1")
    victim = await _victim(console, agent1)
    ws = await boss.http.ws_connect(boss.url("/console/ws"), headers={"Origin": console.origin})
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await console.router.handle(message(LIVE_MARKER, chat=victim.chat, channel="web"))
    frame: dict[str, Any] = {}
    while frame.get("type") != "message_in":
        frame = await ws.receive_json(timeout=10)
    await ws.close()
    assert "conversation_id" not in frame
    assert frame["conversation"] == victim.handle
    assert frame["conversation_label"] == f"web:{victim.chat[:4]}…{victim.chat[-4:]}"
