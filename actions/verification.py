"""Identity verification: 户号 plus the last 4 digits of the registered phone.

Account data (bills, balance, phone, address) is shown only to a conversation whose
verification the database holds (store/services/identity.py, checked by
`Turn.verified_account_no`): the `verified` slot steers the dialogue and proves nothing. A
verification ends after the configured idle time and with the Rasa session; the slots are then
undone (`still_verified`, run on every message) so the customer is asked again.

Failures are recorded by the store, which slows guessing down per conversation, client address,
account number and station (a back-off, never a lasting lock), so numbers can be neither
enumerated nor sprayed. The validators' database work runs in a worker thread: one slow query
never stalls the other conversations.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.base import Events, StoreAction, Turn
from actions.formatting import echo, local_time, mask_name
from actions.forms_common import StoreForm
from actions.parsing import digit_runs, find_account_no, find_last4
from actions.runtime import get_runtime
from store.models import Account, VerifiedConversation
from store.services import accounts, identity, verification

GATED_INTENTS = ("query_bill", "bill_dispute", "payment_reconnect")

RESET_VERIFICATION: dict[str, Any] = {"verified": False, "verified_account": None}
"""The slots of a verification the database does not hold (any more)."""


def claimant(turn: Turn) -> verification.Claimant:
    return verification.Claimant(turn.sender_id, turn.client_address, turn.rasa_session)


class ActionSetPendingRequest(StoreAction):
    """Remembers which account question to answer once verification succeeds, and clears the
    answers of an earlier, expired verification so the check starts afresh."""

    def name(self) -> str:
        return "action_set_pending_request"

    def act(self, turn: Turn) -> Events:
        intent = turn.intent if turn.intent in GATED_INTENTS else None
        events: Events = [SlotSet("pending_request", intent)]
        if turn.slot("phone_last4") is not None:
            events.append(SlotSet("phone_last4", None))
        if turn.slot("account_no") is not None and turn.entity("account_no") is None:
            events.append(SlotSet("account_no", None))  # not said in this message: stale
        return events


def still_verified(turn: Turn) -> bool:
    """Whether the database still holds this conversation's verification; restarts its idle
    time when it does (the customer is still writing). Synchronous (a worker thread)."""
    now = turn.now()
    with turn.session() as session:
        row = identity.active(
            session, sender_id=turn.sender_id, rasa_session=turn.rasa_session, now=now
        )
        if row is not None:
            identity.touch(session, turn.settings, row, now)
        return row is not None


def _locked_until_text(turn: Turn, account_no: str | None) -> str | None:
    with turn.session() as session:
        until = verification.locked_until(
            session, turn.settings, claimant=claimant(turn), account_no=account_no, now=turn.now()
        )
    return local_time(until, turn.settings.timezone) if until else None


def refuse_unverified(turn: Turn) -> Events:
    """What a gated handler says when the conversation is not verified (waiting, gave up, or
    its slots claim a verification the database does not hold)."""
    account_no = turn.slot("account_no")
    until = _locked_until_text(turn, str(account_no) if account_no else None)
    if until:
        turn.say("utter_verify_locked", locked_until=until)
    else:
        turn.say("utter_not_verified_bill")
    events: Events = [SlotSet("pending_request", None)]
    if turn.slot("verified") is True:
        events += [SlotSet(name, value) for name, value in RESET_VERIFICATION.items()]
    if account_no is not None:
        events.append(SlotSet("account_no", None))
    return events


class AccountAction(StoreAction, ABC):
    """An account question (a bill, a reconnection): answered only for a conversation whose
    verification the database holds, with that account; refused otherwise."""

    @abstractmethod
    def answer(self, turn: Turn, session: Session, account: Account) -> Events:
        """The answer for the verified account (in the action's unit of work)."""

    def act(self, turn: Turn) -> Events:
        account_no = turn.verified_account_no()
        if account_no is None:
            return refuse_unverified(turn)
        with turn.session() as session:
            account = accounts.get_by_no(session, account_no)
            if account is not None:
                return self.answer(turn, session, account)
        return refuse_unverified(turn)


def _note_verified(turn: Turn, session: Session, verification_id: int | None) -> None:
    """The reply to this message names the holder: hidden with the verification's other data."""
    row = session.get(VerifiedConversation, verification_id) if verification_id else None
    if row is not None and turn.message_key:
        identity.note_use(session, row, message_key=turn.message_key, now=turn.now())


def _note_answer(turn: Turn) -> None:
    """The message answers the check: the web chat's history shows it masked."""
    if turn.message_key:
        with turn.session() as session:
            identity.note_answer(
                session, sender_id=turn.sender_id, message_key=turn.message_key, now=turn.now()
            )


class ValidateVerifyForm(StoreForm):
    """Checks the two answers and asks the store to verify them."""

    def name(self) -> str:
        return "validate_verify_form"

    def needed_slots(self, turn: Turn, domain_slots: list[str]) -> list[str]:
        if turn.slot("verified") is True:
            return []
        account_no = turn.slot("account_no")
        if _locked_until_text(turn, str(account_no) if account_no else None):
            return []  # the form ends at once; the handler explains the wait
        return domain_slots

    async def validate_account_no(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # cleared (a new check starts), not an answer: nothing to say
            return {"account_no": None}
        turn = Turn(dispatcher, tracker, domain, get_runtime())
        await asyncio.to_thread(_note_answer, turn)
        text = str(value)
        account_no = find_account_no(text)
        if account_no is None:
            dispatcher.utter_message(response="utter_invalid_account_no", value=echo(text))
            return {"account_no": None}
        # "3301000001 0001": both answers in one message
        rest = [run for run in digit_runs(text) if run != account_no]
        last4 = next((run for run in rest if len(run) == 4), None)
        if last4 is not None:
            return await asyncio.to_thread(self._attempt, turn, account_no, last4)
        return {"account_no": account_no}

    async def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("verified") is True:
            return {}
        if value is None:  # cleared (a new check starts), not an answer
            return {"phone_last4": None}
        turn = Turn(dispatcher, tracker, domain, get_runtime())
        await asyncio.to_thread(_note_answer, turn)
        last4 = find_last4(str(value))
        account_no = tracker.get_slot("account_no")
        if last4 is None:
            dispatcher.utter_message(response="utter_invalid_phone_last4")
            return {"phone_last4": None}
        if not account_no:
            return {"phone_last4": None}
        return await asyncio.to_thread(self._attempt, turn, str(account_no), last4)

    @staticmethod
    def _attempt(turn: Turn, account_no: str, last4: str) -> dict[str, Any]:
        """Synchronous (a worker thread): the store's check and what the customer is told."""
        with turn.session() as session:
            outcome = verification.verify(
                session,
                turn.settings,
                claimant=claimant(turn),
                account_no=account_no,
                phone_last4=last4,
                now=turn.now(),
            )
            holder = None
            if outcome.status == verification.VerifyStatus.OK:
                account = accounts.get_by_no(session, account_no)
                holder = account.holder_name if account else ""
                _note_verified(turn, session, outcome.verification_id)
        if outcome.status == verification.VerifyStatus.OK:
            turn.say("utter_verify_ok", holder=mask_name(holder or ""))
            return {
                "account_no": account_no,
                "phone_last4": "verified",  # never keep the digits in the tracker
                "verified": True,
                "verified_account": outcome.account_no or account_no,
            }
        if outcome.status == verification.VerifyStatus.LOCKED:
            # kept, so required_slots sees this number's wait: the form ends and the handler
            # explains it (and clears the number)
            return {"account_no": account_no, "phone_last4": None}
        turn.say("utter_verify_failed", attempts_left=outcome.attempts_left)
        return {"account_no": None, "phone_last4": None}
