"""ASGI entry point for uvicorn (`sahaya.web.asgi:app`); reads settings from the environment."""

from __future__ import annotations

from sahaya.persistence.embedded import resolve_database_url
from sahaya.settings import get_settings
from sahaya.web.app import create_app

_settings = get_settings()
app = create_app(resolve_database_url(_settings.database_url, _settings.var_dir), _settings)
