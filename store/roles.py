"""Staff roles and what each may do: the one place the role list lives.

The database's check constraint (store/models/staff.py), the CLI's `--role` choices, the console's
route guards (bot/console/auth.py) and the ownership rule (store/services/console_access.py)
all read these sets, so a new role is added here and nowhere else.

- agent: works chats; sees the conversations they handle (assigned to them now, waiting in
  the queue, or handled by them before).
- supervisor: everything an agent does, in every conversation of the station; the supervisor
  overview; the access log.
- manager (站长): everything a supervisor has, and the whole back office, read and write.
- operator: the supervisor overview and the NLU retraining page; no customer's conversation.
- dispatcher (调度): repair tickets and crews (the back office's work orders).
- crew (抢修班组 member): only the tickets assigned to their own crew.
- clerk (营业员): applications, complaints, suggestions and praise; customer records.
- outages (issue 19): dispatchers, supervisors and managers publish outages and their notices.

Service quality (issue 18, docs/manager.md): the manager sees the whole station's dashboard and
writes the improvement plan; a supervisor sees it for their team, the team they are in
(`staff_users.team_id`, store/services/teams.py): its crews' repairs, the complaints and
applications its clerks handled, its agents' chats and scorecards, the plan's measures on those
figures (read only; bot/console/quality_scope.py). A supervisor in no team sees the chat
desk: the conversation figures, every agent's scorecard. An agent sees only their own scorecard.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class StaffRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    OPERATOR = "operator"
    DISPATCHER = "dispatcher"
    CREW = "crew"
    CLERK = "clerk"


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
DISPATCHES: Final[frozenset[str]] = frozenset({StaffRole.DISPATCHER, StaffRole.MANAGER})
"""Repair work orders: the list, assigning crews, every step of a repair, callbacks."""
WORKS_CREW_TICKETS: Final[frozenset[str]] = frozenset({StaffRole.CREW, *DISPATCHES})
"""A ticket's steps on site (arrived, restored); crew members only on their crew's tickets."""
WORKS_CASES: Final[frozenset[str]] = frozenset({StaffRole.CLERK, StaffRole.MANAGER})
"""Complaints, reports, suggestions, praise and applications."""
READS_CUSTOMERS: Final[frozenset[str]] = frozenset(
    {StaffRole.CLERK, StaffRole.DISPATCHER, *SEES_STATION}
)
"""Customer records: search and the customer page (each opening recorded)."""
IMPORTS_DATA: Final[frozenset[str]] = frozenset({StaffRole.MANAGER})
"""Uploading the billing system's exports (accounts, meters, bills, service areas)."""
PUBLISHES_OUTAGES: Final[frozenset[str]] = frozenset({StaffRole.DISPATCHER, *SEES_STATION})
"""Outages: publishing, editing, postponing, cancelling, progress, restoration, suspected
outages (/console/outages, docs/outages.md)."""
READS_QUALITY: Final[frozenset[str]] = frozenset({StaffRole.MANAGER, StaffRole.SUPERVISOR})
"""The service-quality dashboard: figures against targets, charts, drill-down, bottlenecks and
the improvement plan (supervisors: their team's part of it)."""
SEES_ALL_QUALITY: Final[frozenset[str]] = frozenset({StaffRole.MANAGER})
"""Every section of the dashboard (repairs, applications, complaints, conversations), every
filter and the crews' scorecards: the whole station."""
PLANS_QUALITY: Final[frozenset[str]] = frozenset({StaffRole.MANAGER})
"""Creating and editing the improvement plan's measures."""
READS_SCORECARDS: Final[frozenset[str]] = frozenset({StaffRole.AGENT, *READS_QUALITY})
"""The monthly scorecards and their export: agents see only their own."""
