"""What the slices of a breakdown are called, in Chinese and English: areas, crews, agents
(from the stores), channels, categories, stages, types and hours (from the configuration)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.configuration.yamlfile import Label
from store.models import Crew, ServiceArea, StaffUser
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


def load_names(session: Session, ctx: Context) -> Names:
    areas = list(session.execute(select(ServiceArea.id, ServiceArea.code, ServiceArea.name,
                                        ServiceArea.name_en)))  # fmt: skip
    codes = {code: i for i, code, _, _ in areas} | {name: i for i, _, name, _ in areas}
    return Names(
        ctx=ctx,
        areas={i: Label(name, en) for i, _, name, en in areas},
        area_codes=codes,
        crews={i: name for i, name in session.execute(select(Crew.id, Crew.name))},
        agents={
            i: (u, d)
            for i, u, d in session.execute(
                select(StaffUser.id, StaffUser.username, StaffUser.display_name)
            )
        },
    )
