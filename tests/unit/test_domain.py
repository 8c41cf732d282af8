"""domain.yml, the actions package and the config agree with each other (no I/O beyond files)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action

import actions

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
FIXED_INTENTS = {
    "report_fault", "report_safety_hazard", "query_bill", "query_outage_info", "track_repair",
    "track_application", "ask_tariff", "pay_bill", "ask_service_info", "meter_issue",
    "payment_reconnect", "bill_dispute", "apply_new_connection", "apply_capacity_change",
    "apply_name_transfer", "apply_other_change", "file_complaint", "report_violation",
    "give_suggestion", "give_praise", "request_human", "rate_service", "greet", "goodbye",
    "affirm", "deny", "thank", "inform", "out_of_scope",
}  # fmt: skip


def _action_classes() -> dict[str, type[Action]]:
    found: dict[str, type[Action]] = {}
    for module_info in pkgutil.iter_modules(actions.__path__):
        module = importlib.import_module(f"actions.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Action)
                and not inspect.isabstract(cls)
                and cls.__module__ == module.__name__
            ):
                found[cls().name()] = cls
    return found


def test_the_29_fixed_intents() -> None:
    assert set(DOMAIN["intents"]) == FIXED_INTENTS


def test_every_custom_action_is_implemented_once() -> None:
    implemented = _action_classes()
    declared = {a for a in DOMAIN["actions"]}
    assert declared - set(implemented) == set(), "declared in domain.yml but not implemented"
    assert set(implemented) - declared == set(), "implemented but not declared in domain.yml"


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_response_has_chinese_default_and_english_variation(name: str) -> None:
    variations = DOMAIN["responses"][name]
    default = [v for v in variations if not v.get("condition")]
    english = [
        v
        for v in variations
        if any(
            c.get("name") == "language" and c.get("value") == "en" for c in v.get("condition", [])
        )
    ]
    assert default, f"{name} has no Chinese default"
    only_placeholders = re.fullmatch(r"(\{\w+\}\s*)+", default[0]["text"])
    assert only_placeholders or re.search(r"[\u4e00-\u9fff]", default[0]["text"]), name
    assert english, f"{name} has no English variation"
    # both variations use the same placeholders, so an action fills both
    placeholders = [set(re.findall(r"\{(\w+)\}", v["text"])) for v in default + english]
    assert all(p == placeholders[0] for p in placeholders), name


def test_every_response_uttered_by_an_action_exists() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "actions").glob("*.py"))
    used = set(re.findall(r'"(utter_[a-z0-9_]+)"', source))
    # f"utter_{ticket_type}_created" is expanded over the feedback ticket types
    used |= {f"utter_{t}_created" for t in ("meter_test", "complaint", "suggestion", "praise")}
    assert used - set(DOMAIN["responses"]) == set()


def test_every_form_slot_is_asked_for() -> None:
    askers = set(DOMAIN["responses"]) | set(DOMAIN["actions"])
    for form, spec in DOMAIN["forms"].items():
        for slot in spec["required_slots"]:
            names = {f"utter_ask_{form}_{slot}", f"utter_ask_{slot}", f"action_ask_{slot}"}
            assert names & askers, f"{form} cannot ask for {slot}"
