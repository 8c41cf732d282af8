"""Ticket and application numbers that never collide, even when created at the same moment.

The day's counter lives in `number_sequences` and is incremented by one upsert statement
(INSERT ... ON CONFLICT DO UPDATE ... RETURNING) inside the caller's transaction: a second
transaction waits on the row lock (PostgreSQL) or the write lock (SQLite) and gets the next
value, instead of both counting today's tickets and picking the same number.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.ids import format_number
from store.models import NumberSequence


def next_number(session: Session, prefix: str, now: datetime, tz: ZoneInfo) -> str:
    """The next number of the station-local day of `now`, e.g. T2611230007."""
    day, value = next_sequence(session, prefix, now, tz)
    return format_number(prefix, day, value)


def next_sequence(session: Session, prefix: str, now: datetime, tz: ZoneInfo) -> tuple[date, int]:
    """The station-local day of `now` and the next value of its counter for `prefix` (any
    prefix: outages number themselves TD + day + sequence)."""
    day = now.astimezone(tz).date()
    dialect = session.get_bind().dialect.name
    values = {"prefix": prefix, "day": f"{day:%y%m%d}", "last_value": 1}
    keys = [NumberSequence.prefix, NumberSequence.day]
    bump = {"last_value": NumberSequence.last_value + 1}
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        pg = postgresql.insert(NumberSequence).values(values)
        stmt = pg.on_conflict_do_update(index_elements=keys, set_=bump)
    elif dialect == "sqlite":
        lite = sqlite.insert(NumberSequence).values(values)
        stmt = lite.on_conflict_do_update(index_elements=keys, set_=bump)
    else:
        raise NotImplementedError(f"numbering is not implemented for {dialect}")
    value = session.execute(stmt.returning(NumberSequence.last_value)).scalar_one()
    return day, int(value)
