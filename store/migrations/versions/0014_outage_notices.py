"""Outage notices: published outages' areas, subscriptions, the notice queue.

Outages get what staff publish with them (the reason in English, the advice, the feeder, who
published, cancellation, the notice commitment and whether it was missed) and a third kind,
`temporary`; each existing outage's area becomes its first row of `outage_areas`. New nullable
columns are added in place and the kind constraint is changed without copying the table (a copy
would fire the tickets' foreign keys: store/migration_helpers.py).

Revision ID: 0014_outage_notices
Revises: 0013_quality
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from store.migration_helpers import change_check

revision: str = "0014_outage_notices"
down_revision: str | None = "0013_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = "kind IN ('planned', 'fault')"
KINDS_AFTER = "kind IN ('planned', 'temporary', 'fault')"
NOTICE_KINDS = (
    "kind IN ('published', 'updated', 'postponed', 'cancelled', 'reminder', 'cause_found',"
    " 'eta_changed', 'restored', 'safety')"
)
NOTICE_STATES = "state IN ('queued', 'fanned_out')"
DELIVERY_STATES = (
    "state IN ('queued', 'claimed', 'sent', 'stored', 'failed', 'blocked', 'superseded')"
)
END_REASONS = "end_reason IN ('unsubscribed', 'blocked')"


def _outage_columns() -> tuple[sa.Column[Any], ...]:
    return (
        sa.Column("cause_en", sa.Text(), nullable=True),
        sa.Column("advice", sa.Text(), nullable=True),
        sa.Column("advice_en", sa.Text(), nullable=True),
        sa.Column("feeder", sa.String(length=16), nullable=True),
        sa.Column("published_by", sa.String(length=64), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_missed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def upgrade() -> None:
    for column in _outage_columns():
        op.add_column("outages", column)
    change_check("outages", "kind", KINDS_BEFORE, KINDS_AFTER)
    _areas()
    _subscriptions()
    _notices()
    _deliveries()
    op.create_table(
        "outage_channel_pace",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("next_free_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_outage_channel_pace")),
    )
    op.execute(
        sa.text(
            "INSERT INTO outage_areas (outage_id, area_id, group_no)"
            " SELECT id, area_id, NULL FROM outages"
        )
    )


def _areas() -> None:
    op.create_table(
        "outage_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("group_no", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_id"], ["service_areas.id"], name=op.f("fk_outage_areas_area_id_service_areas")
        ),
        sa.ForeignKeyConstraint(
            ["outage_id"],
            ["outages.id"],
            name=op.f("fk_outage_areas_outage_id_outages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_areas")),
    )
    op.create_index("ix_outage_areas_area", "outage_areas", ["area_id", "outage_id"])
    op.create_index(op.f("ix_outage_areas_outage_id"), "outage_areas", ["outage_id"])


def _subscriptions() -> None:
    op.create_table(
        "outage_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("group_no", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.CheckConstraint(END_REASONS, name=op.f("ck_outage_subscriptions_end_reason")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_outage_subscriptions_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["area_id"],
            ["service_areas.id"],
            name=op.f("fk_outage_subscriptions_area_id_service_areas"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_subscriptions")),
        sa.UniqueConstraint(
            "conversation_id",
            "area_id",
            name=op.f("uq_outage_subscriptions_conversation_id_area_id"),
        ),
    )
    op.create_index(
        "ix_outage_subscriptions_area_ended", "outage_subscriptions", ["area_id", "ended_at"]
    )


def _notices() -> None:
    op.create_table(
        "outage_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("text_zh", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.CheckConstraint(NOTICE_KINDS, name=op.f("ck_outage_notices_kind")),
        sa.CheckConstraint(NOTICE_STATES, name=op.f("ck_outage_notices_state")),
        sa.ForeignKeyConstraint(
            ["outage_id"],
            ["outages.id"],
            name=op.f("fk_outage_notices_outage_id_outages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_notices")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outage_notices_dedupe_key")),
    )
    op.create_index(op.f("ix_outage_notices_outage_id"), "outage_notices", ["outage_id"])
    op.create_index("ix_outage_notices_state", "outage_notices", ["state", "id"])


def _deliveries() -> None:
    op.create_table(
        "outage_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=80), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.CheckConstraint(DELIVERY_STATES, name=op.f("ck_outage_deliveries_state")),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["outage_notices.id"],
            name=op.f("fk_outage_deliveries_notice_id_outage_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_deliveries")),
        sa.UniqueConstraint(
            "notice_id", "recipient", name=op.f("uq_outage_deliveries_notice_id_recipient")
        ),
    )
    op.create_index(
        "ix_outage_deliveries_due", "outage_deliveries", ["state", "channel", "not_before"]
    )


def downgrade() -> None:
    """The notices, subscriptions and extra areas go; temporary outages become planned ones
    (the kind the older schema knows for announced work)."""
    op.drop_table("outage_deliveries")
    op.drop_table("outage_notices")
    op.drop_table("outage_subscriptions")
    op.drop_table("outage_areas")
    op.drop_table("outage_channel_pace")
    op.execute(sa.text("UPDATE outages SET kind = 'planned' WHERE kind = 'temporary'"))
    change_check("outages", "kind", KINDS_AFTER, KINDS_BEFORE)
    for column in reversed(_outage_columns()):
        op.drop_column("outages", column.name)
