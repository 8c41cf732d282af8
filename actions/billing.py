"""Bills, disputes and reconnection: account data, so only for a verified conversation."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk.events import SlotSet
from sqlalchemy.orm import Session

from actions.base import Events, Turn, cleared
from actions.config import load_assistant_config
from actions.formatting import money
from actions.parsing import parse_billing_period
from actions.texts import has_phrase, phrase
from actions.ticketing import open_ticket
from actions.verification import AccountAction
from store.ids import mask_account
from store.models import Account, Bill, SupplyStatus, TicketType
from store.services import bills, tickets

_RESET = [SlotSet("pending_request", None), SlotSet("billing_period", None)]


def _today(turn: Turn) -> date:
    return turn.now().astimezone(ZoneInfo(turn.settings.timezone)).date()


def _requested_period(turn: Turn) -> str | None:
    raw = turn.slot("billing_period")
    return parse_billing_period(str(raw), _today(turn)) if raw else None


def _slices_text(turn: Turn, explanation: Any) -> str:
    lang = turn.language
    lines = [
        phrase(
            "slice",
            lang,
            tier=phrase("tier", lang, n=s.tier),
            kwh=s.kwh,
            price=s.price,
            amount=money(s.amount),
        )
        for s in explanation.slices
        if s.kwh
    ]
    if explanation.tou_adjustment:
        lines.append(phrase("time_of_use", lang, amount=money(explanation.tou_adjustment)))
    if explanation.late_fee:
        lines.append(phrase("late_fee", lang, amount=money(explanation.late_fee)))
    if explanation.adjustment:
        lines.append(phrase("adjustment", lang, amount=money(explanation.adjustment)))
    return "\n".join(lines)


def _find_bill(turn: Turn, session: Session, account: Account) -> Bill | None:
    """The bill asked for, else the latest. A month whose bill is not issued yet (early in the
    month, '这个月') gets the latest bill with a note saying which month it is; a past month
    with no bill gets the months that can be looked up."""
    period = _requested_period(turn)
    if period is None:
        return bills.get_bill(session, account.id)
    bill = bills.get_bill(session, account.id, period)
    if bill is not None:
        return bill
    latest = bills.get_bill(session, account.id)
    if latest is not None and period > latest.period:
        turn.say("utter_bill_not_issued_yet", period=period, latest=latest.period)
        return latest
    months = load_assistant_config().bill_list_months
    periods = [b.period for b in bills.recent(session, account.id, n=months)]
    turn.say(
        "utter_bill_not_found",
        period=period,
        periods="、".join(periods) or phrase("none", turn.language),
    )
    return None


def _say_summary(turn: Turn, account: Account, bill: Bill, explanation: Any) -> None:
    lang = turn.language
    turn.say(
        "utter_bill_summary",
        period=explanation.period,
        account=mask_account(account.account_no),
        last=explanation.last_reading,
        this=explanation.this_reading,
        kwh=explanation.kwh,
        estimated=phrase("estimated", lang) if bill.estimated_reading else "",
        slices=_slices_text(turn, explanation),
        total=money(explanation.total),
        paid=phrase("paid" if explanation.paid else "unpaid", lang),
        balance=money(account.balance),
    )


class ActionQueryBill(AccountAction):
    """Shows one bill with its tier split: the period asked for, else the latest."""

    def name(self) -> str:
        return "action_query_bill"

    def answer(self, turn: Turn, session: Session, account: Account) -> Events:
        bill = _find_bill(turn, session, account)
        if bill is not None:
            _say_summary(turn, account, bill, bills.explain(turn.settings, bill, account))
        return _RESET


def _reasons_text(turn: Turn, codes: list[str]) -> str:
    tiers = turn.settings.tariffs
    lines = [
        phrase(code, turn.language, "bill_reasons", t1=tiers.tier1_limit, t2=tiers.tier2_limit)
        for code in codes
        if has_phrase(code, "bill_reasons")
    ]
    if not lines:
        lines = [phrase("no_anomaly", turn.language, "bill_reasons")]
    return "；".join(lines) if turn.language != "en" else "; ".join(lines)


class ActionBillDispute(AccountAction):
    """Explains why a bill is what it is, then offers a bill check or a meter test."""

    def name(self) -> str:
        return "action_bill_dispute"

    def answer(self, turn: Turn, session: Session, account: Account) -> Events:
        bill = _find_bill(turn, session, account)
        if bill is None:
            return _RESET
        explanation = bills.explain(turn.settings, bill, account)
        _say_summary(turn, account, bill, explanation)
        turn.say(
            "utter_bill_explanation",
            reasons=_reasons_text(turn, list(explanation.reasons)),
            ytd_before=explanation.ytd_before,
            ytd_after=explanation.ytd_after,
            meter_days=turn.settings.commitments.meter_test_working_days,
        )
        return [SlotSet("pending_request", None)]


class ActionOpenBillCheck(AccountAction):
    """The customer still disagrees: a bill-check ticket for staff to review."""

    def name(self) -> str:
        return "action_open_bill_check"

    def answer(self, turn: Turn, session: Session, account: Account) -> Events:
        ticket = open_ticket(turn, session, TicketType.BILL_CHECK, account=account)
        turn.say(
            "utter_bill_check_created",
            ticket_id=ticket.ticket_no,
            days=turn.settings.commitments.ticket_reply_working_days(TicketType.BILL_CHECK),
        )
        return cleared("issue_text", "billing_period")


class ActionPaymentReconnect(AccountAction):
    """'交了钱咋还没电': prepaid meters reconnect themselves; others get a reconnection ticket."""

    def name(self) -> str:
        return "action_payment_reconnect"

    def answer(self, turn: Turn, session: Session, account: Account) -> Events:
        c = turn.settings.commitments
        balance = money(account.balance)
        if account.balance < 0:
            turn.say(
                "utter_reconnect_arrears",
                owed=money(-account.balance),
                channels="、".join(
                    turn.label(ch.name_zh, ch.name_en)
                    for ch in turn.settings.service.payment_channels
                ),
                reconnect=phrase("reconnect_after_payment", turn.language, hours=c.reconnect_hours),
            )
        elif account.prepaid:
            turn.say("utter_reconnect_prepaid", balance=balance)
        elif account.supply_status == SupplyStatus.DISCONNECTED:
            mine = tickets.open_for_account(session, account.id)
            ticket = next((t for t in mine if t.type == TicketType.RECONNECT), None) or open_ticket(
                turn, session, TicketType.RECONNECT, account=account
            )
            turn.say(
                "utter_reconnect_requested",
                balance=balance,
                ticket_id=ticket.ticket_no,
                hours=c.reconnect_hours,
            )
        else:
            turn.say("utter_reconnect_not_disconnected", balance=balance)
        return cleared("pending_request", "issue_text")
