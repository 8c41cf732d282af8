"""Initial schema: every table of store/models.py.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handoff_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_requests")),
    )
    op.create_index(
        "ix_handoff_requests_status_created",
        "handoff_requests",
        ["status", "created_at"],
        unique=False,
    )

    op.create_table(
        "number_sequences",
        sa.Column("prefix", sa.String(length=4), nullable=False),
        sa.Column("day", sa.String(length=6), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "day", name=op.f("pk_number_sequences")),
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_ratings_rating")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
    )
    op.create_index(op.f("ix_ratings_sender_id"), "ratings", ["sender_id"], unique=False)

    op.create_table(
        "service_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('urban', 'rural', 'remote')", name=op.f("ck_service_areas_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_areas")),
        sa.UniqueConstraint("code", name=op.f("uq_service_areas_code")),
    )
    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_attempts")),
    )
    op.create_index(
        "ix_verification_attempts_account_at",
        "verification_attempts",
        ["account_no", "at"],
        unique=False,
    )
    op.create_index(
        "ix_verification_attempts_sender_at",
        "verification_attempts",
        ["sender_id", "at"],
        unique=False,
    )

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_no", sa.String(length=16), nullable=False),
        sa.Column("holder_name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("prepaid", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("supply_status", sa.String(length=16), nullable=False),
        sa.Column("id_card_on_file", sa.Boolean(), nullable=False),
        sa.Column("property_proof_on_file", sa.Boolean(), nullable=False),
        sa.Column("meter_no", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "category IN ('residential', 'non_residential')", name=op.f("ck_accounts_category")
        ),
        sa.CheckConstraint(
            "supply_status IN ('normal', 'disconnected')", name=op.f("ck_accounts_supply_status")
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["service_areas.id"], name=op.f("fk_accounts_area_id_service_areas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("account_no", name=op.f("uq_accounts_account_no")),
        sa.UniqueConstraint("meter_no", name=op.f("uq_accounts_meter_no")),
    )
    op.create_index(op.f("ix_accounts_area_id"), "accounts", ["area_id"], unique=False)
    op.create_index(op.f("ix_accounts_phone"), "accounts", ["phone"], unique=False)

    op.create_table(
        "outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_no", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_restore_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('planned', 'fault')", name=op.f("ck_outages_kind")),
        sa.ForeignKeyConstraint(
            ["area_id"], ["service_areas.id"], name=op.f("fk_outages_area_id_service_areas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
        sa.UniqueConstraint("outage_no", name=op.f("uq_outages_outage_no")),
    )
    op.create_index("ix_outages_area_starts", "outages", ["area_id", "starts_at"], unique=False)

    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_no", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("business_type", sa.String(length=32), nullable=True),
        sa.Column("voltage", sa.String(length=8), nullable=False),
        sa.Column("dual_supply", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("applicant_name", sa.String(length=64), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("documents_received", sa.JSON(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("voltage IN ('low', 'high')", name=op.f("ck_applications_voltage")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_applications_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["service_areas.id"], name=op.f("fk_applications_area_id_service_areas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("application_no", name=op.f("uq_applications_application_no")),
    )
    op.create_index(
        "ix_applications_account_closed", "applications", ["account_id", "closed_at"], unique=False
    )
    op.create_index(
        "ix_applications_sender_closed", "applications", ["sender_id", "closed_at"], unique=False
    )

    op.create_table(
        "bills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("last_reading", sa.Integer(), nullable=False),
        sa.Column("this_reading", sa.Integer(), nullable=False),
        sa.Column("multiplier", sa.Integer(), nullable=False),
        sa.Column("kwh", sa.Integer(), nullable=False),
        sa.Column("ytd_kwh_before", sa.Integer(), nullable=False),
        sa.Column("tier1_kwh", sa.Integer(), nullable=False),
        sa.Column("tier2_kwh", sa.Integer(), nullable=False),
        sa.Column("tier3_kwh", sa.Integer(), nullable=False),
        sa.Column("peak_kwh", sa.Integer(), nullable=True),
        sa.Column("valley_kwh", sa.Integer(), nullable=True),
        sa.Column("energy_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("late_fee", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("adjustment", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("estimated_reading", sa.Boolean(), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_bills_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
    )
    op.create_index("ix_bills_account_period", "bills", ["account_id", "period"], unique=True)

    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_no", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=True),
        sa.Column("crew", sa.String(length=64), nullable=True),
        sa.Column("respond_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "priority IN ('urgent', 'high', 'normal', 'low')", name=op.f("ck_tickets_priority")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_tickets_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["service_areas.id"], name=op.f("fk_tickets_area_id_service_areas")
        ),
        sa.ForeignKeyConstraint(
            ["outage_id"], ["outages.id"], name=op.f("fk_tickets_outage_id_outages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("ticket_no", name=op.f("uq_tickets_ticket_no")),
    )
    op.create_index(
        "ix_tickets_account_closed", "tickets", ["account_id", "closed_at"], unique=False
    )
    op.create_index(
        "ix_tickets_area_type_created", "tickets", ["area_id", "type", "created_at"], unique=False
    )
    op.create_index(op.f("ix_tickets_contact_phone"), "tickets", ["contact_phone"], unique=False)
    op.create_index(op.f("ix_tickets_outage_id"), "tickets", ["outage_id"], unique=False)
    op.create_index("ix_tickets_sender_closed", "tickets", ["sender_id", "closed_at"], unique=False)

    op.create_table(
        "application_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("stage_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_events_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_events")),
    )
    op.create_index(
        op.f("ix_application_events_application_id"),
        "application_events",
        ["application_id"],
        unique=False,
    )

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_events_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index(
        op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("ticket_events")
    op.drop_table("application_events")
    op.drop_table("tickets")
    op.drop_table("bills")
    op.drop_table("applications")
    op.drop_table("outages")
    op.drop_table("accounts")
    op.drop_table("verification_attempts")
    op.drop_table("service_areas")
    op.drop_table("ratings")
    op.drop_table("number_sequences")
    op.drop_table("handoff_requests")
