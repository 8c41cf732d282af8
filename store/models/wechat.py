"""The WeChat Official Account channel's own state: the access token every gateway replica
shares, and who follows the account.

WeChat hands out one access token per account at a time (a new one retires the old one within
minutes) and limits how often it may be fetched, so replicas that each fetched their own would
keep invalidating each other: the token lives here, and one replica at a time refreshes it
(a lease, `refresh_owner` / `refresh_until`). Messages themselves, and their redelivery keys,
are in the transcript (`messages.external_id`: WeChat's MsgId, or the event's time).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base


class WeChatAccessToken(Base):
    """The account's current access token (one row per AppID) and the refresh lease."""

    __tablename__ = "wechat_access_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(String(1024))
    """WeChat asks for room for at least 512 characters."""
    expires_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime | None]
    refresh_owner: Mapped[str | None] = mapped_column(String(64))
    """The replica fetching a new token now (nobody else asks WeChat meanwhile)."""
    refresh_until: Mapped[datetime | None]
    """When that lease lapses (a replica that died while fetching holds nobody up)."""


class WeChatFollower(Base):
    """One follower of the account (openid), as the subscribe/unsubscribe events said.

    `changed_at` is the WeChat time (CreateTime) of the event last applied: a redelivered or
    late event older than it changes nothing."""

    __tablename__ = "wechat_followers"
    __table_args__ = (UniqueConstraint("app_id", "openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(64))
    openid: Mapped[str] = mapped_column(String(128))
    subscribed: Mapped[bool]
    changed_at: Mapped[datetime]
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
