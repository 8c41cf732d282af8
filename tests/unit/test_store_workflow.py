"""Ticket state machines and application stage rules (pure functions)."""

from __future__ import annotations

import itertools

import pytest

from store.config import load_settings
from store.stages import CANCELLED, allowed_stages, is_finished, waits_on_customer
from store.workflow import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    IllegalTransition,
    TicketStatus,
    all_statuses,
    allowed_next,
    check_transition,
)

FAULT_PATH = [
    "received", "dispatched", "accepted", "on_site", "repairing", "restored",
    "awaiting_callback", "closed",
]  # fmt: skip
COMPLAINT_PATH = [
    "received", "assigned", "contacted", "investigating", "replied", "callback", "closed",
]  # fmt: skip


@pytest.mark.parametrize(
    ("ticket_type", "path"), [("fault", FAULT_PATH), ("complaint", COMPLAINT_PATH)]
)
def test_main_paths_are_legal(ticket_type: str, path: list[str]) -> None:
    for current, new in itertools.pairwise(path):
        check_transition(ticket_type, current, new)


@pytest.mark.parametrize(
    ("ticket_type", "current", "new"),
    [
        ("fault", "received", "closed"),
        ("fault", "received", "on_site"),
        ("fault", "closed", "received"),
        ("fault", "cancelled", "dispatched"),
        ("fault", "repairing", "merged"),
        ("complaint", "received", "replied"),
        ("complaint", "closed", "escalated"),
        ("suggestion", "closed", "processing"),
        ("hazard", "received", "made_safe"),
    ],
)
def test_illegal_transitions(ticket_type: str, current: str, new: str) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current!r} to {new!r}"):
        check_transition(ticket_type, current, new)


def test_side_states() -> None:
    assert "merged" in allowed_next("fault", "received")
    assert set(allowed_next("fault", "merged")) == {"restored", "closed"}
    assert "customer_side" in allowed_next("fault", "on_site")
    for status in ("received", "assigned", "contacted", "investigating", "replied", "callback"):
        assert "escalated" in allowed_next("complaint", status)
    assert allowed_next("praise", "received") == ("processing", "closed", "cancelled")


def test_terminal_statuses_lead_nowhere() -> None:
    for table in TRANSITIONS.values():
        for status in TERMINAL_STATUSES & set(table):
            assert table[status] == ()


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown ticket type"):
        allowed_next("gossip", "received")


def test_application_stages() -> None:
    types = load_settings().applications.types
    new = types["new_connection"]
    # the optional survey may be skipped; documents may be missing
    assert allowed_stages(new, "low", "received", ["received"]) == (
        "surveyed", "metering_install", "need_more_docs", CANCELLED,
    )  # fmt: skip
    # a side stage returns to where it came from, or goes on
    back = allowed_stages(new, "low", "need_more_docs", ["received", "need_more_docs"])
    assert back == ("received", "surveyed", "metering_install", CANCELLED)
    history = ["received", "survey", "plan_issued", "design_review", "customer_construction",
               "mid_inspection", "completion_inspection", "rectification_required"]  # fmt: skip
    assert allowed_stages(new, "high", "rectification_required", history)[:2] == (
        "completion_inspection",
        "contract_payment",
    )
    assert allowed_stages(new, "low", "archived", ["received", "archived"]) == ()
    assert is_finished(new, CANCELLED)
    assert waits_on_customer(new, "customer_construction")
    assert waits_on_customer(new, "need_more_docs")
    assert not waits_on_customer(new, "survey")
    with pytest.raises(ValueError, match="not a stage"):
        allowed_stages(new, "low", "survey", [])


def test_ticket_statuses_are_the_state_machines() -> None:
    """The StrEnum of ticket statuses names exactly the statuses the state machines use."""
    assert all_statuses() == {status.value for status in TicketStatus}
