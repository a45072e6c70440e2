"""Widen uscc where a natural person's id_token (tk_ + 32 hex) stands in for it: credit events,
timeline entries and credit triggers of natural-person parties.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("credit_events", "timeline", "credit_triggers")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("uscc", type_=sa.String(64), existing_type=sa.String(18))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("uscc", type_=sa.String(18), existing_type=sa.String(64))
