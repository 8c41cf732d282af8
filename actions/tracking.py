"""Progress of repair tickets and applications, by number or for the customer's own.

A number alone shows status and timeline but no personal data (anyone may hold a ticket slip);
without a number, a verified customer sees their account's open items and anyone sees the
items opened in this conversation.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import SlotSet

from actions.base import Events, StoreAction, Turn
from actions.formatting import echo, local_time
from actions.parsing import find_application_no, find_ticket_no
from actions.texts import phrase
from store.services import accounts, applications, tickets

_MAX_LISTED = 3


def _due_text(turn: Turn, view: Any) -> str:
    if view.due_at is None:
        return ""
    due = local_time(view.due_at, turn.settings.timezone)
    return phrase("overdue" if view.overdue else "due", turn.language, due=due)


def _timeline(turn: Turn, view: Any) -> str:
    tz = turn.settings.timezone
    return "\n".join(
        f"{local_time(step.at, tz)} {turn.label(*step.label)}" for step in view.timeline
    )


def say_ticket(turn: Turn, session: Any, ticket: Any) -> None:
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


def say_application(turn: Turn, session: Any, application: Any) -> None:
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


class ActionTrackTicket(StoreAction):
    def name(self) -> str:
        return "action_track_ticket"

    def act(self, turn: Turn) -> Events:
        number = turn.slot("ticket_id") or find_ticket_no(turn.text)
        with turn.session() as session:
            if number:
                ticket = tickets.get_by_no(session, str(number))
                if ticket is None:
                    turn.say("utter_not_found", value=echo(number))
                else:
                    say_ticket(turn, session, ticket)
                return [SlotSet("ticket_id", None)]
            account_no = turn.verified_account_no(session)
            account = accounts.get_by_no(session, account_no) if account_no else None
            found = (
                tickets.open_for_account(session, account.id)
                if account
                else tickets.open_for_sender(session, turn.sender_id)
            )
            for ticket in found[:_MAX_LISTED]:
                say_ticket(turn, session, ticket)
            if not found:
                if account:
                    turn.say("utter_nothing_open", what=phrase("open_tickets", turn.language))
                else:
                    turn.say("utter_ask_ticket_id")
        return [SlotSet("ticket_id", None)]


class ActionTrackApplication(StoreAction):
    def name(self) -> str:
        return "action_track_application"

    def act(self, turn: Turn) -> Events:
        number = turn.slot("application_id") or find_application_no(turn.text)
        with turn.session() as session:
            if number:
                application = applications.get_by_no(session, str(number))
                if application is None:
                    turn.say("utter_not_found", value=echo(number))
                else:
                    say_application(turn, session, application)
                return [SlotSet("application_id", None)]
            account_no = turn.verified_account_no(session)
            account = accounts.get_by_no(session, account_no) if account_no else None
            found = (
                applications.open_for_account(session, account.id)
                if account
                else applications.open_for_sender(session, turn.sender_id)
            )
            for application in found[:_MAX_LISTED]:
                say_application(turn, session, application)
            if not found:
                if account:
                    turn.say("utter_nothing_open", what=phrase("open_applications", turn.language))
                else:
                    turn.say("utter_ask_application_id")
        return [SlotSet("application_id", None)]


class ActionHandleInform(StoreAction):
    """A bare number outside any form: a ticket or application number is looked up."""

    def name(self) -> str:
        return "action_handle_inform"

    def act(self, turn: Turn) -> Events:
        if turn.slot("ticket_id") or find_ticket_no(turn.text):
            return ActionTrackTicket().act(turn)
        if turn.slot("application_id") or find_application_no(turn.text):
            return ActionTrackApplication().act(turn)
        turn.say("utter_inform_unexpected")
        return []
