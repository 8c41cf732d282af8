"""Identity: verified conversations recorded (the slot alone proves nothing), what their turns
disclosed, and the client address of each attempt (spraying limits per address).

Revision ID: 0007_verification
Revises: 0006_rasa_serving
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_verification"
down_revision: str | None = "0006_rasa_serving"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("verification_attempts") as batch:
        batch.add_column(sa.Column("client_address", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("throttled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_verification_attempts_client_address_at",
        "verification_attempts",
        ["client_address", "at"],
    )
    op.create_index(
        "ix_verification_attempts_success_at", "verification_attempts", ["success", "at"]
    )
    op.create_table(
        "verified_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rasa_session", sa.String(length=32), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "method IN ('account_phone_last4')", name=op.f("ck_verified_conversations_method")
        ),
        sa.CheckConstraint(
            "end_reason IN ('idle', 'new_session', 'replaced')",
            name=op.f("ck_verified_conversations_end_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verified_conversations")),
    )
    op.create_index(
        "ix_verified_conversations_sender_id_id",
        "verified_conversations",
        ["sender_id", "id"],
    )
    op.create_table(
        "identity_disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("verification_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('answer', 'data')", name=op.f("ck_identity_disclosures_kind")),
        sa.ForeignKeyConstraint(
            ["verification_id"],
            ["verified_conversations.id"],
            name=op.f("fk_identity_disclosures_verification_id_verified_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_disclosures")),
        sa.UniqueConstraint(
            "sender_id",
            "message_key",
            "kind",
            name=op.f("uq_identity_disclosures_sender_id_message_key_kind"),
        ),
    )


def downgrade() -> None:
    op.drop_table("identity_disclosures")
    op.drop_index("ix_verified_conversations_sender_id_id", table_name="verified_conversations")
    op.drop_table("verified_conversations")
    op.drop_index("ix_verification_attempts_success_at", table_name="verification_attempts")
    op.drop_index("ix_verification_attempts_client_address_at", table_name="verification_attempts")
    with op.batch_alter_table("verification_attempts") as batch:
        batch.drop_column("throttled")
        batch.drop_column("client_address")
