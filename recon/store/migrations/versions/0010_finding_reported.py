"""Findings carry ``reported_at``; finding events carry the amount they changed from.

``findings.reported_at`` is when a report that went out (written and handed to delivery)
first showed the finding as it stands. "New" in the reports was "first seen by this run", so
a run that saved its findings and then failed (its report never written or sent) left them
``open`` for the next run, and no mail ever listed them as new. The reports now list as new
the findings no report that went out has shown yet (``reported_at`` NULL).

Stored findings are taken as reported at their last sighting, except, when the last nightly
run did not finish, the ones still ``new`` that it saw: its report may never have gone out.

``finding_events.amount_before`` and ``currency_before``: an event that changed a finding's
amount at risk or currency (an open finding whose amount moved, or an acknowledged one
reopened by it) keeps what it was before; NULL on the others and on earlier events.

Revision ID: 0010_finding_reported
Revises: 0009_order_not_visible
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_finding_reported"
down_revision = "0009_order_not_visible"
branch_labels = None
depends_on = None

# The last nightly run's status and start; no run at all reads as not finished.
_LAST = "(SELECT {} FROM runs WHERE kind = 'nightly' ORDER BY started_at DESC LIMIT 1)"
_LAST_STATUS, _LAST_START = _LAST.format("status"), _LAST.format("started_at")


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("finding_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amount_before", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("currency_before", sa.String(length=16), nullable=True))
    # A ``new`` finding last seen before that run began is an earlier run's, which finished
    # (it mailed it): the last run failed before it saved anything (an API down in its sync).
    op.execute(
        "UPDATE findings SET reported_at = COALESCE(last_seen, first_seen) "
        f"WHERE status <> 'new' OR COALESCE({_LAST_STATUS}, '') = 'ok' "
        f"OR COALESCE(last_seen, first_seen) < {_LAST_START}"
    )


def downgrade() -> None:
    with op.batch_alter_table("finding_events", schema=None) as batch_op:
        batch_op.drop_column("currency_before")
        batch_op.drop_column("amount_before")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("reported_at")
