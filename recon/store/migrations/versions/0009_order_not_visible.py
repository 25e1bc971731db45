"""Orders carry ``not_visible_at``: when Shopify last answered null for the order by id.

``nodes(ids:)`` answers null for an order deleted in Shopify (or older than 60 days without
``read_all_orders``, shopify-admin-api.md §1, §6). Such an order's test flag (``test`` NULL) can
never be read, so it is recorded here instead of being re-requested every night; recon writes
nothing to it. A later read that returns the order clears the column.

Revision ID: 0009_order_not_visible
Revises: 0008_finding_events
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_order_not_visible"
down_revision = "0008_finding_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_visible_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("not_visible_at")
