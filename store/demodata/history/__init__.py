"""Thirteen months of the station's past, so the service-quality figures have something to show.

`seed_history` writes a year and a bit of finished work, relative to `now`: repairs with their
crews and every step, outages with their merged reports, complaints, suggestions and praise
with their contact and reply, applications stage by stage, conversations with their messages,
handoffs and ratings, and the NLU inbox they left, with the patterns of
store/demodata/history/patterns.py. Everything is recorded the way the services record it
(the same tables, statuses, actors and notes), only written in bulk (sink.py), so seeding stays
quick. Deterministic for a `seed` and `now`; idempotent: a database that has the history
already is left alone.

`python -m store seed` adds it to the demo township; `python -m store history --scale county`
writes a county's year for the benchmark (store/history_cli.py).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.config import Settings
from store.configuration.service import hours_label
from store.configuration.yamlfile import read_yaml
from store.demodata.history.applications import Applications
from store.demodata.history.cases import Cases
from store.demodata.history.chat import CHAT_PREFIX, Chats
from store.demodata.history.context import Ctx
from store.demodata.history.inbox import InboxWriter
from store.demodata.history.numbering import NumberBook
from store.demodata.history.outages import plan_outages
from store.demodata.history.patterns import COUNTY, TOWNSHIP, Scale, parse_scale, patterns_for
from store.demodata.history.people import load_station
from store.demodata.history.repairs import Repairs
from store.demodata.history.scripts import standalone
from store.demodata.history.sink import RowSink
from store.models import Conversation, NluInboxItem, NluInboxStatus, NotificationSource
from store.services import notifications
from store.sla import require_aware

__all__ = [
    "COUNTY",
    "DEFAULT_SEED",
    "TOWNSHIP",
    "HistorySummary",
    "Scale",
    "has_history",
    "parse_scale",
    "seed_history",
]

DEFAULT_SEED: Final = 2026
CHATS_PER_DAY: Final = 20.0
"""The township's conversations a day that open nothing (the ones that do come on top)."""
HANDOFF_TEXTS: Final = (
    "queued", "assigned", "wait_limit", "out_of_hours", "keep_waiting", "abandoned", "returned",
    "survey", "survey_thanks", "comment_thanks", "callback_created", "callback_description",
)  # fmt: skip


@dataclass(frozen=True)
class HistorySummary:
    rows: dict[str, int]
    """Rows written per table."""
    seconds: float

    def count(self, table: str) -> int:
        return self.rows.get(table, 0)


def has_history(session: Session) -> bool:
    """Whether the history was written already (its conversations are there)."""
    stmt = select(Conversation.id).where(Conversation.chat_id.like(f"{CHAT_PREFIX}%")).limit(1)
    return session.scalar(stmt) is not None


def _texts(settings: Settings) -> dict[str, str]:
    """The gateway's and the handoff desk's own words, as the customers read them."""
    conf = settings.conf_dir
    service = settings.service
    gateway = read_yaml(conf / "gateway.yml")
    desk = read_yaml(conf / "handoff.yml")["texts"]
    found = {"busy": gateway["replies"]["busy"]["zh"].as_str().format(hotline=service.hotline)}
    hours = hours_label(service.agent_hours, "zh")
    for key in HANDOFF_TEXTS:
        text = desk[key]["zh"].as_str()
        if key in ("wait_limit", "out_of_hours"):
            text = text.format(hours=hours, hotline=service.hotline)
        found[key] = text
    for code, node in read_yaml(conf / "dispatch.yml")["callback_results"].items():
        found[f"callback:{code}"] = node["zh"].as_str()
    return found


def _quiet_notifier(session: Session) -> None:
    """Customers are never told about the past: when the gateway has run on this database
    already, its notification cursors move past the history's events."""
    for source in (NotificationSource.TICKET, NotificationSource.APPLICATION):
        notifications.advance_cursor(
            session, source, notifications.latest_event_id(session, source)
        )


def _year(ctx: Ctx, chats: Chats) -> None:
    repairs, cases, applications = (
        Repairs(ctx, chats, plan_outages(ctx)),
        Cases(ctx, chats),
        Applications(ctx, chats),
    )
    for day in ctx.days():
        repairs.day(day)
        cases.day(day)
        applications.day(day)
        busy = 2.5 if ctx.patterns.storm_day(day) else 1.0
        for _ in range(ctx.count(CHATS_PER_DAY * ctx.scale.conversations * busy)):
            standalone(ctx, chats, ctx.customer_time(day))
    repairs.outage_reports()


def seed_history(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    seed: int = DEFAULT_SEED,
    scale: Scale = TOWNSHIP,
    copy: bool = False,
) -> HistorySummary | None:
    """Write the history into the session's transaction; None when it is there already.
    `copy`: PostgreSQL's COPY instead of INSERTs (the county's millions of rows)."""
    require_aware(now)
    if has_history(session):
        return None
    started = time.monotonic()
    rng = random.Random(f"history:{seed}")
    sink = RowSink(session, copy=copy)
    station = load_station(
        session,
        settings,
        sink,
        now=now,
        accounts=scale.accounts,
        extra_agents=scale.agents,
        rng=rng,
    )
    patterns = patterns_for(now, settings.tz)
    ctx = Ctx(settings, rng, patterns, scale, sink, NumberBook(session), station, _texts(settings))
    chats = Chats(ctx)
    _year(ctx, chats)
    open_keys = set(
        session.scalars(
            select(NluInboxItem.group_key).where(NluInboxItem.status == NluInboxStatus.OPEN)
        )
    )
    InboxWriter(ctx).write(chats.hits, open_keys)
    sink.finish()
    ctx.numbers.save()
    _quiet_notifier(session)
    session.flush()
    return HistorySummary(dict(sink.written), time.monotonic() - started)
