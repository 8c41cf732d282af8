"""Agent-console login sessions (`staff_sessions`): only the SHA-256 of the random token the
browser holds is stored, so a leaked database does not let anyone in.

A session ends at the first of: `expires_at` (absolute, set at login), `idle` after
`last_seen_at`, logout. Expired rows are deleted when they are next looked up and by
`purge_expired`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.models import StaffSession, StaffUser
from store.sla import require_aware

TOUCH_EVERY = timedelta(seconds=60)
"""last_seen_at is written at most once a minute per session (not on every request)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StaffIdentity:
    """Who a valid session belongs to (plain values, usable after the unit of work)."""

    session_id: int
    user_id: int
    username: str
    display_name: str
    role: str
    csrf_token: str
    expires_at: datetime


def _identity(row: StaffSession, user: StaffUser) -> StaffIdentity:
    return StaffIdentity(
        session_id=row.id,
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


def create(
    session: Session, user: StaffUser, *, now: datetime, lifetime: timedelta
) -> tuple[str, StaffIdentity]:
    """A new session for `user`: (the token for the cookie, the identity)."""
    require_aware(now)
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        token_hash=hash_token(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return token, _identity(row, user)


def lookup(
    session: Session, token: str, *, now: datetime, idle: timedelta, touch: bool = True
) -> StaffIdentity | None:
    """The identity of a live session; None when unknown, idle for longer than `idle` or past
    its absolute expiry (such a row is deleted). With `touch` its last_seen_at moves on: only
    for what a person did, so that checks made by machines (the console's websocket, the
    page's timers) cannot keep an unattended session alive."""
    require_aware(now)
    row = session.scalars(
        select(StaffSession).where(StaffSession.token_hash == hash_token(token))
    ).one_or_none()
    if row is None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        session.delete(row)
        return None
    if touch and now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    user = session.get(StaffUser, row.user_id)
    if user is None:
        return None
    return _identity(row, user)


def end(session: Session, token: str) -> bool:
    """Log out: delete the session; False when there was none."""
    result = session.execute(
        delete(StaffSession).where(StaffSession.token_hash == hash_token(token))
    )
    return bool(getattr(result, "rowcount", 0))


def purge_expired(session: Session, *, now: datetime, idle: timedelta) -> int:
    require_aware(now)
    result = session.execute(
        delete(StaffSession).where(
            (StaffSession.expires_at <= now) | (StaffSession.last_seen_at <= now - idle)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
