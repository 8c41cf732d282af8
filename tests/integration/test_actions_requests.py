"""Tracking, applications, feedback tickets, configuration answers and conversation control."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from actions.applications import (
    ActionApplicationChecklist,
    ActionSubmitApplication,
    ValidateApplicationForm,
)
from actions.consultation import ActionAskTariff, ActionPayBill, ActionServiceInfo
from actions.conversation import (
    ActionCancelForm,
    ActionFallbackOptions,
    ActionOutOfScope,
    ActionRequestHuman,
)
from actions.feedback import (
    ActionRateService,
    ActionReportViolation,
    ActionStartFeedback,
    ActionSubmitFeedback,
    ValidateContactForm,
    parse_rating,
)
from actions.runtime import Runtime, set_runtime
from actions.slots import ActionValidateSlotMappings
from actions.tracking import ActionHandleInform, ActionTrackApplication, ActionTrackTicket
from store.models import Application, HandoffRequest, Rating, Ticket, TicketEvent
from tests.fakes.rasa_tracker import Conversation, only, responses
from tests.integration.verified import verify_conversation


def _ticket(runtime: Runtime, **filters: Any) -> Ticket:
    with runtime.session() as session:
        ticket = session.scalars(select(Ticket).filter_by(**filters)).first()
        assert ticket is not None
        session.expunge(ticket)
        return ticket


async def test_track_by_number_shows_status_and_timeline(
    convo: Conversation, runtime: Runtime
) -> None:
    known = _ticket(runtime, type="fault", status="on_site")
    convo.user(f"查下{known.ticket_no.lower()}到哪了", "track_repair")
    status = only(await convo.run(ActionTrackTicket()), "utter_ticket_status")
    assert status["ticket_id"] == known.ticket_no
    assert status["status"] == "已到达现场"
    assert status["timeline"].count("\n") >= 2  # received, dispatched, ... on site
    assert known.contact_phone is None or known.contact_phone not in str(status)


async def test_the_timeline_shows_each_status_once_not_each_note(
    convo: Conversation, runtime: Runtime
) -> None:
    known = _ticket(runtime, type="fault", status="on_site")
    with runtime.session() as session:
        ticket = session.get(Ticket, known.id)
        assert ticket is not None
        last = ticket.events[-1].at
        for minutes, note in ((1, "带了梯子"), (2, "类别：停电 → 跳闸")):  # staff's, same status
            session.add(
                TicketEvent(
                    ticket_id=ticket.id, status="on_site", actor="dispatcher", note=note,
                    at=last + timedelta(minutes=minutes),
                )
            )  # fmt: skip
        statuses = [e.status for e in ticket.events]
    convo.user(f"查下{known.ticket_no}到哪了", "track_repair")
    status = only(await convo.run(ActionTrackTicket()), "utter_ticket_status")
    lines = status["timeline"].splitlines()
    assert len(lines) == len([s for n, s in enumerate(statuses) if s not in statuses[n - 1 : n]])
    assert sum("已到达现场" in line for line in lines) == 1
    assert "梯子" not in status["timeline"]


async def test_unknown_ticket_number(convo: Conversation) -> None:
    convo.user("T0000000000", "inform", {"ticket_id": "T0000000000"})
    said = await convo.run(ActionHandleInform())
    assert only(said, "utter_not_found")["value"] == "T0000000000"


async def test_without_a_number_an_anonymous_customer_is_asked_for_one(
    convo: Conversation,
) -> None:
    convo.user("报修两小时了咋还没人来", "track_repair")
    assert responses(await convo.run(ActionTrackTicket())) == ["utter_ask_ticket_id"]


async def test_verified_customer_sees_own_open_applications(
    convo: Conversation, runtime: Runtime
) -> None:
    verify_conversation(convo, runtime, "3303301000004")
    convo.user("报装到哪一步了", "track_application")
    said = await convo.run(ActionTrackApplication())
    assert "utter_application_status" in responses(said)


async def test_application_checklist_skips_documents_on_file_and_starts_online(
    convo: Conversation, runtime: Runtime
) -> None:
    verify_conversation(convo, runtime, "3301000001")  # ID card on file
    convo.user("新盖的房子想装个电表", "apply_new_connection")
    checklist = only(await convo.run(ActionApplicationChecklist()), "utter_application_checklist")
    assert "身份证" not in checklist["missing"]
    assert "身份证" in checklist["on_file"]
    assert checklist["limit"] == 5
    assert convo.slots["app_type"] == "new_connection"
    required = await ValidateApplicationForm().required_slots(
        ["business_type", "service_address", "contact_phone"], None, convo.tracker(), {}
    )
    assert required == ["service_address"]  # phone known, no business type for 新装
    convo.user("东山村3组", "inform")
    await convo.validate(ValidateApplicationForm(), "application_form", service_address="东山村3组")
    created = only(await convo.run(ActionSubmitApplication()), "utter_application_created")
    with runtime.session() as session:
        app = session.scalars(
            select(Application).filter_by(application_no=created["application_id"])
        ).one()
        assert app.type == "new_connection"
        assert app.stage == "received"
        assert "id_card" in app.documents_received


async def test_other_change_asks_which_change(convo: Conversation) -> None:
    convo.user("出去打工想把电停一阵子", "apply_other_change")
    await convo.run(ActionApplicationChecklist())
    convo.user("那个啥", "inform")
    said = await convo.validate(
        ValidateApplicationForm(), "application_form", business_type="那个啥"
    )
    ask = only(said, "utter_ask_business_type")
    assert any(b["title"] == "暂停" for b in ask["buttons"])
    convo.user("暂停", "inform")
    await convo.validate(ValidateApplicationForm(), "application_form", business_type="暂停用电")
    assert convo.slots["business_type"] is not None


async def test_complaint_then_repeat_complaint_escalates_with_12398(
    convo: Conversation, runtime: Runtime
) -> None:
    convo.user("我要投诉抢修态度差", "file_complaint")
    convo.slots["issue_text"] = "我要投诉抢修态度差"
    await convo.run(ActionStartFeedback())
    required = await ValidateContactForm().required_slots(
        ["service_address", "contact_phone"], None, convo.tracker(), {}
    )
    assert required == ["contact_phone"]
    convo.slots["contact_phone"] = "13905718888"
    created = only(await convo.run(ActionSubmitFeedback()), "utter_complaint_created")
    assert created["contact_hours"] == 24
    assert created["days"] == 5
    convo.user("还是没人管 我要再投诉", "file_complaint")
    await convo.run(ActionStartFeedback())
    escalated = only(await convo.run(ActionSubmitFeedback()), "utter_complaint_escalated")
    assert escalated["ticket_id"] == created["ticket_id"]
    assert _ticket(runtime, ticket_no=created["ticket_id"]).escalated


async def test_violation_report_is_anonymous(convo: Conversation, runtime: Runtime) -> None:
    convo.user("举报杨家村有人偷电", "report_violation", {"address": "杨家村"})
    created = only(await convo.run(ActionReportViolation()), "utter_violation_created")
    ticket = _ticket(runtime, ticket_no=created["ticket_id"])
    assert ticket.sender_id is None
    assert ticket.account_id is None
    assert ticket.contact_phone is None


async def test_suggestion_and_praise_are_recorded(convo: Conversation, runtime: Runtime) -> None:
    for intent, response in (("give_suggestion", "utter_suggestion_created"),
                             ("give_praise", "utter_praise_created")):  # fmt: skip
        convo.user("停电通知发短信吧", intent)
        await convo.run(ActionStartFeedback())
        number = only(await convo.run(ActionSubmitFeedback()), response)["ticket_id"]
        assert _ticket(runtime, ticket_no=number).type == intent.removeprefix("give_")


async def test_rating_is_stored(convo: Conversation, runtime: Runtime) -> None:
    convo.user("非常满意", "rate_service", {"rating": "5"})
    assert only(await convo.run(ActionRateService()), "utter_rating_thanks")["stars"] == 5
    with runtime.session() as session:
        stored = session.scalars(select(Rating).filter_by(sender_id=convo.sender_id)).one()
        assert stored.rating == 5


def test_parse_rating() -> None:
    assert parse_rating("打8分") == 4
    assert parse_rating("10分") == 5
    assert parse_rating("⭐⭐⭐") == 3
    assert parse_rating("一般般吧") == 3
    assert parse_rating("100分") is None
    assert parse_rating("嗯") is None


async def test_answers_from_configuration(convo: Conversation, runtime: Runtime) -> None:
    tariffs = runtime.settings.tariffs
    convo.user("阶梯电价咋算", "ask_tariff")
    tariff = only(await convo.run(ActionAskTariff()), "utter_tariff")
    assert (tariff["t1"], tariff["t2"]) == (tariffs.tier1_limit, tariffs.tier2_limit)
    assert str(tariff["p2"]) == str(tariffs.tier_prices[1])
    pay = only(await convo.run(ActionPayBill()), "utter_pay_bill")
    assert all(c.name_zh in pay["channels"] for c in runtime.settings.service.payment_channels)
    info = only(await convo.run(ActionServiceInfo()), "utter_service_info")
    assert info["hotline"] == "95598"


async def test_request_human_records_reason_and_transcript(
    convo: Conversation, runtime: Runtime
) -> None:
    convo.user("电费不对", "bill_dispute")
    convo.events.append({"event": "bot", "text": "请输入户号"})
    convo.user("转人工", "request_human")
    said = await convo.run(ActionRequestHuman())
    request_id = only(said, "utter_handoff_requested")["request_id"]
    with runtime.session() as session:
        request = session.get(HandoffRequest, request_id)
        assert request is not None
        assert request.reason == "customer_request"
        texts = [line["text"] for line in request.transcript]
        assert texts[:3] == ["电费不对", "请输入户号", "转人工"]


async def test_fallback_offers_likely_intents_then_a_human(convo: Conversation) -> None:
    ranking = [("nlu_fallback", 0.5), ("query_bill", 0.3), ("greet", 0.1), ("bill_dispute", 0.1)]
    convo.user("电那个费的事", "nlu_fallback", ranking=ranking)
    await convo.run(ActionValidateSlotMappings())
    offered = only(await convo.run(ActionFallbackOptions()), "utter_fallback_options")
    payloads = [b["payload"] for b in offered["buttons"]]
    assert payloads == ["/query_bill", "/bill_dispute", "/request_human"]  # no control intents
    convo.user("就那个啊", "nlu_fallback", ranking=ranking)
    await convo.run(ActionValidateSlotMappings())
    assert convo.slots["fallback_count"] == 2
    assert responses(await convo.run(ActionFallbackOptions())) == ["utter_fallback_human"]
    convo.user("你好", "greet")
    await convo.run(ActionValidateSlotMappings())
    assert convo.slots["fallback_count"] == 0


async def test_a_number_in_a_message_nlu_was_unsure_of_is_looked_up(
    convo: Conversation, runtime: Runtime
) -> None:
    """A number in a message that fell back ("A…到哪一步了": few words) says what is meant."""
    with runtime.session() as session:
        application = session.scalars(select(Application)).first()
        assert application is not None
        number = application.application_no
    ranking = [("nlu_fallback", 0.45), ("track_application", 0.4), ("track_repair", 0.35)]
    convo.user(f"{number}到哪一步了", "nlu_fallback", ranking=ranking)
    said = await convo.run(ActionFallbackOptions())
    assert only(said, "utter_application_status")["application_id"] == number
    assert convo.slots["fallback_count"] == 0
    ticket = _ticket(runtime, type="fault", status="on_site")
    convo.user(f"{ticket.ticket_no}咋样了", "nlu_fallback", ranking=ranking)
    said = await convo.run(ActionFallbackOptions())
    assert only(said, "utter_ticket_status")["ticket_id"] == ticket.ticket_no
    convo.user("A0000000000到哪了", "nlu_fallback", ranking=ranking)
    assert only(await convo.run(ActionFallbackOptions()), "utter_not_found")["value"] == (
        "A0000000000"
    )


async def test_the_numbers_letter_decides_what_is_tracked(
    convo: Conversation, runtime: Runtime
) -> None:
    """NLU may hear a repair where the customer wrote an application's number, or the other
    way round: T… is a ticket, A… an application, whichever tracking action runs."""
    with runtime.session() as session:
        application = session.scalars(select(Application)).first()
        assert application is not None
        number = application.application_no
    convo.user(f"{number}到哪一步了", "track_repair")
    said = await convo.run(ActionTrackTicket())
    assert only(said, "utter_application_status")["application_id"] == number
    ticket = _ticket(runtime, type="fault", status="on_site")
    convo.user(f"{ticket.ticket_no}办到哪了", "track_application")
    said = await convo.run(ActionTrackApplication())
    assert only(said, "utter_ticket_status")["ticket_id"] == ticket.ticket_no


async def test_bad_input_gets_a_specific_reply(convo: Conversation) -> None:
    cases = [
        ("", "utter_empty_message"),
        ("   ", "utter_empty_message"),
        ("😀😀😀", "utter_no_words"),
        ("停" * 5000, "utter_message_too_long"),
    ]
    for text, expected in cases:
        convo.user(text, "nlu_fallback")
        assert responses(await convo.run(ActionFallbackOptions())) == [expected]


async def test_gas_leak_gets_safety_advice(convo: Conversation) -> None:
    convo.user("家里煤气味好大咋办", "out_of_scope")
    assert responses(await convo.run(ActionOutOfScope())) == ["utter_gas_leak"]
    convo.user("帮我充话费", "out_of_scope")
    assert responses(await convo.run(ActionOutOfScope())) == ["utter_out_of_scope"]


async def test_language_follows_the_customer(convo: Conversation) -> None:
    convo.user("no power at my house", "report_fault")
    await convo.run(ActionValidateSlotMappings())
    assert convo.slots["language"] == "en"
    convo.user("3301000001", "inform")
    await convo.run(ActionValidateSlotMappings())
    assert convo.slots["language"] == "en"  # digits keep the language
    convo.user("停电了", "report_fault")
    await convo.run(ActionValidateSlotMappings())
    assert convo.slots["language"] == "zh"


async def test_cancelling_a_form_submits_nothing(convo: Conversation, runtime: Runtime) -> None:
    convo.slots.update(service_address="东山村", fault_scope="跳闸")
    convo.user("算了不报了", "deny")
    said = await convo.run(ActionCancelForm())
    assert responses(said) == ["utter_form_cancelled"]
    assert convo.slots["service_address"] is None


async def test_store_failure_becomes_a_polite_busy_reply(convo: Conversation) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    broken = sessionmaker(create_engine("sqlite:////nonexistent-dir/nothing.db"))
    set_runtime(Runtime(convo_runtime_settings(), broken))
    convo.user("查下T2611230007", "track_repair", {"ticket_id": "T2611230007"})
    said = await convo.run(ActionTrackTicket())
    assert responses(said) == ["utter_system_error"]
    assert convo.slots["action_failed"] == "action_track_ticket"


def convo_runtime_settings() -> Any:
    from store.config import load_settings

    return load_settings()
