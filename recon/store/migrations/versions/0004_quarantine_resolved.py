"""Quarantine entries resolve: ``resolved_at`` set when a later sync stores the record cleanly.

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


def upgrade() -> None:
    # Entries already there stay open: the next clean read of their record resolves them.
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_quarantine_record", ["kind", "record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_record")
        batch_op.drop_column("resolved_at")
