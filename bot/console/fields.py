"""The JSON request bodies' fields, read the same way by every console API (the agent API, the
repair work orders', the operators' NLU API): texts stripped and limited, ids positive integers,
a wrong type a 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.console.state import ApiError


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
