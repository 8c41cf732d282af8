"""rasa_addons' switch for its fast paths (rasa_addons/pinned.py): on unless Rasa's environment
turns it off. That the switch off leaves Rasa's own functions in place, in Rasa's own process:
tests/integration/test_rasa_fast_paths.py."""

from __future__ import annotations

import pytest

from rasa_addons.pinned import FAST_SWITCH, fast_paths_on


def test_the_fast_paths_are_on_by_default() -> None:
    assert FAST_SWITCH == "TOWNSHIP_RASA_FAST"
    assert fast_paths_on({})
    assert fast_paths_on({"OTHER": "0"})


@pytest.mark.parametrize("value", ["0", "false", "No", " off ", "FALSE"])
def test_zero_or_false_turns_them_off(value: str) -> None:
    assert not fast_paths_on({FAST_SWITCH: value})


@pytest.mark.parametrize("value", ["1", "true", "yes", "", "on"])
def test_anything_else_keeps_them_on(value: str) -> None:
    assert fast_paths_on({FAST_SWITCH: value})
