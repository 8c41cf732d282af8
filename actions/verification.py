"""Identity verification: 户号 plus the last 4 digits of the registered phone.

Account data (bills, balance, phone, address) is shown only to a conversation that passed this
gate. Failures are recorded by the store, which locks verification after too many of them, per
conversation and per account, so numbers cannot be enumerated.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.base import Events, StoreAction, Turn
from actions.formatting import echo, local_time, mask_name
from actions.parsing import digit_runs, find_account_no, find_last4
from actions.runtime import get_runtime
from store.services import accounts, verification

GATED_INTENTS = ("query_bill", "bill_dispute", "payment_reconnect")


class ActionSetPendingRequest(StoreAction):
    """Remembers which account question to answer once verification succeeds."""

    def name(self) -> str:
        return "action_set_pending_request"

    def act(self, turn: Turn) -> Events:
        intent = turn.intent if turn.intent in GATED_INTENTS else None
        return [SlotSet("pending_request", intent)]


def _locked_until_text(turn: Turn, account_no: str | None) -> str | None:
    with turn.session() as session:
        until = verification.locked_until(
            session, turn.settings, sender_id=turn.sender_id, account_no=account_no, now=turn.now()
        )
    return local_time(until, turn.settings.timezone) if until else None


def refuse_unverified(turn: Turn) -> Events:
    """What a gated handler says when the conversation is not verified (locked or gave up)."""
    until = _locked_until_text(turn, None)
    if until:
        turn.say("utter_verify_locked", locked_until=until)
    else:
        turn.say("utter_not_verified_bill")
    return [SlotSet("pending_request", None)]


class ValidateVerifyForm(FormValidationAction):
    """Checks the two answers and asks the store to verify them."""

    def name(self) -> str:
        return "validate_verify_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("verified") is True:
            return []
        turn = Turn(dispatcher, tracker, domain, get_runtime())
        if _locked_until_text(turn, None):
            return []  # the form ends at once; the handler explains the lock
        return domain_slots

    async def validate_account_no(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        account_no = find_account_no(text)
        if account_no is None:
            dispatcher.utter_message(response="utter_invalid_account_no", value=echo(text))
            return {"account_no": None}
        # "3301000001 0001": both answers in one message
        rest = [run for run in digit_runs(text) if run != account_no]
        last4 = next((run for run in rest if len(run) == 4), None)
        if last4 is not None:
            turn = Turn(dispatcher, tracker, domain, get_runtime())
            return self._attempt(turn, account_no, last4)
        return {"account_no": account_no}

    async def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("verified") is True:
            return {}
        last4 = find_last4(str(value or ""))
        account_no = tracker.get_slot("account_no")
        if last4 is None:
            dispatcher.utter_message(response="utter_invalid_phone_last4")
            return {"phone_last4": None}
        if not account_no:
            return {"phone_last4": None}
        turn = Turn(dispatcher, tracker, domain, get_runtime())
        return self._attempt(turn, str(account_no), last4)

    @staticmethod
    def _attempt(turn: Turn, account_no: str, last4: str) -> dict[str, Any]:
        with turn.session() as session:
            outcome = verification.verify(
                session,
                turn.settings,
                sender_id=turn.sender_id,
                account_no=account_no,
                phone_last4=last4,
                now=turn.now(),
            )
            holder = None
            if outcome.status == "ok":
                account = accounts.get_by_no(session, account_no)
                holder = account.holder_name if account else ""
        if outcome.status == "ok":
            turn.say("utter_verify_ok", holder=mask_name(holder or ""))
            return {
                "account_no": account_no,
                "phone_last4": "verified",  # never keep the digits in the tracker
                "verified": True,
                "verified_account": outcome.account_no or account_no,
            }
        if outcome.status == "locked":
            # required_slots now returns [], the form ends and the handler explains the lock
            return {"account_no": None, "phone_last4": None}
        turn.say("utter_verify_failed", attempts_left=outcome.attempts_left)
        return {"account_no": None, "phone_last4": None}
