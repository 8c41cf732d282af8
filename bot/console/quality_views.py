"""The service-quality API's JSON: figures with their target and trend, breakdowns,
bottlenecks, the drill-down's rows with links to the console's own pages, and scorecards.

Every number is store/quality's, passed on unrounded (the page formats it, the CSV export
rounds it the same way: quality_export.py). A conversation behind a figure is named by its
masked id and handle, never by its id (store/conversation_refs.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final
from urllib.parse import quote

from store import roles
from store.conversation_refs import mask
from store.quality import Bottleneck, Breakdown, DrillRow, Figure, Period, Scorecard

Json = dict[str, Any]
Labeller = Callable[[str], str]
SAME: Final = 1e-9


def number(value: float | None) -> float | None:
    """A figure's value for JSON: None for nothing measured (and never NaN or infinity)."""
    if value is None or not math.isfinite(value):
        return None
    return value


def period_json(period: Period) -> Json:
    return {
        "label": period.label,
        "grain": str(period.grain),
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }


def trend(figure: Figure, before: float | None) -> str | None:
    """ "better", "worse" or "same" against the comparison period (None: one is missing)."""
    now = number(figure.value)
    if now is None or before is None:
        return None
    change = now - before
    if abs(change) < SAME:
        return "same"
    return "better" if (change > 0) == (figure.better == "higher") else "worse"


def figure_json(figure: Figure, label: Labeller, before: Figure | None = None) -> Json:
    previous = number(before.value) if before is not None else None
    value = number(figure.value)
    return {
        "key": figure.key,
        "section": figure.section,
        "label": label(figure.key),
        "unit": figure.unit,
        "better": str(figure.better),
        "value": value,
        "target": number(figure.target),
        "meets": figure.meets if value is not None else None,
        "numerator": figure.numerator,
        "denominator": figure.denominator,
        "previous": previous,
        "change": None if value is None or previous is None else value - previous,
        "trend": trend(figure, previous),
    }


def breakdown_json(breakdown: Breakdown) -> Json:
    return {
        "key": breakdown.key,
        "dimension": breakdown.dimension,
        "rows": [
            {
                "label": row.label,
                "value": number(row.value),
                "numerator": row.numerator,
                "denominator": row.denominator,
            }
            for row in breakdown.rows
        ],
    }


def bottleneck_json(neck: Bottleneck, label: Labeller) -> Json:
    return {
        "key": neck.key,
        "label": label(neck.key),
        "dimension": neck.dimension,
        "where": neck.label,
        "misses": neck.misses,
        "share": number(neck.share),
        "sentence": neck.sentence_zh,
        "sentence_en": neck.sentence_en,
    }


def _link(kind: str, ref: str, role: str, handle: int | None) -> str | None:
    """The console page of the item, when the caller's role may open it."""
    if kind == "conversation":
        ok = handle is not None and role in roles.WORKS_CHATS
        return f"/console#conversation-{handle}" if ok else None
    pages = {
        "ticket": ("/console/tickets/", roles.DISPATCHES),
        "feedback": ("/console/feedback#", roles.WORKS_CASES),
        "application": ("/console/applications#", roles.WORKS_CASES),
    }
    page, allowed = pages.get(kind, ("", frozenset[str]()))
    return page + quote(ref, safe="") if page and role in allowed else None


def drill_row_json(row: DrillRow, refs: Mapping[str, tuple[int, str]], role: str) -> Json:
    handle, ref = None, row.ref
    if row.kind == "conversation":
        handle, ref = refs.get(row.ref, (None, mask(row.ref)))
    detail = {name: refs[v][1] if v in refs else v for name, v in row.detail.items()}
    return {
        "kind": row.kind,
        "ref": ref,
        "handle": handle,
        "at": row.at.isoformat(),
        "value": number(row.value),
        "meets": row.meets,
        "detail": detail,
        "link": _link(row.kind, row.ref, role, handle),
    }


def vs_station(mine: Figure, station: Figure) -> str | None:
    """How the subject compares with the station's average: "better", "worse" or "same"."""
    return trend(mine, number(station.value))


DRILL_SECTIONS: Final = {"agent": "conversations", "crew": "repairs"}
"""Where a scorecard's figure of the same name lives on the dashboard ("agent.csat" is
"conversations.csat" narrowed to the agent): its drill-down."""


def drill_key(key: str, keys: Collection[str]) -> str | None:
    """The dashboard figure a scorecard figure drills into, if it has one of the same name."""
    kind, _, name = key.partition(".")
    found = f"{DRILL_SECTIONS.get(kind, kind)}.{name}"
    return found if found in keys else None


def scorecard_json(card: Scorecard, label: Labeller, keys: Collection[str] = ()) -> Json:
    return {
        "subject_kind": card.subject_kind,
        "subject": card.subject,
        "name": card.name,
        "figures": [
            {
                **figure_json(mine, label),
                "station": number(station.value),
                "vs_station": vs_station(mine, station),
                "drill": drill_key(mine.key, keys),
            }
            for mine, station in zip(card.figures, card.station, strict=True)
        ],
    }
