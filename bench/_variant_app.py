"""The Sahaya ASGI app with optional, benchmark-only tweaks, for bench/lookup_variants.py.

Nothing here changes the product: it builds the same app as `sahaya.web.asgi` and, if
SAHAYA_BENCH_VARIANT names them, applies experiments from the outside:

  async_deps    replace the dependencies `clock`, `database` and `settings` with coroutines
                (FastAPI runs plain `def` dependencies in its thread pool). A no-op since
                commit 4572a98, which made them `async def`.
  no_pre_ping   build the SQLAlchemy engine with pool_pre_ping=False (one round trip less
                per checkout). Since 4572a98 the lookup no longer uses that engine.
  no_metrics    leave out the Prometheus MetricsMiddleware
  shallow_card  build the lookup's response from the row with a shallow copy of its fields
                instead of `dataclasses.asdict` (which deep-copies every value); needs the
                4572a98 lookup (`CustomerOut(**asdict(card))`)

The pool size is an ordinary setting (SAHAYA_DB_POOL_SIZE), so it needs no tweak here.

    SAHAYA_BENCH_VARIANT=async_deps,no_pre_ping .venv/bin/python -m uvicorn \
        --app-dir bench _variant_app:app --port 8001
"""

from __future__ import annotations

import gc
import os
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant

from sahaya.persistence import database as database_module
from sahaya.persistence.embedded import resolve_database_url
from sahaya.settings import Settings, get_settings
from sahaya.web import deps
from sahaya.web.app import create_app

FLAGS = {f for f in os.environ.get("SAHAYA_BENCH_VARIANT", "").split(",") if f}
UNKNOWN = FLAGS - {"async_deps", "no_pre_ping", "no_metrics", "shallow_card"}
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

if "no_metrics" in FLAGS:
    from sahaya.web.metrics import MetricsMiddleware

    _before = len(app.user_middleware)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not MetricsMiddleware]
    if len(app.user_middleware) == _before:
        raise SystemExit("no_metrics: MetricsMiddleware not found")

if "shallow_card" in FLAGS:
    import dataclasses

    from sahaya.web.api import customers as customers_api

    if not hasattr(customers_api, "asdict"):
        raise SystemExit("shallow_card: sahaya.web.api.customers no longer uses asdict")

    def _shallow(obj: Any) -> dict[str, Any]:
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}

    customers_api.asdict = _shallow  # type: ignore[attr-defined]

if "async_deps" in FLAGS:
    # Swap the callables inside FastAPI's already-built dependency trees. (The official
    # `app.dependency_overrides` would also work, but FastAPI then rebuilds each overridden
    # dependant on every request, which costs more than the thread hop it removes.)

    async def _clock() -> datetime:
        return datetime.now(UTC)

    async def _database(request: Request) -> database_module.Database:
        db: database_module.Database = request.app.state.database
        return db

    async def _settings_dep(request: Request) -> Settings:
        value: Settings = request.app.state.settings
        return value

    _swap = {deps.clock: _clock, deps.database: _database, deps.settings: _settings_dep}
    _swapped = 0
    for _obj in gc.get_objects():
        if isinstance(_obj, Dependant) and _obj.call in _swap:
            _obj.call = _swap[_obj.call]
            _swapped += 1
    if not _swapped:
        raise SystemExit("async_deps: found no dependant to swap; FastAPI internals changed?")
