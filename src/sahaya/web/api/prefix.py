"""Where the REST API lives. Each router carries it, so route templates (metrics, logs) are
the full paths."""

PREFIX = "/api/v1"
