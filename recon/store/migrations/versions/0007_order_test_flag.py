"""Orders carry ``test`` (Shopify's ``Order.test``) in a column; NULL: not read yet.

Orders mirrored before recon read the flag have none: their column stays NULL (unknown), so the
next nightly sync re-reads them by id and remediation writes nothing to them until then. An
order whose stored record already carries the flag gets it in the column.

Revision ID: 0007_order_test_flag
Revises: 0006_quarantine_by_hand
Create Date: 2026-11-29 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_order_test_flag"
down_revision = "0006_quarantine_by_hand"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("test", sa.Boolean(), nullable=True))
    # A record without the key (or with null) leaves the column NULL on both dialects.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE orders SET test = (record ->> 'test')::boolean")
    else:
        op.execute("UPDATE orders SET test = json_extract(record, '$.test')")


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("test")
