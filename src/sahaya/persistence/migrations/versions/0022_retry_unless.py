"""sahaya_retry_unless(ok, reason): lets a single statement give up as a serialisation
failure when what it read at its start no longer holds once it has taken its locks
(tickets.fast_thread: the open ticket changed between the statement's snapshot and its
row lock). The whole statement is undone and the caller runs it again.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 05:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION sahaya_retry_unless(ok boolean, reason text) RETURNS boolean
        LANGUAGE plpgsql AS $$
        BEGIN
          IF NOT ok THEN
            RAISE EXCEPTION '%', reason USING ERRCODE = 'serialization_failure';
          END IF;
          RETURN true;
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION sahaya_retry_unless(boolean, text)")
