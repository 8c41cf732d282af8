"""What every part of the NLU slice agrees on: its typed errors, the one rule for intent and
entity names, entity spans and their checks, and the two text normalisers.

Errors: every failure an operator can cause or fix is an `NluError` with a one-line message.
Its type says what went wrong (the console answers `NotFound` 404, `Conflict` 409, `Invalid`
422, `Unavailable` 503, `Failed` 409; `kind` is the code in its JSON error).

Names: an intent or an entity is named in lowercase snake_case, at most MAX_NAME characters
(ask_ev_charging, billing_period): what domain.yml, data/ and the held-out set use.

Spans: an entity in a customer message is an `EntitySpan` (offsets into the text); an
annotation's spans come as JSON ({"entity", "start", "end", "value"?}) from the console, the CLI
or the inbox and are read by `parse_spans`, then checked against a text by `check_spans` (the
item's text in the inbox, the one-line text written into data/).

Normalisers (neither is Rasa's: rasa_addons/normalise.py maps characters for the model's
features): `normalise_example` (when two examples are the same to the model) and
`normalise_for_grouping` (when two customer messages are one inbox item).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeGuard

# --- errors ----------------------------------------------------------------------------------


class NluError(RuntimeError):
    """Refused or failed, with a one-line reason an operator can act on."""

    kind: ClassVar[str] = "failed"
    """The code of the console's JSON error (its HTTP status follows the type)."""


class NotFound(NluError):
    """No inbox item, training job or model with that id."""

    kind = "not_found"


class Conflict(NluError):
    """The state does not allow it (already labelled, a job running, already live)."""

    kind = "conflict"


class Invalid(NluError, ValueError):
    """The request is wrong (a bad name, span, example, reason); nothing was changed."""

    kind = "invalid"


class Unavailable(NluError):
    """Rasa is unreachable or refused a model; nothing was changed."""

    kind = "unavailable"


class Failed(NluError):
    """It could not be done (a model file missing or changed)."""

    kind = "failed"


class DataEditError(Invalid):
    """An annotation or an edit of data/ refused before anything was written; the message
    says why."""


# --- names -----------------------------------------------------------------------------------

NAME: Final = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_NAME: Final = 64
OUT_OF_SCOPE: Final = "out_of_scope"
#: Intent names Rasa reserves or the project's pipeline emits.
RESERVED_INTENTS: Final = frozenset(
    {"nlu_fallback", "restart", "back", OUT_OF_SCOPE, "session_start"}
)


def is_name(name: object) -> TypeGuard[str]:
    """An intent or entity name: lowercase snake_case, at most MAX_NAME characters."""
    return isinstance(name, str) and len(name) <= MAX_NAME and NAME.fullmatch(name) is not None


def check_intent_name(name: object) -> str:
    if not is_name(name):
        raise DataEditError(
            f"{name!r} is not a valid intent name: lowercase snake_case such as ask_ev_charging"
            f" (letters, digits, single underscores, at most {MAX_NAME} characters)"
        )
    return name


# --- entity spans ----------------------------------------------------------------------------

MAX_ENTITIES: Final = 20
"""Entities one annotation may give."""
EntitiesJson = Sequence[Mapping[str, Any]]
"""An annotation's entities as callers give them: [{"entity", "start", "end", "value"?}]."""


@dataclass(frozen=True)
class EntitySpan:
    """An entity in a text: `text[start:end]` is what the customer wrote, `value` the canonical
    value when it differs (a synonym), e.g. 上月 → 上个月."""

    entity: str
    start: int
    end: int
    value: str | None = None

    def to_json(self, text: str) -> dict[str, Any]:
        """As the inbox stores it: the value defaults to the span's text."""
        value = self.value if self.value is not None else text[self.start : self.end]
        return {"entity": self.entity, "value": value, "start": self.start, "end": self.end}

    @classmethod
    def from_json(cls, raw: object, index: int = 0, text: str | None = None) -> EntitySpan:
        """One entity of an annotation, its shape checked (its offsets: `check_spans`). With
        `text`, a value equal to the span's text is no synonym (None)."""
        if not isinstance(raw, Mapping):
            raise DataEditError(f"entity {index}: expected an object")
        name, start, end, value = (raw.get(k) for k in ("entity", "start", "end", "value"))
        if not is_name(name):
            raise DataEditError(f"entity {index}: invalid entity name {name!r}")
        if not _offset(start) or not _offset(end):
            raise DataEditError(f"entity {index} ({name}): start and end are integers")
        if value is not None and not isinstance(value, str):
            raise DataEditError(f"entity {index} ({name}): value must be a string")
        if text is not None and value == text[start:end]:
            value = None
        return cls(name, start, end, value)


def _offset(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_spans(raw: object, text: str | None = None) -> list[EntitySpan]:
    """An annotation's entities ([{"entity", "start", "end", "value"?}], offsets in characters
    of the text), their shapes checked; see `EntitySpan.from_json` for `text`."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) > MAX_ENTITIES:
        raise DataEditError(f"entities must be a list of at most {MAX_ENTITIES}")
    return [EntitySpan.from_json(entry, index, text) for index, entry in enumerate(raw)]


def _check_span(text: str, span: EntitySpan, previous_end: int) -> None:
    size = len(text)
    if not 0 <= span.start < span.end <= size:
        where = "are empty" if 0 <= span.end <= span.start <= size else "are outside the text"
        raise DataEditError(
            f"entity {span.entity}: offsets {span.start}-{span.end} {where} (length {size}):"
            f" start and end must satisfy 0 <= start < end <= {size}"
        )
    if span.start < previous_end:
        raise DataEditError(f"entity {span.entity}: overlaps the entity before it")
    surface = text[span.start : span.end]
    if surface != surface.strip():
        raise DataEditError(f"entity {span.entity}: {surface!r} starts or ends with a space")
    if span.value is not None and (not span.value.strip() or "\n" in span.value):
        raise DataEditError(f"entity {span.entity}: the value is empty")


def check_spans(
    text: str, spans: Sequence[EntitySpan], known: Collection[str] | None = None
) -> list[EntitySpan]:
    """The spans in text order, or DataEditError: each inside the text, not empty, not
    overlapping the one before, not starting or ending with a space, a value (if any) not
    blank, and (with `known`) each entity one of those (domain.yml's)."""
    ordered = sorted(spans, key=lambda e: (e.start, e.end))
    previous_end = 0
    for span in ordered:
        if known is not None and span.entity not in known:
            listed = ", ".join(sorted(known))
            raise DataEditError(f"unknown entity {span.entity!r} (domain.yml has: {listed})")
        _check_span(text, span, previous_end)
        previous_end = span.end
    return ordered


# --- normalisers -----------------------------------------------------------------------------

_DIGITS: Final = re.compile(r"\d+")
_EXAMPLE_DROPPED: Final = frozenset("PZSC")
"""Unicode general categories (first letter) `normalise_example` drops: punctuation,
separators, symbols and control/format characters."""
_GROUPING_DROPPED: Final = frozenset("PSZCM")
"""What `normalise_for_grouping` drops: the same and marks (variation selectors)."""


def _folded(text: str, dropped: frozenset[str]) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in dropped)


def normalise_example(text: str) -> str:
    """An example as the model tells examples apart: full-width folded, case, spaces and
    punctuation ignored (as tests/unit/test_nlu_data.py compares training and held-out data).
    Two examples with the same key are one example."""
    return _folded(text, _EXAMPLE_DROPPED)


def normalise_for_grouping(text: str) -> str:
    """A customer message as the inbox groups it: NFKC (full-width → ASCII), case-folded,
    whitespace, punctuation, emoji and other symbols dropped, each run of digits replaced by
    '#' (two account numbers are the same text).

    >>> normalise_for_grouping("我的户号３３０１０００００２，电费多少？😊")
    '我的户号#电费多少'
    """
    return _DIGITS.sub("#", _folded(text, _GROUPING_DROPPED))
