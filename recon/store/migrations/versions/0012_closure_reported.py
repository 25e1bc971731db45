"""A finding's close is reported too: ``findings.reported_at`` of a resolved or left-out finding.

``findings.reported_at`` is when a report that went out first showed the finding as it stands;
a finding closed (resolved, or left out as a test order's) now starts again unreported, and the
next report that goes out lists it as resolved or left out. Before, "Resolved" was only what
this run saw go, so a run that closed findings and then failed (its report never written or
sent) left them closed for the next run, and no mail ever listed them.

No column changes. Stored closed findings count as reported (at the latest of when they were
reported, closed or last seen), except those whose closing event (``finding_events``: the
latest of the finding) was saved by a run that did not finish ``ok`` and began after the last
nightly run that did: its report never went out, so the next one lists them. A closure by a
run that failed before the last good night stays reported: it is old news, and listing it now
would bury the night's real resolutions (a store with a history of failures would mail them
all at once). A closure with no run (the history's ``upgrade`` event) counts as reported.

Revision ID: 0012_closure_reported
Revises: 0011_unseen_orders
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012_closure_reported"
down_revision = "0011_unseen_orders"
branch_labels = None
depends_on = None

_CLOSED = "status IN ('resolved', 'left_out')"
# The run that saved the finding's latest event did not finish (its report never went out),
# and began after the last nightly run that finished (or none has).
_LAST_OK = "(SELECT MAX(o.started_at) FROM runs o WHERE o.kind = 'nightly' AND o.status = 'ok')"
_CLOSED_BY_A_RUN_THAT_FAILED = (
    "EXISTS (SELECT 1 FROM finding_events e JOIN runs r ON r.id = e.run_id "
    "WHERE e.id = (SELECT MAX(l.id) FROM finding_events l WHERE l.key = findings.key) "
    f"AND r.status <> 'ok' AND ({_LAST_OK} IS NULL OR r.started_at > {_LAST_OK}))"
)


def upgrade() -> None:
    # A finding first seen by a run that failed (never listed as new) and closed by one that
    # finished was listed as resolved by the latter: reported.
    op.execute(
        "UPDATE findings SET reported_at = COALESCE(resolved_at, last_seen, first_seen) "
        f"WHERE {_CLOSED} AND reported_at IS NULL"
    )
    op.execute(
        f"UPDATE findings SET reported_at = NULL WHERE {_CLOSED} AND {_CLOSED_BY_A_RUN_THAT_FAILED}"
    )


def downgrade() -> None:
    # Nothing to undo: the version before reads ``reported_at`` of open findings only.
    pass
