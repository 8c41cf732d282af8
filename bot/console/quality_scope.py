"""What of the service-quality figures each role sees (store/roles.py has the role sets).

The manager sees the whole station, and may narrow every figure to one team (the `team` filter).
A supervisor sees their team: the team they are in (store/services/teams.py). Its scope is the
repair figures of the crews it oversees, the application and complaint figures of the items its
people handled, and the figures of its people's work in chats (store/quality
`team_figure_keys`: queue waits, first response, resolution, CSAT and its response rate), the
scorecards of its agents and crews, and the plan's measures on those figures; every figure,
chart and drill-down is narrowed to the team (the `team` filter, always on). A section shows
when the team has something in it: crews for the repairs, someone with a case role (a clerk)
for the applications and the complaints, an agent for the conversations. Outages are no crew's,
complaints per 10,000 accounts the station's customers', and the bot's conversation figures
(volume, containment, fallbacks, inbox, '系统繁忙', abandonment) nobody's: no team's scope has
them. A supervisor in no team keeps the chat desk: every conversation figure, the agent
and channel filters, every agent's scorecard, the plan's measures on conversation figures.
An agent sees only their own scorecard. A request outside its scope is a 403 naming what the
role may see, never a silently narrower answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from bot.console.state import ApiError
from store import quality, roles
from store.quality import Filters
from store.services.teams import Roster

SECTIONS: Final = ("repairs", "applications", "complaints", "conversations")
"""The dashboard's sections, in display order (store/quality's `Figure.section`)."""
FILTERS: Final = ("area", "crew", "agent", "channel", "team")
CHAT_DESK: Final = frozenset({"conversations"})


@dataclass(frozen=True)
class Scope:
    sections: frozenset[str]
    filters: frozenset[str]
    scorecards: frozenset[str]
    """Which kinds of scorecard ("agent", "crew")."""
    own_only: bool
    """Only the caller's own scorecard (agents)."""
    team: Roster | None = None
    """The team a supervisor sees: every figure narrowed to it."""

    @property
    def name(self) -> str:
        if self.own_only:
            return "own"
        if self.team is not None:
            return "team"
        return "station" if set(self.sections) == set(SECTIONS) else "chat_desk"

    def _who(self) -> str:
        return f"your team ({self.team.name})" if self.team is not None else "your role"

    def sees_figure(self, key: str) -> bool:
        """Whether a dashboard figure ("repairs.arrival_minutes") is the caller's to see."""
        if section_of(key) not in self.sections:
            return False
        return self.team is None or key in quality.team_figure_keys()

    def sees_key(self, key: str) -> bool:
        """Whether a figure or scorecard key ("agent.csat") is the caller's to see."""
        return self.sees_figure(key) or section_of(key) in self.scorecards

    def check_key(self, key: str) -> None:
        if not self.sees_figure(key):
            raise ApiError(403, "forbidden", f"{self._who()} does not see the figure {key}")

    def check_filters(self, given: dict[str, str]) -> None:
        """Each filter given is one the caller may use, and for a team a value of its own."""
        for name, value in given.items():
            if name not in self.filters:
                raise ApiError(403, "forbidden", f"{self._who()} may not filter by {name}")
            if self.team is not None and not _in_team(self.team, name, value):
                raise ApiError(403, "forbidden", f"{name} {value} is not in {self._who()}")

    def narrow(self, filters: Filters) -> Filters:
        """The filters the computation gets: a team's scope always narrows to the team."""
        return filters if self.team is None else replace(filters, team_id=self.team.id)

    def check_kind(self, kind: str) -> None:
        if kind not in self.scorecards:
            raise ApiError(403, "forbidden", f"{self._who()} does not see the {kind} scorecards")


def _in_team(team: Roster, name: str, value: str) -> bool:
    if name == "agent":
        return value in team.usernames
    if name == "crew":
        return value.isdigit() and int(value) in team.crew_ids
    if name == "team":
        return value.isdigit() and int(value) == team.id
    return True


def leads_a_team(role: str) -> bool:
    """Whether the role's scope is the caller's team (supervisors): it needs their team."""
    return role in roles.READS_QUALITY and role not in roles.SEES_ALL_QUALITY


def scope_of(role: str, team: Roster | None = None) -> Scope:
    """The scope of `role`; `team`: the team a supervisor is in (None: in no team)."""
    if role in roles.SEES_ALL_QUALITY:
        return Scope(frozenset(SECTIONS), frozenset(FILTERS), frozenset({"agent", "crew"}), False)
    if role in roles.READS_QUALITY and team is not None:
        return team_scope(team)
    if role in roles.READS_QUALITY:
        return Scope(CHAT_DESK, frozenset({"agent", "channel"}), frozenset({"agent"}), False)
    return Scope(frozenset(), frozenset(), frozenset({"agent"}), True)


def team_scope(team: Roster) -> Scope:
    """A team's part: the repairs when it oversees a crew, the applications and complaints
    when a clerk is in it, the chats when an agent is."""
    sections, filters, kinds = set(), {"team"}, set()
    if team.crews:
        sections.add("repairs")
        filters |= {"area", "crew"}
        kinds.add("crew")
    if team.works_cases:
        sections |= {"applications", "complaints"}
        filters.add("area")
    if team.has_agents:
        sections.add("conversations")
        filters |= {"agent", "channel"}
        kinds.add("agent")
    return Scope(frozenset(sections), frozenset(filters), frozenset(kinds), False, team)


def section_of(key: str) -> str:
    """A figure key's section: its first part ("repairs.arrival_on_time_rate" → "repairs")."""
    return key.partition(".")[0]
