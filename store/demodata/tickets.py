"""Demo work orders of every type, open and closed, with believable histories.

Tickets are created through the real services (so numbers, deadlines and outage merging are
the production ones) in chronological order, each with the steps staff would have taken.
Timings scatter around the commitments, so some tickets are late and some still overdue.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from store.config import Settings
from store.demodata.outages import PastOutage
from store.models import Account, ServiceArea, Ticket
from store.services import outages as outage_service
from store.services import tickets

CREWS = ("抢修一班", "抢修二班", "东片抢修组", "西片抢修组", "山区抢修组")
FAULT_TEXTS = (
    "家里突然没电了，邻居家也没电",
    "俺家停电了，总闸没跳",
    "只有我家没电，空开合不上",
    "电压不稳，灯一闪一闪的",
    "一个多小时没电了，冰箱里东西要坏了",
    "整个组都停电了",
)
Step = tuple[str, int, str, str | None]
"""(status, minutes after the previous step, actor, note)"""


@dataclass
class Plan:
    """Actions to run in time order: ticket creations and outage restorations."""

    actions: list[tuple[datetime, int, Callable[[], None]]] = field(default_factory=list)

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        self.actions.append((when, len(self.actions), action))

    def run(self) -> None:
        for _, _, action in sorted(self.actions, key=lambda item: (item[0], item[1])):
            action()


class TicketMaker:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        rng: random.Random,
        now: datetime,
        pool: list[Account],
    ) -> None:
        self.session, self.settings, self.rng, self.now = session, settings, rng, now
        self.pool = pool
        self.used: set[int] = set()
        self.plan = Plan()
        self.conversations = 0

    def account(self, area_name: str | None = None, *, settled: bool = False) -> Account:
        """A customer not used by another demo ticket (so no report looks like a duplicate);
        `settled`: a postpaid account owing nothing."""
        candidates = [
            a
            for a in self.pool
            if id(a) not in self.used
            and (area_name is None or a.area.name == area_name)
            and (not settled or (a.balance >= 0 and not a.prepaid))
        ]
        account = self.rng.choice(candidates)
        self.used.add(id(account))
        return account

    def origin(self) -> tuple[str | None, str]:
        channel = self.rng.choice(("rest", "rest", "telegram", "95598", "hall"))
        if channel in ("95598", "hall"):
            return None, channel
        self.conversations += 1
        return f"demo-{channel}-{self.conversations:04d}", channel

    def walk(self, ticket: Ticket, start: datetime, steps: list[Step]) -> None:
        at = start
        for status, minutes, actor, note in steps:
            at += timedelta(minutes=minutes)
            if at > self.now:
                return
            crew = actor if actor in CREWS else None
            tickets.advance(self.session, ticket, status, actor=actor, now=at, note=note, crew=crew)

    def fault(self, account: Account, created: datetime, steps: list[Step]) -> None:
        def action() -> None:
            sender, channel = self.origin()
            report = tickets.report_fault(
                self.session,
                self.settings,
                area=account.area,
                address=account.address,
                description=self.rng.choice(FAULT_TEXTS),
                contact_phone=account.phone,
                account=account,
                sender_id=sender,
                channel=channel,
                now=created,
            )
            if report.kind == tickets.FaultOutcome.CREATED:
                self.walk(report.ticket, created, steps)

        self.plan.at(created, action)

    def other(
        self,
        type: str,
        created: datetime,
        text: str,
        steps: list[Step],
        *,
        account: Account | None = None,
        area: ServiceArea | None = None,
        anonymous: bool = False,
    ) -> None:
        def action() -> None:
            sender, channel = (None, "rest") if anonymous else self.origin()
            ticket = tickets.create_ticket(
                self.session,
                self.settings,
                type=type,
                description=text,
                now=created,
                area=area or (account.area if account else None),
                address=account.address if account else None,
                contact_phone=account.phone if account and not anonymous else None,
                account=None if anonymous else account,
                sender_id=sender,
                channel=channel,
            )
            self.walk(ticket, created, steps)

        self.plan.at(created, action)

    def restore(self, past: PastOutage) -> None:
        def action() -> None:
            when = past.restored_at
            restored = outage_service.mark_restored(
                self.session, past.outage, now=when, actor="值班调度"
            )
            for ticket in restored:
                self.walk(ticket, when, [("closed", 60 * 20, "客服回访组", "来电已恢复，客户确认")])

        self.plan.at(past.restored_at, action)


def fault_path(rng: random.Random, arrival: int, *, late: bool = False) -> list[Step]:
    """A full repair: dispatch, accept, arrive (around the commitment), repair, follow up."""
    crew = rng.choice(CREWS)
    on_site = round(arrival * (rng.uniform(1.1, 1.6) if late else rng.uniform(0.45, 0.95)))
    dispatch, accept = rng.randint(3, 12), rng.randint(2, 8)
    return [
        ("dispatched", dispatch, "值班调度", None),
        ("accepted", accept, crew, None),
        ("on_site", max(1, on_site - dispatch - accept), crew, None),
        (
            "repairing",
            rng.randint(5, 20),
            crew,
            rng.choice(("表箱进线烧断", "低压线路断线", "熔丝熔断")),
        ),
        ("restored", rng.randint(30, 200), crew, None),
        ("awaiting_callback", rng.randint(10, 40), "系统", None),
        (
            "closed",
            rng.randint(240, 1500),
            "客服回访组",
            rng.choice(("客户满意", "客户表示基本满意")),
        ),
    ]
