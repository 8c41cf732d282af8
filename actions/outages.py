"""Current and planned outages for the customer's area, or for the whole station."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.base import Events, StoreAction, Turn
from actions.config import load_assistant_config
from actions.formatting import bullet_lines, local_time
from actions.texts import phrase
from store.services import accounts, areas, outages


class ActionQueryOutage(StoreAction):
    def name(self) -> str:
        return "action_query_outage"

    def act(self, turn: Turn) -> Events:
        lang = turn.language
        tz = turn.settings.timezone
        days = load_assistant_config().outage_horizon_days
        with turn.session() as session:
            hint = turn.entity("address") or turn.text
            area = areas.match_area(session, hint)
            if area is None and (account_no := turn.verified_account_no()):
                account = accounts.get_by_no(session, account_no)
                area = account.area if account else None
            found = outages.list_current_and_planned(
                session, turn.now(), area_id=area.id if area else None, horizon_days=days
            )
            scope = turn.label(area.name, area.name_en) if area else phrase("whole_township", lang)
            if not found:
                turn.say("utter_outage_none", scope=scope, days=days)
                return [SlotSet("service_address", None)]
            items = []
            for outage in found:
                items.append(
                    phrase(
                        f"outage_item_{outage.kind}",
                        lang,
                        area=turn.label(outage.area.name, outage.area.name_en),
                        cause=outage.cause,
                        start=local_time(outage.starts_at, tz),
                        expected=local_time(outage.expected_restore_at, tz)
                        if outage.expected_restore_at
                        else "-",
                    )
                )
        turn.say(
            "utter_outage_list",
            title=phrase("outages_title", lang, scope=scope),
            items=bullet_lines(items),
        )
        return [SlotSet("service_address", None)]
