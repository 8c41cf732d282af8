"""Writing notices: what staff publish, and the reminders the queue writes by itself.

A notice is written in the same transaction as the change it announces (so a change is never
made without its notice, nor announced without being made) and waits, `queued`, for a gateway
to fan it out (store/outages/fanout.py). A reminder carries a `dedupe_key` of its outage and
start: however many gateways look for due reminders, each is written once, and a postponed
outage gets a reminder for its new day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.config import Settings
from store.configuration.outages import OutageConfig
from store.models import (
    URGENT_NOTICE_KINDS,
    NoticeState,
    Outage,
    OutageKind,
    OutageNotice,
    OutageNoticeKind,
)
from store.outages import targets as target_rules
from store.outages.targets import Target
from store.outages.wording import PLAIN, Extra, write
from store.services.upserts import insert_ignore
from store.sla import require_aware

SYSTEM = "system"
"""The author of the notices the service writes by itself (reminders)."""


def add(
    session: Session,
    settings: Settings,
    config: OutageConfig,
    outage: Outage,
    kind: OutageNoticeKind,
    *,
    actor: str,
    now: datetime,
    extra: Extra = PLAIN,
    also: Sequence[Target] = (),
) -> OutageNotice:
    """A queued notice of `kind` for the outage's areas (and `also` those: the areas an edit
    took away are told too)."""
    require_aware(now)
    current = target_rules.of_outage(session, outage)
    told = target_rules.simplify([*current, *also])
    text = write(outage, kind, current, settings, config, extra)
    notice = OutageNotice(
        outage=outage,
        kind=kind,
        urgent=kind in URGENT_NOTICE_KINDS,
        text_zh=text.zh,
        text_en=text.en,
        targets=[t.as_json() for t in told],
        created_at=now,
        created_by=actor,
        state=NoticeState.QUEUED,
        recipients=0,
    )
    session.add(notice)
    session.flush()
    return notice


def _reminder_candidates(session: Session, now: datetime) -> list[Outage]:
    """Announced work not started, cancelled or finished yet."""
    stmt = select(Outage).where(
        Outage.kind.in_((OutageKind.PLANNED, OutageKind.TEMPORARY)),
        Outage.starts_at > now,
        Outage.cancelled_at.is_(None),
        Outage.restored_at.is_(None),
        Outage.notice_at.is_not(None),
    )
    return list(session.scalars(stmt))


def write_due_reminders(
    session: Session, settings: Settings, config: OutageConfig, *, now: datetime
) -> int:
    """Write the reminders whose time has come (the day before, conf reminder.at), unless the
    outage was announced too shortly before (min_gap): how many were written."""
    require_aware(now)
    rule = config.reminder
    written = 0
    for outage in _reminder_candidates(session, now):
        due = rule.due_at(outage.starts_at, settings.tz)
        announced = outage.notice_at
        if due > now or announced is None or announced > due - rule.min_gap:
            continue
        key = f"reminder:{outage.id}:{outage.starts_at.isoformat()}"
        current = target_rules.of_outage(session, outage)
        text = write(outage, OutageNoticeKind.REMINDER, current, settings, config)
        values = {
            "outage_id": outage.id,
            "kind": OutageNoticeKind.REMINDER.value,
            "urgent": False,
            "text_zh": text.zh,
            "text_en": text.en,
            "targets": [t.as_json() for t in current],
            "dedupe_key": key[:64],
            "created_at": now,
            "created_by": SYSTEM,
            "state": NoticeState.QUEUED.value,
            "recipients": 0,
        }
        written += insert_ignore(session, OutageNotice, values, [OutageNotice.dedupe_key])
    return written
