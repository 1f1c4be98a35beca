"""conversations.address holds up to 320 characters, as every other email column does.

An email sender's address can be 254 characters (RFC 5321's path limit); the column took
200, so a mail from a longer address was kept but failed on every try to process it.
Lengthening a varchar rewrites nothing in PostgreSQL (a catalogue change).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 10:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column(
        "conversations", "address", type_=sa.String(length=320), existing_nullable=False
    )


def downgrade() -> None:
    # Refused, saying why, while an address longer than 200 characters exists: shortening
    # would fail with "value too long", or, truncated, merge two senders' conversations.
    op.execute(
        """
        DO $$ BEGIN
          IF EXISTS (SELECT FROM conversations WHERE length(address) > 200) THEN
            RAISE EXCEPTION 'conversations.address holds addresses over 200 characters: '
              'downgrading below 0026 would cut them';
          END IF;
        END $$
        """
    )
    op.alter_column(
        "conversations", "address", type_=sa.String(length=200), existing_nullable=False
    )
