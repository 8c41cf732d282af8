"""What of the service-quality figures each role sees (store/roles.py has the role sets).

The manager sees the whole station. A supervisor's team is the chat desk (staff have no teams
in the database; a station has one desk), so a supervisor sees the conversation figures, the
agent and channel filters, every agent's scorecard and the plan's measures on conversation
figures. An agent sees only their own scorecard. A request outside its scope is a 403 naming
what the role may see, never a silently narrower answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.console.state import ApiError
from store import roles

SECTIONS: Final = ("repairs", "applications", "complaints", "conversations")
"""The dashboard's sections, in display order (store/quality's `Figure.section`)."""
FILTERS: Final = ("area", "crew", "agent", "channel")
CHAT_DESK: Final = frozenset({"conversations"})


@dataclass(frozen=True)
class Scope:
    sections: frozenset[str]
    filters: frozenset[str]
    scorecards: frozenset[str]
    """Which kinds of scorecard ("agent", "crew")."""
    own_only: bool
    """Only the caller's own scorecard (agents)."""

    @property
    def name(self) -> str:
        if self.own_only:
            return "own"
        return "station" if set(self.sections) == set(SECTIONS) else "chat_desk"

    def sees_key(self, key: str) -> bool:
        """Whether a figure or scorecard key ("agent.csat") is the caller's to see."""
        return section_of(key) in self.sections or section_of(key) in self.scorecards

    def check_key(self, key: str) -> None:
        if section_of(key) not in self.sections:
            raise ApiError(403, "forbidden", f"your role does not see the figure {key}")

    def check_filters(self, given: dict[str, str]) -> None:
        for name in given:
            if name not in self.filters:
                raise ApiError(403, "forbidden", f"your role may not filter by {name}")

    def check_kind(self, kind: str) -> None:
        if kind not in self.scorecards:
            raise ApiError(403, "forbidden", f"your role does not see the {kind} scorecards")


def scope_of(role: str) -> Scope:
    if role in roles.SEES_ALL_QUALITY:
        return Scope(frozenset(SECTIONS), frozenset(FILTERS), frozenset({"agent", "crew"}), False)
    if role in roles.READS_QUALITY:
        return Scope(CHAT_DESK, frozenset({"agent", "channel"}), frozenset({"agent"}), False)
    return Scope(frozenset(), frozenset(), frozenset({"agent"}), True)


def section_of(key: str) -> str:
    """A figure key's section: its first part ("repairs.arrival_on_time_rate" → "repairs")."""
    return key.partition(".")[0]
