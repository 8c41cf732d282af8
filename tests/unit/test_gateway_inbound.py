"""What the gateway does with a message before Rasa sees it (pure functions)."""

from __future__ import annotations

import pytest

from bot.inbound import choose_language, clean_text, location_of, triage
from bot.messages import Attachment


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  停电了  ", "停电了"),
        ("停\x00电\x07了", "停电了"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("\ufeff查电费", "查电费"),
        ("\x85\x9f控制", "控制"),
        ("x\ud800y\udfffz", "x\ufffdy\ufffdz"),
        ("👨‍👩‍👧 family", "👨‍👩‍👧 family"),
        ("tab\tkept", "tab\tkept"),
        ("'; DROP TABLE messages; --", "'; DROP TABLE messages; --"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
    clean_text(raw).encode("utf-8")  # always encodable (PostgreSQL, JSON)


def test_triage() -> None:
    location = Attachment("location", {"latitude": 30.1, "longitude": 120.2})
    assert triage("停电了", (), 10).verdict == "rasa"
    assert triage(" \n ", (), 10).verdict == "empty_text"
    assert triage("\x00\x01", (), 10).verdict == "empty_text"
    assert triage("", (Attachment("voice"),), 10).verdict == "non_text"
    assert triage("", (Attachment("photo"), Attachment("document")), 10).verdict == "non_text"
    assert triage("看这张图", (Attachment("photo"),), 10).verdict == "rasa"
    assert triage("", (location,), 10) == triage("", (location,), 10)
    assert triage("", (location,), 10).verdict == "rasa"
    assert triage("", (location,), 10).location == (30.1, 120.2)
    assert triage("停" * 11, (), 10).verdict == "too_long"
    assert triage("停" * 10, (), 10).verdict == "rasa"
    assert triage(" " * 50 + "停", (), 10).verdict == "rasa"  # counted after trimming


def test_location_needs_valid_coordinates() -> None:
    assert location_of((Attachment("location", {"latitude": "x", "longitude": 1}),)) is None
    assert location_of((Attachment("location", {"latitude": 91, "longitude": 1}),)) is None
    assert location_of((Attachment("location", {}),)) is None
    assert location_of((Attachment("photo", {"latitude": 1, "longitude": 1}),)) is None
    ok = Attachment("location", {"latitude": "30.5", "longitude": -120})
    assert location_of((Attachment("voice"), ok)) == (30.5, -120.0)


@pytest.mark.parametrize(
    ("explicit", "text", "previous", "expected"),
    [
        ("en", "停电了", "zh", "en"),
        ("zh", "no power", "en", "zh"),
        (None, "no power at my house", None, "en"),
        (None, "停电了", "en", "zh"),
        (None, "3301000001", "en", "en"),
        (None, "3301000001", None, "zh"),
        ("fr", "👍", "xx", "zh"),
        (None, "tingdian le", None, "zh"),
    ],
)
def test_choose_language(
    explicit: str | None, text: str, previous: str | None, expected: str
) -> None:
    assert choose_language(explicit, text, previous) == expected
