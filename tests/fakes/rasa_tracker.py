"""Drive custom actions exactly as the action server would, without Rasa.

A `Conversation` keeps the slots like Rasa's tracker does, sends a parsed user message to an
action (a real rasa-sdk `Tracker` and `CollectingDispatcher`), applies the returned SlotSet
events, and records which responses were uttered with which values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def _initial_slots() -> dict[str, Any]:
    return {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}


@dataclass
class Conversation:
    sender_id: str = "test-user"
    slots: dict[str, Any] = field(default_factory=_initial_slots)
    events: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, Any] = field(default_factory=dict)
    active_loop: dict[str, Any] = field(default_factory=dict)

    def user(
        self,
        text: str,
        intent: str,
        entities: dict[str, str] | None = None,
        ranking: list[tuple[str, float]] | None = None,
    ) -> None:
        """A user message as NLU parsed it; entities fill their same-named slots like Rasa."""
        ents = [{"entity": k, "value": v} for k, v in (entities or {}).items()]
        self.latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": ents,
            "intent_ranking": [{"name": n, "confidence": c} for n, c in (ranking or [])],
        }
        self.events.append({"event": "user", "text": text, "parse_data": self.latest})
        slot_for_entity = {
            "address": "service_address",
            "phone_number": "contact_phone",
            "fault_type": "fault_scope",
        }
        for e in ents:
            slot = slot_for_entity.get(e["entity"], e["entity"])
            if slot in self.slots:
                self.slots[slot] = e["value"]

    def tracker(self) -> Tracker:
        return Tracker(
            self.sender_id,
            dict(self.slots),
            self.latest,
            list(self.events),
            False,
            None,
            self.active_loop,
            "action_listen",
        )

    async def run(self, action: Action) -> list[dict[str, Any]]:
        """Run an action; apply its slot events; return what it uttered."""
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, self.tracker(), DOMAIN)
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        for message in dispatcher.messages:
            self.events.append({"event": "bot", "text": message.get("response")})
        return dispatcher.messages

    async def validate(self, action: Action, form: str, **candidates: Any) -> list[dict[str, Any]]:
        """Run a form validation action with the slots the user's message just filled."""
        for name, value in candidates.items():
            self.slots[name] = value
        self.active_loop = {"name": form}
        slot_events = [{"event": "slot", "name": n, "value": v} for n, v in candidates.items()]
        self.events.extend(slot_events)
        return await self.run(action)


def responses(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("response")) for m in messages]


def only(messages: list[dict[str, Any]], response: str) -> dict[str, Any]:
    """The single message with this response name (fails loudly otherwise)."""
    found = [m for m in messages if m.get("response") == response]
    assert len(found) == 1, f"expected one {response}, got {responses(messages)}"
    return found[0]
