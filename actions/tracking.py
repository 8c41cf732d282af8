"""Progress of repair tickets and applications, by number or for the customer's own.

A number alone shows status and timeline but no personal data (anyone may hold a ticket slip);
without a number, a verified customer sees their account's open items and anyone sees the
items opened in this conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from sqlalchemy.orm import Session

from actions import subscriptions
from actions.base import Events, StoreAction, Turn, cleared
from actions.formatting import echo, local_time
from actions.parsing import find_application_no, find_ticket_no
from actions.texts import phrase
from store.models import Application, Ticket
from store.services import applications, tickets

_MAX_LISTED = 3
T = TypeVar("T", Ticket, Application)
U = TypeVar("U", Ticket, Application)


def _due_text(turn: Turn, view: Any) -> str:
    if view.due_at is None:
        return ""
    due = local_time(view.due_at, turn.settings.timezone)
    return phrase("overdue" if view.overdue else "due", turn.language, due=due)


def _timeline(turn: Turn, view: Any) -> str:
    """One line per change of status, when it happened. Staff's notes, photos and category
    corrections are events of the same status: the customer sees the status once, not again
    for each of them."""
    tz = turn.settings.timezone
    lines, shown = [], None
    for step in view.timeline:
        if step.code != shown:
            lines.append(f"{local_time(step.at, tz)} {turn.label(*step.label)}")
            shown = step.code
    return "\n".join(lines)


def say_ticket(turn: Turn, session: Session, ticket: Ticket) -> None:
    view = tickets.describe(session, turn.settings, ticket, turn.now())
    turn.say(
        "utter_ticket_status",
        ticket_id=view.ticket_no,
        type=turn.label(*view.type_label),
        area=turn.label(*view.area_name) if view.area_name else "-",
        status=turn.label(*view.status_label),
        timeline=_timeline(turn, view),
        next_step=turn.label(*view.next_step),
        due_text=_due_text(turn, view),
    )


def say_application(turn: Turn, session: Session, application: Application) -> None:
    view = applications.describe(session, turn.settings, application, turn.now())
    turn.say(
        "utter_application_status",
        application_id=view.application_no,
        type=turn.label(*view.type_label),
        stage=turn.label(*view.stage_label),
        timeline=_timeline(turn, view),
        next_step=turn.label(*view.next_step),
        due_text=_due_text(turn, view),
    )


@dataclass(frozen=True)
class Tracked(Generic[T]):
    """Where the progress of one kind of item comes from: tickets or applications."""

    number_slot: str
    find_number: Callable[[str], str | None]
    by_no: Callable[[Session, str], T | None]
    open_for_account: Callable[[Session, int], list[T]]
    open_for_sender: Callable[[Session, str], list[T]]
    say: Callable[[Turn, Session, T], None]
    none_open: str
    """The phrase naming them when a verified customer has none open."""
    ask_number: str

    def number(self, turn: Turn) -> str | None:
        """The number the customer gave (the slot, or one written in the message)."""
        return turn.slot(self.number_slot) or self.find_number(turn.text)


TICKETS: Final = Tracked[Ticket](
    "ticket_id",
    find_ticket_no,
    tickets.get_by_no,
    tickets.open_for_account,
    tickets.open_for_sender,
    say_ticket,
    "open_tickets",
    "utter_ask_ticket_id",
)
APPLICATIONS: Final = Tracked[Application](
    "application_id",
    find_application_no,
    applications.get_by_no,
    applications.open_for_account,
    applications.open_for_sender,
    say_application,
    "open_applications",
    "utter_ask_application_id",
)


def track(turn: Turn, source: Tracked[T]) -> Events:
    """By number: that item (anyone may hold the slip). Without: the verified account's open
    items, else those opened in this conversation, else ask for the number."""
    number = source.number(turn)
    with turn.session() as session:
        if number:
            item = source.by_no(session, str(number))
            if item is None:
                turn.say("utter_not_found", value=echo(number))
            else:
                source.say(turn, session, item)
            return cleared(source.number_slot)
        account = turn.verified_account(session)
        found = (
            source.open_for_account(session, account.id)
            if account
            else source.open_for_sender(session, turn.sender_id)
        )
        for item in found[:_MAX_LISTED]:
            source.say(turn, session, item)
        if not found:
            if account:
                turn.say("utter_nothing_open", what=phrase(source.none_open, turn.language))
            else:
                turn.say(source.ask_number)
    return cleared(source.number_slot)


def track_written_number(turn: Turn) -> Events | None:
    """A ticket or application number written in the message is looked up, whatever NLU made
    of the words around it (a bare number, or a question NLU was unsure of: the number says
    what is meant). None when the message holds neither."""
    if TICKETS.find_number(turn.text):
        return track(turn, TICKETS)
    if APPLICATIONS.find_number(turn.text):
        return track(turn, APPLICATIONS)
    return None


def track_heard(turn: Turn, heard: Tracked[T], other: Tracked[U]) -> Events:
    """What NLU heard (`heard`), unless the message gives no number of that kind but one of
    the `other` kind: the letter says which (an application's number where NLU heard a repair)."""
    if not heard.number(turn) and other.find_number(turn.text):
        return track(turn, other)
    return track(turn, heard)


class ActionTrackTicket(StoreAction):
    def name(self) -> str:
        return "action_track_ticket"

    def act(self, turn: Turn) -> Events:
        return track_heard(turn, TICKETS, APPLICATIONS)


class ActionTrackApplication(StoreAction):
    def name(self) -> str:
        return "action_track_application"

    def act(self, turn: Turn) -> Events:
        return track_heard(turn, APPLICATIONS, TICKETS)


class ActionHandleInform(StoreAction):
    """A bare number outside any form: a ticket or application number is looked up."""

    def name(self) -> str:
        return "action_handle_inform"

    def act(self, turn: Turn) -> Events:
        if TICKETS.number(turn):
            return track(turn, TICKETS)
        if APPLICATIONS.number(turn):
            return track(turn, APPLICATIONS)
        if subscriptions.handled(turn):
            return []
        turn.say("utter_inform_unexpected")
        return []
