"""Reading the repair work orders' requests: the list's filters, step times, ids, and a change's
body with who made it and when (`Change`; text fields: bot/console/fields.py).

Every bad value is a 422 ({"error": {"code": "invalid", ...}}) naming the field; a ticket
number or photo id that cannot exist is a 404 like any unknown one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiMapping

from bot.console import fields
from bot.console.state import ApiError
from store.config import Settings
from store.configuration.dispatch import DispatchConfig
from store.configuration.quality import Quality
from store.services.dispatch import REPAIR_TYPES, Actor
from store.services.dispatch_queries import DUE_CHOICES, TicketFilter
from store.statuses import TicketStatus

TICKET_NO: Final = re.compile(r"[Tt][0-9]{6,14}")
ID: Final = re.compile(r"[0-9]{1,9}")
STATUSES: Final = frozenset(TicketStatus)


def ticket_no(request: web.Request) -> str:
    raw = request.match_info["ticket_no"]
    if not TICKET_NO.fullmatch(raw):
        raise ApiError(404, "not_found", "no such ticket")
    return raw.upper()


def path_id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not ID.fullmatch(raw):
        raise ApiError(404, "not_found", f"no such {name.removesuffix('_id')}")
    return int(raw)


def _query_int(query: MultiMapping[str], name: str, default: int, most: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not ID.fullmatch(raw) or int(raw) > most:
        raise ApiError(422, "invalid", f"{name} must be a whole number from 0 to {most}")
    return int(raw)


def _choice(query: MultiMapping[str], name: str, options: frozenset[str] | tuple[str, ...]) -> str:
    raw = query.get(name, "")
    if raw and raw not in options:
        raise ApiError(422, "invalid", f"{name} must be one of {', '.join(sorted(options))}")
    return raw


def _crew_filter(raw: str) -> tuple[int | None, bool]:
    if raw == "none":
        return None, True
    if raw and not ID.fullmatch(raw):
        raise ApiError(422, "invalid", "crew must be a crew id or 'none'")
    return (int(raw) if raw else None), False


def ticket_filter(query: MultiMapping[str], page_size: int, max_page_size: int) -> TicketFilter:
    """The list's filters: status (several, comma-separated), type, area, crew (an id or
    'none'), due (overdue, due_soon, on_time), merged (1/0), open (1), limit, offset."""
    statuses = tuple(s for s in query.get("status", "").split(",") if s)
    if any(s not in STATUSES for s in statuses):
        raise ApiError(422, "invalid", "status must be ticket statuses, comma-separated")
    merged = _choice(query, "merged", ("0", "1"))
    area = query.get("area", "")
    if area and not ID.fullmatch(area):
        raise ApiError(422, "invalid", "area must be an area id")
    crew_id, unassigned = _crew_filter(query.get("crew", ""))
    return TicketFilter(
        statuses=statuses,
        type=_choice(query, "type", frozenset(REPAIR_TYPES)) or None,
        area_id=int(area) if area else None,
        crew_id=crew_id,
        unassigned=unassigned,
        due=_choice(query, "due", DUE_CHOICES) or None,
        merged=None if not merged else merged == "1",
        open_only=_choice(query, "open", ("0", "1")) == "1",
        limit=_query_int(query, "limit", page_size, max_page_size) or page_size,
        offset=_query_int(query, "offset", 0, 10**6),
    )


def step_at(data: dict[str, Any], tz: ZoneInfo) -> datetime | None:
    """`at`: an ISO 8601 time (station time when it has no offset), or absent for now."""
    raw = data.get("at")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise ApiError(422, "invalid", "at must be an ISO 8601 time, e.g. 2026-11-23T09:40")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "invalid", "at must be an ISO 8601 time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


@dataclass(frozen=True)
class DispatchContext:
    """The store settings, conf/dispatch.yml and conf/quality.yml (the fault and hazard
    categories), read when the app starts."""

    settings: Settings
    config: DispatchConfig
    quality: Quality


@dataclass(frozen=True)
class Change:
    """One change of a ticket as its handler sees it: the body, who, when, the configuration."""

    data: dict[str, Any]
    ctx: DispatchContext
    actor: Actor
    now: datetime

    def text(self, name: str, limit: int) -> str:
        return fields.required_text(self.data, name, limit)

    def note(self) -> str | None:
        """The optional note a change may carry (conf/dispatch.yml `max_note_chars`)."""
        return fields.optional_text(self.data, "note", self.ctx.config.max_note_chars)

    def at(self) -> datetime | None:
        """When the step happened (now when the body has no `at`)."""
        return step_at(self.data, self.ctx.settings.tz)
