"""Who the history is about: the station's areas, crews and customers as the database has them,
and the agents who answered its chats.

The agents are the demo's (agent1, agent2, the supervisor) and, for a county, more of them. They
are staff users; when the history is made before `python -m store demo-users` ran, they are
created without a password (`demo_staff.LOCKED`: nobody can log in as them) and `demo-users`
gives them one later, so the demo's agent1 finds her own year of chats on her scorecard.
A county's data set also needs far more customers than the demo's 306: they are generated
(accounts only, no bills).
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.config import Settings
from store.demo_staff import DEMO_USERS, LOCKED
from store.demodata.crews import make_crews
from store.demodata.history.context import AccountRef, AgentRef, AreaRef, CrewRef, Station
from store.demodata.history.sink import RowSink, table_of
from store.demodata.people import PeopleFactory
from store.models import Account, AccountCategory, Crew, ServiceArea, StaffUser, crew_areas
from store.roles import StaffRole
from store.services.areas import sync_areas

HISTORY_STAFF = ("agent1", "agent2", "supervisor", "operator")
"""The demo users the history names (agents, and the operator who labels the NLU inbox)."""
COUNTY_ACCOUNT_BASE = 3_302_000_000
"""Generated customers get 10-digit numbers 3302xxxxxx (the demo's are 3301xxxxxx)."""


def _staff(session: Session, now: datetime, extra_agents: int) -> dict[str, StaffUser]:
    """The history's staff users, created locked when missing."""
    wanted = {u: (name, role, chats) for u, name, role, chats in DEMO_USERS if u in HISTORY_STAFF}
    for n in range(1, extra_agents + 1):
        wanted[f"kf{n:02d}"] = (f"客服{n:02d}号", StaffRole.AGENT.value, 3)
    users = {u.username: u for u in session.scalars(select(StaffUser))}
    for username, (name, role, chats) in wanted.items():
        if username not in users:
            user = StaffUser(
                username=username, display_name=name, password_hash=LOCKED, role=role,
                availability="offline", max_chats=chats, created_at=now,
            )  # fmt: skip
            session.add(user)
            users[username] = user
    session.flush()
    return {u: users[u] for u in wanted}


def _accounts(session: Session) -> dict[int, list[AccountRef]]:
    rows = session.execute(
        select(
            Account.id, Account.area_id, Account.account_no, Account.holder_name,
            Account.phone, Account.address,
        ).order_by(Account.id)
    )  # fmt: skip
    found: dict[int, list[AccountRef]] = {}
    for row in rows:
        found.setdefault(row.area_id, []).append(AccountRef(*row))
    return found


def top_up_accounts(
    session: Session, sink: RowSink, areas: list[ServiceArea], wanted: int, rng: random.Random
) -> int:
    """Generate customers until the station has `wanted` of them; how many were added."""
    have = int(session.scalar(select(func.count()).select_from(Account)) or 0)
    missing = max(0, wanted - have)
    if not missing:
        return 0
    factory = PeopleFactory(rng, set(session.scalars(select(Account.phone))))
    table = table_of(Account)
    for n in range(missing):
        area = areas[n % len(areas)]
        person = factory.person()
        sink.add(table, {
            "id": sink.new_id(table),
            "account_no": str(COUNTY_ACCOUNT_BASE + have + n),
            "holder_name": person.name, "phone": person.phone,
            "address": factory.address(area), "area_id": area.id,
            "category": AccountCategory.RESIDENTIAL.value, "household_size": rng.randint(1, 6),
            "prepaid": rng.random() < 0.15, "balance": Decimal("0.00"),
            "supply_status": "normal", "id_card_on_file": rng.random() < 0.7,
            "property_proof_on_file": rng.random() < 0.5, "meter_no": factory.meter_no(),
        })  # fmt: skip
        sink.checkpoint()
    sink.flush()
    return missing


def _crews(
    session: Session, areas: dict[str, ServiceArea], now: datetime
) -> dict[int, list[CrewRef]]:
    if session.scalar(select(Crew.id).limit(1)) is None:
        make_crews(session, areas, now)
    covering: dict[int, list[CrewRef]] = {}
    rows = session.execute(
        select(crew_areas.c.area_id, Crew.id, Crew.name)
        .join(Crew, Crew.id == crew_areas.c.crew_id)
        .where(Crew.active.is_(True))
        .order_by(Crew.id)
    )
    for area_id, crew_id, name in rows:
        covering.setdefault(area_id, []).append(CrewRef(crew_id, name))
    return covering


def load_station(
    session: Session, settings: Settings, sink: RowSink, *, now: datetime,
    accounts: int, extra_agents: int, rng: random.Random,
) -> Station:  # fmt: skip
    """The station as the history sees it (areas synced from conf/, crews made if none)."""
    areas = sync_areas(session, settings)
    crews = _crews(session, {a.name: a for a in areas}, now)
    top_up_accounts(session, sink, areas, accounts, rng)
    staff = _staff(session, now, extra_agents)
    agents = [u for u in staff.values() if u.role == StaffRole.AGENT]
    supervisor, operator = staff.get("supervisor"), staff.get("operator")
    return Station(
        areas=[AreaRef(a.id, a.code, a.name, a.kind) for a in areas],
        crews=crews,
        accounts=_accounts(session),
        agents=[AgentRef(u.id, u.username, u.display_name) for u in agents],
        supervisor=AgentRef(supervisor.id, supervisor.username, supervisor.display_name)
        if supervisor
        else None,
        operator_id=operator.id if operator else None,
    )
