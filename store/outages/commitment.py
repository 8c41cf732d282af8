"""The published notice commitment: a planned outage is announced 7 days ahead, a temporary one
24 hours ahead (conf/commitments.yml outage_notice). Publishing later is allowed (the work may
be urgent), with a warning that names the commitment missed; the miss is kept on the outage
(`notice_missed`) and counted in the service-quality figures (`late_notices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.configuration.commitments import Commitments
from store.models import Outage, OutageKind


@dataclass(frozen=True)
class NoticeWarning:
    """A notice later than the commitment: what was required and what was given."""

    kind: str
    required: timedelta
    given: timedelta

    def _span(self, value: timedelta, en: bool) -> str:
        hours = max(0, int(value.total_seconds() // 3600))
        days, rest = divmod(hours, 24)
        day, hour = ("{} d", "{} h") if en else ("{}天", "{}小时")
        parts = [day.format(days)] if days else []
        if rest or not days:
            parts.append(hour.format(rest))
        return (" " if en else "").join(parts)

    @property
    def zh(self) -> str:
        kind = "计划停电" if self.kind == OutageKind.PLANNED else "临时停电"
        return (
            f"未达到承诺：{kind}应提前{self._span(self.required, False)}通知客户，"
            f"本次仅提前{self._span(self.given, False)}。已按时发布，并计入服务质量统计。"
        )

    @property
    def en(self) -> str:
        required, given = self._span(self.required, True), self._span(self.given, True)
        return (
            f"Commitment missed: a {self.kind} outage is announced {required} ahead; this one"
            f" only {given}. Published, and counted in the service-quality figures."
        )

    def as_json(self) -> dict[str, object]:
        return {
            "code": "notice_commitment_missed",
            "message": self.zh,
            "message_en": self.en,
            "required_hours": int(self.required.total_seconds() // 3600),
            "given_hours": max(0, int(self.given.total_seconds() // 3600)),
        }


def required_notice(commitments: Commitments, kind: str) -> timedelta | None:
    """How far ahead an outage of `kind` must be announced; None for faults."""
    if kind == OutageKind.PLANNED:
        return timedelta(days=commitments.planned_notice_days)
    if kind == OutageKind.TEMPORARY:
        return timedelta(days=commitments.temporary_notice_days)
    return None


def check(commitments: Commitments, outage: Outage, now: datetime) -> NoticeWarning | None:
    """Record on the outage when customers had to be told and whether this notice (now) is
    late for it; the warning when it is. An outage already late stays late."""
    required = required_notice(commitments, outage.kind)
    if required is None:
        outage.notice_due_at = None
        return None
    outage.notice_due_at = outage.starts_at - required
    late = now > outage.notice_due_at
    outage.notice_missed = bool(outage.notice_missed) or late
    if not late:
        return None
    return NoticeWarning(outage.kind, required, outage.starts_at - now)


@dataclass(frozen=True)
class LateNotice:
    outage_no: str
    kind: str
    starts_at: datetime
    notice_at: datetime | None
    notice_due_at: datetime | None


def late_notices(session: Session, start: datetime, end: datetime) -> tuple[int, list[LateNotice]]:
    """For the service-quality figures: outages that had a notice commitment and started in
    [start, end) (cancelled ones not counted): how many, and those announced too late."""
    stmt = (
        select(Outage)
        .where(
            Outage.kind.in_((OutageKind.PLANNED, OutageKind.TEMPORARY)),
            Outage.starts_at >= start,
            Outage.starts_at < end,
            Outage.cancelled_at.is_(None),
            Outage.notice_due_at.is_not(None),
        )
        .order_by(Outage.starts_at)
    )
    rows = list(session.scalars(stmt))
    late = [
        LateNotice(o.outage_no, o.kind, o.starts_at, o.notice_at, o.notice_due_at)
        for o in rows
        if o.notice_missed
    ]
    return len(rows), late
