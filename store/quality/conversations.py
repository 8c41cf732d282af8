"""Conversations: volume, bot containment and handoffs, the queue's wait and abandonment, the
agents' first response and resolution (business hours), CSAT and its response rate, NLU
fallbacks, the NLU inbox and the '系统繁忙' answers; per channel, hour, agent and intent
(docs/quality.md, 会话).

Conversation-days and handoffs are dated by their local day; ratings and inbox hits by when
they were made. Percentiles are computed in Python from the handoffs' facts (one definition on
every database: linear interpolation, as PostgreSQL's percentile_cont).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from store.models import NluInboxHit, QualityConversationDay, QualityHandoffFacts, Rating
from store.quality.context import Context
from store.quality.figures import (
    Key,
    Sums,
    add,
    breakdown,
    count_if,
    figure,
    grouped,
    percentile,
    ratio,
)
from store.quality.names import Names
from store.quality.periods import local_day
from store.quality.types import Breakdown, Figure, Filters, Period

D = QualityConversationDay
H = QualityHandoffFacts
SECTION = "conversations"
_LEFT_QUEUE = ("abandoned", "expired")
_ENDED_BY_AGENT = ("resolved", "returned_to_bot")
AGENT_KEYS: Final = (
    "conversations.queue_wait_p50",
    "conversations.queue_wait_p90",
    "conversations.first_response_p50",
    "conversations.resolution_p50",
    "conversations.csat",
    "conversations.csat_response_rate",
)
"""The figures of the agents' own work: over the handoffs an agent took and the ratings of
them, so an agent or a team filter narrows them to that agent's or team's chats. The others
stay the station's under those filters: the bot's conversations, fallbacks, busy notices and
inbox hits, and the abandonment rate (a handoff left in the queue was nobody's)."""
_PERCENTILES = {
    "conversations.queue_wait_p50": ("waits", 0.5),
    "conversations.queue_wait_p90": ("waits", 0.9),
    "conversations.first_response_p50": ("firsts", 0.5),
    "conversations.resolution_p50": ("resolutions", 0.5),
}


@dataclass
class Chats:
    """Everything the figures need of a group of handoffs, ratings and inbox hits."""

    sums: Sums = field(default_factory=dict)
    waits: list[float] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)

    def merge(self, other: Chats) -> None:
        add(self.sums, other.sums)
        self.waits += other.waits
        self.firsts += other.firsts
        self.resolutions += other.resolutions

    def bump(self, name: str, by: float = 1.0) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + by


def day_sums() -> dict[str, Any]:
    return {
        "conversations": count_if(D.customer_messages > 0),
        "contained": count_if(D.handoffs == 0),
        "messages": func.coalesce(func.sum(D.customer_messages), 0),
        "fallbacks": func.coalesce(func.sum(D.fallback_messages), 0),
        "busy": func.coalesce(func.sum(D.busy_replies), 0),
    }


def _day_rows(
    session: Session, period: Period, filters: Filters, groups: tuple[Any, ...]
) -> dict[Key, Sums]:
    stmt = select(D.conversation_pk).where(D.day >= period.start, D.day < period.end)
    if filters.channel is not None:
        stmt = stmt.where(D.channel == filters.channel)
    return grouped(session, day_sums(), groups, stmt)


def _handoff_base(names: Names, period: Period, filters: Filters) -> Any:
    stmt = select(H.handoff_id).where(H.day >= period.start, H.day < period.end)
    if filters.channel is not None:
        stmt = stmt.where(H.channel == filters.channel)
    agents = names.agent_ids(filters)
    return stmt if agents is None else stmt.where(H.agent_id.in_(agents))


def handoff_sums() -> dict[str, Any]:
    assigned = H.assigned_at.is_not(None)
    ended = and_(assigned, H.end_state.in_(_ENDED_BY_AGENT))
    return {
        "handoffs": count_if(H.handoff_id.is_not(None)),
        "left_queue": count_if(or_(assigned, H.end_state.in_(_LEFT_QUEUE))),
        "abandoned": count_if(and_(H.assigned_at.is_(None), H.end_state == "abandoned")),
        "agent_ended": count_if(ended),
        "rated_handoffs": count_if(and_(ended, H.rating.is_not(None))),
    }


def handoff_chats(
    session: Session, names: Names, period: Period, filters: Filters, groups: tuple[Any, ...]
) -> dict[Key, Chats]:
    """The period's handoffs per group: counts by SQL, the measured times for percentiles."""
    base = _handoff_base(names, period, filters)
    found = {k: Chats(sums=s) for k, s in grouped(session, handoff_sums(), groups, base).items()}
    timed = or_(H.wait_minutes.is_not(None), H.first_response_minutes.is_not(None),
                H.resolution_minutes.is_not(None))  # fmt: skip
    stmt = base.with_only_columns(
        *groups, H.wait_minutes, H.first_response_minutes, H.resolution_minutes
    ).where(timed)
    width = len(groups)
    for row in session.connection().execute(stmt).all():
        chats = found.setdefault(tuple(row[:width]), Chats())
        for values, value in zip((chats.waits, chats.firsts, chats.resolutions), row[width:],
                                 strict=True):  # fmt: skip
            if value is not None:
                values.append(float(value))
    return found


def _rating_rows(session: Session, ctx: Context, names: Names, period: Period,
                 filters: Filters, *, counted: bool = False) -> Sequence[Any]:  # fmt: skip
    """(channel, agent, rating, when) of each rating, or with `counted` (channel, agent, rating,
    how many)."""
    start, end = period.bounds()
    when = [] if counted else [Rating.created_at]
    stmt = select(Rating.channel, Rating.agent_id, Rating.rating, *when).where(
        Rating.created_at >= start, Rating.created_at < end
    )
    if filters.channel is not None:
        stmt = stmt.where(Rating.channel == filters.channel)
    agents = names.agent_ids(filters)
    if agents is not None:
        stmt = stmt.where(Rating.agent_id.in_(agents))
    return session.connection().execute(_counted(stmt) if counted else stmt).all()


def _add_rating(ctx: Context, chats: Chats, rating: int, times: int = 1) -> None:
    chats.bump("ratings", times)
    chats.bump("satisfied", times * (rating >= ctx.quality.satisfied_from))


def _counted(stmt: Any) -> Any:
    """`stmt`'s columns with how many rows have each combination."""
    columns = list(stmt.selected_columns)
    return stmt.with_only_columns(*columns, func.count()).group_by(*columns)


def _inbox_rows(
    session: Session, period: Period, filters: Filters, *, counted: bool = False
) -> Sequence[Any]:
    """(intent, when) of each inbox hit, or with `counted` (intent, how many)."""
    start, end = period.bounds()
    stmt = select(NluInboxHit.predicted_intent).where(
        NluInboxHit.created_at >= start, NluInboxHit.created_at < end
    )
    if filters.channel is not None:
        stmt = stmt.where(NluInboxHit.conversation_id.startswith(f"{filters.channel}:"))
    if counted:
        return session.connection().execute(_counted(stmt)).all()
    return session.connection().execute(stmt.add_columns(NluInboxHit.created_at)).all()


def _misses(values: list[float], target: float | None) -> int:
    """How many of the sorted `values` are over `target`."""
    return len(values) - bisect_right(values, target) if target is not None else 0


_RATES: Mapping[str, tuple[str, str]] = {
    "conversations.containment_rate": ("contained", "conversations"),
    "conversations.handoff_rate": ("handed_off", "conversations"),
    "conversations.abandonment_rate": ("abandoned", "left_queue"),
    "conversations.csat": ("satisfied", "ratings"),
    "conversations.csat_response_rate": ("rated_handoffs", "agent_ended"),
    "conversations.fallback_rate": ("fallbacks", "messages"),
}
_COUNTS: Mapping[str, str] = {
    "conversations.count": "conversations",
    "conversations.inbox_volume": "inbox",
    "conversations.busy_replies": "busy",
}


def figure_of(ctx: Context, key: str, c: Chats) -> Figure:
    """One conversation figure of a group of chats; KeyError for another key."""
    get = c.sums.get
    if key in _COUNTS:
        return figure(ctx, key, get(_COUNTS[key], 0))
    if key in _RATES:
        num_name, den_name = _RATES[key]
        num = (
            get("conversations", 0) - get("contained", 0)
            if num_name == "handed_off"
            else (get(num_name, 0))
        )
        den = get(den_name, 0)
        return figure(ctx, key, ratio(num, den), numerator=num, denominator=den)
    name, p = _PERCENTILES[key]
    values = sorted(getattr(c, name))
    misses = _misses(values, ctx.conf.spec(key).target)
    return figure(ctx, key, percentile(values, p), numerator=misses, denominator=len(values))


def figures_of(ctx: Context, c: Chats) -> list[Figure]:
    """Every conversation figure of a group of chats, in display order."""
    return [figure_of(ctx, s.key, c) for s in ctx.quality.figures if s.section == SECTION]


def _measure(ctx: Context, key: str) -> Callable[[Chats], tuple[Any, Any, Any]]:
    def measure(c: Chats) -> tuple[Any, Any, Any]:
        fig = figure_of(ctx, key, c)
        return fig.value, fig.numerator, fig.denominator

    return measure


BREAKDOWNS: tuple[tuple[str, str], ...] = (
    ("conversations.count", "channel"),
    ("conversations.containment_rate", "channel"),
    ("conversations.handoff_rate", "channel"),
    ("conversations.handoff_rate", "hour"),
    ("conversations.queue_wait_p90", "hour"),
    ("conversations.queue_wait_p90", "channel"),
    ("conversations.abandonment_rate", "hour"),
    ("conversations.first_response_p50", "agent"),
    ("conversations.resolution_p50", "agent"),
    ("conversations.csat", "channel"),
    ("conversations.csat", "agent"),
    ("conversations.fallback_rate", "channel"),
    ("conversations.inbox_volume", "intent"),
)


def _groups(ctx: Context, dim: str, parts: Iterable[tuple[dict[str, Hashable], Chats]]
            ) -> dict[Hashable, Chats]:  # fmt: skip
    found: dict[Hashable, Chats] = {}
    for where, chats in parts:
        if dim not in where:
            continue
        group = where[dim]
        if dim == "hour" and isinstance(group, int):
            group -= group % ctx.quality.hour_bucket
        found.setdefault(group, Chats()).merge(chats)
    return found


def _names(names: Names, dim: str) -> Callable[[Hashable], tuple[str, str]]:
    if dim == "intent":
        return lambda intent: (str(intent or "-"), str(intent or "-"))
    return {"channel": names.channel, "hour": names.hour, "agent": names.agent}[dim]


def _parts(session: Session, ctx: Context, names: Names, period: Period, filters: Filters,
           ) -> list[tuple[dict[str, Hashable], Chats]]:  # fmt: skip
    """The period's chats in pieces, each with the dimensions it belongs to (one piece per
    channel and hour, per channel, hour and agent, per channel and agent, per intent)."""
    parts: list[tuple[dict[str, Hashable], Chats]] = []
    for (channel, hour), s in _day_rows(session, period, filters, (D.channel, D.hour)).items():
        parts.append(({"channel": channel, "hour": hour}, Chats(sums=s)))
    groups = (H.channel, H.hour, H.agent_id)
    for (channel, hour, agent), chats in handoff_chats(session, names, period, filters,
                                                       groups).items():  # fmt: skip
        parts.append(({"channel": channel, "hour": hour, "agent": agent}, chats))
    rated: dict[tuple[Hashable, Hashable], Chats] = {}
    ratings = _rating_rows(session, ctx, names, period, filters, counted=True)
    for channel, agent_id, rating, times in ratings:
        _add_rating(ctx, rated.setdefault((channel, agent_id), Chats()), rating, times)
    for (channel, agent_id), chats in rated.items():
        where: dict[str, Hashable] = {"channel": channel}
        if agent_id is not None:
            where["agent"] = agent_id
        parts.append((where, chats))
    for intent, times in _inbox_rows(session, period, filters, counted=True):
        parts.append(({"intent": intent}, Chats(sums={"inbox": float(times)})))
    return parts


def compute(
    session: Session,
    ctx: Context,
    names: Names,
    period: Period,
    filters: Filters,
    *,
    detail: bool = True,
) -> tuple[list[Figure], list[Breakdown]]:
    """Every conversation figure of the period and its breakdowns."""
    parts = _parts(session, ctx, names, period, filters)
    overall = Chats()
    for _, chats in parts:
        overall.merge(chats)
    figures = figures_of(ctx, overall)
    if not detail:
        return figures, []
    by_dim = {dim: _groups(ctx, dim, parts) for dim in dict.fromkeys(d for _, d in BREAKDOWNS)}
    breakdowns = [
        breakdown(key, dim, by_dim[dim], _measure(ctx, key), _names(names, dim))
        for key, dim in BREAKDOWNS
    ]
    return figures, breakdowns


def by_day(session: Session, ctx: Context, names: Names, period: Period, filters: Filters
           ) -> dict[date, Chats]:  # fmt: skip
    """Each local day's chats (for series)."""
    found: dict[date, Chats] = {}

    def on(day: date) -> Chats:
        return found.setdefault(day, Chats())

    for (day,), s in _day_rows(session, period, filters, (D.day,)).items():
        if isinstance(day, date):
            add(on(day).sums, s)
    for (day,), chats in handoff_chats(session, names, period, filters, (H.day,)).items():
        if isinstance(day, date):
            on(day).merge(chats)
    tz = ctx.tz  # a year has tens of thousands of ratings and inbox hits: counted per day first
    rated = Counter((local_day(at, tz), rating) for _, _, rating, at in
                    _rating_rows(session, ctx, names, period, filters))  # fmt: skip
    for (day, rating), times in rated.items():
        _add_rating(ctx, on(day), rating, times)
    hits = Counter(local_day(at, tz) for _, at in _inbox_rows(session, period, filters))
    for day, times in hits.items():
        on(day).bump("inbox", times)
    return found
