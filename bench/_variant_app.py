"""The Sahaya ASGI app with optional, benchmark-only tweaks, for bench/lookup_variants.py.

Nothing here changes the product: it builds the same app as `sahaya.web.asgi` and, if
SAHAYA_BENCH_VARIANT names them, applies experiments from the outside:

  async_deps    replace the sync dependencies `clock`, `database` and `settings` with async
                ones via FastAPI's dependency_overrides (sync ones run in the thread pool)
  no_pre_ping   build the engine with pool_pre_ping=False (no extra round trip per checkout)

The pool size is an ordinary setting (SAHAYA_DB_POOL_SIZE), so it needs no tweak here.

    SAHAYA_BENCH_VARIANT=async_deps,no_pre_ping .venv/bin/python -m uvicorn \
        --app-dir bench _variant_app:app --port 8001
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from sahaya.persistence import database as database_module
from sahaya.persistence.embedded import resolve_database_url
from sahaya.settings import Settings, get_settings
from sahaya.web import deps
from sahaya.web.app import create_app

FLAGS = {f for f in os.environ.get("SAHAYA_BENCH_VARIANT", "").split(",") if f}
UNKNOWN = FLAGS - {"async_deps", "no_pre_ping"}
if UNKNOWN:
    raise SystemExit(f"unknown SAHAYA_BENCH_VARIANT flag(s): {', '.join(sorted(UNKNOWN))}")

if "no_pre_ping" in FLAGS:
    _create_engine = database_module.create_async_engine

    def _engine_without_ping(*args: Any, **kwargs: Any) -> Any:
        kwargs["pool_pre_ping"] = False
        return _create_engine(*args, **kwargs)

    database_module.create_async_engine = _engine_without_ping  # type: ignore[assignment]

_settings = get_settings()
app = create_app(resolve_database_url(_settings.database_url, _settings.var_dir), _settings)

if "async_deps" in FLAGS:

    async def _clock() -> datetime:
        return datetime.now(UTC)

    async def _database(request: Request) -> database_module.Database:
        db: database_module.Database = request.app.state.database
        return db

    async def _settings_dep(request: Request) -> Settings:
        value: Settings = request.app.state.settings
        return value

    app.dependency_overrides[deps.clock] = _clock
    app.dependency_overrides[deps.database] = _database
    app.dependency_overrides[deps.settings] = _settings_dep
