"""Identity verification gates every account question; failures lock it."""

from __future__ import annotations

from actions.billing import ActionPaymentReconnect, ActionQueryBill
from actions.runtime import Runtime
from actions.verification import ValidateVerifyForm
from store.models import VerificationAttempt
from tests.fakes.rasa_tracker import Conversation, only, responses

ACCOUNT = "3301000001"  # demo: 张建国, phone ends 0001


async def verify(convo: Conversation, account: str = ACCOUNT, last4: str = "0001") -> list[str]:
    convo.user(account, "inform", {"account_no": account})
    said = responses(await convo.validate(ValidateVerifyForm(), "verify_form", account_no=account))
    convo.user(last4, "inform")
    said += responses(await convo.validate(ValidateVerifyForm(), "verify_form", phone_last4=last4))
    return said


async def test_bill_is_refused_without_verification(convo: Conversation) -> None:
    convo.user("查下这个月电费多少", "query_bill")
    said = await convo.run(ActionQueryBill())
    assert responses(said) == ["utter_not_verified_bill"]
    assert not any("total" in m or "balance" in m for m in said)  # no account data leaked


async def test_correct_answers_verify_and_unlock_the_bill(convo: Conversation) -> None:
    said = await verify(convo)
    assert "utter_verify_ok" in said
    assert convo.slots["verified"] is True
    assert convo.slots["verified_account"] == ACCOUNT
    assert convo.slots["phone_last4"] == "verified"  # the digits are not kept
    convo.user("上个月电费多少", "query_bill")
    bill = only(await convo.run(ActionQueryBill()), "utter_bill_summary")
    assert "*" in bill["account"]
    assert ACCOUNT not in str(bill)  # masked even for the owner
    assert float(bill["total"]) > 0


async def test_both_answers_in_one_message(convo: Conversation) -> None:
    text = f"户号{ACCOUNT} 后四位0001"
    convo.user(text, "inform", {"account_no": ACCOUNT})
    said = await convo.validate(ValidateVerifyForm(), "verify_form", account_no=text)
    assert "utter_verify_ok" in responses(said)
    assert convo.slots["verified"] is True


async def test_wrong_digits_ask_again_with_attempts_left(convo: Conversation) -> None:
    said = await verify(convo, last4="9999")
    assert "utter_verify_failed" in said
    assert convo.slots["verified"] is False
    assert convo.slots["account_no"] is None  # asked again from the start


async def test_malformed_account_number_is_explained(convo: Conversation) -> None:
    convo.user("33010", "inform")
    said = await convo.validate(ValidateVerifyForm(), "verify_form", account_no="33010")
    assert only(said, "utter_invalid_account_no")["value"] == "33010"
    assert convo.slots["account_no"] is None


async def test_five_failures_lock_verification(convo: Conversation, runtime: Runtime) -> None:
    for _ in range(4):
        assert "utter_verify_failed" in await verify(convo, last4="1234")
    await verify(convo, last4="1234")  # the fifth failure locks
    # even the right answers are refused now, and the handler explains the lock
    required = await ValidateVerifyForm().required_slots(
        ["account_no", "phone_last4"], None, convo.tracker(), {}
    )
    assert required == []
    convo.user("查电费", "query_bill")
    said = await convo.run(ActionQueryBill())
    assert responses(said) == ["utter_verify_locked"]
    with runtime.session() as session:
        attempts = session.query(VerificationAttempt).filter_by(sender_id=convo.sender_id).all()
    assert len(attempts) == 5
    assert not any(a.success for a in attempts)


async def test_unknown_account_counts_as_a_failure(convo: Conversation) -> None:
    said = await verify(convo, account="9999999999", last4="0001")
    assert "utter_verify_failed" in said  # same answer as a wrong phone: no enumeration


async def test_reconnect_for_disconnected_account_in_arrears(runtime: Runtime) -> None:
    convo = Conversation(sender_id="web-arrears")
    await verify(convo, account="3301000003", last4="0003")  # demo: disconnected, balance < 0
    convo.user("交了钱咋还没电", "payment_reconnect")
    said = await convo.run(ActionPaymentReconnect())
    arrears = only(said, "utter_reconnect_arrears")
    assert float(arrears["owed"]) > 0
    assert "微信" in arrears["channels"]
