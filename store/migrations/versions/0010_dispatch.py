"""Repair work orders in the back office: crews (抢修班组) with the areas they cover, crew members
(staff_users.crew_id), tickets naming their crew by reference (tickets.crew_id instead of the
free-text tickets.crew), the follow-up call's result, and photos taken on site.

The free-text crew names already on tickets become crews (one per distinct name, covering the
areas of the tickets it worked), so the history keeps meaning what it meant; going down puts the
names back.

SQLite: no batch mode (it would copy and drop tickets and staff_users, and with foreign keys on
that drop deletes their events and sessions: store/migration_helpers.py). Columns are added and
dropped in place by ALTER TABLE, which SQLite 3.35+ does without a copy; a reference is declared
on the new column itself.

Revision ID: 0010_dispatch
Revises: 0009_back_office_roles
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migration_helpers import add_reference, drop_reference

revision: str = "0010_dispatch"
down_revision: str | None = "0009_back_office_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALLBACK_CHECK = (
    "callback_result IN ('satisfied', 'basically_satisfied', 'dissatisfied', 'unreachable')"
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _create_tables() -> None:
    op.create_table(
        "crews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crews")),
        sa.UniqueConstraint("name", name=op.f("uq_crews_name")),
    )
    op.create_table(
        "crew_areas",
        sa.Column("crew_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["service_areas.id"], name=op.f("fk_crew_areas_area_id_service_areas")
        ),
        sa.ForeignKeyConstraint(
            ["crew_id"], ["crews.id"], name=op.f("fk_crew_areas_crew_id_crews"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("crew_id", "area_id", name=op.f("pk_crew_areas")),
    )
    op.create_table(
        "ticket_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_ticket_photos_size_bytes")),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_photos_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_photos")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_ticket_photos_stored_name")),
    )
    op.create_index(op.f("ix_ticket_photos_ticket_id"), "ticket_photos", ["ticket_id"])


def _add_ticket_columns() -> None:
    add_reference("tickets", "crew_id", "crews", "SET NULL")
    op.create_index(op.f("ix_tickets_crew_id"), "tickets", ["crew_id"])
    if _sqlite():
        op.execute(
            sa.text(
                "ALTER TABLE tickets ADD COLUMN callback_result VARCHAR(24)"
                f" CONSTRAINT ck_tickets_callback_result CHECK ({CALLBACK_CHECK})"
            )
        )
    else:
        op.add_column("tickets", sa.Column("callback_result", sa.String(24), nullable=True))
        op.create_check_constraint(
            op.f("ck_tickets_callback_result"), "tickets", sa.text(CALLBACK_CHECK)
        )


def _crews_from_names() -> None:
    """One crew per free-text name on the tickets, covering the areas it worked in."""
    op.execute(
        sa.text(
            "INSERT INTO crews (name, active, created_at)"
            " SELECT trim(crew), true, min(created_at) FROM tickets"
            " WHERE crew IS NOT NULL AND trim(crew) <> '' GROUP BY trim(crew)"
        )
    )
    op.execute(
        sa.text(
            "UPDATE tickets SET crew_id = (SELECT crews.id FROM crews"
            " WHERE crews.name = trim(tickets.crew)) WHERE crew IS NOT NULL"
        )
    )
    op.execute(
        sa.text(
            "INSERT INTO crew_areas (crew_id, area_id)"
            " SELECT DISTINCT crew_id, area_id FROM tickets"
            " WHERE crew_id IS NOT NULL AND area_id IS NOT NULL"
        )
    )


def upgrade() -> None:
    _create_tables()
    add_reference("staff_users", "crew_id", "crews", "SET NULL")
    _add_ticket_columns()
    _crews_from_names()
    if _sqlite():
        op.execute(sa.text("ALTER TABLE tickets DROP COLUMN crew"))
    else:
        op.drop_column("tickets", "crew")


def downgrade() -> None:
    """Each ticket gets its crew's name back as text; crews, members' links and photos' rows go
    (the photo files stay under var/)."""
    op.add_column("tickets", sa.Column("crew", sa.String(length=64), nullable=True))
    op.execute(
        sa.text(
            "UPDATE tickets SET crew = (SELECT crews.name FROM crews"
            " WHERE crews.id = tickets.crew_id) WHERE crew_id IS NOT NULL"
        )
    )
    if _sqlite():
        op.execute(sa.text("ALTER TABLE tickets DROP COLUMN callback_result"))
    else:
        op.drop_constraint(op.f("ck_tickets_callback_result"), "tickets", type_="check")
        op.drop_column("tickets", "callback_result")
    op.drop_index(op.f("ix_tickets_crew_id"), table_name="tickets")
    drop_reference("tickets", "crew_id", "crews", "SET NULL")
    drop_reference("staff_users", "crew_id", "crews", "SET NULL")
    op.drop_index(op.f("ix_ticket_photos_ticket_id"), table_name="ticket_photos")
    op.drop_table("ticket_photos")
    op.drop_table("crew_areas")
    op.drop_table("crews")
