"""Busy-caller rules still to settle: the fast outcome's close records one per unanswered
call of a registered caller, in the same statement, so a request that dies before the rule
runs leaves work for the worker's sweep instead of a lost ticket (ADR 0014).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "busy_rule_pending",
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_busy_rule_pending_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_busy_rule_pending")),
    )


def downgrade() -> None:
    op.drop_table("busy_rule_pending")
