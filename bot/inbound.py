"""What to do with a customer message before Rasa sees it: pure functions, no I/O.

Channels deliver whatever customers send: nothing but spaces, a voice note, a sticker, a novel,
NUL bytes from a broken client, lone UTF-16 surrogates from a buggy JSON encoder. PostgreSQL
refuses NUL characters and UTF-8 refuses surrogates, so the text is cleaned first; messages Rasa
cannot use are answered by the gateway itself, politely, in the customer's language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.messages import Attachment
from store.i18n import Language, detect_language

Verdict = Literal["rasa", "empty_text", "non_text", "too_long"]
"""'rasa': pass on; otherwise the key of the gateway's own reply in conf/gateway.yml."""

# C0 controls except tab/newline/carriage return, DEL, C1 controls, BOM. Not U+200D: emoji
# sequences (👨‍👩‍👧) are joined with it.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LANGUAGES: tuple[Language, ...] = ("zh", "en")


def clean_text(text: str) -> str:
    """The text safe to store and forward: no control characters, no lone surrogates (each
    becomes U+FFFD), Windows line ends unified, outer whitespace trimmed."""
    text = _SURROGATE.sub("\ufffd", text)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.strip()


def location_of(attachments: Sequence[Attachment]) -> tuple[float, float] | None:
    """(latitude, longitude) of the first shared location with valid coordinates."""
    for attachment in attachments:
        if attachment.kind != "location":
            continue
        try:
            lat = float(attachment.data["latitude"])
            lon = float(attachment.data["longitude"])
        except (KeyError, TypeError, ValueError):
            continue
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return lat, lon
    return None


@dataclass(frozen=True)
class Triage:
    verdict: Verdict
    text: str
    """The cleaned text (what is stored and, for 'rasa', sent)."""
    location: tuple[float, float] | None = None


def triage(text: str, attachments: Sequence[Attachment], max_chars: int) -> Triage:
    """Decide whether a message goes to Rasa or gets one of the gateway's own replies."""
    cleaned = clean_text(text)
    location = location_of(attachments)
    if len(cleaned) > max_chars:
        return Triage("too_long", cleaned, location)
    if cleaned or location is not None:
        return Triage("rasa", cleaned, location)
    if any(a.kind != "location" for a in attachments):
        return Triage("non_text", cleaned)
    return Triage("empty_text", cleaned)


def choose_language(explicit: str | None, text: str, previous: str | None) -> Language:
    """The channel's language when it knows one, else detected from the text (keeping the
    conversation's previous language when the text says nothing, e.g. digits or emoji)."""
    if explicit in _LANGUAGES:
        return explicit
    before: Language = previous if previous in _LANGUAGES else "zh"
    return detect_language(text, before)
