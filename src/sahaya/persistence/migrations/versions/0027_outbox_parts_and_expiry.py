"""outbox_messages.parts and outbox_messages.expires_at.

`parts`: a message with files goes out as several provider messages (the text, then each
file). The parts already sent, with their provider ids, are kept on the row, so a retry
resumes with the next part instead of sending the text again, and a receipt for any part
finds its message (a GIN index over the non-empty ones).

`expires_at`: a message not sent by then is never sent (a sign-in code is useless after
its 5 minutes); the sweep finds the queued ones by a partial index.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "outbox_messages",
        sa.Column("parts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "outbox_messages", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_outbox_messages_parts",
        "outbox_messages",
        ["parts"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"parts": "jsonb_path_ops"},
        postgresql_where=sa.text("parts IS NOT NULL"),
    )
    op.create_index(
        "ix_outbox_messages_expiring",
        "outbox_messages",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("state = 'queued' AND expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    # Refused, saying why, while either column still means something: without `parts` a
    # message part-way through would send its text again and the record of which files
    # reached the customer would be gone; without `expires_at` a queued sign-in code would
    # be sent after it expired. (A sent or failed message's lapsed `expires_at` means
    # nothing any more and is dropped.)
    op.execute(
        """
        DO $$ BEGIN
          IF EXISTS (SELECT FROM outbox_messages WHERE parts IS NOT NULL) THEN
            RAISE EXCEPTION 'outbox_messages.parts records which parts of messages were sent: '
              'downgrading below 0027 would lose it';
          END IF;
          IF EXISTS (
            SELECT FROM outbox_messages WHERE state = 'queued' AND expires_at IS NOT NULL
          ) THEN
            RAISE EXCEPTION 'queued outbox messages have an expiry (sign-in codes): '
              'downgrading below 0027 now would send them after it; wait until they expire';
          END IF;
        END $$
        """
    )
    op.drop_index("ix_outbox_messages_expiring", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_parts", table_name="outbox_messages")
    op.drop_column("outbox_messages", "expires_at")
    op.drop_column("outbox_messages", "parts")
