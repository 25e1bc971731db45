"""Quarantine "not visible" entries count their sightings: ``times``, ``last_seen_at``, ``last_run_id``.

A record a by-id read answered null for is asked again on a back-off (``[sync]
not_visible_recheck_days``); each recheck answered null again added one more open entry
(about 12 a year per order at 30 days). A repeat sighting now updates the open entry: how many
times, when last, by which run. Entries that reject a payload stay one row per time.

Existing entries get ``times`` 1 and their own time and run as the last. The "not visible"
rows of one record and reason that were open together (still open, or resolved at the same
time: one episode) fold into the first of them, counting the others, which are deleted (their
payload is only the record's id).

Revision ID: 0013_quarantine_sightings
Revises: 0012_closure_reported
Create Date: 2026-11-30 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_quarantine_sightings"
down_revision = "0012_closure_reported"
branch_labels = None
depends_on = None

# recon.models.NOT_VISIBLE_REASONS as this revision found them (a migration must not follow
# later edits of the constants).
_NOT_VISIBLE = (
    "order not visible: deleted, or older than 60 days without read_all_orders",
    "refund not visible: nodes(ids:) returned null (its order deleted or out of sight); "
    "recon holds its refunds and restocks on the order until it can read it",
    "balance transaction not visible: nodes(ids:) returned null (gone, or the app lost "
    "read_shopify_payments_payouts); the mirrored row keeps its last known payout status",
)


def _same_episode(alias: str) -> str:
    """``alias`` is a row of the same record, reason and episode as the outer ``quarantine``."""
    return (
        f"{alias}.source = quarantine.source AND {alias}.kind = quarantine.kind "
        f"AND {alias}.record_id = quarantine.record_id AND {alias}.reason = quarantine.reason "
        f"AND ({alias}.resolved_at = quarantine.resolved_at "
        f"OR ({alias}.resolved_at IS NULL AND quarantine.resolved_at IS NULL))"
    )


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("times", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_run_id", sa.String(length=64), nullable=True))
    op.execute("UPDATE quarantine SET last_seen_at = quarantined_at, last_run_id = run_id")
    reasons: sa.BindParameter[str] = sa.bindparam(
        "reasons", list(_NOT_VISIBLE), type_=sa.String(), expanding=True
    )
    sighting = "quarantine.reason IN :reasons AND quarantine.record_id IS NOT NULL"
    first = f"(SELECT MIN(d.id) FROM quarantine d WHERE {_same_episode('d')})"
    latest = f"(SELECT MAX(e.id) FROM quarantine e WHERE {_same_episode('e')})"
    op.execute(
        sa.text(
            "UPDATE quarantine SET "
            f"times = (SELECT COUNT(*) FROM quarantine d WHERE {_same_episode('d')}), "
            f"last_seen_at = (SELECT MAX(d.quarantined_at) FROM quarantine d "
            f"WHERE {_same_episode('d')}), "
            f"last_run_id = (SELECT l.run_id FROM quarantine l WHERE l.id = {latest}) "
            f"WHERE {sighting} AND quarantine.id = {first}"
        ).bindparams(reasons)
    )
    op.execute(
        sa.text(f"DELETE FROM quarantine WHERE {sighting} AND quarantine.id <> {first}").bindparams(
            reasons
        )
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.alter_column(
            "last_seen_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    # The folded sightings are not split again: the entry that kept them stays, counted once.
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_column("last_run_id")
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("times")
