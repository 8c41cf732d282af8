"""Subscribing to outage notices in the conversation (actions/subscriptions.py), driven as the
action server would (no trained model: the intent each message would get is given), on the
seeded demo database: the offer after an outage answer and a fault report, the offer's button,
the customer's own words whatever intent NLU read them as, a verified customer's address, 退订."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from actions.conversation import ActionFallbackOptions, ActionOutOfScope
from actions.faults import ActionSubmitFault
from actions.outages import ActionQueryOutage
from actions.runtime import Runtime
from actions.tracking import ActionHandleInform
from store.models import OutageSubscription
from store.outages import subscriptions
from tests.fakes.rasa_tracker import Conversation, only, responses
from tests.integration.verified import verify_conversation

SENDER = "telegram:424242"
OFFER = "utter_outage_subscribe_offer"


@pytest.fixture
def chat(runtime: Runtime) -> Iterator[Conversation]:
    return Conversation(sender_id=SENDER)


def _rows(runtime: Runtime) -> list[tuple[str, str, int | None, int | None, str | None]]:
    with runtime.session() as session:
        rows = session.scalars(select(OutageSubscription).order_by(OutageSubscription.id))
        return [
            (r.conversation_id, r.area.code, r.group_no, r.account_id, r.end_reason) for r in rows
        ]


def _button(message: dict[str, Any]) -> str:
    [button] = message["buttons"]
    return str(button["payload"])


async def _press(chat: Conversation, payload: str) -> list[dict[str, Any]]:
    """The customer presses a button: Rasa reads the intent and the entity off the payload."""
    value = payload.split('"outage_subscription": "')[1].rstrip('"}')
    chat.user(payload, "query_outage_info", {subscriptions.ENTITY: value})
    return await chat.run(ActionQueryOutage())


async def test_an_outage_answer_offers_the_area_and_the_button_subscribes(
    chat: Conversation, runtime: Runtime
) -> None:
    chat.user("东山村最近停电吗", "query_outage_info", {"address": "东山村"})
    said = await chat.run(ActionQueryOutage())
    assert responses(said) == ["utter_outage_none", OFFER]
    offer = only(said, OFFER)
    assert offer["area"] == "东山村"
    assert offer["buttons"][0]["title"] == "订阅停电通知"
    payload = _button(offer)
    assert payload == '/query_outage_info{"outage_subscription": "subscribe:QX03"}'
    said = await _press(chat, payload)
    done = only(said, "utter_outage_subscribed")
    assert (done["area"], done["quiet"]) == ("东山村", "22:00-07:00")
    assert _rows(runtime) == [(SENDER, "QX03", None, None, None)]
    again = await _press(chat, payload)
    assert responses(again) == ["utter_outage_already_subscribed"]
    chat.user("东山村停电吗", "query_outage_info", {"address": "东山村"})
    assert OFFER not in responses(await chat.run(ActionQueryOutage()))  # not offered twice


async def test_a_known_outage_is_listed_with_both_offers(
    chat: Conversation, runtime: Runtime
) -> None:
    chat.user("西河村咋又停电了", "query_outage_info", {"address": "西河村"})
    said = await chat.run(ActionQueryOutage())
    assert responses(said) == ["utter_outage_list", OFFER]
    listing = only(said, "utter_outage_list")
    assert "【故障停电】西河村" in listing["items"]
    assert "notify_outage" in listing["buttons"][0]["payload"]  # told when power is back
    assert "subscribe:QX04" in _button(only(said, OFFER))


async def test_unsubscribing_in_the_customers_words_whatever_nlu_made_of_them(
    chat: Conversation, runtime: Runtime
) -> None:
    await _press(chat, subscriptions.payload("subscribe:QX03"))
    await _press(chat, subscriptions.payload("subscribe:QX07:4"))
    chat.user("退订停电通知", "query_outage_info")
    said = await chat.run(ActionQueryOutage())
    assert only(said, "utter_outage_unsubscribed")["areas"] == "东山村、桃源村"
    assert [r[4] for r in _rows(runtime)] == ["unsubscribed", "unsubscribed"]
    chat.user("退订", "nlu_fallback")
    said = await chat.run(ActionFallbackOptions())
    assert responses(said) == ["utter_outage_not_subscribed"]
    assert chat.slots["fallback_count"] == 0.0
    # the notices' own button unsubscribes too
    await _press(chat, subscriptions.payload("subscribe:QX03"))
    said = await _press(chat, subscriptions.payload("unsubscribe"))
    assert only(said, "utter_outage_unsubscribed")["areas"] == "东山村"


async def test_a_verified_customer_subscribes_their_address(
    chat: Conversation, runtime: Runtime
) -> None:
    verify_conversation(chat, runtime, "3301000001")  # 张建国, 东山村3组12号
    chat.user("我想订阅停电通知", "out_of_scope")
    said = await chat.run(ActionOutOfScope())
    assert only(said, "utter_outage_subscribed")["area"] == "东山村3组"
    with runtime.session() as session:
        [row] = session.scalars(select(OutageSubscription)).all()
        assert (row.area.code, row.group_no) == ("QX03", 3)
        assert row.account_id is not None


async def test_without_a_place_the_customer_picks_the_area(
    chat: Conversation, runtime: Runtime
) -> None:
    chat.user("订阅停电信息", "inform")
    said = await chat.run(ActionHandleInform())
    ask = only(said, "utter_outage_subscribe_which_area")
    assert len(ask["buttons"]) == len(runtime.settings.areas)
    assert ask["buttons"][2] == {
        "title": "东山村",
        "payload": subscriptions.payload("subscribe:QX03"),
    }
    assert _rows(runtime) == []


async def test_a_fault_report_ends_with_the_offer_for_its_group(
    chat: Conversation, runtime: Runtime
) -> None:
    chat.slots.update(
        service_address="桃源村4组8号", service_area="QX07", fault_scope="附近都停电了",
        contact_phone="13905719999", issue_text="停电了",
    )  # fmt: skip
    chat.user("13905719999", "inform")
    said = await chat.run(ActionSubmitFault())
    assert responses(said)[-1] == OFFER
    offer = only(said, OFFER)
    assert offer["area"] == "桃源村4组"
    assert _button(offer) == subscriptions.payload("subscribe:QX07:4")
    said = await _press(chat, _button(offer))
    assert only(said, "utter_outage_subscribed")["area"] == "桃源村4组"


async def test_english_words_and_area_names(chat: Conversation, runtime: Runtime) -> None:
    chat.slots["language"] = "en"
    chat.user("please subscribe me to outage notices for Dongshan", "query_outage_info")
    said = await chat.run(ActionQueryOutage())
    assert only(said, "utter_outage_subscribed")["area"] == "Dongshan Village"
    chat.user("unsubscribe", "nlu_fallback")
    said = await chat.run(ActionFallbackOptions())
    assert only(said, "utter_outage_unsubscribed")["areas"] == "Dongshan Village"


async def test_a_conversation_the_gateway_cannot_reach_is_told_so(runtime: Runtime) -> None:
    chat = Conversation(sender_id="no-channel-sender")
    chat.user("订阅东山村停电通知", "query_outage_info")
    said = await chat.run(ActionQueryOutage())
    assert responses(said) == ["utter_outage_subscribe_unavailable"]
    chat.user("东山村停电吗", "query_outage_info", {"address": "东山村"})
    assert OFFER not in responses(await chat.run(ActionQueryOutage()))
    assert _rows(runtime) == []
