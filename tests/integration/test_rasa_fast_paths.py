"""rasa_addons/fast_action_check.py, in Rasa's environment: the action server's replies checked
by one validator built once accept and refuse exactly what Rasa's own check does, with the same
error message, and the check is installed whenever Rasa imports rasa_addons, unless
TOWNSHIP_RASA_FAST=0 keeps Rasa's own code (then neither fast path is installed)."""

from __future__ import annotations

import json

import pytest

from tests.processes import RASA_PYTHON, rasa_script, server_env

REPLIES: list[object] = [
    {"events": [], "responses": []},
    {},
    {
        "events": [
            {"event": "slot", "timestamp": None, "name": "phone_number", "value": "13800138000"},
            {"event": "active_loop", "name": None},
            {"event": "followup", "name": "action_listen"},
            {"event": "reminder", "intent": "x", "entities": [], "date_time": "2026-12-07"},
            {"event": "bot", "text": "您好", "data": {}},
        ],
        "responses": [{"text": "已为您登记", "buttons": [{"title": "是", "payload": "/affirm"}]}],
    },
    {"events": "not a list", "responses": []},  # invalid below
    {"events": [{"name": "phone_number"}]},
    {"events": [{"event": "slot"}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [], "responses": "text"},
    {"events": [{"event": "slot", "name": 5, "value": "x"}]},
    [],
    "reply",
]

SCRIPT = """
import json, sys
import rasa_addons  # installs the check
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

ours = RemoteAction._validate_action_result
assert getattr(ours, "_checked_once", False), "rasa_addons did not install its check"
action = RemoteAction("action_x", None)

def outcome(check, reply):
    try:
        return ["ok", check(action, reply)]
    except ValidationError as error:
        return ["refused", error.message, list(error.absolute_path)]

replies = json.loads(sys.argv[1])
print(json.dumps([[outcome(ours, r), outcome(ours.stock, r)] for r in replies]))
"""


def test_replies_are_checked_as_rasa_checks_them() -> None:
    outcomes = rasa_script(SCRIPT, json.dumps(REPLIES))
    assert len(outcomes) == len(REPLIES)
    for reply, (ours, rasas) in zip(REPLIES, outcomes, strict=True):
        assert ours == rasas, reply
    verdicts = [ours[0] for ours, _ in outcomes]
    assert verdicts[:3] == ["ok"] * 3
    assert verdicts[3:] == ["refused"] * (len(REPLIES) - 3)
    assert all("Failed to validate Action server response" in o[1] for o, _ in outcomes[3:])


SWITCH_SCRIPT = """
import json
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.utils.tensorflow.models import RasaModel

def named(function):
    return [function.__module__, function.__qualname__]

def replaced():
    return [named(RemoteAction._validate_action_result), named(RasaModel.load.__func__),
            named(Event.resolve_by_type)]

before = replaced()
import rasa_addons
after = replaced()
marks = [getattr(RemoteAction._validate_action_result, "_checked_once", False),
         getattr(RasaModel.load.__func__, "_fast_load", False),
         getattr(Event.resolve_by_type, "_tabled", False)]
print(json.dumps({"before": before, "after": after, "marks": marks}))
"""
RASAS_OWN = [
    ["rasa.core.actions.action", "RemoteAction._validate_action_result"],
    ["rasa.utils.tensorflow.models", "RasaModel.load"],
    ["rasa.shared.core.events", "Event.resolve_by_type"],
]


def _import_rasa_addons(switch: str | None) -> dict[str, list[object]]:
    env = server_env()
    env.pop("TOWNSHIP_RASA_FAST", None)
    if switch is not None:
        env["TOWNSHIP_RASA_FAST"] = switch
    found: dict[str, list[object]] = rasa_script(SWITCH_SCRIPT, env=env)
    return found


def test_the_switch_off_leaves_rasas_own_functions_in_place() -> None:
    """TOWNSHIP_RASA_FAST=0: stock Rasa, as `make bench`'s profile part measures it for the
    before; unset: the fast paths (the default)."""
    if not RASA_PYTHON.exists():
        pytest.fail(f"{RASA_PYTHON} is missing: run make setup")
    off = _import_rasa_addons("0")
    assert off["before"] == RASAS_OWN
    assert off["after"] == RASAS_OWN
    assert off["marks"] == [False, False, False]
    on = _import_rasa_addons(None)
    assert on["before"] == RASAS_OWN
    assert all(mine != own for mine, own in zip(on["after"], RASAS_OWN, strict=True))
    assert on["marks"] == [True, True, True]
