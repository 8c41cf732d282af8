"""Which customer messages the router sends to the NLU inbox, from what NLU said of them."""

from __future__ import annotations

import pytest

from bot.rasa_client import MESSAGE_KEY, IntentGuess, intent_from_events
from bot.router import inbox_landing
from nlu.settings import InboxSettings

INBOX = InboxSettings(
    confidence_below=0.6,
    fallback_intents=frozenset({"nlu_fallback", "out_of_scope"}),
    before_handoff=2,
    group_similarity=0.8,
    context_messages=4,
)
RANKING = (("nlu_fallback", 0.7), ("out_of_scope", 0.4), ("query_bill", 0.33), ("greet", 0.1))


@pytest.mark.parametrize(
    ("guess", "expected"),
    [
        (IntentGuess("query_bill", 0.91), None),
        (IntentGuess("query_bill", 0.6), None),  # at the threshold: understood
        (IntentGuess("query_bill", 0.59), ("low_confidence", "query_bill", 0.59)),
        (IntentGuess("query_bill", None), None),
        (IntentGuess(None, None), None),
        # a fallback records the best non-fallback intent of the ranking
        (IntentGuess("nlu_fallback", 0.7, RANKING), ("fallback", "query_bill", 0.33)),
        (IntentGuess("out_of_scope", 0.95, RANKING[1:]), ("fallback", "query_bill", 0.33)),
        # no ranking (or only fallbacks in it): the fallback itself
        (IntentGuess("nlu_fallback", 0.7), ("fallback", "nlu_fallback", 0.7)),
        (IntentGuess("nlu_fallback", 0.7, RANKING[:2]), ("fallback", "nlu_fallback", 0.7)),
    ],
)
def test_inbox_landing(
    guess: IntentGuess, expected: tuple[str, str | None, float | None] | None
) -> None:
    assert inbox_landing(guess, INBOX) == expected


def test_the_ranking_comes_from_the_tracker_best_first() -> None:
    parse = {
        "intent": {"name": "nlu_fallback", "confidence": 0.7},
        "intent_ranking": [
            {"name": "greet", "confidence": 0.1},
            {"name": "nlu_fallback", "confidence": 0.7},
            {"name": "query_bill", "confidence": 0.33},
            {"name": 5, "confidence": 0.9},
            {"name": "broken"},
            "junk",
        ],
    }
    events = [{"event": "user", "metadata": {MESSAGE_KEY: "k"}, "parse_data": parse}]
    guess = intent_from_events(events, "k")
    assert guess is not None
    assert guess.ranking == (("nlu_fallback", 0.7), ("query_bill", 0.33), ("greet", 0.1))
    assert guess.best_except({"nlu_fallback"}) == ("query_bill", 0.33)
    assert guess.best_except({"nlu_fallback", "query_bill", "greet"}) == (None, None)
    without = [{"event": "user", "metadata": {MESSAGE_KEY: "k"}, "parse_data": {"intent": {}}}]
    assert intent_from_events(without, "k") == IntentGuess(None, None)
