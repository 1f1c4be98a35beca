"""The `sahaya` command."""

from sahaya.cli.main import app, main

__all__ = ["app", "main"]
