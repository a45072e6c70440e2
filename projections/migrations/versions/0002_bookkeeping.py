"""Hub bookkeeping of other modules: credit-trigger webhooks (connectors/webhook_models.py:
webhook_subscribers, webhook_outbox, webhook_attempts) and pull connectors
(connectors/pull_models.py: pull_cursors, pull_rejected). Not read models: a projection
rebuild keeps them.

Those modules created their tables with `ensure_tables` (create_all, checkfirst) before this
revision existed, so each table is created only where it is missing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _missing(name: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if _missing('pull_cursors'):
        op.create_table('pull_cursors',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('cursor', sa.Text(), nullable=True),
        sa.Column('pages', sa.BigInteger(), nullable=False),
        sa.Column('accepted', sa.BigInteger(), nullable=False),
        sa.Column('duplicates', sa.BigInteger(), nullable=False),
        sa.Column('rejected', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_pull_cursors'))
        )
    if _missing('pull_rejected'):
        op.create_table('pull_rejected',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('source_event_id', sa.String(length=200), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('partition', sa.BigInteger(), nullable=True),
        sa.Column('offset', sa.BigInteger(), nullable=True),
        sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', 'digest', name=op.f('pk_pull_rejected'))
        )
    if _missing('webhook_attempts'):
        op.create_table('webhook_attempts',
        sa.Column('attempt_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('delivery_id', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('attempt_id', name=op.f('pk_webhook_attempts'))
        )
        op.create_index(op.f('ix_webhook_attempts_delivery_id'), 'webhook_attempts', ['delivery_id'], unique=False)
    if _missing('webhook_outbox'):
        op.create_table('webhook_outbox',
        sa.Column('delivery_id', sa.String(length=32), nullable=False),
        sa.Column('subscriber_id', sa.String(length=64), nullable=False),
        sa.Column('trigger_id', sa.String(length=40), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('uscc', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claim_token', sa.String(length=32), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('receipt_event_id', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('delivery_id', name=op.f('pk_webhook_outbox'))
        )
        op.create_index('ix_webhook_outbox_due', 'webhook_outbox', ['state', 'next_attempt_at'], unique=False)
        op.create_index(op.f('ix_webhook_outbox_subscriber_id'), 'webhook_outbox', ['subscriber_id'], unique=False)
        op.create_index(op.f('ix_webhook_outbox_trigger_id'), 'webhook_outbox', ['trigger_id'], unique=False)
    if _missing('webhook_subscribers'):
        op.create_table('webhook_subscribers',
        sa.Column('subscriber_id', sa.String(length=64), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('secret', sa.String(length=500), nullable=False),
        sa.Column('codes', sa.JSON(), nullable=True),
        sa.Column('region_code', sa.String(length=6), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('subscriber_id', name=op.f('pk_webhook_subscribers'))
        )


def downgrade() -> None:
    op.drop_table('webhook_subscribers')
    op.drop_index(op.f('ix_webhook_outbox_trigger_id'), table_name='webhook_outbox')
    op.drop_index(op.f('ix_webhook_outbox_subscriber_id'), table_name='webhook_outbox')
    op.drop_index('ix_webhook_outbox_due', table_name='webhook_outbox')
    op.drop_table('webhook_outbox')
    op.drop_index(op.f('ix_webhook_attempts_delivery_id'), table_name='webhook_attempts')
    op.drop_table('webhook_attempts')
    op.drop_table('pull_rejected')
    op.drop_table('pull_cursors')
