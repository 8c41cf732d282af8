"""What the slices of a breakdown are called, in Chinese and English: areas, crews, agents
(from the stores), channels, categories, stages, types and hours (from the configuration); and
who is in which team (the team filter: its crews' repairs, its people's chats, complaints and
applications)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.configuration.yamlfile import Label
from store.models import Crew, ServiceArea, StaffUser, Team
from store.quality.context import Context
from store.quality.periods import hour_bucket
from store.quality.types import Filters

REPAIR_CATEGORIES = ("fault", "hazard")


@dataclass(frozen=True)
class Names:
    ctx: Context
    areas: dict[int, Label]
    area_codes: dict[str, int]
    crews: dict[int, str]
    agents: dict[int, tuple[str, str]]
    """id → (username, display name)."""
    teams: dict[int, tuple[frozenset[int], frozenset[int]]]
    """team id → (its staff users' ids, the ids of the crews it oversees)."""

    def _unknown(self, what: str) -> tuple[str, str]:
        label = self.ctx.quality.unknown[what]
        return label.zh, label.en

    def area(self, area_id: Hashable) -> tuple[str, str]:
        label = self.areas.get(area_id) if isinstance(area_id, int) else None
        return (label.zh, label.en) if label else self._unknown("area")

    def crew(self, crew_id: Hashable) -> tuple[str, str]:
        name = self.crews.get(crew_id) if isinstance(crew_id, int) else None
        return (name, name) if name else self._unknown("crew")

    def agent(self, agent_id: Hashable) -> tuple[str, str]:
        found = self.agents.get(agent_id) if isinstance(agent_id, int) else None
        return (found[1], found[1]) if found else self._unknown("agent")

    def channel(self, code: Hashable) -> tuple[str, str]:
        if not code:
            return self._unknown("channel")
        label = self.ctx.quality.channels.get(str(code))
        return (label.zh, label.en) if label else (str(code), str(code))

    def category(self, kinds: tuple[str, ...], code: Hashable) -> tuple[str, str]:
        label = self.ctx.quality.category_label(kinds, str(code))
        return label.zh, label.en

    def hour(self, hour: Hashable) -> tuple[str, str]:
        return hour_bucket(int(hour) if isinstance(hour, int) else 0, self.ctx.quality.hour_bucket)

    def app_type(self, code: Hashable) -> tuple[str, str]:
        config = self.ctx.settings.applications.types.get(str(code))
        return (config.name_zh, config.name_en) if config else (str(code), str(code))

    def stage(self, type_and_stage: Hashable) -> tuple[str, str]:
        """A (type, stage) pair: "新装·勘查"."""
        app_type, stage = type_and_stage if isinstance(type_and_stage, tuple) else ("", "")
        type_zh, type_en = self.app_type(app_type)
        labels = self.ctx.settings.labels.application_stages
        label = labels.get(str(stage), Label(str(stage), str(stage)))
        return f"{type_zh}·{label.zh}", f"{type_en}: {label.en}"

    def area_id(self, filters: Filters) -> int | None:
        """The id of the filters' area (by code or name); ValueError for an unknown area."""
        if filters.area is None:
            return None
        found = self.area_codes.get(filters.area)
        if found is None:
            raise ValueError(f"unknown area {filters.area!r}")
        return found

    def agent_id(self, filters: Filters) -> int | None:
        """The id of the filters' agent (username); ValueError for an unknown one."""
        if filters.agent is None:
            return None
        found = next((i for i, (u, _) in self.agents.items() if u == filters.agent), None)
        if found is None:
            raise ValueError(f"unknown agent {filters.agent!r}")
        return found

    def team(self, team_id: int) -> tuple[frozenset[int], frozenset[int]]:
        """A team's staff users' ids and its crews' ids; ValueError for an unknown team."""
        found = self.teams.get(team_id)
        if found is None:
            raise ValueError(f"unknown team {team_id!r}")
        return found

    def _team(self, filters: Filters) -> tuple[frozenset[int], frozenset[int]] | None:
        return None if filters.team_id is None else self.team(filters.team_id)

    def agent_ids(self, filters: Filters) -> frozenset[int] | None:
        """The staff whose chats the filters keep: the agent's, the team's people's, or both
        (an agent outside the team: nobody); None for everyone. ValueError for an unknown
        agent or team."""
        agent_id, team = self.agent_id(filters), self._team(filters)
        if team is None:
            return None if agent_id is None else frozenset({agent_id})
        return team[0] if agent_id is None else team[0] & {agent_id}

    def handler_ids(self, filters: Filters) -> frozenset[int] | None:
        """The staff whose complaints and applications the filters keep: the team's people (an
        item with no handler is no team's); None for every item. The agent filter does not
        concern them. ValueError for an unknown team."""
        team = self._team(filters)
        return None if team is None else team[0]

    def handler(self, staff_id: Hashable) -> dict[str, str]:
        """A drill-down row's handler column: the staff user's display name; nothing when the
        item has none."""
        found = self.agents.get(staff_id) if isinstance(staff_id, int) else None
        return {"handler": found[1]} if found else {}

    def crew_ids(self, filters: Filters) -> frozenset[int] | None:
        """The crews whose repairs the filters keep: the crew, the team's crews, or both; None
        for every repair (those with no crew too). ValueError for an unknown team."""
        team = self._team(filters)
        crew = None if filters.crew_id is None else frozenset({filters.crew_id})
        if team is None:
            return crew
        return team[1] if crew is None else team[1] & crew


def load_names(session: Session, ctx: Context) -> Names:
    areas = list(session.execute(select(ServiceArea.id, ServiceArea.code, ServiceArea.name,
                                        ServiceArea.name_en)))  # fmt: skip
    codes = {code: i for i, code, _, _ in areas} | {name: i for i, _, name, _ in areas}
    crews = list(session.execute(select(Crew.id, Crew.name, Crew.team_id)))
    staff = list(session.execute(select(StaffUser.id, StaffUser.username,
                                        StaffUser.display_name, StaffUser.team_id)))  # fmt: skip
    teams = {
        team_id: (
            frozenset(i for i, _, _, t in staff if t == team_id),
            frozenset(i for i, _, t in crews if t == team_id),
        )
        for team_id in session.scalars(select(Team.id))
    }
    return Names(
        ctx=ctx,
        areas={i: Label(name, en) for i, _, name, en in areas},
        area_codes=codes,
        crews={i: name for i, name, _ in crews},
        agents={i: (u, d) for i, u, d, _ in staff},
        teams=teams,
    )
