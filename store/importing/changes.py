"""The writes an import plans, decided row by row against what the database holds, then made
in bulk: one INSERT ... VALUES of many rows and one executemany UPDATE per table, never a
statement per row (50,000 accounts in seconds, not minutes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from store.importing.report import ImportReport
from store.models import Base


@dataclass
class Changes:
    model: type[Base]
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    """Each with the row's "id" and every column of the record (one statement shape)."""

    def decide(
        self,
        report: ImportReport,
        existing: Mapping[str, Any] | None,
        target: dict[str, Any],
    ) -> None:
        """Count and plan one good row: a new record, a changed one, or the same again."""
        if existing is None:
            self.inserts.append(target)
            report.created += 1
        elif any(existing[name] != value for name, value in target.items()):
            self.updates.append({"id": existing["id"], **target})
            report.updated += 1
        else:
            report.unchanged += 1

    def apply(self, session: Session) -> None:
        """Updates first (a record may give up a unique value a new one takes), then inserts."""
        if self.updates:
            session.execute(update(self.model), self.updates)
        if self.inserts:
            session.execute(insert(self.model), self.inserts)
        session.flush()


def merged(
    existing: Mapping[str, Any] | None, values: Mapping[str, Any], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """The record a row asks for: the file's values over what is stored (a column the file
    lacks, or a blank optional cell, leaves the stored value alone), over the defaults of a
    new record."""
    base = dict(defaults) if existing is None else {k: existing[k] for k in defaults}
    return {**base, **{k: v for k, v in values.items() if k in defaults}}
