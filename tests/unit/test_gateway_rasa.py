"""Reading Rasa's answers: webhook messages, tracker events (pure functions)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.messages import Button, Reply
from bot.rasa_client import (
    MESSAGE_KEY,
    IntentGuess,
    RasaUnavailable,
    TurnTracker,
    intent_from_events,
    intent_from_latest,
    parse_answer,
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


def test_gateway_channel_answer() -> None:
    latest = {
        "text": "停电了",
        "intent": {"name": "report_fault", "confidence": 0.93},
        "intent_ranking": [{"name": "query_outage", "confidence": 0.05},
                           {"name": "report_fault", "confidence": 0.93}],
        "entities": [],
        "metadata": {MESSAGE_KEY: "7@1.0"},
    }  # fmt: skip
    answer = parse_answer(
        {"messages": [{"recipient_id": "a", "text": "好的"}], "latest_message": latest}
    )
    assert answer.replies == [Reply("好的")]
    guess = intent_from_latest(answer.latest, "7@1.0")
    assert guess is not None
    assert (guess.name, guess.confidence) == ("report_fault", 0.93)
    assert guess.best_except({"report_fault"}) == ("query_outage", 0.05)
    assert intent_from_latest(answer.latest, "8@1.0") is None  # another message's parse data
    # no parse data (Rasa parsed the message itself): only the replies
    assert parse_answer({"messages": [], "latest_message": None}).latest is None


@pytest.mark.parametrize(
    "data", [[{"text": "a REST answer"}], {"messages": "x"}, {"latest_message": {}}, None, 3]
)
def test_malformed_gateway_channel_answers_are_unavailable(data: Any) -> None:
    with pytest.raises(RasaUnavailable):
        parse_answer(data)


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


class _CountingClient:
    """Stands in for RasaClient: counts the tracker requests a TurnTracker makes."""

    def __init__(self, latest: dict[str, Any] | None, events: list[Any], fail: bool = False):
        self._latest, self._events, self._fail = latest, events, fail
        self.calls: list[str] = []

    async def latest_message(self, sender: str) -> dict[str, Any] | None:
        self.calls.append("NONE")
        await asyncio.sleep(0)
        if self._fail:
            raise RasaUnavailable("down")
        return self._latest

    async def events(self, sender: str) -> list[Any]:
        self.calls.append("ALL")
        await asyncio.sleep(0)
        return self._events


async def test_one_turn_reads_the_tracker_once_however_many_readers() -> None:
    latest = {"intent": {"name": "greet", "confidence": 0.9}, "metadata": {MESSAGE_KEY: "7"}}
    client = _CountingClient(latest, [])
    turn = TurnTracker(client, "web:1")  # type: ignore[arg-type]
    results = await asyncio.gather(turn.latest(), turn.intent_of("7"), turn.latest())
    assert results[1] == IntentGuess("greet", 0.9)
    assert client.calls == ["NONE"]


async def test_a_message_not_latest_is_found_in_events_read_once() -> None:
    """Inside a form Rasa's latest message stays the one that opened it: the events tell,
    and the trigger check and the recorded intent share one read of them."""
    latest = {"intent": {"name": "query_bill", "confidence": 0.9}, "metadata": {MESSAGE_KEY: "5"}}
    client = _CountingClient(
        latest,
        [
            _user("5", {"name": "query_bill", "confidence": 0.9}),
            _user("6", {"name": "inform", "confidence": 0.9}),
        ],
    )
    turn = TurnTracker(client, "web:1")  # type: ignore[arg-type]
    guess, events = await asyncio.gather(turn.intent_of("6"), turn.events())
    assert guess == IntentGuess("inform", 0.9)
    assert len(events) == 2
    assert client.calls == ["NONE", "ALL"]


async def test_a_failed_read_fails_every_reader() -> None:
    client = _CountingClient(None, [], fail=True)
    turn = TurnTracker(client, "web:1")  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(RasaUnavailable):
            await turn.latest()
    assert client.calls == ["NONE"]
