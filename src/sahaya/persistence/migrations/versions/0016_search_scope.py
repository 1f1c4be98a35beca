"""ticket search: recency per node, and better statistics on the search vector

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 21:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A taluk agent's search walks that taluk's tickets newest first instead of building a
    # GIN bitmap over the whole state (bench/README.md, issue 3 search).
    op.create_index(
        "ix_tickets_node_recent", "tickets", ["tenant_id", "node_id", "created_at"], unique=False
    )
    # More lexemes in `most_common_elems`: the planner can tell a rare word (use GIN) from a
    # common one (walk by recency) instead of assuming ~0.5 % for everything.
    op.execute("ALTER TABLE tickets ALTER COLUMN search SET STATISTICS 1000")


def downgrade() -> None:
    op.execute("ALTER TABLE tickets ALTER COLUMN search SET STATISTICS -1")
    op.drop_index("ix_tickets_node_recent", table_name="tickets")
