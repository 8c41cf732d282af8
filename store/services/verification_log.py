"""Failed identity checks as supervisors see them: is somebody spraying guesses?

The report covers the configured counting window: the latest failures (refused ones included,
marked `throttled`), the client addresses and the account numbers with the most failures, and
how many the station has in all. Conversation ids and account numbers are masked: the report
is for spotting an attack, not for reading anybody's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from store.config import Settings
from store.conversation_refs import mask
from store.ids import mask_account
from store.models import VerificationAttempt
from store.sla import require_aware

TOP: int = 10
"""Client addresses and account numbers listed with their failure counts."""


@dataclass(frozen=True)
class FailedAttempt:
    at: datetime
    conversation: str
    """Masked (`web:3f2a…9c1d`)."""
    account: str
    """Masked (`33******01`); empty when no number was typed."""
    client_address: str | None
    throttled: bool


@dataclass(frozen=True)
class HotSpot:
    key: str
    failures: int
    latest: datetime


@dataclass(frozen=True)
class FailureReport:
    since: datetime
    failures: int
    throttled: int
    station_limit: int
    latest: list[FailedAttempt]
    by_client: list[HotSpot]
    by_account: list[HotSpot]

    def as_json(self) -> dict[str, Any]:
        def spot(s: HotSpot) -> dict[str, Any]:
            return {"key": s.key, "failures": s.failures, "latest": s.latest.isoformat()}

        return {
            "since": self.since.isoformat(),
            "failures": self.failures,
            "throttled": self.throttled,
            "station_limit": self.station_limit,
            "latest": [
                {
                    "at": a.at.isoformat(),
                    "conversation": a.conversation,
                    "account": a.account,
                    "client_address": a.client_address,
                    "throttled": a.throttled,
                }
                for a in self.latest
            ],
            "by_client": [spot(s) for s in self.by_client],
            "by_account": [spot(s) for s in self.by_account],
        }


def _failed(since: datetime) -> list[ColumnElement[bool]]:
    return [VerificationAttempt.success.is_(False), VerificationAttempt.at > since]


def _count(session: Session, since: datetime, throttled: bool) -> int:
    conditions = [*_failed(since), VerificationAttempt.throttled.is_(throttled)]
    return int(session.scalar(select(func.count()).where(*conditions)) or 0)


def _hot_spots(session: Session, column: Any, since: datetime) -> list[tuple[str, int, datetime]]:
    failures = func.count().label("failures")
    rows = session.execute(
        select(column, failures, func.max(VerificationAttempt.at))
        .where(*_failed(since), VerificationAttempt.throttled.is_(False), column.is_not(None))
        .where(column != "")
        .group_by(column)
        .order_by(failures.desc())
        .limit(TOP)
    ).all()
    return [(str(key), int(count), latest) for key, count, latest in rows]


def failure_report(
    session: Session, settings: Settings, *, now: datetime, limit: int = 50
) -> FailureReport:
    """The failures of the counting window, newest first (at most `limit` listed)."""
    require_aware(now)
    policy = settings.commitments.verification
    since = now - timedelta(minutes=policy.window_minutes)
    rows = session.scalars(
        select(VerificationAttempt)
        .where(*_failed(since))
        .order_by(VerificationAttempt.at.desc(), VerificationAttempt.id.desc())
        .limit(max(0, limit))
    )
    latest = [
        FailedAttempt(
            at=row.at,
            conversation=mask(row.sender_id),
            account=mask_account(row.account_no) if row.account_no else "",
            client_address=row.client_address,
            throttled=row.throttled,
        )
        for row in rows
    ]
    clients = _hot_spots(session, VerificationAttempt.client_address, since)
    accounts = _hot_spots(session, VerificationAttempt.account_no, since)
    return FailureReport(
        since=since,
        failures=_count(session, since, throttled=False),
        throttled=_count(session, since, throttled=True),
        station_limit=policy.failures["station"],
        latest=latest,
        by_client=[HotSpot(key, n, at) for key, n, at in clients],
        by_account=[HotSpot(mask_account(key), n, at) for key, n, at in accounts],
    )
