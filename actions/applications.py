"""Applications (新装, 增容, 过户, other changes): checklist first, then start it online.

The checklist lists only what is not already on file for a verified customer; the application
records the documents on file and its committed time limit comes from configuration.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import Events, StoreAction, Turn, cleared
from actions.formatting import local_time
from actions.forms_common import AddressPhoneForm, turn_of, without_known
from actions.texts import phrase
from store.services import applications, areas

INTENT_TO_TYPE = {
    "apply_new_connection": "new_connection",
    "apply_capacity_change": "capacity_change",
    "apply_name_transfer": "name_transfer",
    "apply_other_change": "other_change",
}


def _docs(turn: Turn, docs: Any) -> str:
    return "、".join(turn.label(d.zh, d.en) for d in docs) or phrase("none", turn.language)


def _business_type(turn: Turn, text: str) -> str | None:
    """Match the customer's words to a configured change type (暂停, 减容, 移表, ...)."""
    for business in turn.settings.applications.business_types:
        if any(word and word in text for word in business.match_words):
            return business.code
    return None


class ActionApplicationChecklist(StoreAction):
    def name(self) -> str:
        return "action_application_checklist"

    def act(self, turn: Turn) -> Events:
        app_type = INTENT_TO_TYPE.get(turn.intent or "", turn.slot("app_type") or "new_connection")
        config = turn.settings.applications.types[app_type]
        with turn.session() as session:
            account = turn.verified_account(session)
            checklist = applications.checklist(turn.settings, app_type, account)
        on_file = (
            phrase("on_file", turn.language, docs=_docs(turn, checklist.on_file))
            if checklist.on_file
            else ""
        )
        turn.say(
            "utter_application_checklist",
            type=turn.label(config.name_zh, config.name_en),
            missing=_docs(turn, checklist.missing),
            on_file=on_file,
            limit=config.limit_working_days,
        )
        events: Events = [SlotSet("app_type", app_type)]
        business = turn.entity("business_type") or _business_type(turn, turn.text)
        if app_type == "other_change" and business:
            events.append(SlotSet("business_type", _business_type(turn, business) or None))
        return events


class ValidateApplicationForm(AddressPhoneForm):
    def name(self) -> str:
        return "validate_application_form"

    def needed_slots(self, turn: Turn, domain_slots: list[str]) -> list[str]:
        if turn.slot("app_type") != "other_change":
            domain_slots.remove("business_type")
        return without_known(turn, domain_slots)

    async def validate_business_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        turn = turn_of(dispatcher, tracker, domain)
        code = _business_type(turn, str(value or ""))
        if code is None:
            ActionAskBusinessType.ask(turn)
        return {"business_type": code}


class ActionAskBusinessType(StoreAction):
    """Asks which change is wanted, with the configured types as buttons."""

    def name(self) -> str:
        return "action_ask_business_type"

    @staticmethod
    def ask(turn: Turn) -> None:
        buttons = [
            {"title": turn.label(b.name_zh, b.name_en), "payload": b.name_zh}
            for b in turn.settings.applications.business_types
        ]
        turn.say("utter_ask_business_type", buttons=buttons)

    def act(self, turn: Turn) -> Events:
        self.ask(turn)
        return []


class ActionSubmitApplication(StoreAction):
    def name(self) -> str:
        return "action_submit_application"

    def act(self, turn: Turn) -> Events:
        app_type = str(turn.slot("app_type") or "new_connection")
        config = turn.settings.applications.types[app_type]
        with turn.session() as session:
            account = turn.verified_account(session)
            area = areas.get_by_code(session, str(turn.slot("service_area") or ""))
            application = applications.start(
                session,
                turn.settings,
                app_type=app_type,
                now=turn.now(),
                business_type=turn.slot("business_type"),
                account=account,
                applicant_name=account.holder_name if account else None,
                contact_phone=turn.slot("contact_phone") or (account.phone if account else None),
                address=turn.slot("service_address"),
                area=area,
                sender_id=turn.sender_id,
                channel=turn.channel,
            )
            checklist = applications.checklist(turn.settings, app_type, account)
            turn.say(
                "utter_application_created",
                application_id=application.application_no,
                type=turn.label(config.name_zh, config.name_en),
                due=local_time(application.due_at, turn.settings.timezone),
                missing=_docs(turn, checklist.missing),
                limit=config.limit_working_days,
            )
        return cleared("app_type", "business_type", "service_address", "service_area", "issue_text")
