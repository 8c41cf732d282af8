"""Customer accounts by account number (户号), and meters (表号) of known accounts.

An account names its area by code, name or alias; an unknown area rejects the row (import the
areas first). A meter number belongs to one account: a row giving an account a meter another
account holds is rejected, so a typo never moves a customer's meter.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.importing.changes import Changes, merged
from store.importing.report import ImportReport
from store.importing.rows import Row
from store.models import Account, AccountCategory, ServiceArea, SupplyStatus

ACCOUNT_DEFAULTS: dict[str, Any] = {
    "account_no": None,
    "holder_name": None,
    "phone": None,
    "address": None,
    "area_id": None,
    "meter_no": None,
    "category": AccountCategory.RESIDENTIAL.value,
    "household_size": 3,
    "prepaid": False,
    "balance": Decimal("0.00"),
    "supply_status": SupplyStatus.NORMAL.value,
    "id_card_on_file": False,
    "property_proof_on_file": False,
}
METER_DEFAULTS: dict[str, Any] = {"meter_no": None, "prepaid": False}


def _name_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def area_lookup(session: Session) -> dict[str, int]:
    """Code, name and every alias of each area → its id (a code wins over a name)."""
    lookup: dict[str, int] = {}
    areas = list(session.execute(select(ServiceArea)).scalars())
    for area in areas:
        for name in (area.name, area.name_en, *(area.aliases or [])):
            lookup.setdefault(_name_key(name), area.id)
    for area in areas:
        lookup[_name_key(area.code)] = area.id
    return lookup


def _stored_accounts(session: Session) -> dict[str, dict[str, Any]]:
    columns = [getattr(Account, name) for name in ACCOUNT_DEFAULTS]
    rows = session.execute(select(Account.id, *columns)).mappings()
    return {r["account_no"]: dict(r) for r in rows}


def _meter_taken(
    report: ImportReport, row: Row, target: dict[str, Any], owners: dict[str, str]
) -> bool:
    owner = owners.get(target["meter_no"])
    if owner is not None and owner != target["account_no"]:
        report.reject(row.line, [f"表号 {target['meter_no']} 已属于户号 {owner}"], owner)
        return True
    return False


def plan_accounts(session: Session, rows: list[Row], report: ImportReport) -> Changes:
    areas = area_lookup(session)
    stored = _stored_accounts(session)
    owners = {a["meter_no"]: no for no, a in stored.items()}
    changes = Changes(Account)
    for row in rows:
        values = dict(row.values)
        key = values["account_no"]
        area = values.pop("area")
        values["area_id"] = areas.get(_name_key(area))
        if values["area_id"] is None:
            report.reject(row.line, [f"台区“{area}”不存在（请先导入供电区域）"], key)
            continue
        existing = stored.get(key)
        target = merged(existing, values, ACCOUNT_DEFAULTS)
        if target["meter_no"] is None:
            report.reject(row.line, ["新户缺少表号"], key)
            continue
        if not _meter_taken(report, row, target, owners):
            changes.decide(report, existing, target)
    return changes


def plan_meters(session: Session, rows: list[Row], report: ImportReport) -> Changes:
    stored = _stored_accounts(session)
    owners = {a["meter_no"]: no for no, a in stored.items()}
    changes = Changes(Account)
    for row in rows:
        key = row.values["account_no"]
        existing = stored.get(key)
        if existing is None:
            report.reject(row.line, [f"户号 {key} 不存在（请先导入用户档案）"], key)
            continue
        target = merged(existing, row.values, METER_DEFAULTS)
        if not _meter_taken(report, row, {**target, "account_no": key}, owners):
            changes.decide(report, existing, target)
    return changes
