"""Fault reports attach to known outages, never duplicate, and quote the area's commitment;
hazards get advice and an urgent ticket at once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from actions.faults import (
    ActionReportHazard,
    ActionSubmitFault,
    ActionUpdateHazardLocation,
    ValidateFaultForm,
    ValidateHazardLocationForm,
)
from actions.runtime import Runtime
from store.models import Ticket
from tests.fakes.rasa_tracker import Conversation, only, responses
from tests.integration.verified import verify_conversation


async def fill_fault_form(convo: Conversation, address: str, phone: str = "13905719999") -> None:
    convo.user("俺家停电了咋回事", "report_fault")
    convo.slots["issue_text"] = "俺家停电了咋回事"
    convo.user(address, "inform", {"address": address})
    said = await convo.validate(ValidateFaultForm(), "fault_form", service_address=address)
    assert "utter_address_unmatched" not in responses(said)
    convo.user("只有我家没电", "inform")
    await convo.validate(ValidateFaultForm(), "fault_form", fault_scope="只有我家没电")
    convo.user(phone, "inform", {"phone_number": phone})
    await convo.validate(ValidateFaultForm(), "fault_form", contact_phone=phone)


def _count_tickets(runtime: Runtime, **filters: object) -> int:
    with runtime.session() as session:
        stmt = select(func.count()).select_from(Ticket).filter_by(**filters)
        return int(session.scalar(stmt) or 0)


async def test_new_fault_opens_a_ticket_with_the_rural_commitment(
    convo: Conversation, runtime: Runtime
) -> None:
    await fill_fault_form(convo, "东山村3组12号")
    assert convo.slots["service_area"] == "QX03"
    said = await convo.run(ActionSubmitFault())
    created = only(said, "utter_fault_created")
    assert created["arrival"] == "90分钟"  # rural, from conf/commitments.yml
    assert "utter_fault_self_check" in responses(said)  # "only my house" → check the breaker
    with runtime.session() as session:
        ticket = session.scalars(select(Ticket).filter_by(ticket_no=created["ticket_id"])).one()
        assert ticket.type == "fault"
        assert ticket.status == "received"
        assert ticket.sender_id == convo.sender_id
        assert ticket.contact_phone == "13905719999"
        assert ticket.respond_due_at == runtime.now() + timedelta(minutes=90)
    assert convo.slots["service_address"] is None  # the form's answers are cleared


async def test_a_fragment_tagged_as_the_address_falls_back_to_the_whole_message(
    convo: Conversation, runtime: Runtime
) -> None:
    # the model tagged "东山村" and "组" of "东山村3组" as two addresses and the slot took "组"
    convo.user("俺家停电了", "report_fault")
    convo.slots["issue_text"] = "俺家停电了"
    convo.user("东山村3组", "inform", {"address": "组"})
    said = await convo.validate(ValidateFaultForm(), "fault_form", service_address="组")
    assert "utter_address_unmatched" not in responses(said)
    assert convo.slots["service_address"] == "东山村3组"
    assert convo.slots["service_area"] == "QX03"
    # a message naming no village is still refused, with the fragment echoed
    convo.slots["service_address"] = convo.slots["service_area"] = None
    convo.user("三组那边", "inform", {"address": "三组"})
    said = await convo.validate(ValidateFaultForm(), "fault_form", service_address="三组")
    assert "utter_address_unmatched" in responses(said)
    assert convo.slots["service_address"] is None


async def test_repeated_report_does_not_open_a_second_ticket(
    convo: Conversation, runtime: Runtime
) -> None:
    await fill_fault_form(convo, "东山村3组12号")
    first = only(await convo.run(ActionSubmitFault()), "utter_fault_created")["ticket_id"]
    before = _count_tickets(runtime)
    await fill_fault_form(convo, "东山村3组")
    again = only(await convo.run(ActionSubmitFault()), "utter_fault_duplicate")
    assert again["ticket_id"] == first
    assert _count_tickets(runtime) == before


async def test_report_inside_a_known_outage_is_attached_to_it(
    convo: Conversation, runtime: Runtime
) -> None:
    await fill_fault_form(convo, "西河村2组")  # the demo's current fault outage
    merged = only(await convo.run(ActionSubmitFault()), "utter_fault_merged")
    assert merged["outage_no"]
    assert merged["cause"]
    with runtime.session() as session:
        ticket = session.scalars(select(Ticket).filter_by(ticket_no=merged["ticket_id"])).one()
        assert ticket.status == "merged"
        assert ticket.outage is not None
        assert ticket.outage.outage_no == merged["outage_no"]


async def test_unknown_village_is_asked_again(convo: Conversation) -> None:
    convo.user("火星村", "inform")
    said = await convo.validate(ValidateFaultForm(), "fault_form", service_address="火星村")
    unmatched = only(said, "utter_address_unmatched")
    assert "东山村" in unmatched["areas"]
    assert convo.slots["service_address"] is None


async def test_verified_customer_is_not_asked_for_a_phone(
    convo: Conversation, runtime: Runtime
) -> None:
    verify_conversation(convo, runtime, "3301000001")
    convo.user("停电了", "report_fault")
    required = await ValidateFaultForm().required_slots(
        ["service_address", "fault_scope", "contact_phone"], None, convo.tracker(), {}
    )
    assert required == ["service_address", "fault_scope"]


async def test_malformed_phone_is_refused(convo: Conversation) -> None:
    convo.user("1390571", "inform")
    said = await convo.validate(ValidateFaultForm(), "fault_form", contact_phone="1390571")
    assert "utter_invalid_phone" in responses(said)
    assert convo.slots["contact_phone"] is None


async def test_hazard_gets_an_urgent_ticket_then_its_location(
    convo: Conversation, runtime: Runtime
) -> None:
    convo.user("电线掉地上冒火花了", "report_safety_hazard")
    convo.slots["issue_text"] = "电线掉地上冒火花了"
    said = await convo.run(ActionReportHazard())
    ticket_no = only(said, "utter_hazard_created")["ticket_id"]
    assert convo.slots["hazard_needs_location"] is True
    with runtime.session() as session:
        ticket = session.scalars(select(Ticket).filter_by(ticket_no=ticket_no)).one()
        assert (ticket.type, ticket.priority) == ("hazard", "urgent")
    convo.user("石桥村村口小卖部旁边", "inform")
    await convo.validate(
        ValidateHazardLocationForm(), "hazard_location_form", service_address="石桥村村口小卖部旁边"
    )
    saved = only(await convo.run(ActionUpdateHazardLocation()), "utter_hazard_location_saved")
    assert saved["area"] == "石桥村"
    with runtime.session() as session:
        ticket = session.scalars(select(Ticket).filter_by(ticket_no=ticket_no)).one()
        assert ticket.area is not None
        assert ticket.area.name == "石桥村"
        assert "小卖部" in (ticket.address or "")
    assert convo.slots["hazard_needs_location"] is False


async def test_hazard_with_a_place_needs_no_more_questions(convo: Conversation) -> None:
    convo.user("柳湾村有根电线杆歪了快倒了", "report_safety_hazard", {"address": "柳湾村"})
    said = await convo.run(ActionReportHazard())
    assert responses(said) == ["utter_hazard_created"]
    assert convo.slots["hazard_needs_location"] is False
