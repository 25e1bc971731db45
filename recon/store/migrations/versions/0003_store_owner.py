"""The shop a store belongs to: a second shop opening the same store is refused.

Revision ID: 0003_store_owner
Revises: 0002_remediation
Create Date: 2026-11-29 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_store_owner"
down_revision = "0002_remediation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_owner",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("shop", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("store_owner")
