"""Quarantine entries resolved by hand: who resolved one and why (``quarantine resolve``).

An entry without a record id (the payload was not even an object) names nothing a later read
could match, so an operator resolves it with a note; both are kept with the entry.

Revision ID: 0006_quarantine_by_hand
Revises: 0005_store_owner_domain
Create Date: 2026-11-29 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_quarantine_by_hand"
down_revision = "0005_store_owner_domain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("resolved_note", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("resolved_note")
        batch_op.drop_column("resolved_by")
