"""Ticket, application and outage numbers for generated history, from the station's own counters.

Live tickets take their numbers from `number_sequences` one upsert at a time
(store/services/numbers.py). The history takes thousands at once: the day's counters are read
once, numbers handed out after them in memory, and the counters written back at the end, so a
ticket opened live afterwards continues after the history's numbers instead of colliding.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from store.demodata.history.sink import table_of
from store.ids import APPLICATION_PREFIX, TICKET_PREFIX, format_number
from store.models import NumberSequence, Outage

OUTAGE_PREFIX: Final = "TD"
"""Outages are numbered TD + YYMMDD + a two-digit sequence (store/outages/publishing.py)."""
PREFIXES: Final = (TICKET_PREFIX, APPLICATION_PREFIX, OUTAGE_PREFIX)
OUTAGE_FIRST: Final = 11
"""History outages are numbered from 11 (the demo's own use 01 and 02); the day's counter is
raised past them, so an outage published live that day continues after."""


class NumberBook:
    def __init__(self, session: Session) -> None:
        self.session = session
        rows = session.execute(
            select(NumberSequence.prefix, NumberSequence.day, NumberSequence.last_value).where(
                NumberSequence.prefix.in_(PREFIXES)
            )
        )
        self._last: dict[tuple[str, str], int] = {(p, d): v for p, d, v in rows}
        self._existing = set(self._last)
        self._changed: set[tuple[str, str]] = set()
        self._outages = set(session.scalars(select(Outage.outage_no)))

    def next(self, prefix: str, day: date) -> str:
        """The next number of `prefix` on the station-local `day` (T2607140012)."""
        key = (prefix, f"{day:%y%m%d}")
        value = self._last.get(key, 0) + 1
        self._last[key] = value
        self._changed.add(key)
        return format_number(prefix, day, value)

    def outage(self, day: date) -> str:
        """A free outage number of the day."""
        key = (OUTAGE_PREFIX, f"{day:%y%m%d}")
        for n in range(max(OUTAGE_FIRST, self._last.get(key, 0) + 1), 100):
            number = f"{OUTAGE_PREFIX}{day:%y%m%d}{n:02d}"
            if number not in self._outages:
                self._outages.add(number)
                self._last[key] = n
                self._changed.add(key)
                return number
        raise ValueError(f"no free outage number left on {day}")

    def save(self) -> None:
        """Write the day counters the history moved: raised where the day had one, the others
        inserted in one go."""
        table = table_of(NumberSequence)
        new = [
            {"prefix": p, "day": d, "last_value": self._last[(p, d)]}
            for p, d in sorted(self._changed - self._existing)
        ]
        if new:
            self.session.execute(insert(table), new)
        for prefix, day in sorted(self._changed & self._existing):
            self.session.execute(
                update(table)
                .where(table.c.prefix == prefix, table.c.day == day)
                .values(last_value=self._last[(prefix, day)])
            )
        self._existing |= self._changed
        self._changed.clear()
