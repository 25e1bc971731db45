"""The shop domain a store belongs to, beside its slug: a copied config that kept another shop's
slug is refused too. Stores claimed before this revision record the next domain that opens them.

Revision ID: 0005_store_owner_domain
Revises: 0004_quarantine_resolved
Create Date: 2026-11-29 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_store_owner_domain"
down_revision = "0004_quarantine_resolved"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("store_owner") as batch:
        batch.add_column(sa.Column("domain", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("store_owner") as batch:
        batch.drop_column("domain")
