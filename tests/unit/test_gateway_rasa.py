"""Reading Rasa's answers: webhook messages, tracker events (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.messages import Button, Reply
from bot.rasa_client import (
    MESSAGE_KEY,
    IntentGuess,
    RasaUnavailable,
    intent_from_events,
    parse_replies,
    replies_from_events,
)


def test_webhook_messages() -> None:
    data = [
        {"recipient_id": "a", "text": "你好"},
        {"recipient_id": "a", "text": "请选择", "buttons": [{"title": "是", "payload": "/affirm"}]},
        {"recipient_id": "a", "image": "https://example.org/map.png"},
        {"recipient_id": "a", "custom": {"kind": "card"}},  # nothing a channel can show
        {"recipient_id": "a", "buttons": [{"title": "仅标题"}, "junk", {"payload": ""}]},
        "not a message",
    ]
    assert parse_replies(data) == [
        Reply("你好"),
        Reply("请选择", (Button("是", "/affirm"),)),
        Reply("", image="https://example.org/map.png"),
        Reply("", (Button("仅标题", "仅标题"),)),
    ]
    assert parse_replies([]) == []


@pytest.mark.parametrize("data", [{"error": "x"}, None, "ok", 3])
def test_a_webhook_answer_that_is_not_a_list_means_unavailable(data: Any) -> None:
    with pytest.raises(RasaUnavailable):
        parse_replies(data)


def _user(key: str, intent: Any, text: str = "x") -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": intent},
        "metadata": {MESSAGE_KEY: key},
    }


EVENTS: list[Any] = [
    {"event": "action", "name": "action_listen"},
    _user("1", {"name": "greet", "confidence": 0.99}),
    {"event": "bot", "text": "你好", "data": {}},
    _user("2", {"name": "query_bill", "confidence": 1}),
    {"event": "bot", "text": "请选择", "data": {"buttons": [{"title": "是", "payload": "/a"}]}},
    {"event": "slot", "name": "x", "value": 1},
    {"event": "bot", "text": None, "data": {"image": "https://example.org/i.png"}},
    _user("3", None),
    {"event": "user", "text": "no metadata", "parse_data": {}},
]


def test_intent_of_a_message_found_by_its_key() -> None:
    assert intent_from_events(EVENTS, "1") == IntentGuess("greet", 0.99)
    assert intent_from_events(EVENTS, "2") == IntentGuess("query_bill", 1.0)
    assert intent_from_events(EVENTS, "3") == IntentGuess(None, None)
    assert intent_from_events(EVENTS, "4") is None
    assert intent_from_events([], "1") is None


def test_replies_already_given_to_a_message() -> None:
    assert replies_from_events(EVENTS, "1") == [Reply("你好")]
    assert replies_from_events(EVENTS, "2") == [
        Reply("请选择", (Button("是", "/a"),)),
        Reply("", image="https://example.org/i.png"),
    ]
    assert replies_from_events(EVENTS, "3") is None  # no answer: send it again
    assert replies_from_events(EVENTS, "9") is None
