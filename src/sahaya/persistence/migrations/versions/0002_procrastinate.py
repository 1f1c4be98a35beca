"""procrastinate's job-queue schema, in the same database (ARCHITECTURE §1)

The schema is the one shipped by the installed procrastinate (pinned to one minor release in
pyproject.toml). Upgrading procrastinate means adding a revision that runs its migration
files; see docs/adr/0002-procrastinate-schema-in-alembic.md.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    already = connection.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar()
    if already is None:
        # Through the driver directly: the script has `%` signs and many statements.
        driver = connection.connection.driver_connection
        if driver is None:
            raise RuntimeError("no driver connection to apply procrastinate's schema")
        driver.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.execute(
        "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, "
        "procrastinate_jobs, procrastinate_workers CASCADE"
    )
