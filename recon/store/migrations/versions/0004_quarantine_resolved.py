"""Quarantine entries resolve: ``resolved_at`` set when a later sync stores the record cleanly.

Entries of records the mirror stored again after them are resolved at that time.

Revision ID: 0004_quarantine_resolved
Revises: 0003_store_owner
Create Date: 2026-11-29 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_quarantine_resolved"
down_revision = "0003_store_owner"
branch_labels = None
depends_on = None


# (source, kind) of an entry → the mirror table holding that record, with its ``synced_at``.
_MIRRORED = {
    ("loop", "return"): "loop_returns",
    ("shopify", "order"): "orders",
    ("shopify", "refund"): "refunds",
    ("shopify", "payout"): "payouts",
    ("shopify", "balance_transaction"): "balance_transactions",
    ("shopify", "gift_card"): "gift_cards",
}


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_quarantine_record", ["kind", "record_id"], unique=False)
    # An entry whose record a later sync stored (the mirror's copy is newer than the entry) was
    # read cleanly since: resolved then, or it would hold the order's writes until a read that
    # may never come. Others stay open for the next clean read. Cleaning notes hold nothing and
    # the mirror cannot tell whether that later read cleaned the same field again: left open.
    for (source, kind), table in _MIRRORED.items():
        newer = (
            f"FROM {table} AS m WHERE m.id = quarantine.record_id "
            "AND m.synced_at > quarantine.quarantined_at"
        )
        op.execute(
            sa.text(
                f"UPDATE quarantine SET resolved_at = (SELECT m.synced_at {newer}) "
                "WHERE resolved_at IS NULL AND source = :source AND kind = :kind "
                f"AND reason NOT LIKE 'kept after cleaning: %' AND EXISTS (SELECT 1 {newer})"
            ).bindparams(source=source, kind=kind)
        )


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_record")
        batch_op.drop_column("resolved_at")
