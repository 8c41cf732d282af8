"""Service-quality monitoring (issue 18): the one computation behind the dashboard, the exports
and the periodic reports. Other packages import only from here.

Every figure is defined in docs/quality.md; targets and labels come from conf/quality.yml.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy.orm import Session

from store.quality import applications, complaints, conversations, outages, repairs
from store.quality import drill as drill_items
from store.quality.bottlenecks import find as find_bottlenecks
from store.quality.context import Context, context, current
from store.quality.drill_chats import chat_list
from store.quality.facts.refresh import RefreshResult
from store.quality.facts.refresh import refresh as facts_refresh
from store.quality.figures import Section
from store.quality.names import Names, load_names
from store.quality.scorecards import CARDS, of_team
from store.quality.series import figures as series_figures
from store.quality.types import (
    Better,
    Bottleneck,
    Breakdown,
    BreakdownRow,
    DrillRow,
    Figure,
    Filters,
    Grain,
    Period,
    Scorecard,
    Snapshot,
)

__all__ = [
    "Better",
    "Bottleneck",
    "Breakdown",
    "BreakdownRow",
    "DrillRow",
    "Figure",
    "Filters",
    "Grain",
    "Period",
    "RefreshResult",
    "Scorecard",
    "Snapshot",
    "bottlenecks",
    "catch_up",
    "drill",
    "figure_keys",
    "label",
    "refresh",
    "scorecard_keys",
    "scorecards",
    "series",
    "snapshot",
    "team_figure_keys",
]

_NO_FILTERS = Filters()
_SECTIONS: tuple[Section, ...] = (repairs, applications, complaints, conversations)


def refresh(
    session: Session,
    *,
    now: datetime | None = None,
    rescan: bool = False,
    full: bool = False,
    on_batch: Callable[[], None] | None = None,
) -> RefreshResult:
    """Bring the facts the figures are computed from up to date with the stores, in the
    caller's transaction, waiting for a refresh another transaction is running (every view
    below refreshes first without waiting; the scheduled refresh adds `rescan`; `full`
    measures everything again)."""
    ctx = context(now)
    return facts_refresh(
        session, ctx.conf, ctx.now, rescan=rescan, full=full, wait=True, on_batch=on_batch
    )


def catch_up(session: Session, *, now: datetime | None = None) -> None:
    """What every view does first: bring the facts up to date, unless another transaction is
    doing it (then the facts are read as they are)."""
    ctx = context(now)
    facts_refresh(session, ctx.conf, ctx.now)


def _ready(session: Session, now: datetime | None, catch_up: bool = True) -> tuple[Context, Names]:
    ctx = context(now)
    if catch_up:
        facts_refresh(session, ctx.conf, ctx.now)
    return ctx, load_names(session, ctx)


def snapshot(
    session: Session,
    period: Period,
    filters: Filters = _NO_FILTERS,
    *,
    now: datetime | None = None,
    breakdowns: bool = True,
    catch_up: bool = True,
) -> Snapshot:
    """Every figure and breakdown of `period`, narrowed by `filters` (area and crew narrow the
    repairs, area the applications and complaints, channel and agent the conversations, a team
    its crews' repairs and the chats, complaints and applications its people handled,
    `team_figure_keys`; each leaves what it does not concern station-wide). `now` (default:
    the clock) decides which open items are already late; `breakdowns=False` leaves the
    breakdowns out (a comparison with an earlier period needs only the figures, and is much
    cheaper); `catch_up=False` reads the facts as they are (the caller brought them up to date:
    `catch_up`). ValueError for an unknown area, agent or team."""
    ctx, names = _ready(session, now, catch_up)
    figures: list[Figure] = []
    parts: list[Breakdown] = []
    for section in _SECTIONS:
        found, broken_down = section.compute(
            session, ctx, names, period, filters, detail=breakdowns
        )
        figures += found
        parts += broken_down
    order = figure_keys()
    figures.sort(key=lambda f: order.index(f.key))
    return Snapshot(period, filters, tuple(figures), tuple(parts))


def series(
    session: Session,
    key: str,
    period: Period,
    grain: Grain,
    filters: Filters = _NO_FILTERS,
    *,
    now: datetime | None = None,
) -> list[tuple[date, float | None]]:
    """The figure `key` for each `grain` step of `period` (the step's first day, its value);
    the first and last steps are clipped to the period. KeyError for an unknown key."""
    ctx, names = _ready(session, now)
    found = series_figures(session, ctx, names, key, period, grain, filters)
    return [(step.start, fig.value) for step, fig in found]


def drill(
    session: Session,
    key: str,
    period: Period,
    filters: Filters = _NO_FILTERS,
    *,
    limit: int = 100,
    offset: int = 0,
    now: datetime | None = None,
) -> tuple[list[DrillRow], int]:
    """The items behind figure `key` (a page of them: the misses first, then the newest) and
    how many there are in all. KeyError for an unknown key."""
    ctx, names = _ready(session, now)
    ctx.conf.spec(key)
    if key in outages.KEYS:
        found = outages.rows(session, ctx, period, names, filters)
        return outages.drill(names, key, found, max(0, limit), max(0, offset))
    listing = (
        drill_items.tickets(ctx, names, key, period, filters)
        or drill_items.application_list(ctx, names, key, period, filters)
        or chat_list(ctx, names, key, period, filters)
    )
    if listing is None:
        raise KeyError(key)
    return drill_items.page(session, listing, max(0, limit), max(0, offset))


def bottlenecks(snap: Snapshot) -> list[Bottleneck]:
    """For each missed figure, where its misses concentrate (from the snapshot's breakdowns)."""
    return find_bottlenecks(current().quality, snap)


def scorecards(
    session: Session,
    period: Period,
    kind: str,
    *,
    now: datetime | None = None,
    team_id: int | None = None,
) -> list[Scorecard]:
    """Per agent (kind "agent") or per repair crew (kind "crew"), beside the station's figures;
    with `team_id` only the team's people or crews (still beside the whole station's).
    ValueError for another kind or an unknown team."""
    if kind not in CARDS:
        raise ValueError(f"kind must be one of {', '.join(CARDS)}")
    ctx, names = _ready(session, now)
    cards = CARDS[kind](session, ctx, names, period)
    return cards if team_id is None else of_team(names, team_id, cards)


def figure_keys() -> list[str]:
    """Every documented figure key of the snapshot, in display order."""
    return [spec.key for spec in current().quality.figures]


def team_figure_keys() -> list[str]:
    """The figure keys a team filter narrows, in display order: the repairs of its crews (not
    the outages: an outage is no crew's), the applications its people handled and their stages,
    the complaints, suggestions and praise they handled (not complaints per 10,000 accounts:
    the station's customers', store/quality/complaints.py `STATION_KEYS`), and its people's
    work in chats (store/quality/conversations.py `AGENT_KEYS`). An item's handler is in its
    facts (store/quality/facts/: `tickets.handler`, the staff user who recorded an
    application's latest step); an item with none is no team's."""
    narrowed = (*repairs.MEASURES, *applications.MEASURES, *complaints.MEASURES,
                *conversations.AGENT_KEYS)  # fmt: skip
    return [k for k in figure_keys() if k in narrowed]


def scorecard_keys(kind: str | None = None) -> list[str]:
    """The keys of the scorecard figures of `kind` ("agent", "crew"; None: both), in order."""
    cards = current().quality.scorecards
    kinds = (kind,) if kind is not None else tuple(cards)
    return [spec.key for k in kinds for spec in cards[k]]


def label(key: str, lang: str = "zh") -> str:
    """A figure's display name in `lang` ("zh" or "en"), from conf/quality.yml; KeyError for an
    unknown key."""
    names = current().quality.spec(key).label
    return names.en if lang == "en" else names.zh
