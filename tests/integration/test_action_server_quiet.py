"""The real action server does not log rasa-sdk's "Skipping validation for `<slot>`: there is
no validation method specified" for the slots that need no validation (it was logged on every
message that set one: issue_text in forms, the survey's rating ...), and still takes the slot;
other warnings of the same logger still show.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from actions.server import QuietUnvalidatedSlots
from tests.processes import ROOT, running_action_server, seed, server_env

NOISE = "Skipping validation for `issue_text`: there is no validation method specified."


def _slot_mappings_request(text: str, slot: str, value: str) -> dict[str, Any]:
    """What Rasa sends after a customer's message that filled `slot` from an entity:
    action_validate_slot_mappings, the tracker with the slot's candidate after the message,
    and the domain."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    latest = {"text": text, "intent": {"name": "inform", "confidence": 0.97}, "entities": []}
    events = [
        {"event": "user", "timestamp": time.time(), "text": text, "parse_data": latest},
        {"event": "slot", "timestamp": time.time(), "name": slot, "value": value},
    ]
    tracker = {
        "sender_id": "web:quiet-test",
        "slots": {"language": "zh", "verified": False, "fallback_count": 0.0, slot: value},
        "latest_message": latest,
        "events": events,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    return {
        "next_action": "action_validate_slot_mappings",
        "sender_id": tracker["sender_id"],
        "tracker": tracker,
        "domain": domain,
    }


def test_a_slot_without_a_validation_method_is_taken_without_the_warning(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'assistant.db'}"
    token = secrets.token_hex(16)
    env = server_env(DATABASE_URL=database, ACTION_SERVER_TOKEN=token)
    seed(database, env)
    log = tmp_path / "actions.log"
    with running_action_server(env, log) as server:
        request = urllib.request.Request(
            f"{server.url}/webhook",
            data=json.dumps(_slot_mappings_request("5分，很满意", "rating", "5")).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        for _ in range(3):  # one message after another, as it was logged every time
            with urllib.request.urlopen(request, timeout=30) as answer:
                events = json.loads(answer.read())["events"]
        slots = [(e["name"], e["value"]) for e in events if e["event"] == "slot"]
        assert slots == [("rating", "5")]
    text = log.read_text(errors="replace")
    assert "action server on http://" in text  # the log is the server's
    assert "Skipping validation" not in text


def test_the_filter_drops_only_that_warning() -> None:
    quiet = QuietUnvalidatedSlots()

    def record(message: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(
            "rasa_sdk.forms", logging.WARNING, __file__, 1, message, args, None
        )

    assert not quiet.filter(record(NOISE))
    assert not quiet.filter(record("Skipping validation for `%s`: there is no validation "
                                   "method specified.", "language"))  # fmt: skip
    assert quiet.filter(record("Cannot validate `issue_text`: make sure the validation method"))
    assert quiet.filter(record(NOISE + " And something else."))
