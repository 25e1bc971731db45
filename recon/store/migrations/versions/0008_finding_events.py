"""An append-only history of finding events: each change of a finding's status, with its time.

The findings table keeps each finding's current state only, so a month-end book rebuilt later
could not tell a finding acknowledged at the close and reopened since, nor the first episode of
one fixed and back. The history begins here: each finding already stored gets one ``upgrade``
event, its state as stored at the upgrade (dated by the store's clock). A period that ended
before the upgrade is rebuilt from the findings as before (``recon.period_end``).

Revision ID: 0008_finding_events
Revises: 0007_order_test_flag
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from recon.store.tables import JsonType, UTCDateTime

revision = "0008_finding_events"
down_revision = "0007_order_test_flag"
branch_labels = None
depends_on = None

_BATCH = 2_000


def upgrade() -> None:
    op.create_table(
        "finding_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shop", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("amount_at_risk", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.Column("acknowledged_note", sa.Text(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_events_key_at", "finding_events", ["key", "at"], unique=False)
    _record_stored_findings()


def _record_stored_findings() -> None:
    """One ``upgrade`` event per stored finding: its state now, where its history begins."""
    bind = op.get_bind()
    now = context.config.attributes.get("now") or datetime.now(UTC)
    shop = bind.execute(sa.text("SELECT shop FROM store_owner WHERE id = 1")).scalar()
    findings = sa.table("findings", sa.column("key", sa.String()), sa.column("payload", JsonType))
    events = sa.table(
        "finding_events",
        *(sa.column(c, sa.String()) for c in ("shop", "key", "status", "origin", "currency")),
        *(sa.column(c, sa.String()) for c in ("amount_at_risk", "acknowledged_by")),
        sa.column("acknowledged_note", sa.Text()),
        *(sa.column(c, UTCDateTime()) for c in ("at", "first_seen", "acknowledged_at")),
    )
    rows: list[dict[str, Any]] = []
    for payload in bind.execute(sa.select(findings.c.payload).order_by(findings.c.key)).scalars():
        rows.append(_upgrade_event(payload, shop, now))
        if len(rows) == _BATCH:
            bind.execute(events.insert(), rows)
            rows = []
    if rows:
        bind.execute(events.insert(), rows)


def _upgrade_event(payload: dict[str, Any], shop: str | None, now: datetime) -> dict[str, Any]:
    def when(name: str) -> datetime | None:
        value = payload.get(name)
        return datetime.fromisoformat(value).astimezone(UTC) if value else None

    return {
        "shop": shop,
        "key": payload["key"],
        "status": payload.get("status", "new"),
        "origin": "upgrade",
        "at": now,
        "amount_at_risk": str(payload.get("amount_at_risk", "0")),
        "currency": (payload.get("currency") or None) and str(payload["currency"])[:16],
        "first_seen": when("first_seen"),
        "acknowledged_by": (payload.get("acknowledged_by") or None)
        and str(payload["acknowledged_by"])[:255],
        "acknowledged_note": payload.get("acknowledged_note") or "",
        "acknowledged_at": when("acknowledged_at"),
    }


def downgrade() -> None:
    op.drop_index("ix_finding_events_key_at", table_name="finding_events")
    op.drop_table("finding_events")
