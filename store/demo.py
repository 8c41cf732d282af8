"""Deterministic demo data: `python -m store seed [--reset] [--seed N] [--now ISO]`.

For a given seed and `now` the rows are identical (ids included), so README examples and
tests can name accounts, tickets and amounts. Dates are relative to `now`: the fault in 西河村
is always being repaired "now", the planned outage in 南塘村 always starts in three days.
The five accounts in DEMO_ACCOUNTS are fixed stories, described in docs/demo-data.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from store.config import Settings
from store.demodata.applications import ApplicationMaker, build_applications
from store.demodata.bills import BillPlan, last_periods, make_bills
from store.demodata.crews import make_crews
from store.demodata.featured import renumber_featured
from store.demodata.outages import make_outages
from store.demodata.people import PeopleFactory, random_account
from store.demodata.teams import ensure_demo_teams
from store.demodata.ticket_set import build_tickets
from store.demodata.tickets import TicketMaker
from store.models import (
    Account,
    AccountCategory,
    Application,
    Base,
    Bill,
    Outage,
    ServiceArea,
    SupplyStatus,
    Ticket,
)
from store.services.areas import sync_areas
from store.sla import require_aware
from store.tariff import parse_period, shift_period

DEFAULT_SEED = 2026
BILL_MONTHS = 12
#: Random accounts per area, by area kind (plus the five fixed ones: 306 in all).
ACCOUNTS_PER_AREA = {"urban": 42, "rural": 27, "remote": 14}


@dataclass(frozen=True)
class DemoAccount:
    account_no: str
    holder_name: str
    phone: str
    address: str
    area_name: str
    story: str


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("3301000001", "张建国", "13905710001", "东山村3组12号", "东山村",
                "rural residential, supply normal, every bill paid, ID card on file"),
    DemoAccount("3301000002", "李秀英", "13905710002", "青溪社区幸福路8号", "青溪社区",
                "urban; last month's bill crossed into tier 2 (high bill) and is unpaid"),
    DemoAccount("3301000003", "王大伟", "13905710003", "高岭村1组5号", "高岭村",
                "remote; three bills unpaid, balance below 0, disconnected for arrears"),
    DemoAccount("3303301000004", "赵敏", "13905710004", "西河村2组", "西河村",
                "13-digit number; inside the current fault outage; open new-connection "
                "application; no property proof on file"),
    DemoAccount("3301000005", "陈志强", "13905710005", "桃源村4组", "桃源村",
                "prepaid, household of 5; a repair in progress (crew on site) and a closed one"),
)  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    areas: int
    accounts: int
    bills: int
    outages: int
    tickets: int
    applications: int


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Account)))


def reset(session: Session) -> None:
    """Delete every row (migrations stay) and restart ids, so a new seed repeats exactly."""
    tables = list(reversed(Base.metadata.sorted_tables))
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        # a message names the message it answers (in_reply_to_id, not indexed): for each row it
        # deletes SQLite would scan the whole table for replies to it (minutes with the
        # history's 40,000 messages) without this index, which lives only while it deletes
        session.execute(
            text(f"CREATE INDEX IF NOT EXISTS {_RESET_INDEX} ON messages (in_reply_to_id)")
        )
        for table in tables:  # SQLite reuses rowids from 1 once a table is empty
            session.execute(table.delete())
        session.execute(text(f"DROP INDEX {_RESET_INDEX}"))
    session.flush()


_RESET_INDEX = "ix_reset_messages_in_reply_to"


def _demo_account(
    factory: PeopleFactory, areas: dict[str, ServiceArea], demo: DemoAccount, **flags: object
) -> Account:
    values: dict[str, object] = {
        "category": AccountCategory.RESIDENTIAL,
        "household_size": 3,
        "prepaid": False,
        "balance": Decimal("0.00"),
        "supply_status": SupplyStatus.NORMAL,
        "id_card_on_file": True,
        "property_proof_on_file": True,
    }
    values.update(flags)
    return Account(
        account_no=demo.account_no,
        holder_name=demo.holder_name,
        phone=demo.phone,
        address=demo.address,
        area=areas[demo.area_name],
        meter_no=factory.meter_no(),
        **values,
    )


def _crossing_plan(periods: list[str], year_start_month: int) -> BillPlan:
    """李秀英: 2000 kWh in the tier year before last month, then 400 kWh (160 in tier 1, 240 in
    tier 2 with the default limits), 260 of them in peak hours."""
    latest = periods[-1]
    earlier = []
    period = latest
    while parse_period(period)[1] != year_start_month:
        period = shift_period(period, -1)
        earlier.append(period)
    fixed = {p: 2000 // len(earlier) for p in earlier}
    if earlier:
        fixed[earlier[0]] += 2000 - sum(fixed.values())
    fixed[latest] = 400 if earlier else 2400
    return BillPlan(
        base_kwh=220, peak_share=0.6, unpaid_latest=1, late_payer=0.0, adjustments=False,
        fixed_kwh=fixed, fixed_peak={latest: 260},
    )  # fmt: skip


def _random_plan(rng: random.Random, account: Account, periods: list[str]) -> BillPlan:
    residential = account.category == AccountCategory.RESIDENTIAL
    base = 60 + 35 * account.household_size + rng.randint(-30, 60)
    arrears = not account.prepaid and rng.random() < 0.04
    if arrears:
        account.supply_status = SupplyStatus.DISCONNECTED
    return BillPlan(
        base_kwh=base if residential else rng.randint(300, 900),
        multiplier=1 if residential else rng.choice((1, 1, 5)),
        peak_share=rng.uniform(0.55, 0.72) if residential and rng.random() < 0.4 else None,
        unpaid_latest=3 if arrears else int(not account.prepaid and rng.random() < 0.3),
        late_payer=rng.choice((0.0, 0.05, 0.1, 0.3)),
        estimated=tuple(p for p in periods if rng.random() < 0.04),
    )


def _accounts(
    rng: random.Random, settings: Settings, areas: dict[str, ServiceArea], periods: list[str]
) -> tuple[dict[str, Account], list[Account], list[tuple[Account, BillPlan]], PeopleFactory]:
    factory = PeopleFactory(rng, {d.phone for d in DEMO_ACCOUNTS})
    d = {a.account_no: a for a in DEMO_ACCOUNTS}
    demo = {
        "3301000001": _demo_account(factory, areas, d["3301000001"], household_size=4),
        "3301000002": _demo_account(factory, areas, d["3301000002"]),
        "3301000003": _demo_account(
            factory, areas, d["3301000003"], household_size=2,
            supply_status=SupplyStatus.DISCONNECTED, property_proof_on_file=False,
        ),
        "3303301000004": _demo_account(
            factory, areas, d["3303301000004"], property_proof_on_file=False
        ),
        "3301000005": _demo_account(
            factory, areas, d["3301000005"], household_size=5, prepaid=True,
            balance=Decimal("156.80"),
        ),
    }  # fmt: skip
    plans = [
        (demo["3301000001"], BillPlan(base_kwh=160, late_payer=0.0, adjustments=False)),
        (demo["3301000002"], _crossing_plan(periods, settings.tariffs.year_start_month)),
        (demo["3301000003"], BillPlan(base_kwh=110, unpaid_latest=3, adjustments=False)),
        (demo["3303301000004"], BillPlan(base_kwh=150, late_payer=0.0, adjustments=False)),
        (demo["3301000005"], BillPlan(base_kwh=230, peak_share=0.62, adjustments=False)),
    ]
    pool = []
    for area in sorted(areas.values(), key=lambda a: a.code):
        for _ in range(ACCOUNTS_PER_AREA[area.kind]):
            account = random_account(factory, area)
            pool.append(account)
            plans.append((account, _random_plan(rng, account, periods)))
    return demo, pool, plans, factory


_BILL_COLUMNS = [c.key for c in Bill.__table__.columns if c.key not in ("id", "account_id")]


def _row(bill: Bill, account: Account) -> dict[str, object]:
    row = {key: getattr(bill, key) for key in _BILL_COLUMNS}
    row["account_id"] = account.id
    return row


def seed(
    session: Session, settings: Settings, *, now: datetime, seed: int = DEFAULT_SEED
) -> DemoSummary:
    """Fill an empty database with the demo station as it is at `now`."""
    require_aware(now)
    rng = random.Random(seed)
    today = now.astimezone(settings.tz).date()
    periods = last_periods(today, BILL_MONTHS)
    areas = {a.name: a for a in sync_areas(session, settings)}
    demo, pool, plans, factory = _accounts(rng, settings, areas, periods)
    session.add_all([*demo.values(), *pool])
    session.flush()
    rows: list[dict[str, object]] = []
    for account, plan in plans:
        bills = make_bills(rng, settings, account, plan, periods, today)
        rows.extend(_row(bill, account) for bill in bills)
        if not account.prepaid:
            account.balance = -sum((b.total for b in bills if not b.paid), Decimal("0.00"))
        elif account.account_no not in demo:
            account.balance = Decimal(rng.randint(2000, 40000)) / 100
    # 3,600+ bills: one bulk INSERT without RETURNING instead of ORM objects (4x faster)
    session.execute(insert(Bill), rows)
    session.flush()
    outages = make_outages(settings, areas, now)
    session.add_all([outages.current_fault, outages.planned, *(p.outage for p in outages.past)])
    session.flush()
    make_crews(session, areas, now)
    ensure_demo_teams(session, now)
    build_tickets(TicketMaker(session, settings, rng, now, pool), demo, outages)
    maker = ApplicationMaker(session, settings, rng, now, pool, factory)
    build_applications(maker, demo["3303301000004"])
    session.flush()
    renumber_featured(session, zhao=demo["3303301000004"], chen=demo["3301000005"])

    def count(model: type[Base]) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return DemoSummary(
        areas=count(ServiceArea),
        accounts=count(Account),
        bills=count(Bill),
        outages=count(Outage),
        tickets=count(Ticket),
        applications=count(Application),
    )
