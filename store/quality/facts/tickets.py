"""Facts of repairs (fault, hazard) and feedback cases (complaint, suggestion, praise).

A repair's arrival is its first `on_site` event and its restoration the first `restored` (or,
for a hazard, `made_safe`) event, so a ticket that goes back and forth keeps its first times.
A report merged into a known outage (`outage_id` set) is not a repair of its own: the outage
is counted instead. A repeat fault is a repair at the same account (or, without one, the same
address) within conf `repairs.repeat_days` after an earlier repair that was not merged; a repeat
complaint one by the same customer (account, phone or conversation) within
`complaints.repeat_days` after an earlier complaint. A ticket's category is the one staff chose,
else the guess from its description (categories.py). A feedback case's handler is the staff user
the back office assigned it to (`tickets.handler`; staff.py), as it stands now: a case handed
over is the new handler's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session, selectinload

from store.models import QualityTicketFacts, Ticket, TicketStatus, TicketType
from store.quality.context import Conf
from store.quality.facts.categories import decide
from store.quality.facts.staff import staff_ids
from store.quality.periods import local_day, local_hour
from store.services.case_feedback import contacted_at, replied_at
from store.sla import add_working_days

S = TicketStatus
REPAIR: Final = "repair"
FEEDBACK_KINDS: Final[tuple[str, ...]] = (
    TicketType.COMPLAINT,
    TicketType.SUGGESTION,
    TicketType.PRAISE,
)
_RESTORED = (S.RESTORED, S.MADE_SAFE)
_WHO = (
    Ticket.id, Ticket.type, Ticket.created_at, Ticket.account_id, Ticket.address,
    Ticket.contact_phone, Ticket.sender_id, Ticket.outage_id,
)  # fmt: skip
_NO_VISIT = (S.CANCELLED, S.CUSTOMER_SIDE)


def fact_kind(conf: Conf, ticket_type: str) -> str | None:
    """repair, complaint, suggestion, praise; None for the tickets no figure counts."""
    if ticket_type in conf.quality.repair_types:
        return REPAIR
    return ticket_type if ticket_type in FEEDBACK_KINDS else None


def _first(ticket: Ticket, statuses: Iterable[str]) -> datetime | None:
    wanted = set(statuses)
    return next((e.at for e in ticket.events if e.status in wanted), None)


@dataclass(frozen=True)
class Who:
    """What decides a repeat: which ticket, when, where and whose."""

    id: int
    type: str
    created_at: datetime
    account_id: int | None
    address: str | None
    contact_phone: str | None
    sender_id: str | None
    outage_id: int | None

    @classmethod
    def of(cls, t: Any) -> Who:
        """From a Ticket or a row of its columns."""
        return cls(
            t.id, t.type, t.created_at, t.account_id, t.address, t.contact_phone, t.sender_id,
            t.outage_id,
        )  # fmt: skip

    @property
    def place(self) -> str | None:
        """Where a repair was: its account, else its address as written."""
        if self.account_id is not None:
            return f"a:{self.account_id}"
        address = (self.address or "").strip()
        return f"t:{address}" if address else None

    @property
    def customers(self) -> set[str]:
        """Who complained: any of account, phone, conversation."""
        keys = set()
        if self.account_id is not None:
            keys.add(f"a:{self.account_id}")
        if self.contact_phone:
            keys.add(f"p:{self.contact_phone}")
        if self.sender_id:
            keys.add(f"s:{self.sender_id}")
        return keys


def _base(conf: Conf, ticket: Ticket, kind: str, staff: Mapping[str, int]) -> QualityTicketFacts:
    tz = conf.tz
    area_kind = ticket.area.kind if ticket.area else conf.settings.commitments.unknown_area_kind
    category_kind = ticket.type if kind == REPAIR else kind
    return QualityTicketFacts(
        ticket_id=ticket.id,
        kind=kind,
        created_at=ticket.created_at,
        day=local_day(ticket.created_at, tz),
        hour=local_hour(ticket.created_at, tz),
        area_id=ticket.area_id,
        area_kind=area_kind,
        crew_id=ticket.crew_id,
        channel=ticket.channel,
        category=decide(conf.quality, category_kind, ticket.category, ticket.description),
        merged=ticket.outage_id is not None,
        excluded=False,
        callback_done=ticket.callback_result in conf.quality.callback_done,
        repeat=False,
        escalated=ticket.escalated,
        handler_id=None if kind == REPAIR else staff.get(ticket.handler or ""),
    )


def _repair(conf: Conf, ticket: Ticket, facts: QualityTicketFacts) -> None:
    c = conf.settings.commitments
    arrived = _first(ticket, (S.ON_SITE,))
    restored = _first(ticket, _RESTORED)
    facts.excluded = arrived is None and _first(ticket, _NO_VISIT) is not None
    facts.commit_minutes = float(c.arrival_minutes(facts.area_kind))
    facts.commit_hours = float(c.restoration_hours(facts.area_kind))
    facts.arrival_due = ticket.created_at + timedelta(minutes=facts.commit_minutes)
    facts.arrived_at = arrived
    if arrived is None:
        return
    facts.arrival_minutes = (arrived - ticket.created_at).total_seconds() / 60
    facts.restore_due = arrived + timedelta(hours=facts.commit_hours)
    if restored is not None and restored >= arrived:
        facts.restored_at = restored
        facts.restoration_hours = (restored - arrived).total_seconds() / 3600


def _complaint(conf: Conf, ticket: Ticket, facts: QualityTicketFacts) -> None:
    c, s = conf.settings.commitments, conf.settings
    facts.excluded = ticket.status == S.CANCELLED
    facts.contacted_at = contacted_at(ticket)
    facts.replied_at = replied_at(ticket)
    facts.contact_due = ticket.created_at + timedelta(hours=c.complaint_contact_hours)
    facts.reply_due = add_working_days(
        ticket.created_at, c.complaint_reply_working_days, s.calendar, s.tz
    )


class Neighbours:
    """The tickets that may make others repeats, found by place (repairs) and by customer
    (complaints), so each ticket looks only at its own."""

    def __init__(self, conf: Conf, tickets: Iterable[Who]) -> None:
        self.places: dict[str, list[Who]] = defaultdict(list)
        self.customers: dict[str, list[Who]] = defaultdict(list)
        for who in tickets:
            kind = fact_kind(conf, who.type)
            if kind == REPAIR and who.place is not None and who.outage_id is None:
                self.places[who.place].append(who)
            elif kind == TicketType.COMPLAINT:
                for key in who.customers:
                    self.customers[key].append(who)

    @staticmethod
    def _any_before(me: Who, others: Iterable[Who], window: timedelta) -> bool:
        lo = me.created_at - window
        return any(
            lo <= o.created_at and (o.created_at, o.id) < (me.created_at, me.id) for o in others
        )

    def repeat_fault(self, me: Who, window: timedelta) -> bool:
        """An earlier repair (not merged) at the same place within `window`."""
        return me.place is not None and self._any_before(me, self.places.get(me.place, ()), window)

    def repeat_complaint(self, me: Who, window: timedelta) -> bool:
        """An earlier complaint by the same customer within `window`."""
        return any(
            self._any_before(me, self.customers.get(key, ()), window) for key in me.customers
        )


def measure(
    conf: Conf, ticket: Ticket, earlier: Neighbours, staff: Mapping[str, int]
) -> QualityTicketFacts | None:
    """The facts of one ticket; `earlier` holds the tickets that may make it a repeat, `staff`
    the ids of the staff users by username (staff.py)."""
    kind = fact_kind(conf, ticket.type)
    if kind is None:
        return None
    facts = _base(conf, ticket, kind, staff)
    me = Who.of(ticket)
    if kind == REPAIR:
        _repair(conf, ticket, facts)
        window = timedelta(days=conf.quality.repeat_fault_days)
        facts.repeat = not facts.merged and earlier.repeat_fault(me, window)
    elif kind == TicketType.COMPLAINT:
        _complaint(conf, ticket, facts)
        window = timedelta(days=conf.quality.repeat_complaint_days)
        facts.repeat = earlier.repeat_complaint(me, window)
    return facts


def _neighbours(session: Session, conf: Conf, batch: Sequence[Ticket]) -> list[Who]:
    """The earlier tickets that may make one of `batch` a repeat: the same account, the same
    address in the same area, the same phone or conversation. One query per kind of match, so
    each uses its index."""
    days = max(conf.quality.repeat_fault_days, conf.quality.repeat_complaint_days)
    lo = min(t.created_at for t in batch) - timedelta(days=days)
    hi = max(t.created_at for t in batch)
    unplaced = [t for t in batch if t.address and t.account_id is None]
    matches = [
        Ticket.account_id.in_({t.account_id for t in batch if t.account_id is not None}),
        and_(
            Ticket.area_id.in_({t.area_id for t in unplaced if t.area_id is not None}),
            Ticket.address.in_({t.address for t in unplaced}),
        ),
        Ticket.contact_phone.in_({t.contact_phone for t in batch if t.contact_phone}),
        Ticket.sender_id.in_({t.sender_id for t in batch if t.sender_id}),
    ]
    types = (*conf.quality.repair_types, TicketType.COMPLAINT)
    found: dict[int, Who] = {}
    for match in matches:
        stmt = select(*_WHO).where(match, Ticket.type.in_(types), Ticket.created_at.between(lo, hi))
        for row in session.execute(stmt).all():
            found[row.id] = Who.of(row)
    return list(found.values())


def refresh_tickets(session: Session, conf: Conf, ids: Sequence[int]) -> int:
    """Measure these tickets again (facts replaced); the number of facts written."""
    stmt = (
        select(Ticket)
        .where(Ticket.id.in_(ids))
        .options(selectinload(Ticket.events), selectinload(Ticket.area))
    )
    batch = list(session.scalars(stmt))
    session.execute(delete(QualityTicketFacts).where(QualityTicketFacts.ticket_id.in_(ids)))
    counted = [t for t in batch if fact_kind(conf, t.type) is not None]
    if not counted:
        return 0
    earlier = Neighbours(conf, _neighbours(session, conf, counted))
    staff = staff_ids(session, (t.handler for t in counted))
    rows = [f for t in counted if (f := measure(conf, t, earlier, staff)) is not None]
    session.add_all(rows)
    session.flush()
    for row in rows:
        session.expunge(row)
    return len(rows)
