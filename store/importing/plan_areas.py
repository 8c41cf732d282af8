"""Service areas (台区 / 供电区域) by code: created, or updated in place (areas are never
deleted by an import: tickets and accounts refer to them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.importing.changes import Changes, merged
from store.importing.report import ImportReport
from store.importing.rows import Row
from store.models import ServiceArea

DEFAULTS: dict[str, Any] = {
    "code": None,
    "name": None,
    "name_en": None,
    "kind": None,
    "aliases": [],
}


def plan_areas(session: Session, rows: list[Row], report: ImportReport) -> Changes:
    columns = [ServiceArea.id, ServiceArea.code, ServiceArea.name, ServiceArea.name_en]
    stmt = select(*columns, ServiceArea.kind, ServiceArea.aliases)
    existing = {r["code"]: dict(r) for r in session.execute(stmt).mappings()}
    changes = Changes(ServiceArea)
    for row in rows:
        stored = existing.get(row.values["code"])
        target = merged(stored, row.values, DEFAULTS)
        if stored is None:
            target["name_en"] = target["name_en"] or target["name"]
            if target["kind"] is None:
                report.reject(row.line, ["新区域缺少区域类型（城镇、农村或偏远）"], target["code"])
                continue
        target["aliases"] = list(target["aliases"] or [])
        changes.decide(report, stored, target)
    return changes
