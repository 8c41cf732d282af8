"""Opening a ticket for the customer in this conversation.

One rule for every request that becomes a ticket (a complaint, a bill check, a reconnection, a
hazard): the description is the customer's own words, and a verified account fills in what the
customer did not say (the phone to call back, and the place unless the ticket is about
somewhere else).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from actions.base import Turn
from store.models import Account, ServiceArea, Ticket
from store.services import tickets


def customer_words(turn: Turn) -> str:
    """What the customer said about the request: the message that described it (issue_text,
    slots.py) or, failing that, the latest message."""
    return str(turn.slot("issue_text") or turn.text)


def open_ticket(
    turn: Turn,
    session: Session,
    ticket_type: str,
    *,
    account: Account | None,
    area: ServiceArea | None = None,
    address: str | None = None,
    phone: str | None = None,
    elsewhere: bool = False,
) -> Ticket:
    """A ticket of this conversation, the account's phone (and, unless `elsewhere`, its area and
    address) standing in for what was not given."""
    home = None if elsewhere else account
    return tickets.create_ticket(
        session,
        turn.settings,
        type=ticket_type,
        description=customer_words(turn),
        now=turn.now(),
        area=area or (home.area if home else None),
        address=address or (home.address if home else None),
        contact_phone=phone or (account.phone if account else None),
        account=account,
        sender_id=turn.sender_id,
        channel=turn.channel,
    )
