"""WeChat channel: the shared access token, the account's followers (redelivery keys are the
transcript's `messages.external_id`: WeChat's MsgId, or the event's time).

Revision ID: 0015_wechat
Revises: 0014_outage_notices
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_wechat"
down_revision: str | None = "0014_outage_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wechat_access_tokens",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("access_token", sa.String(length=1024), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refresh_owner", sa.String(length=64), nullable=True),
        sa.Column("refresh_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_wechat_access_tokens")),
    )
    op.create_table(
        "wechat_followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("openid", sa.String(length=128), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_followers")),
        sa.UniqueConstraint("app_id", "openid", name=op.f("uq_wechat_followers_app_id_openid")),
    )


def downgrade() -> None:
    op.drop_table("wechat_followers")
    op.drop_table("wechat_access_tokens")
