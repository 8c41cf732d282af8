"""Helpers of the outage-notice tests: subscribers, conversations, fan-out and the queue's
rows, straight through the store's services."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings, default_conf_dir
from store.configuration.outages import OutageConfig
from store.db import unit_of_work
from store.models import OutageDelivery, OutageNotice, OutageSubscription
from store.outages import fanout, publishing, subscriptions
from store.outages.publishing import Desk, Draft
from store.services import accounts, areas, tickets, transcripts
from tests.fakes.gateway import Harness, running_gateway, settings_for
from tests.fakes.rasa import FakeRasa


def subscribe(
    factory: sessionmaker[Session],
    conversation_id: str,
    area: str,
    now: datetime,
    *,
    group: int | None = None,
    account_no: str | None = None,
) -> None:
    with unit_of_work(factory) as session:
        found = areas.match_area(session, area)
        assert found is not None
        account = accounts.get_by_no(session, account_no) if account_no else None
        subscriptions.subscribe(
            session, conversation_id=conversation_id, area=found, group_no=group,
            account=account, now=now,
        )  # fmt: skip


def conversation(
    factory: sessionmaker[Session], conversation_id: str, now: datetime, language: str = "zh"
) -> None:
    """A conversation the gateway has seen, its customer writing `language`."""
    channel, _, chat = conversation_id.partition(":")
    with unit_of_work(factory) as session:
        row = transcripts.touch_conversation(
            session, conversation_id=conversation_id, channel=channel, chat_id=chat, now=now
        )
        row.language = language


def planned(
    desk: Desk, *areas_named: str, days: float = 10, hours: float = 8, reason: str = "线路检修"
) -> publishing.Outcome:
    start = desk.now + timedelta(days=days)
    draft = Draft(
        kind="planned", areas=areas_named, starts_at=start,
        expected_restore_at=start + timedelta(hours=hours), reason=reason, advice="请提前储水",
    )  # fmt: skip
    return publishing.publish(desk, draft)


def fan_out_all(factory: sessionmaker[Session], now: datetime) -> list[int | None]:
    counts = []
    while True:
        with unit_of_work(factory) as session:
            notice_id = fanout.next_queued(session)
            if notice_id is None:
                return counts
            counts.append(fanout.fan_out(session, notice_id, now=now))


def deliveries(factory: sessionmaker[Session], kind: str | None = None) -> list[OutageDelivery]:
    with unit_of_work(factory) as session:
        stmt = select(OutageDelivery).join(OutageNotice).order_by(OutageDelivery.id)
        if kind is not None:
            stmt = stmt.where(OutageNotice.kind == kind)
        return list(session.scalars(stmt))


def notices(factory: sessionmaker[Session], outage_no: str | None = None) -> list[OutageNotice]:
    with unit_of_work(factory) as session:
        stmt = select(OutageNotice).order_by(OutageNotice.id)
        rows = list(session.scalars(stmt))
        if outage_no is None:
            return rows
        outage = publishing.get(session, outage_no)
        return [n for n in rows if n.outage_id == outage.id]


def subscription_rows(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    with unit_of_work(factory) as session:
        rows = session.scalars(select(OutageSubscription).order_by(OutageSubscription.id))
        return [
            {"conversation_id": r.conversation_id, "ended": r.end_reason, "group": r.group_no}
            for r in rows
        ]


@dataclass
class Scene:
    """What a delivery test works with: the demo station's database, the fake Rasa (for the
    gateway core), a dispatcher's desk, the configuration, the frozen `now`."""

    rasa: FakeRasa
    db_url: str
    factory: sessionmaker[Session]
    settings: Settings
    config: OutageConfig
    now: datetime
    desk: Callable[[datetime], AbstractContextManager[Desk]]

    def gateway(self) -> AbstractAsyncContextManager[Harness]:
        """The gateway core (no outage worker of its own) with its recording 'fake' channel."""
        return running_gateway(settings_for(self.rasa, self.db_url), self.rasa)

    def announce(self, area: str, prefix: str, count: int) -> None:
        """`count` subscribers of `area` (chats `<prefix><n>`), and a planned outage there."""
        for n in range(count):
            subscribe(self.factory, f"fake:{prefix}{n}", area, self.now)
        with self.desk(self.now) as d:
            planned(d, area, days=12)


def report(
    factory: sessionmaker[Session],
    settings: Settings,
    address: str,
    sender: str,
    phone: str,
    at: datetime,
    words: str = "没电了",
) -> str:
    """A fault report the assistant took in conversation `sender` (the village named in
    `address`): its ticket number (merged into a known outage there, if any)."""
    with unit_of_work(factory) as session:
        area = areas.match_area(session, address)
        assert area is not None
        return tickets.report_fault(
            session, settings, area=area, address=address, description=words,
            contact_phone=phone, account=None, sender_id=sender,
            channel=sender.partition(":")[0], now=at,
        ).ticket.ticket_no  # fmt: skip


def conf_without_quiet_hours(directory: Path) -> Path:
    """conf/ with no quiet hours, for a whole gateway (its outage worker runs on the wall
    clock: a planned notice published in the station's night would wait for the morning;
    test_outage_delivery.py tests the quiet hours on a clock of its own). Give it to the
    gateway as `conf_dir`."""
    conf = directory / "conf"
    shutil.copytree(default_conf_dir(), conf)
    outages = conf / "outages.yml"
    text = outages.read_text(encoding="utf-8")
    quiet = 'quiet_hours:\n  start: "22:00"\n  end: "07:00"\n'
    assert quiet in text
    outages.write_text(text.replace(quiet, 'quiet_hours:\n  start: "00:00"\n  end: "00:00"\n'))
    return conf
