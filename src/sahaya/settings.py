"""One typed configuration object, read from `SAHAYA_*` environment variables.

Secrets are `SecretStr` so they never end up in logs or reprs; placeholder secrets are
refused outside development (a production deploy must set its own).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER = "change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAHAYA_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # Empty means: start the embedded PostgreSQL under `var_dir`.
    database_url: str = ""
    var_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    web_workers: int = Field(default=1, ge=1, le=64)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    secret_key: SecretStr = SecretStr(_PLACEHOLDER)
    default_tenant: str = "apna"
    default_region: str = "IN"
    # How many executives per level the escalation chain keeps (SD #1, SD #2, D #1, D #2, S #1).
    chain_depth_sub_district: int = Field(default=2, ge=0, le=20)
    chain_depth_district: int = Field(default=2, ge=0, le=20)
    chain_depth_state: int = Field(default=1, ge=0, le=20)
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    # A message from a customer with an unresolved ticket for the same service touched within
    # this many hours joins that ticket instead of opening another (0 turns the guard off).
    ticket_thread_hours: int = Field(default=24, ge=0, le=24 * 90)
    # SLA escalation: `tree` climbs sub-district → district → state franchisee; `tiers` keeps
    # the ticket on its node and climbs L1 → L2 → L3 engineers (executives' support_tier).
    escalation_ladder: Literal["tree", "tiers"] = "tree"
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    # The largest request body the API takes (attachments travel base64 in JSON, 4/3 their
    # size, so this also bounds the files of one request); webhooks have their own limits.
    request_max_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024, le=1024**3)
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    # Outbound email. An empty host disables it: the worker leaves email messages queued
    # (nothing fails) and logs that once; they go out once a host is configured.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=30.0, gt=0, le=300)
    mail_from: str = "Sahaya Support <support@sahaya.invalid>"
    # Where customers' replies go; empty means the From address.
    mail_reply_to: str = ""
    # Inbound email over SMTP: a port > 0 makes each worker process listen there (several
    # workers share it with SO_REUSEPORT) for mail to the email accounts' addresses; 0 = off.
    # IMAP accounts are polled by the worker whatever this says.
    smtp_listen_host: str = "127.0.0.1"
    smtp_listen_port: int = Field(default=0, ge=0, le=65535)
    # STARTTLS on the listener: a PEM certificate chain and its key. With
    # `smtp_require_tls`, mail is refused (530) until the client has started TLS.
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    smtp_require_tls: bool = False
    log_level: str = "INFO"
    # Voice (Exotel). Ring each executive this long; the whole call may ring this long.
    voice_ring_seconds: int = Field(default=20, ge=5, le=120)
    voice_call_budget_seconds: int = Field(default=120, ge=5, le=900)
    # This many unanswered calls from one customer within the window open a ticket + callback.
    voice_busy_calls: int = Field(default=3, ge=1, le=50)
    voice_busy_window_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # An executive who misses this many offered calls in a row is set away.
    voice_miss_limit: int = Field(default=3, ge=0, le=50)
    voice_max_conversation_seconds: int = Field(default=3600, ge=60, le=14400)
    # When the gate cannot decide in time (database unreachable): `allow` lets the call on,
    # and the dial step rings `voice_fallback_number` if set, else the State franchisee's
    # line as last read from the database (voice.fallback); `deny` hangs up.
    voice_gate_fallback: Literal["allow", "deny"] = "allow"
    voice_gate_timeout_ms: int = Field(default=1500, ge=50, le=10000)
    voice_fallback_number: str = ""
    # Callbacks: where Exotel can reach our status webhook (empty: http://host:port), whether
    # callback requests are placed automatically, and how often / how far apart to try.
    voice_public_url: str = ""
    voice_auto_callback: bool = False
    voice_callback_tries: int = Field(default=3, ge=1, le=10)
    voice_callback_spacing_minutes: int = Field(default=15, ge=1, le=24 * 60)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == _PLACEHOLDER:
            raise ValueError("SAHAYA_SECRET_KEY must be set to a real secret in production")
        return self

    @model_validator(mode="after")
    def _one_attachment_fits_a_request(self) -> Settings:
        # Base64 makes a file 4/3 its size; a request also carries its JSON around it.
        if self.request_max_bytes < self.attachment_max_bytes * 4 // 3 + 64 * 1024:
            raise ValueError(
                "SAHAYA_REQUEST_MAX_BYTES must hold one attachment of SAHAYA_ATTACHMENT_MAX_BYTES"
                " sent base64 (4/3 its size, plus 64 KiB)"
            )
        return self

    @model_validator(mode="after")
    def _tls_needs_certificate_and_key(self) -> Settings:
        if (self.smtp_tls_cert is None) != (self.smtp_tls_key is None):
            raise ValueError("SAHAYA_SMTP_TLS_CERT and SAHAYA_SMTP_TLS_KEY go together")
        if self.smtp_require_tls and self.smtp_tls_cert is None:
            raise ValueError("SAHAYA_SMTP_REQUIRE_TLS needs SAHAYA_SMTP_TLS_CERT and _KEY")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
