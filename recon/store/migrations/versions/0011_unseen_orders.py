"""Orders not visible in Shopify are asked for again after a while, and never-mirrored ones too.

``orders.not_visible_checked_at``: when a by-id read last answered null for a mirrored order
(``not_visible_at`` keeps the first time, which a month's book reads). ``unseen_orders``: an
order a Loop return names that the mirror never held, which Shopify answered null for (it was
asked for every night, for ever: no row held the mark). Either is asked for again only when its
Loop return changes, or ``[sync] not_visible_recheck_days`` after it was last asked.

Revision ID: 0011_unseen_orders
Revises: 0010_finding_reported
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_unseen_orders"
down_revision = "0010_finding_reported"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("not_visible_checked_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "unseen_orders",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("not_visible_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("unseen_orders")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("not_visible_checked_at")
