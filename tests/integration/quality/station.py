"""A small crafted station for the service-quality tests: rows written as the stores record
them (tickets with their events, applications with their stages, conversations with messages,
handoffs and ratings), at times given in station time, so each test can work its expected
figures out by hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.db import unit_of_work
from store.models import (
    Account,
    Application,
    ApplicationEvent,
    Conversation,
    Crew,
    Handoff,
    HandoffEvent,
    Message,
    NluInboxHit,
    NluInboxItem,
    Outage,
    Rating,
    ServiceArea,
    StaffUser,
    Ticket,
    TicketEvent,
)
from store.quality import Figure, Filters, Period

TZ = ZoneInfo("Asia/Shanghai")


def built(
    session_factory: sessionmaker[Session], build: Callable[[Station], None]
) -> sessionmaker[Session]:
    """The (empty) test database with the station `build` writes."""
    with unit_of_work(session_factory) as session:
        build(Station(session))
    return session_factory


def section_figures(
    factory: sessionmaker[Session], section: str, period: Period, now: datetime,
    filters: Filters | None = None,
) -> dict[str, Figure]:  # fmt: skip
    """The figures of one section of `period`'s snapshot, by key."""
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, period, filters or Filters(), now=now)
    return {f.key: f for f in snap.figures if f.section == section}


def at(text: str) -> datetime:
    """'2026-11-02 09:00' in station time, as an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(UTC)


@dataclass
class Station:
    session: Session
    numbers: count[int] = field(default_factory=lambda: count(1))

    def _n(self) -> int:
        return next(self.numbers)

    def area(self, code: str, name: str, kind: str) -> ServiceArea:
        area = ServiceArea(code=code, name=name, name_en=f"{code} area", kind=kind, aliases=[])
        self.session.add(area)
        self.session.flush()
        return area

    def crew(self, name: str, *, active: bool = True) -> Crew:
        crew = Crew(name=name, active=active, created_at=at("2026-01-01 00:00"))
        self.session.add(crew)
        self.session.flush()
        return crew

    def account(self, area: ServiceArea) -> Account:
        n = self._n()
        account = Account(
            account_no=f"33{n:08d}", holder_name="户主", phone=f"139{n:08d}",
            address=f"{area.name}{n}号", area=area, meter_no=f"M{n}",
        )  # fmt: skip
        self.session.add(account)
        self.session.flush()
        return account

    def staff(self, username: str, role: str = "agent") -> StaffUser:
        user = StaffUser(
            username=username, display_name=f"{username}名", password_hash="x", role=role,
            created_at=at("2026-01-01 00:00"),
        )  # fmt: skip
        self.session.add(user)
        self.session.flush()
        return user

    def ticket(
        self,
        type: str,
        created: str,
        events: list[tuple[str, str]] = (),  # type: ignore[assignment]
        *,
        area: ServiceArea | None = None,
        crew: Crew | None = None,
        description: str = "停电了",
        **fields: object,
    ) -> Ticket:
        """A ticket received at `created` with its further (status, time) events; its status
        is the last one."""
        status = events[-1][0] if events else "received"
        ticket = Ticket(
            ticket_no=f"T{self._n():010d}", type=type, priority="high", status=status,
            area=area, crew=crew, description=description, created_at=at(created),
            **{"escalated": False, **fields},
        )  # fmt: skip
        self.session.add(ticket)
        history = [("received", created), *events]
        for st, when in history:
            self.session.add(TicketEvent(ticket=ticket, status=st, at=at(when), actor="staff"))
        self.session.flush()
        return ticket

    def outage(self, area: ServiceArea, starts: str, restored: str | None, kind: str = "fault",
               *, notice: str | None = None, cancelled: str | None = None,
               notice_missed: bool = False) -> Outage:  # fmt: skip
        """An outage; `notice`: when customers were first told, `cancelled`: when called off
        (station time), `notice_missed`: what publishing judged (store/outages/commitment.py)."""
        outage = Outage(
            outage_no=f"TD{self._n():08d}", kind=kind, area=area, cause="故障",
            starts_at=at(starts), restored_at=at(restored) if restored else None,
            notice_at=at(notice) if notice else None,
            cancelled_at=at(cancelled) if cancelled else None, notice_missed=notice_missed,
        )  # fmt: skip
        self.session.add(outage)
        self.session.flush()
        return outage

    def application(
        self,
        type: str,
        events: list[tuple[str, str, str | None]],
        *,
        due: str,
        area: ServiceArea | None = None,
        by: tuple[str, ...] = (),
    ) -> Application:
        """An application with its (stage, time, stage deadline) events, the first at its
        start; finished when its last stage is final (closed at that time). `by`: who recorded
        each event, in order (those left over: "staff", which is no staff account)."""
        last_stage, last_at, _ = events[-1]
        final = last_stage in ("completed", "archived", "cancelled", "rejected")
        app = Application(
            application_no=f"A{self._n():010d}", type=type, stage=last_stage, area=area,
            documents_received=[], due_at=at(due), created_at=at(events[0][1]),
            closed_at=at(last_at) if final else None,
        )  # fmt: skip
        self.session.add(app)
        actors = (*by, *["staff"] * (len(events) - len(by)))
        for (stage, when, stage_due), actor in zip(events, actors, strict=True):
            self.session.add(
                ApplicationEvent(
                    application=app,
                    stage=stage,
                    at=at(when),
                    actor=actor,
                    stage_due_at=at(stage_due) if stage_due else None,
                )
            )
        self.session.flush()
        return app

    def conversation(self, conversation_id: str) -> Conversation:
        channel, _, chat = conversation_id.partition(":")
        row = Conversation(
            conversation_id=conversation_id, channel=channel, chat_id=chat,
            created_at=at("2026-01-01 00:00"), last_activity_at=at("2026-01-01 00:00"),
        )  # fmt: skip
        self.session.add(row)
        self.session.flush()
        return row

    def message(self, conversation: Conversation, sender: str, when: str, *, intent: str | None
                = None, text: str = "你好") -> Message:  # fmt: skip
        direction = "in" if sender == "customer" else "out"
        message = Message(
            conversation_pk=conversation.id, direction=direction, sender=sender, text=text,
            buttons=[], attachments=[], status="processed", intent=intent, created_at=at(when),
        )  # fmt: skip
        self.session.add(message)
        self.session.flush()
        return message

    def handoff(
        self,
        conversation: Conversation,
        queued: str,
        state: str,
        *,
        assigned: str | None = None,
        closed: str | None = None,
        agent: StaffUser | None = None,
    ) -> Handoff:
        handoff = Handoff(
            conversation_pk=conversation.id, state=state, reason="request_human",
            priority="normal", agent_id=agent.id if agent else None, queued_at=at(queued),
            assigned_at=at(assigned) if assigned else None,
            closed_at=at(closed) if closed else None,
        )  # fmt: skip
        self.session.add(handoff)
        self.session.flush()
        self.session.add(HandoffEvent(handoff_id=handoff.id, from_state="bot",
                                      to_state="queued", at=at(queued), actor="bot"))  # fmt: skip
        self.session.flush()
        return handoff

    def transfer(self, handoff: Handoff, when: str, by: StaffUser) -> None:
        event = HandoffEvent(
            handoff_id=handoff.id, from_state="assigned", to_state="assigned", at=at(when),
            actor=by.username,
        )  # fmt: skip
        self.session.add(event)
        self.session.flush()

    def rating(
        self,
        conversation: Conversation,
        value: int,
        when: str,
        *,
        handoff: Handoff | None = None,
        agent: StaffUser | None = None,
    ) -> Rating:
        rating = Rating(
            sender_id=conversation.conversation_id, channel=conversation.channel, rating=value,
            created_at=at(when), handoff_id=handoff.id if handoff else None,
            agent_id=agent.id if agent else None,
        )  # fmt: skip
        self.session.add(rating)
        self.session.flush()
        return rating

    def inbox_hit(
        self,
        conversation_id: str,
        when: str,
        *,
        intent: str = "query_bill",
        reason: str = "low_confidence",
        flagged_by: StaffUser | None = None,
    ) -> None:
        item = NluInboxItem(
            group_key=f"g{self._n()}", text="查下电费", count=1, reasons_text=reason,
            status="labelled", first_seen_at=at(when), last_seen_at=at(when),
        )  # fmt: skip
        self.session.add(item)
        self.session.flush()
        self.session.add(
            NluInboxHit(
                item_id=item.id,
                conversation_id=conversation_id,
                reason=reason,
                predicted_intent=intent,
                flagged_by=flagged_by.id if flagged_by else None,
                created_at=at(when),
            )
        )
        self.session.flush()
