"""Current and planned outages for the customer's area, or for the whole station; the offer to
subscribe to the area's outage notices (actions/subscriptions.py), and subscribing."""

from __future__ import annotations

import json

from rasa_sdk.events import SlotSet

from actions import subscriptions
from actions.base import Events, StoreAction, Turn
from actions.config import load_assistant_config
from actions.formatting import bullet_lines, local_time
from actions.texts import phrase
from store.outages.targets import describe, of_outage
from store.services import areas, outages, tickets

#: the entity of the "tell me when power is back" button (the outage's number)
NOTIFY_ENTITY = "notify_outage"


def _notify_on_restore(turn: Turn, outage_no: str) -> Events:
    """Attach this conversation to a current outage (a merged report): the notifier tells the
    customer when the outage is restored, like everybody who reported it."""
    with turn.session() as session:
        outage = outages.get_by_no(session, outage_no)
        if outage is None or outage.area is None or outage.restored_at is not None:
            turn.say("utter_outage_notify_gone")
            return []
        report = tickets.report_fault(
            session,
            turn.settings,
            area=outage.area,
            address=outage.area.name,
            description=phrase("notify_on_restore", "zh"),
            contact_phone=None,
            account=turn.verified_account(session),
            sender_id=turn.sender_id,
            channel=turn.channel,
            now=turn.now(),
        )
        turn.say(
            "utter_outage_notify_registered",
            outage_no=outage.outage_no,
            ticket_id=report.ticket.ticket_no,
        )
    return []


class ActionQueryOutage(StoreAction):
    """Outages of the area asked about (or the customer's, or the whole township); while one
    is under way there, an offer to be told when power is back."""

    def name(self) -> str:
        return "action_query_outage"

    def act(self, turn: Turn) -> Events:
        if outage_no := turn.entity(NOTIFY_ENTITY):
            return _notify_on_restore(turn, outage_no)
        if subscriptions.handled(turn):
            return [SlotSet("service_address", None)]
        lang = turn.language
        tz = turn.settings.timezone
        days = load_assistant_config().outage_horizon_days
        with turn.session() as session:
            hint = turn.entity("address") or turn.text
            area = areas.match_area(session, hint)
            if area is None and (account := turn.verified_account(session)):
                area = account.area
            found = outages.list_current_and_planned(
                session, turn.now(), area_id=area.id if area else None, horizon_days=days
            )
            scope = turn.label(area.name, area.name_en) if area else phrase("whole_township", lang)
            if not found:
                turn.say("utter_outage_none", scope=scope, days=days)
                if area is not None:
                    subscriptions.offer(turn, session, area)
                return [SlotSet("service_address", None)]
            items = []
            ongoing = next((o for o in found if o.starts_at <= turn.now()), None)
            for outage in found:
                items.append(
                    phrase(
                        f"outage_item_{outage.kind}",
                        lang,
                        area=describe(of_outage(session, outage), lang),
                        cause=turn.label(outage.cause, outage.cause_en or outage.cause),
                        start=local_time(outage.starts_at, tz),
                        expected=local_time(outage.expected_restore_at, tz)
                        if outage.expected_restore_at
                        else "-",
                    )
                )
            offer = []
            if ongoing is not None and area is not None:
                payload = json.dumps({NOTIFY_ENTITY: ongoing.outage_no})
                offer = [
                    {
                        "title": phrase("notify_button", lang),
                        "payload": f"/query_outage_info{payload}",
                    }
                ]
            turn.say(
                "utter_outage_list",
                title=phrase("outages_title", lang, scope=scope),
                items=bullet_lines(items),
                buttons=offer,
            )
            if area is not None:
                subscriptions.offer(turn, session, area)
        return [SlotSet("service_address", None)]
