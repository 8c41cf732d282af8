"""What every part of the history generator shares: the station's areas, crews, customers and
agents (as plain references, not ORM objects), the random source, the clock helpers and the
sink the rows go to."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import TypeVar
from zoneinfo import ZoneInfo

from store.config import Settings
from store.configuration.service import on_duty
from store.demodata.history.numbering import NumberBook
from store.demodata.history.patterns import Patterns, Scale
from store.demodata.history.sink import RowSink
from store.demodata.people import GIVEN, PHONE_PREFIXES, STREETS, SURNAMES

T = TypeVar("T")

#: Relative weight of each hour of the day for customers' reports and chats (station time).
CUSTOMER_HOURS = (
    0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 1.9, 1.9, 1.7,
    1.4, 1.5, 1.7, 1.7, 1.6, 1.6, 1.8, 2.0, 1.9, 1.5, 0.9, 0.5,
)  # fmt: skip
_HOURS = tuple(range(24))
_HOURS_CUMULATIVE = tuple(accumulate(CUSTOMER_HOURS))


@dataclass(frozen=True)
class AreaRef:
    id: int
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class CrewRef:
    id: int
    name: str


@dataclass(frozen=True)
class AccountRef:
    id: int
    area_id: int
    account_no: str
    holder_name: str
    phone: str
    address: str


@dataclass(frozen=True)
class AgentRef:
    id: int
    username: str
    display_name: str


@dataclass
class Station:
    areas: list[AreaRef]
    crews: dict[int, list[CrewRef]]
    """Area id → the crews covering it."""
    accounts: dict[int, list[AccountRef]]
    """Area id → its customers."""
    agents: list[AgentRef]
    supervisor: AgentRef | None
    operator_id: int | None


@dataclass
class Ctx:
    settings: Settings
    rng: random.Random
    patterns: Patterns
    scale: Scale
    sink: RowSink
    numbers: NumberBook
    station: Station
    texts: dict[str, str] = field(default_factory=dict)
    """The gateway's and the handoff desk's own words (conf/gateway.yml, conf/handoff.yml)."""

    # --- the calendar -------------------------------------------------------------------
    def days(self) -> Iterator[date]:
        day, last = self.patterns.start, self.patterns.end.astimezone(self.tz).date()
        while day <= last:
            yield day
            day += timedelta(days=1)

    @property
    def tz(self) -> ZoneInfo:
        return self.patterns.tz

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def at(self, day: date, minutes: float) -> datetime:
        """The aware instant `minutes` after the local midnight of `day`."""
        midnight = datetime.combine(day, time(0), tzinfo=self.tz)
        return midnight + timedelta(minutes=minutes)

    def customer_time(self, day: date) -> datetime:
        """When a customer writes or calls on `day` (evenings busy, nights quiet)."""
        hour = self.rng.choices(_HOURS, cum_weights=_HOURS_CUMULATIVE)[0]
        return self.at(day, hour * 60 + self.rng.uniform(0, 60))

    def working_day(self, day: date) -> bool:
        return self.settings.calendar.is_working_day(day)

    def office_time(self, moment: datetime, *, gap_hours: float = 0) -> datetime:
        """The first office moment (a working day, 08:40-17:00) at least `gap_hours` after
        `moment`, with a random part of the working day added."""
        local = (moment + timedelta(hours=gap_hours)).astimezone(self.tz)
        day, minutes = local.date(), local.hour * 60 + local.minute
        if minutes > 16 * 60 + 30 or not self.working_day(day):
            day, minutes = day + timedelta(days=1), 0
        while not self.working_day(day):
            day += timedelta(days=1)
        start = max(minutes, 8 * 60 + 40)
        return self.at(day, self.rng.uniform(start, max(start + 1, 17 * 60)))

    def agents_on_duty(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return self.working_day(local.date()) and on_duty(self.settings.service.agent_hours, local)

    def finished(self, moment: datetime) -> bool:
        """Whether something ending at `moment` belongs to the history (else it is left out)."""
        return moment <= self.patterns.end

    # --- random helpers -----------------------------------------------------------------
    def count(self, mean: float) -> int:
        """A Poisson count around `mean` (a normal approximation for large means)."""
        if mean <= 0:
            return 0
        if mean > 40:
            return max(0, round(self.rng.gauss(mean, math.sqrt(mean))))
        limit, k, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            k += 1
            product *= self.rng.random()
        return k

    def spread(self, median: float, sigma: float = 0.45) -> float:
        """A right-skewed positive amount around `median` (log-normal)."""
        return median * math.exp(self.rng.gauss(0, sigma))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def person(self) -> tuple[str, str]:
        """A made-up name and mobile number (an applicant who is not yet a customer)."""
        name = self.pick(SURNAMES) + self.pick(GIVEN)
        return name, self.pick(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def address(self, area: AreaRef) -> str:
        """Where a caller who is not a known customer says the fault is."""
        if area.kind == "urban":
            return f"{area.name}{self.pick(STREETS)}{self.rng.randint(1, 199)}号"
        return f"{area.name}{self.rng.randint(1, 12)}组{self.rng.randint(1, 60)}号"

    def area_of_kind(self, *kinds: str) -> AreaRef:
        return self.pick([a for a in self.station.areas if a.kind in kinds])

    def customer(self, area: AreaRef) -> AccountRef | None:
        found = self.station.accounts.get(area.id)
        return self.pick(found) if found else None
