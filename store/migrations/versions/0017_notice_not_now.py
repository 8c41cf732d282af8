"""Outage notices a channel cannot deliver to one customer now (bot.channels.base.NotNow):
two more delivery states, `held` (tried again later, or as soon as the customer writes) and
`undeliverable` (held too long: given up, `error` says why). Only the state constraint
changes, in place (store/migration_helpers.py); going down, held deliveries are queued again
and undeliverable ones count as failed.

Revision ID: 0017_notice_not_now
Revises: 0016_quality_indexes
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migration_helpers import change_check

revision: str = "0017_notice_not_now"
down_revision: str | None = "0016_quality_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES_BEFORE = (
    "state IN ('queued', 'claimed', 'sent', 'stored', 'failed', 'blocked', 'superseded')"
)
STATES_AFTER = (
    "state IN ('queued', 'claimed', 'sent', 'stored', 'failed', 'blocked', 'superseded',"
    " 'held', 'undeliverable')"
)


def upgrade() -> None:
    change_check("outage_deliveries", "state", STATES_BEFORE, STATES_AFTER)


def downgrade() -> None:
    op.execute(sa.text("UPDATE outage_deliveries SET state = 'queued' WHERE state = 'held'"))
    op.execute(
        sa.text("UPDATE outage_deliveries SET state = 'failed' WHERE state = 'undeliverable'")
    )
    change_check("outage_deliveries", "state", STATES_AFTER, STATES_BEFORE)
