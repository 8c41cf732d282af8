"""Fault repair and safety hazards.

A fault report first checks for a known outage covering the area (then the report is attached
to it), then for the customer's own open report (no second ticket), and only then opens a ticket
with the committed arrival time of the area type. A hazard gets safety advice and an urgent
ticket at once: never delayed by verification or a long form.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import subscriptions
from actions.base import Events, StoreAction, Turn, cleared
from actions.formatting import duration, echo, local_time
from actions.forms_common import (
    AddressPhoneForm,
    in_worker,
    validate_address,
    verified_phone,
    without_known,
)
from actions.texts import phrase
from actions.ticketing import customer_words, open_ticket
from store.models import Outage, TicketType
from store.services import areas, outages, tickets
from store.services.areas import group_of

_ONLY_ME = ("只有我家", "就我家", "我家", "only my", "just my", "跳闸", "tripped")


class ValidateFaultForm(AddressPhoneForm):
    def name(self) -> str:
        return "validate_fault_form"

    def needed_slots(self, turn: Turn, domain_slots: list[str]) -> list[str]:
        slots = without_known(turn, domain_slots)
        if "fault_scope" in slots and not turn.slot("fault_scope") and _known_outage(turn):
            # the whole area is out and we know why: "only my house?" is not a question to ask
            slots = [s for s in slots if s != "fault_scope"]
        return slots

    def check_address(self, turn: Turn, value: Any) -> dict[str, Any]:
        """The address matched to an area; the area's known outage is told at once."""
        result = super().check_address(turn, value)
        if result.get("service_area"):
            # validated only in the turn the address is given (rasa-sdk validates the slots
            # set in this turn), so it is said once
            _announce_known_outage(turn, str(result["service_area"]))
        return result

    async def validate_fault_scope(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = echo(value, limit=100)
        return {"fault_scope": text or None}


def _known_outage(turn: Turn, area_code: str | None = None) -> Outage | None:
    code = area_code or str(turn.slot("service_area") or "")
    if not code:
        return None
    with turn.session() as session:
        area = areas.get_by_code(session, code)
        group = group_of(str(turn.slot("service_address") or ""))
        outage = outages.active_for_area(session, area.id, turn.now(), group) if area else None
        if outage is not None:
            session.expunge(outage)
        return outage


def _announce_known_outage(turn: Turn, area_code: str) -> None:
    """Right after the address: the outage we already know of there, before anything else is
    asked (the report is still taken, so the customer is told when power is back)."""
    outage = _known_outage(turn, area_code)
    if outage is None:
        return
    tz = turn.settings.timezone
    turn.say(
        "utter_fault_known_outage",
        outage_kind=phrase(f"outage_{outage.kind}", turn.language),
        outage_no=outage.outage_no,
        cause=outage.cause,
        expected=local_time(outage.expected_restore_at, tz) if outage.expected_restore_at else "-",
    )


def _description(turn: Turn) -> str:
    parts = [str(turn.slot("issue_text") or ""), str(turn.slot("fault_scope") or "")]
    return " / ".join(p for p in parts if p) or "-"


class ActionSubmitFault(StoreAction):
    def name(self) -> str:
        return "action_submit_fault"

    def act(self, turn: Turn) -> Events:
        tz = turn.settings.timezone
        lang = turn.language
        with turn.session() as session:
            account = turn.verified_account(session)
            area = areas.get_by_code(session, str(turn.slot("service_area") or ""))
            if area is None:  # the form guarantees a matched area; be safe anyway
                turn.say("utter_ask_service_address")
                return [SlotSet("service_address", None)]
            phone = turn.slot("contact_phone") or (account.phone if account else None)
            report = tickets.report_fault(
                session,
                turn.settings,
                area=area,
                address=str(turn.slot("service_address") or area.name),
                description=_description(turn),
                contact_phone=phone,
                account=account,
                sender_id=turn.sender_id,
                channel=turn.channel,
                now=turn.now(),
            )
            ticket = report.ticket
            area_name = turn.label(area.name, area.name_en)
            if report.kind == tickets.FaultOutcome.MERGED and report.outage is not None:
                outage = report.outage
                turn.say(
                    "utter_fault_merged",
                    area=area_name,
                    outage_kind=phrase(f"outage_{outage.kind}", lang),
                    outage_no=outage.outage_no,
                    cause=outage.cause,
                    expected=local_time(outage.expected_restore_at, tz)
                    if outage.expected_restore_at
                    else "-",
                    ticket_id=ticket.ticket_no,
                )
            elif report.kind == tickets.FaultOutcome.DUPLICATE:
                view = tickets.describe(session, turn.settings, ticket, turn.now())
                turn.say(
                    "utter_fault_duplicate",
                    ticket_id=ticket.ticket_no,
                    status=turn.label(*view.status_label),
                    next_step=turn.label(*view.next_step),
                )
            else:
                minutes = turn.settings.commitments.arrival_minutes(area.kind)
                turn.say(
                    "utter_fault_created",
                    ticket_id=ticket.ticket_no,
                    area=area_name,
                    area_kind=turn.label(*turn.settings.labels.area_kind(area.kind)),
                    arrival=duration(minutes, lang),
                    due=local_time(ticket.respond_due_at, tz) if ticket.respond_due_at else "-",
                )
                scope = str(turn.slot("fault_scope") or "").lower()
                if any(k in scope for k in _ONLY_ME):
                    turn.say("utter_fault_self_check")
            subscriptions.offer(turn, session, area, group_of(ticket.address))
        return cleared("service_address", "service_area", "fault_scope", "issue_text")


class ActionReportHazard(StoreAction):
    """Urgent ticket right after the safety advice; asks for the place only if unknown."""

    def name(self) -> str:
        return "action_report_hazard"

    def act(self, turn: Turn) -> Events:
        address = turn.entity("address") or turn.slot("service_address")
        with turn.session() as session:
            area = areas.match_area(session, str(address or customer_words(turn)))
            ticket = open_ticket(
                turn,
                session,
                TicketType.HAZARD,
                account=turn.verified_account(session),
                area=area,
                address=str(address) if address else None,
                phone=turn.slot("contact_phone"),
                elsewhere=True,  # the danger may be anywhere: not the account's address
            )
            turn.say("utter_hazard_created", ticket_id=ticket.ticket_no)
            needs_location = area is None and not address
        return [
            SlotSet("hazard_ticket", ticket.ticket_no if needs_location else None),
            SlotSet("hazard_needs_location", needs_location),
            SlotSet("service_address", None),
            SlotSet("issue_text", None),
        ]


class ValidateHazardLocationForm(FormValidationAction):
    """Any description of the place is accepted (a landmark is fine); areas are matched if named."""

    def name(self) -> str:
        return "validate_hazard_location_form"

    async def validate_service_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await in_worker(dispatcher, tracker, domain, validate_address, value, strict=False)


class ActionUpdateHazardLocation(StoreAction):
    def name(self) -> str:
        return "action_update_hazard_location"

    def act(self, turn: Turn) -> Events:
        address = str(turn.slot("service_address") or "")
        with turn.session() as session:
            ticket = tickets.get_by_no(session, str(turn.slot("hazard_ticket") or ""))
            area = areas.get_by_code(session, str(turn.slot("service_area") or ""))
            if ticket is not None:
                tickets.update_address(session, ticket, address=address, area=area, now=turn.now())
            place = turn.label(area.name, area.name_en) if area else echo(address)
        turn.say("utter_hazard_location_saved", area=place)
        return [
            SlotSet("hazard_ticket", None),
            SlotSet("hazard_needs_location", False),
            SlotSet("service_address", None),
            SlotSet("service_area", None),
        ]


__all__ = [
    "ActionReportHazard",
    "ActionSubmitFault",
    "ActionUpdateHazardLocation",
    "ValidateFaultForm",
    "ValidateHazardLocationForm",
    "verified_phone",
]
