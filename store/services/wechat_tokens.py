"""The WeChat access token every gateway replica shares (store/models/wechat.py says why).

A replica reads the token here; when it is missing, about to expire, or WeChat refused it, the
replica that wins the refresh lease (a compare-and-set on the row) fetches a new one and
stores it, while the others wait for it and read it. A token WeChat refused is retired only if
it is still the current one (`retire`), so a replica holding an old copy never throws away the
new token another replica just fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from store.models import WeChatAccessToken
from store.services.upserts import insert_ignore
from store.sla import require_aware


@dataclass(frozen=True)
class SharedToken:
    token: str
    expires_at: datetime


def current(
    session: Session, app_id: str, *, now: datetime, margin: timedelta
) -> SharedToken | None:
    """The stored token while it has more than `margin` left, else None (time to refresh)."""
    require_aware(now)
    row = session.get(WeChatAccessToken, app_id)
    if row is None or not row.access_token or row.expires_at is None:
        return None
    if row.expires_at - margin <= now:
        return None
    return SharedToken(row.access_token, row.expires_at)


def claim_refresh(
    session: Session, app_id: str, *, owner: str, now: datetime, lease: timedelta, margin: timedelta
) -> bool:
    """Take the refresh lease (True) while the stored token is missing or due (more than
    `margin` is not left) and no other replica holds a lease that has not lapsed. One
    compare-and-set: a replica that read "due" just before another stored a new token does
    not fetch yet another."""
    require_aware(now)
    insert_ignore(session, WeChatAccessToken, {"app_id": app_id}, [WeChatAccessToken.app_id])
    table = WeChatAccessToken
    claimed = session.execute(
        update(table)
        .where(
            table.app_id == app_id,
            or_(
                table.access_token.is_(None),
                table.expires_at.is_(None),
                table.expires_at <= now + margin,
            ),
            or_(
                table.refresh_until.is_(None),
                table.refresh_until < now,
                table.refresh_owner == owner,
            ),
        )
        .values(refresh_owner=owner, refresh_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(claimed, "rowcount", 0))


def store(
    session: Session, app_id: str, *, token: str, expires_at: datetime, now: datetime
) -> None:
    """The token just fetched, for every replica; the lease is given back (whoever holds it:
    a newer token than the one another replica may still be fetching does no harm)."""
    require_aware(now)
    require_aware(expires_at)
    session.execute(
        update(WeChatAccessToken)
        .where(WeChatAccessToken.app_id == app_id)
        .values(
            access_token=token,
            expires_at=expires_at,
            fetched_at=now,
            refresh_owner=None,
            refresh_until=None,
        )
        .execution_options(synchronize_session=False)
    )


def release(session: Session, app_id: str, *, owner: str) -> None:
    """The fetch failed: the lease is given back at once (another replica may try)."""
    table = WeChatAccessToken
    session.execute(
        update(table)
        .where(table.app_id == app_id, table.refresh_owner == owner)
        .values(refresh_owner=None, refresh_until=None)
        .execution_options(synchronize_session=False)
    )


def retire(session: Session, app_id: str, token: str, *, now: datetime) -> bool:
    """WeChat refused `token` (40001/42001): expired now, only if it is still the current one."""
    require_aware(now)
    table = WeChatAccessToken
    changed = session.execute(
        update(table)
        .where(table.app_id == app_id, table.access_token == token)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(changed, "rowcount", 0))


def fetched_at(session: Session, app_id: str) -> datetime | None:
    """When the current token was fetched (operators' check command)."""
    return session.scalar(
        select(WeChatAccessToken.fetched_at).where(WeChatAccessToken.app_id == app_id)
    )
