"""At most one open call leg per executive, enforced by a unique partial index: nobody is
offered two calls at once, whatever planners race (ADR 0013). Legs whose outcome never came
are closed as `unreported`, which the new leg outcome names.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_BEFORE = (
    "'answered', 'missed', 'no_answer', 'busy', 'rejected', 'failed', 'caller_hung_up', 'not_rung'"
)
_AFTER = _BEFORE + ", 'unreported'"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_call_legs_outcome"), "call_legs", type_="check")
    op.create_check_constraint(op.f("ck_call_legs_outcome"), "call_legs", f"outcome IN ({_AFTER})")
    # Before the index: an executive still holding several open legs keeps the newest.
    op.execute(
        """
        UPDATE call_legs l SET outcome = 'unreported', ended_at = now()
        WHERE l.outcome IS NULL AND EXISTS (
          SELECT 1 FROM call_legs n
          WHERE n.executive_id = l.executive_id AND n.outcome IS NULL
            AND (n.offered_at, n.id) > (l.offered_at, l.id))
        """
    )
    op.drop_index(
        "ix_call_legs_open", table_name="call_legs", postgresql_where=sa.text("outcome IS NULL")
    )
    op.create_index(
        "uq_call_legs_open_executive",
        "call_legs",
        ["executive_id"],
        unique=True,
        postgresql_where=sa.text("outcome IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_call_legs_open_executive",
        table_name="call_legs",
        postgresql_where=sa.text("outcome IS NULL"),
    )
    op.create_index(
        "ix_call_legs_open",
        "call_legs",
        ["executive_id"],
        unique=False,
        postgresql_where=sa.text("outcome IS NULL"),
    )
    op.execute("UPDATE call_legs SET outcome = 'not_rung' WHERE outcome = 'unreported'")
    op.drop_constraint(op.f("ck_call_legs_outcome"), "call_legs", type_="check")
    op.create_check_constraint(op.f("ck_call_legs_outcome"), "call_legs", f"outcome IN ({_BEFORE})")
