"""rasa_addons/fast_action_check.py, in Rasa's environment: the action server's replies checked
by one validator built once accept and refuse exactly what Rasa's own check does, with the same
error message, and the check is installed whenever Rasa imports rasa_addons."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.processes import RASA_PYTHON, ROOT, server_env

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
    if not RASA_PYTHON.exists():
        pytest.fail(f"{RASA_PYTHON} is missing: run make setup")
    done = subprocess.run(
        [str(RASA_PYTHON), "-W", "ignore", "-c", SCRIPT, json.dumps(REPLIES)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(outcomes) == len(REPLIES)
    for reply, (ours, rasas) in zip(REPLIES, outcomes, strict=True):
        assert ours == rasas, reply
    verdicts = [ours[0] for ours, _ in outcomes]
    assert verdicts[:3] == ["ok"] * 3
    assert verdicts[3:] == ["refused"] * (len(REPLIES) - 3)
    assert all("Failed to validate Action server response" in o[1] for o, _ in outcomes[3:])
