"""Async engine and session factory; one `Database` per process."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def sqlalchemy_url(libpq_url: str) -> str:
    """Turn a libpq URL (what procrastinate and psql take) into SQLAlchemy's psycopg URL."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if libpq_url.startswith(prefix):
            return "postgresql+psycopg://" + libpq_url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {libpq_url!r}")


def libpq_url(url: str) -> str:
    """The inverse of `sqlalchemy_url`: a URL psycopg and psql accept directly."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = libpq_url(url)
        self.engine: AsyncEngine = create_async_engine(
            sqlalchemy_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            echo=echo,
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def dispose(self) -> None:
        await self.engine.dispose()
