"""sahaya_search_add(search, body): a ticket's search words plus a message's, within
PostgreSQL's 1 MB limit on a tsvector. Each message adds at most its first 50,000
characters; a ticket whose words would pass the limit keeps the words it has, and the
message is still written (before, the reply or the threaded message failed with
"string is too long for tsvector").

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 08:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The size of a stored vector cannot be read without decompressing it, so the
    # concatenation is tried and its limit error caught (no write inside: the
    # subtransaction takes no transaction id).
    op.execute(
        """
        CREATE FUNCTION sahaya_search_add(search tsvector, body text) RETURNS tsvector
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        BEGIN
          RETURN search || to_tsvector('simple', left(body, 50000));
        EXCEPTION WHEN program_limit_exceeded THEN
          RETURN search;
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION sahaya_search_add(tsvector, text)")
