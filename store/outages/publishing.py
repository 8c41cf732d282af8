"""What dispatch staff do with an outage: publish it, edit, postpone or cancel it, publish a
fault's progress, a safety warning, and its restoration. Each change writes its notice in the
same transaction (store/outages/notices.py); the console and `python -m store outage` call
these, nothing else changes an outage.

Refusals: `OutageError` (422: a value that cannot be), `OutageStateError` (409: not in this
state, e.g. postponing a cancelled outage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.config import Settings
from store.configuration.outages import OUTAGE_KINDS, OutageConfig
from store.models import (
    NotificationSource,
    NotificationStatus,
    Outage,
    OutageKind,
    OutageNotice,
    OutageNoticeKind,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from store.outages import commitment, notices
from store.outages import targets as target_rules
from store.outages.commitment import NoticeWarning
from store.outages.wording import PLAIN, Extra
from store.services import dispatch, notifications
from store.services import outages as outage_queries
from store.services.numbers import next_sequence
from store.sla import require_aware

OUTAGE_PREFIX = "TD"
MAX_TEXT = 500
_ANNOUNCED = (OutageKind.PLANNED, OutageKind.TEMPORARY)


class OutageError(ValueError):
    """A value that cannot be (422)."""


class OutageStateError(OutageError):
    """The outage is not in a state that allows this (409)."""


@dataclass(frozen=True)
class Desk:
    """Who acts, when, with what configuration, in which unit of work."""

    session: Session
    settings: Settings
    config: OutageConfig
    actor: str
    role: str
    now: datetime


@dataclass(frozen=True)
class Draft:
    kind: str
    areas: tuple[str, ...]
    starts_at: datetime
    expected_restore_at: datetime | None
    reason: str
    feeder: str | None = None
    advice: str | None = None
    reason_en: str | None = None
    advice_en: str | None = None


@dataclass(frozen=True)
class Changes:
    """An edit: None leaves a field as it is."""

    areas: tuple[str, ...] | None = None
    feeder: str | None = None
    reason: str | None = None
    reason_en: str | None = None
    advice: str | None = None
    advice_en: str | None = None
    starts_at: datetime | None = None
    expected_restore_at: datetime | None = None
    note: str | None = None


@dataclass(frozen=True)
class Outcome:
    outage: Outage
    notice: OutageNotice | None
    warning: NoticeWarning | None = None
    attached: tuple[str, ...] = field(default=())
    """Ticket numbers attached to the outage (a suspected outage published in one step)."""


def _text(value: str | None, name: str, *, required: bool = False) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise OutageError(f"请填写{name} ({name} is required)")
    if len(text) > MAX_TEXT:
        raise OutageError(f"{name}最多{MAX_TEXT}字 (at most {MAX_TEXT} characters)")
    return text or None


def _times(kind: str, start: datetime, end: datetime | None, now: datetime) -> None:
    require_aware(start, "starts_at")
    if end is not None:
        require_aware(end, "expected_restore_at")
        if end <= start:
            raise OutageError("预计恢复时间须晚于停电开始时间 (the end must follow the start)")
    if kind in _ANNOUNCED:
        if end is None:
            raise OutageError("计划/临时停电须填写结束时间 (announced work needs an end)")
        if start <= now:
            raise OutageError("开始时间已过 (the start is in the past)")
    elif start > now + timedelta(minutes=5):
        raise OutageError("故障停电的开始时间不能在将来 (a fault has already begun)")


def _open(outage: Outage, doing: str) -> None:
    if outage.cancelled_at is not None:
        raise OutageStateError(f"停电 {outage.outage_no} 已取消，不能{doing} (cancelled)")
    if outage.restored_at is not None:
        raise OutageStateError(f"停电 {outage.outage_no} 已恢复送电，不能{doing} (restored)")


def _number(desk: Desk) -> str:
    day, value = next_sequence(desk.session, OUTAGE_PREFIX, desk.now, desk.settings.tz)
    return f"{OUTAGE_PREFIX}{day:%y%m%d}{value:02d}"


def publish(desk: Desk, draft: Draft, attach: Sequence[Ticket] = ()) -> Outcome:
    """A new outage and its first notice; the commitment's warning when it is announced late.
    `attach`: fault reports to fold into it (their reporters are told with the others)."""
    now = desk.now
    require_aware(now)
    if draft.kind not in OUTAGE_KINDS:
        raise OutageError(f"kind must be one of {', '.join(OUTAGE_KINDS)}")
    reason = _text(draft.reason, "停电原因", required=True)
    _times(draft.kind, draft.starts_at, draft.expected_restore_at, now)
    targets, line = target_rules.resolve(desk.session, desk.config, draft.areas, draft.feeder)
    outage = Outage(
        outage_no=_number(desk),
        kind=draft.kind,
        area=targets[0].area,
        cause=reason or "",
        cause_en=_text(draft.reason_en, "英文原因"),
        advice=_text(draft.advice, "注意事项"),
        advice_en=_text(draft.advice_en, "英文注意事项"),
        feeder=line.code if line else None,
        starts_at=draft.starts_at,
        expected_restore_at=draft.expected_restore_at,
        notice_at=now,
        published_by=desk.actor,
    )
    desk.session.add(outage)
    desk.session.flush()
    target_rules.replace(desk.session, outage, targets)
    warning = commitment.check(desk.settings.commitments, outage, now)
    attached = tuple(_attach(desk, outage, attach))
    notice = _notice(desk, outage, OutageNoticeKind.PUBLISHED)
    return Outcome(outage, notice, warning, attached)


def _notice(
    desk: Desk,
    outage: Outage,
    kind: OutageNoticeKind,
    extra: Extra = PLAIN,
    also: Sequence[target_rules.Target] = (),
) -> OutageNotice:
    return notices.add(
        desk.session, desk.settings, desk.config, outage, kind,
        actor=desk.actor, now=desk.now, extra=extra, also=also,
    )  # fmt: skip


def _attach(desk: Desk, outage: Outage, reports: Sequence[Ticket]) -> list[str]:
    """Fold fault reports into the outage (those that may still be merged)."""
    actor = dispatch.Actor(desk.actor, desk.role)
    attached = []
    for ticket in reports:
        try:
            dispatch.merge(desk.session, ticket, outage, actor=actor, now=desk.now)
        except dispatch.StepRefused:
            continue
        attached.append(ticket.ticket_no)
    return attached


def edit(desk: Desk, outage: Outage, changes: Changes) -> Outcome:
    """Change what was published; the customers of the old and the new areas are told."""
    _open(outage, "修改")
    before = target_rules.of_outage(desk.session, outage)
    changed = False
    if changes.areas is not None or changes.feeder:
        targets, line = target_rules.resolve(
            desk.session, desk.config, changes.areas or (), changes.feeder
        )
        if [t.as_json() for t in targets] != [t.as_json() for t in before]:
            target_rules.replace(desk.session, outage, targets)
            outage.feeder = line.code if line else None
            changed = True
    changed |= _edit_texts(outage, changes)
    warning = None
    if changes.starts_at is not None or changes.expected_restore_at is not None:
        warning, moved = _edit_times(desk, outage, changes)
        changed |= moved
    if not changed:
        raise OutageError("没有任何修改 (nothing changed)")
    extra = Extra(note=_text(changes.note, "说明"))
    notice = _notice(desk, outage, OutageNoticeKind.UPDATED, extra=extra, also=before)
    return Outcome(outage, notice, warning)


def _edit_texts(outage: Outage, changes: Changes) -> bool:
    changed = False
    for column, value, name in (
        ("cause", changes.reason, "停电原因"),
        ("cause_en", changes.reason_en, "英文原因"),
        ("advice", changes.advice, "注意事项"),
        ("advice_en", changes.advice_en, "英文注意事项"),
    ):
        if value is None:
            continue
        text = _text(value, name, required=column == "cause")
        if text != getattr(outage, column):
            setattr(outage, column, text)
            changed = True
    return changed


def _edit_times(desk: Desk, outage: Outage, changes: Changes) -> tuple[NoticeWarning | None, bool]:
    start = changes.starts_at or outage.starts_at
    end = changes.expected_restore_at or outage.expected_restore_at
    if (start, end) == (outage.starts_at, outage.expected_restore_at):
        return None, False
    if start != outage.starts_at and outage.kind in _ANNOUNCED:
        _times(outage.kind, start, end, desk.now)
    elif end is not None and end <= start:
        raise OutageError("预计恢复时间须晚于停电开始时间 (the end must follow the start)")
    earlier = start < outage.starts_at
    outage.starts_at, outage.expected_restore_at = start, end
    _follow_eta(desk.session, outage)
    warning = commitment.check(desk.settings.commitments, outage, desk.now) if earlier else None
    return warning, True


def postpone(
    desk: Desk, outage: Outage, starts_at: datetime, expected: datetime, note: str | None
) -> Outcome:
    """Announced work moved to a later time (its reminder follows it)."""
    _open(outage, "改期")
    if outage.kind not in _ANNOUNCED:
        raise OutageStateError("只有计划/临时停电可以改期 (only announced work is postponed)")
    if outage.starts_at <= desk.now:
        raise OutageStateError("停电已经开始，不能改期 (it has begun: edit the expected end)")
    _times(outage.kind, starts_at, expected, desk.now)
    if starts_at <= outage.starts_at:
        raise OutageError("改期须晚于原定开始时间 (postponing means a later start)")
    previous = (outage.starts_at, outage.expected_restore_at)
    outage.starts_at, outage.expected_restore_at = starts_at, expected
    extra = Extra(note=_text(note, "说明"), previous=previous)
    return Outcome(outage, _notice(desk, outage, OutageNoticeKind.POSTPONED, extra=extra))


def cancel(desk: Desk, outage: Outage, note: str | None) -> Outcome:
    """Announced work called off: power stays on."""
    _open(outage, "取消")
    if outage.kind not in _ANNOUNCED:
        raise OutageStateError("故障停电请登记恢复送电 (a fault outage ends with its restoration)")
    outage.cancelled_at = desk.now
    extra = Extra(note=_text(note, "说明"))
    return Outcome(outage, _notice(desk, outage, OutageNoticeKind.CANCELLED, extra=extra))


def progress(
    desk: Desk,
    outage: Outage,
    *,
    cause: str | None = None,
    cause_en: str | None = None,
    expected: datetime | None = None,
    note: str | None = None,
) -> Outcome:
    """A fault's progress: its cause found (cause_found) or its expected restoration moved
    (eta_changed). Reports attached to it follow the new expectation."""
    _open(outage, "更新")
    cause = _text(cause, "停电原因")
    if cause is None and expected is None:
        raise OutageError("请填写查明的原因或新的预计恢复时间 (a cause or an expected time)")
    if expected is not None:
        require_aware(expected, "expected_restore_at")
        if expected <= outage.starts_at:
            raise OutageError("预计恢复时间须晚于停电开始时间 (the end must follow the start)")
        outage.expected_restore_at = expected
        _follow_eta(desk.session, outage)
    kind = OutageNoticeKind.ETA_CHANGED
    if cause is not None:
        outage.cause = cause
        outage.cause_en = _text(cause_en, "英文原因")
        kind = OutageNoticeKind.CAUSE_FOUND
    return Outcome(outage, _notice(desk, outage, kind, extra=Extra(note=_text(note, "说明"))))


def _follow_eta(session: Session, outage: Outage) -> None:
    """The reports merged into the outage take its expected restoration as their commitment."""
    merged = session.scalars(
        select(Ticket).where(Ticket.outage_id == outage.id, Ticket.status == TicketStatus.MERGED)
    )
    for ticket in merged:
        ticket.resolve_due_at = outage.expected_restore_at


def safety(desk: Desk, outage: Outage, note: str | None) -> Outcome:
    """A safety warning about the outage (fallen lines, keep away): never held at night."""
    if outage.cancelled_at is not None:
        raise OutageStateError(f"停电 {outage.outage_no} 已取消 (cancelled)")
    text = _text(note, "安全提醒内容", required=True)
    extra = Extra(note=text)
    return Outcome(outage, _notice(desk, outage, OutageNoticeKind.SAFETY, extra=extra))


def restore(desk: Desk, outage: Outage, at: datetime | None = None) -> Outcome:
    """Power is back: the outage's merged reports are restored with it, and their reporters
    hear it from the outage's notice (the per-ticket 'restored' message is not sent as
    well: their notification is claimed here, as told)."""
    _open(outage, "登记恢复送电")
    when = at or desk.now
    require_aware(when, "at")
    if when > desk.now + timedelta(minutes=5) or when < outage.starts_at:
        raise OutageError("恢复时间须在停电开始之后、现在之前 (between the start and now)")
    for ticket in outage_queries.mark_restored(desk.session, outage, now=when, actor=desk.actor):
        _silence_ticket_notice(desk, ticket, when)
    return Outcome(outage, _notice(desk, outage, OutageNoticeKind.RESTORED))


def _silence_ticket_notice(desk: Desk, ticket: Ticket, when: datetime) -> None:
    event = next(
        (e for e in reversed(ticket.events) if e.status == TicketStatus.RESTORED and e.at == when),
        None,
    )
    if event is None or not isinstance(event, TicketEvent) or not ticket.sender_id:
        return
    notifications.claim(
        desk.session,
        source=NotificationSource.TICKET,
        event_id=event.id,
        conversation_id=ticket.sender_id,
        now=desk.now,
        status=NotificationStatus.SKIPPED,
    )


def parse_time(text: str | None, tz: ZoneInfo) -> datetime | None:
    """A time staff typed: ISO 8601, station time unless it carries an offset ("2026-12-01
    08:00", "2026-12-01T08:00+08:00"); None for none; OutageError when unreadable."""
    if text is None or not str(text).strip():
        return None
    try:
        value = datetime.fromisoformat(str(text).strip().replace("/", "-"))
    except ValueError:
        raise OutageError(f"时间格式不对：{text} (expected YYYY-MM-DD HH:MM)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def get(session: Session, outage_no: str) -> Outage:
    outage = outage_queries.get_by_no(session, outage_no)
    if outage is None:
        raise LookupError(outage_no)
    return outage
