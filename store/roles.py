"""Staff roles and what each may do: the one place the role list lives.

The database's check constraint (store/models/staff.py), the CLI's `--role` choices, the console's
route guards (bot/console/auth.py) and the ownership rule (store/services/console_access.py)
all read these sets, so a new role is added here and nowhere else.

- agent: works chats; sees the conversations they handle (assigned to them now, waiting in
  the queue, or handled by them before).
- supervisor: everything an agent does, in every conversation of the station; the supervisor
  overview; the access log.
- manager: everything a supervisor has (the back office builds on it).
- operator: the supervisor overview and the NLU retraining page; no customer's conversation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class StaffRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    OPERATOR = "operator"


STAFF_ROLES: Final[tuple[str, ...]] = tuple(role.value for role in StaffRole)
"""Every role, in the order the database's check constraint lists them."""

ALL_ROLES: Final[frozenset[str]] = frozenset(STAFF_ROLES)
SEES_STATION: Final[frozenset[str]] = frozenset({StaffRole.SUPERVISOR, StaffRole.MANAGER})
"""Every conversation of the station, and writing in any assigned chat."""
WORKS_CHATS: Final[frozenset[str]] = frozenset({StaffRole.AGENT, *SEES_STATION})
"""The agent console and its API: claim, read, reply (agents only in their own chats)."""
OVERSEES: Final[frozenset[str]] = frozenset({*SEES_STATION, StaffRole.OPERATOR})
"""The supervisor overview (queue length, waits, agents' load): no customer's words."""
RETRAINS_NLU: Final[frozenset[str]] = frozenset({StaffRole.OPERATOR})
"""The NLU inbox, training and the model registry."""
READS_ACCESS_LOG: Final[frozenset[str]] = SEES_STATION
"""Who may list the record of staff opening customers' data."""
