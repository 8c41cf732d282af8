"""Fixed numbers for the demo records that README.md and docs/demo-data.md name.

Everything else in the demo is generated relative to the day of seeding, and so are the numbers
the station's numbering gives it (T + YYMMDD + sequence). The records the documentation points
a newcomer at get numbers of one fixed day instead (2000-01-01, a day the numbering never
reaches again), so `A0001010001` is 赵敏's application after `make run` on any date.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.ids import APPLICATION_PREFIX, TICKET_PREFIX, format_number
from store.models import Account, Application, ServiceArea, Ticket, TicketStatus, TicketType

DAY = date(2000, 1, 1)
CURRENT_OUTAGE = f"TD{DAY:%y%m%d}01"
PLANNED_OUTAGE = f"TD{DAY:%y%m%d}02"
ZHAO_APPLICATION = format_number(APPLICATION_PREFIX, DAY, 1)

#: (village, status of its open repair) → the fixed ticket number, in documentation order
OPEN_REPAIRS: tuple[tuple[str, str, str], ...] = (
    (
        "桃源村",
        TicketStatus.ON_SITE,
        format_number(TICKET_PREFIX, DAY, 1),
    ),  # 陈志强's, the crew on site
    ("东山村", TicketStatus.RECEIVED, format_number(TICKET_PREFIX, DAY, 2)),
    ("柳湾村", TicketStatus.DISPATCHED, format_number(TICKET_PREFIX, DAY, 3)),
    ("云雾村", TicketStatus.ACCEPTED, format_number(TICKET_PREFIX, DAY, 4)),
    ("杨家村", TicketStatus.REPAIRING, format_number(TICKET_PREFIX, DAY, 5)),
)


def renumber_featured(session: Session, zhao: Account, chen: Account) -> None:
    """Give the documented demo records their fixed numbers (after the demo is built)."""
    application = session.scalars(
        select(Application)
        .where(Application.account_id == zhao.id, Application.type == "new_connection")
        .order_by(Application.id.desc())
    ).first()
    if application is not None:
        application.application_no = ZHAO_APPLICATION
    for village, status, number in OPEN_REPAIRS:
        stmt = (
            select(Ticket)
            .join(ServiceArea, Ticket.area_id == ServiceArea.id)
            .where(
                ServiceArea.name == village,
                Ticket.status == status,
                Ticket.type == TicketType.FAULT,
            )
            .order_by(Ticket.created_at.desc())
        )
        if status == TicketStatus.ON_SITE:
            stmt = stmt.where(Ticket.account_id == chen.id)
        ticket = session.scalars(stmt).first()
        if ticket is not None:
            ticket.ticket_no = number
    session.flush()
