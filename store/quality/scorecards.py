"""Staff scorecards for the performance review (the paper's 3.2): per agent and per repair crew,
the period's own figures beside the station's, with the same definitions as the station's
figures of the same name (docs/quality.md).

The station's column: for a count, the average per agent (or crew) listed; for a rate, a mean
or a percentile, the station's own figure over everyone's items. A team's cards (`of_team`: its
people's and its crews') keep the whole station's column beside them. Listed are the active crews
and every crew with a repair in the period; the agents (and supervisors, managers) who handled
a chat, were rated or flagged a bot answer in the period, and every agent.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import (
    Crew,
    HandoffEvent,
    NluInboxHit,
    NluInboxReason,
    QualityHandoffFacts,
    Rating,
    StaffUser,
)
from store.quality import repairs
from store.quality.context import Context
from store.quality.conversations import Chats, handoff_chats
from store.quality.figures import Sums, figure, grouped, percentile, ratio, roll_up, total
from store.quality.names import Names
from store.quality.types import Figure, Filters, Period, Scorecard
from store.roles import StaffRole

CREW_FROM_REPAIRS: Mapping[str, str] = {
    "crew.tickets": "repairs.tickets",
    "crew.arrival_minutes": "repairs.arrival_minutes",
    "crew.arrival_on_time_rate": "repairs.arrival_on_time_rate",
    "crew.restoration_on_time_rate": "repairs.restoration_on_time_rate",
    "crew.callback_rate": "repairs.callback_rate",
}


def _as(ctx: Context, key: str, source: Figure) -> Figure:
    """`source` under the scorecard key `key` (its unit and target from conf)."""
    spec = ctx.conf.spec(key)
    target = source.target if spec.commitment else spec.target
    return Figure(key, spec.section, source.value, spec.unit, target, source.better,
                  source.numerator, source.denominator)  # fmt: skip


def _average(ctx: Context, key: str, values: list[float | None]) -> Figure:
    counted = [v for v in values if v is not None]
    return figure(ctx, key, sum(counted) / len(values) if values else None)


def crew_cards(session: Session, ctx: Context, names: Names, period: Period) -> list[Scorecard]:
    rows = grouped(session, repairs.sums(ctx.now), (repairs.F.crew_id,),
                   repairs.base(period, Filters(), names))  # fmt: skip
    per_crew = roll_up(rows, lambda k: k[0])
    active = set(session.scalars(select(Crew.id).where(Crew.active.is_(True))))
    crews = sorted({c for c in per_crew if isinstance(c, int)} | active, key=names.crew)
    station_sums = total(rows)

    def own(s: Sums) -> list[Figure]:
        return [
            _as(ctx, key, repairs.figure_of(ctx, source, s))
            for key, source in CREW_FROM_REPAIRS.items()
        ]

    cards = [(crew, own(per_crew.get(crew, total([])))) for crew in crews]
    station = own(station_sums)
    tickets = [c[1][0].value for c in cards]
    station[0] = _as(ctx, "crew.tickets", _average(ctx, "repairs.tickets", tickets))
    return [
        Scorecard("crew", str(crew), names.crew(crew)[0], tuple(figs), tuple(station))
        for crew, figs in cards
    ]


def _chats_by_agent(
    session: Session, ctx: Context, names: Names, period: Period
) -> dict[Hashable, Chats]:
    groups = (QualityHandoffFacts.agent_id,)
    found: dict[Hashable, Chats] = {
        k[0]: chats
        for k, chats in handoff_chats(session, names, period, Filters(), groups).items()
        if k[0] is not None
    }
    start, end = period.bounds()
    stmt = select(Rating.agent_id, Rating.rating).where(
        Rating.created_at >= start, Rating.created_at < end, Rating.agent_id.is_not(None)
    )
    for agent_id, value in session.execute(stmt):
        chats = found.setdefault(agent_id, Chats())
        chats.bump("ratings")
        chats.bump("satisfied", value >= ctx.quality.satisfied_from)
    return found


def _counted(session: Session, stmt: Any) -> dict[Hashable, float]:
    found: dict[Hashable, float] = {}
    for who in session.scalars(stmt):
        found[who] = found.get(who, 0.0) + 1
    return found


def _transfers_and_flags(
    session: Session, names: Names, period: Period
) -> tuple[dict[Hashable, float], dict[Hashable, float]]:
    start, end = period.bounds()
    transfers = select(HandoffEvent.actor).where(
        HandoffEvent.from_state == "assigned", HandoffEvent.to_state == "assigned",
        HandoffEvent.at >= start, HandoffEvent.at < end,
    )  # fmt: skip
    flags = select(NluInboxHit.flagged_by).where(
        NluInboxHit.reason == NluInboxReason.FLAGGED,
        NluInboxHit.created_at >= start, NluInboxHit.created_at < end,
    )  # fmt: skip
    by_name = {u: i for i, (u, _) in names.agents.items()}
    moved: dict[Hashable, float] = {
        by_name.get(str(k)): v for k, v in _counted(session, transfers).items()
    }
    return moved, _counted(session, flags)


def _agent_figures(ctx: Context, c: Chats, transfers: float, flags: float) -> list[Figure]:
    values = {"first": sorted(c.firsts), "resolution": sorted(c.resolutions)}
    g = c.sums.get
    return [
        figure(ctx, "agent.chats", g("handoffs", 0)),
        _p50(ctx, "agent.first_response_p50", values["first"]),
        _p50(ctx, "agent.resolution_p50", values["resolution"]),
        figure(ctx, "agent.csat", ratio(g("satisfied", 0), g("ratings", 0)),
               numerator=g("satisfied", 0), denominator=g("ratings", 0)),
        figure(ctx, "agent.transfers", transfers),
        figure(ctx, "agent.flagged_answers", flags),
    ]  # fmt: skip


def _p50(ctx: Context, key: str, values: list[float]) -> Figure:
    target = ctx.conf.spec(key).target
    missed = sum(v > target for v in values) if target is not None else 0
    return figure(ctx, key, percentile(values, 0.5), numerator=missed, denominator=len(values))


def agent_cards(session: Session, ctx: Context, names: Names, period: Period) -> list[Scorecard]:
    chats = _chats_by_agent(session, ctx, names, period)
    transfers, flags = _transfers_and_flags(session, names, period)
    agents = {i for i in (*chats, *transfers, *flags) if isinstance(i, int) and i in names.agents}
    role = select(StaffUser.id).where(StaffUser.role == StaffRole.AGENT)
    agents |= set(session.scalars(role))
    ordered = sorted(agents, key=lambda i: names.agents[i][0])
    own = {
        i: _agent_figures(ctx, chats.get(i, Chats()), transfers.get(i, 0), flags.get(i, 0))
        for i in ordered
    }
    everyone = Chats()
    for i in ordered:
        everyone.merge(chats.get(i, Chats()))
    station = _agent_figures(ctx, everyone, 0, 0)
    for index in (0, 4, 5):  # counts: the average per agent listed
        key = station[index].key
        station[index] = _average(ctx, key, [own[i][index].value for i in ordered])
    return [
        Scorecard("agent", names.agents[i][0], names.agents[i][1], tuple(own[i]), tuple(station))
        for i in ordered
    ]


CARDS: Mapping[str, Callable[[Session, Context, Names, Period], list[Scorecard]]] = {
    "agent": agent_cards,
    "crew": crew_cards,
}


def of_team(names: Names, team_id: int, cards: list[Scorecard]) -> list[Scorecard]:
    """The cards of a team's people (agent cards) and crews (crew cards), each still beside
    the whole station (the station's column is computed over everyone listed, before this).
    ValueError for an unknown team."""
    people, crews = names.team(team_id)
    usernames = {names.agents[i][0] for i in people if i in names.agents}
    return [
        card
        for card in cards
        if (card.subject_kind == "agent" and card.subject in usernames)
        or (card.subject_kind == "crew" and card.subject.isdigit() and int(card.subject) in crews)
    ]
