"""Alembic environment: runs migrations over a synchronous psycopg connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from sahaya.persistence.database import sqlalchemy_url
from sahaya.persistence.metadata import all_metadata, include_object

config = context.config
target_metadata = all_metadata()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url  # noqa: S101
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
