"""Monthly bills by account and period (账期), with their readings and tier split.

A billing export usually has the readings, kWh and amounts; what it lacks is derived the way
the assistant explains bills (store/tariff.py): the usage since the start of the tier year
before the period from the account's earlier bills (in the file, else stored), the tier split
from it and the household's limits, the total from the charges, the due date from the tariff.
A stored bill keeps its payment state, late fee and adjustment when the file has no column
for them.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.config import Tariffs
from store.importing.changes import Changes, merged
from store.importing.report import ImportReport
from store.importing.rows import Row
from store.models import Account, AccountCategory, Bill
from store.tariff import due_date, parse_period, split_tiers

DEFAULTS: dict[str, Any] = {
    "account_id": None,
    "period": None,
    "last_reading": None,
    "this_reading": None,
    "multiplier": 1,
    "kwh": None,
    "ytd_kwh_before": None,
    "tier1_kwh": None,
    "tier2_kwh": None,
    "tier3_kwh": None,
    "peak_kwh": None,
    "valley_kwh": None,
    "energy_amount": None,
    "late_fee": Decimal("0.00"),
    "adjustment": Decimal("0.00"),
    "total": None,
    "estimated_reading": False,
    "paid": False,
    "paid_at": None,
    "due_date": None,
}
DERIVED = ("ytd_kwh_before", "tier1_kwh", "tier2_kwh", "tier3_kwh", "total")
"""Computed when the file does not give them (for a stored bill too: its kWh may change)."""


def tier_year_start(tariffs: Tariffs, period: str) -> str:
    year, month = parse_period(period)
    start = tariffs.year_start_month
    return f"{year if month >= start else year - 1:04d}-{start:02d}"


def _stored_bills(session: Session, periods: set[str]) -> dict[tuple[int, str], dict[str, Any]]:
    columns = [getattr(Bill, name) for name in DEFAULTS]
    stmt = select(Bill.id, *columns).where(Bill.period.in_(sorted(periods)))
    return {(r["account_id"], r["period"]): dict(r) for r in session.execute(stmt).mappings()}


def _usage_before(
    session: Session, tariffs: Tariffs, targets: list[dict[str, Any]]
) -> dict[tuple[int, str], int]:
    """(account id, period) → kWh of the account's earlier periods in the same tier year,
    the file's bills taking the place of stored ones."""
    if not targets:
        return {}
    first = min(tier_year_start(tariffs, t["period"]) for t in targets)
    last = max(t["period"] for t in targets)
    stmt = select(Bill.account_id, Bill.period, Bill.kwh).where(
        Bill.period >= first, Bill.period < last
    )
    usage: dict[int, dict[str, int]] = defaultdict(dict)
    for account_id, period, kwh in session.execute(stmt):
        usage[account_id][period] = kwh
    for t in targets:
        usage[t["account_id"]][t["period"]] = t["kwh"]
    result = {}
    for t in targets:
        start = tier_year_start(tariffs, t["period"])
        periods = usage[t["account_id"]]
        result[(t["account_id"], t["period"])] = sum(
            kwh for p, kwh in periods.items() if start <= p < t["period"]
        )
    return result


def _derive(target: dict[str, Any], ytd: int, account: Any, tariffs: Tariffs) -> None:
    if target["ytd_kwh_before"] is None:
        target["ytd_kwh_before"] = ytd
    if target["tier1_kwh"] is None:
        if account.category == AccountCategory.RESIDENTIAL:
            limits = tariffs.limits_for(account.household_size)
            split = split_tiers(target["kwh"], target["ytd_kwh_before"], limits)
        else:
            split = (target["kwh"], 0, 0)
        target["tier1_kwh"], target["tier2_kwh"], target["tier3_kwh"] = split
    if target["total"] is None:
        target["total"] = target["energy_amount"] + target["late_fee"] + target["adjustment"]
    if target["due_date"] is None:
        target["due_date"] = due_date(tariffs, target["period"])
    if target["paid_at"] is not None:
        target["paid"] = True


def plan_bills(
    session: Session, rows: list[Row], report: ImportReport, tariffs: Tariffs
) -> Changes:
    stmt = select(Account.id, Account.account_no, Account.category, Account.household_size)
    accounts = {a.account_no: a for a in session.execute(stmt)}
    stored = _stored_bills(session, {row.values["period"] for row in rows})
    planned: list[tuple[dict[str, Any], dict[str, Any] | None, Any]] = []
    for row in rows:
        account = accounts.get(row.values["account_no"])
        if account is None:
            no = row.values["account_no"]
            report.reject(row.line, [f"户号 {no} 不存在（请先导入用户档案）"], no)
            continue
        values = {**row.values, "account_id": account.id}
        existing = stored.get((account.id, values["period"]))
        target = merged(existing, values, DEFAULTS)
        for name in DERIVED:
            if name not in values:
                target[name] = None
        if values.get("paid") is False:
            target["paid_at"] = None
        planned.append((target, existing, account))
    ytd = _usage_before(session, tariffs, [t for t, _e, _a in planned])
    changes = Changes(Bill)
    for target, existing, account in planned:
        _derive(target, ytd[(target["account_id"], target["period"])], account, tariffs)
        changes.decide(report, existing, target)
    return changes
