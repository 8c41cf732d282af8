"""What the console shows of outages (JSON-ready dicts): the list with each outage's notices
and their delivery progress, the suspects, and the choices of the publishing form.

Staff see counts of subscribers, never who they are; the reports of a suspect are shown as the
dispatchers see tickets (number, area, address, words, time), never a conversation id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.config import Settings
from store.configuration.outages import OutageConfig
from store.models import Outage, OutageNotice, Ticket
from store.outages import queue, subscriptions
from store.outages import targets as target_rules
from store.outages.suspected import Suspect
from store.services import areas as area_service


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def status(outage: Outage, now: datetime) -> str:
    if outage.cancelled_at is not None:
        return "cancelled"
    if outage.restored_at is not None:
        return "restored"
    return "active" if outage.starts_at <= now else "upcoming"


def listed(session: Session, config: OutageConfig, *, now: datetime) -> list[Outage]:
    """Outages not over, and those over within the history days; current first."""
    since = now - timedelta(days=config.history_days)
    stmt = (
        select(Outage)
        .where(
            or_(Outage.restored_at.is_(None), Outage.restored_at >= since),
            or_(Outage.cancelled_at.is_(None), Outage.cancelled_at >= since),
            or_(Outage.expected_restore_at.is_(None), Outage.expected_restore_at >= since),
        )
        .order_by(Outage.starts_at.desc(), Outage.id.desc())
        .limit(config.list_limit)
    )
    order = {"active": 0, "upcoming": 1, "restored": 2, "cancelled": 3}
    rows = list(session.scalars(stmt))
    return sorted(rows, key=lambda o: (order[status(o, now)], o.starts_at))


def _notices(session: Session, outage_ids: Sequence[int]) -> dict[int, list[OutageNotice]]:
    stmt = (
        select(OutageNotice).where(OutageNotice.outage_id.in_(outage_ids)).order_by(OutageNotice.id)
    )
    found: dict[int, list[OutageNotice]] = {}
    for notice in session.scalars(stmt):
        found.setdefault(notice.outage_id, []).append(notice)
    return found


def _attached(session: Session, outage_ids: Sequence[int]) -> dict[int, int]:
    stmt = (
        select(Ticket.outage_id, func.count())
        .where(Ticket.outage_id.in_(outage_ids))
        .group_by(Ticket.outage_id)
    )
    return {int(oid): int(n) for oid, n in session.execute(stmt) if oid is not None}


def notice_json(notice: OutageNotice, progress: queue.Progress | None) -> dict[str, Any]:
    states = progress.by_state if progress else {}
    return {
        "id": notice.id,
        "kind": notice.kind,
        "urgent": notice.urgent,
        "created_at": _iso(notice.created_at),
        "created_by": notice.created_by,
        "state": notice.state,
        "recipients": notice.recipients,
        "text": notice.text_zh,
        "text_en": notice.text_en,
        "progress": {
            "waiting": progress.waiting if progress else 0,
            **{state: states.get(state, 0) for state in ("sent", "stored", "failed")},
            **{state: states.get(state, 0) for state in ("blocked", "superseded")},
            **{state: states.get(state, 0) for state in ("held", "undeliverable")},
        },
        "undeliverable_reasons": [
            {"reason": reason, "count": count}
            for reason, count in sorted(
                (progress.undeliverable if progress else {}).items(), key=lambda kv: -kv[1]
            )
        ],
    }


def outages_json(
    session: Session, settings: Settings, config: OutageConfig, *, now: datetime
) -> list[dict[str, Any]]:
    """The console's list."""
    rows = listed(session, config, now=now)
    ids = [o.id for o in rows]
    notices = _notices(session, ids)
    progress = queue.progress(session, [n.id for ns in notices.values() for n in ns])
    attached = _attached(session, ids)
    counts = subscriptions.counts_by_area(session)
    found = []
    for outage in rows:
        targets = target_rules.of_outage(session, outage)
        found.append(
            {
                **outage_json(outage, targets, settings, config, now=now),
                "subscribers": sum(counts.get(a, 0) for a in {t.area.id for t in targets}),
                "attached_reports": attached.get(outage.id, 0),
                "notices": [notice_json(n, progress.get(n.id)) for n in notices.get(outage.id, [])],
            }
        )
    return found


def outage_json(
    outage: Outage,
    targets: Sequence[target_rules.Target],
    settings: Settings,
    config: OutageConfig,
    *,
    now: datetime,
) -> dict[str, Any]:
    feeder = config.feeder(outage.feeder) if outage.feeder else None
    kind = config.texts.kinds.get(outage.kind)
    return {
        "outage_no": outage.outage_no,
        "kind": outage.kind,
        "kind_label": kind.zh if kind else outage.kind,
        "status": status(outage, now),
        "areas": target_rules.describe(targets, "zh"),
        "targets": [
            {"code": t.area.code, "name": t.area.name, "group": t.group_no} for t in targets
        ],
        "feeder": {"code": feeder.code, "name": feeder.name} if feeder else None,
        "starts_at": _iso(outage.starts_at),
        "expected_restore_at": _iso(outage.expected_restore_at),
        "restored_at": _iso(outage.restored_at),
        "cancelled_at": _iso(outage.cancelled_at),
        "reason": outage.cause,
        "reason_en": outage.cause_en,
        "advice": outage.advice,
        "advice_en": outage.advice_en,
        "published_by": outage.published_by,
        "notice_at": _iso(outage.notice_at),
        "notice_due_at": _iso(outage.notice_due_at),
        "notice_missed": bool(outage.notice_missed),
    }


def suspect_json(suspect: Suspect) -> dict[str, Any]:
    return {
        "key": suspect.key,
        "areas": [{"code": a.code, "name": a.name} for a in suspect.areas],
        "feeder": {"code": suspect.feeder.code, "name": suspect.feeder.name}
        if suspect.feeder
        else None,
        "first_at": _iso(suspect.first_at),
        "last_at": _iso(suspect.last_at),
        "reports": [
            {
                "ticket_no": t.ticket_no,
                "area": t.area.name if t.area else None,
                "address": t.address,
                "description": t.description,
                "status": t.status,
                "created_at": _iso(t.created_at),
            }
            for t in suspect.reports
        ],
    }


def options_json(session: Session, settings: Settings, config: OutageConfig) -> dict[str, Any]:
    """What the publishing form offers."""
    counts = subscriptions.counts_by_area(session)
    commitments = settings.commitments
    return {
        "areas": [
            {"code": a.code, "name": a.name, "subscribers": counts.get(a.id, 0)}
            for a in area_service.list_areas(session)
        ],
        "feeders": [
            {"code": f.code, "name": f.name, "areas": list(f.areas)} for f in config.feeders
        ],
        "kinds": [{"code": k, "label": v.zh} for k, v in config.texts.kinds.items()],
        "commitment": {
            "planned_days": commitments.planned_notice_days,
            "temporary_days": commitments.temporary_notice_days,
        },
        "quiet_hours": {
            "start": config.quiet_hours.start.strftime("%H:%M"),
            "end": config.quiet_hours.end.strftime("%H:%M"),
        },
        "timezone": settings.timezone,
    }
