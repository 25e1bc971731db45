"""Initial mirror tables: records, bookkeeping (watermarks, backfill windows, runs), findings.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-29 05:00:49.642947
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types: a migration must not change when tables.py does.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('backfill_windows',
    sa.Column('range_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('range_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stats', JSON, nullable=False),
    sa.PrimaryKeyConstraint('range_start', 'range_end', 'window_start')
    )
    op.create_table('balance_transactions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('transaction_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_order_transaction_id', sa.String(length=64), nullable=True),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('payout_id', sa.String(length=64), nullable=True),
    sa.Column('payout_status', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.String(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('record', JSON, nullable=False),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('balance_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_balance_transactions_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_balance_transactions_payout_id'), ['payout_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_balance_transactions_payout_status'), ['payout_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_balance_transactions_source_order_transaction_id'), ['source_order_transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_balance_transactions_transaction_date'), ['transaction_date'], unique=False)

    op.create_table('findings',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged', sa.Boolean(), nullable=False),
    sa.Column('payload', JSON, nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_findings_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_findings_status'), ['status'], unique=False)

    op.create_table('gift_cards',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('initial_value', sa.String(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('record', JSON, nullable=False),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gift_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gift_cards_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_gift_cards_order_id'), ['order_id'], unique=False)

    op.create_table('inventory_observations',
    sa.Column('inventory_item_id', sa.String(length=64), nullable=False),
    sa.Column('location_id', sa.String(length=64), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('record', JSON, nullable=False),
    sa.PrimaryKeyConstraint('inventory_item_id', 'location_id', 'observed_at')
    )
    op.create_table('loop_return_lines',
    sa.Column('return_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.String(length=64), nullable=False),
    sa.Column('provider_line_item_id', sa.String(length=64), nullable=True),
    sa.Column('sku', sa.String(length=255), nullable=True),
    sa.Column('refund', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('return_id', 'position')
    )
    with op.batch_alter_table('loop_return_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loop_return_lines_provider_line_item_id'), ['provider_line_item_id'], unique=False)

    op.create_table('loop_returns',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('provider_order_id', sa.String(length=64), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('refund', sa.String(length=40), nullable=False),
    sa.Column('gift_card', sa.String(length=40), nullable=False),
    sa.Column('record', JSON, nullable=False),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loop_returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loop_returns_provider_order_id'), ['provider_order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loop_returns_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_loop_returns_updated_at'), ['updated_at'], unique=False)

    op.create_table('order_lines',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=255), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('order_id', 'id')
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_lines_sku'), ['sku'], unique=False)

    op.create_table('order_refund_ids',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('refund_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('order_id', 'refund_id')
    )
    with op.batch_alter_table('order_refund_ids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_refund_ids_refund_id'), ['refund_id'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('financial_status', sa.String(length=32), nullable=True),
    sa.Column('return_status', sa.String(length=32), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('presentment_currency', sa.String(length=3), nullable=False),
    sa.Column('record', JSON, nullable=False),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_updated_at'), ['updated_at'], unique=False)

    op.create_table('payouts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('net', sa.String(length=40), nullable=False),
    sa.Column('record', JSON, nullable=False),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payouts_issued_at'), ['issued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_status'), ['status'], unique=False)

    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=True),
    sa.Column('field', sa.String(length=255), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('quarantined_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_run_id'), ['run_id'], unique=False)

    op.create_table('refund_lines',
    sa.Column('refund_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=255), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('restock_type', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('refund_id', 'position')
    )
    with op.batch_alter_table('refund_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_lines_line_item_id'), ['line_item_id'], unique=False)

    op.create_table('refunds',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.String(length=40), nullable=False),
    sa.Column('total_shop', sa.String(length=40), nullable=False),
    sa.Column('record', JSON, nullable=False),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_processed_at'), ['processed_at'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stats', JSON, nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sync_watermarks',
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('stream')
    )
    op.create_table('transactions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('refund_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('gateway', sa.String(length=64), nullable=True),
    sa.Column('amount', sa.String(length=40), nullable=False),
    sa.Column('amount_shop', sa.String(length=40), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('record', JSON, nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transactions_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transactions_refund_id'), ['refund_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transactions_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transactions_status'))
        batch_op.drop_index(batch_op.f('ix_transactions_refund_id'))
        batch_op.drop_index(batch_op.f('ix_transactions_order_id'))

    op.drop_table('transactions')
    op.drop_table('sync_watermarks')
    op.drop_table('runs')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_processed_at'))
        batch_op.drop_index(batch_op.f('ix_refunds_order_id'))

    op.drop_table('refunds')
    with op.batch_alter_table('refund_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_lines_line_item_id'))

    op.drop_table('refund_lines')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_run_id'))

    op.drop_table('quarantine')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payouts_status'))
        batch_op.drop_index(batch_op.f('ix_payouts_issued_at'))

    op.drop_table('payouts')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_updated_at'))
        batch_op.drop_index(batch_op.f('ix_orders_name'))

    op.drop_table('orders')
    with op.batch_alter_table('order_refund_ids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_refund_ids_refund_id'))

    op.drop_table('order_refund_ids')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_lines_sku'))

    op.drop_table('order_lines')
    with op.batch_alter_table('loop_returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loop_returns_updated_at'))
        batch_op.drop_index(batch_op.f('ix_loop_returns_state'))
        batch_op.drop_index(batch_op.f('ix_loop_returns_provider_order_id'))

    op.drop_table('loop_returns')
    with op.batch_alter_table('loop_return_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loop_return_lines_provider_line_item_id'))

    op.drop_table('loop_return_lines')
    op.drop_table('inventory_observations')
    with op.batch_alter_table('gift_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gift_cards_order_id'))
        batch_op.drop_index(batch_op.f('ix_gift_cards_created_at'))

    op.drop_table('gift_cards')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_findings_status'))
        batch_op.drop_index(batch_op.f('ix_findings_category'))

    op.drop_table('findings')
    with op.batch_alter_table('balance_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_balance_transactions_transaction_date'))
        batch_op.drop_index(batch_op.f('ix_balance_transactions_source_order_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_balance_transactions_payout_status'))
        batch_op.drop_index(batch_op.f('ix_balance_transactions_payout_id'))
        batch_op.drop_index(batch_op.f('ix_balance_transactions_order_id'))

    op.drop_table('balance_transactions')
    op.drop_table('backfill_windows')
