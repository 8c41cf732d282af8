"""The JSON request bodies' fields, read the same way by every console API (the agent API, the
repair work orders', the operators' NLU API, the quality plan's): texts stripped and limited,
ids positive integers, numbers finite and bounded, dates YYYY-MM-DD, a wrong type a 422 naming
the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from bot.console.state import ApiError

_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def optional_text(data: Mapping[str, Any], name: str, limit: int) -> str | None:
    """An optional string field, stripped (None when missing or blank)."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(422, "invalid", f"{name} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise ApiError(422, "too_long", f"{name} may have at most {limit} characters")
    return value or None


def required_text(data: Mapping[str, Any], name: str, limit: int) -> str:
    """A string field that must say something (stripped)."""
    value = optional_text(data, name, limit)
    if value is None:
        raise ApiError(422, "invalid", f"{name} must be a non-empty string")
    return value


def positive_int(data: Mapping[str, Any], name: str) -> int:
    """An id field: an integer of at least 1 (a JSON true is not 1)."""
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApiError(422, "invalid", f"{name} must be a positive integer")
    return value


def optional_number(data: Mapping[str, Any], name: str, limit: float) -> float | None:
    """An optional number field (an integer or a decimal, not a JSON true) of at most `limit`
    either side of zero; None when missing or null."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(422, "invalid", f"{name} must be a number")
    if abs(value) > limit:
        raise ApiError(422, "invalid", f"{name} must be between -{limit:g} and {limit:g}")
    return float(value)


def optional_date(data: Mapping[str, Any], name: str) -> date | None:
    """An optional calendar date field written YYYY-MM-DD; None when missing or null."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ApiError(422, "invalid", f"{name} must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "invalid", f"{name} is not a date of the calendar") from None
