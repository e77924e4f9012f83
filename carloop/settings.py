"""Every knob of carloop, read from ``CARLOOP_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-in-production"  # noqa: S105 - a marker, refused outside development


class Settings(BaseSettings):
    """Configuration for one carloop process; build it once at the edge and pass it down."""

    model_config = SettingsConfigDict(env_prefix="CARLOOP_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/carloop.db"
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    # The built-in payment simulator signs its notifications with this key (HMAC-SHA256).
    simulator_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    payment_provider: Literal["simulator", "alipay"] = "simulator"
    # Alipay open platform credentials (PEM text or a path to a PEM file).
    alipay_app_id: str = ""
    alipay_app_private_key: SecretStr = SecretStr("")
    alipay_public_key: str = ""
    alipay_sandbox: bool = True
    public_base_url: str = "http://127.0.0.1:8000"
    otp_sender: Literal["log", "page"] = "page"
    otp_ttl_seconds: int = 300
    session_ttl_hours: int = 24 * 14
    login_attempts_per_window: int = 5
    otp_requests_per_window: int = 5
    rate_window_seconds: int = 900
    default_locale: Literal["zh_CN", "en"] = "zh_CN"
    timezone: str = "Asia/Shanghai"
    # Largest request body accepted (bytes); larger ones get a 413 problem before any handler runs.
    max_body_bytes: int = 4 * 1024 * 1024  # room for the 2 MB market CSV upload and its form
    # Seconds between outbox dispatch passes in the server; 0 turns the in-process worker off.
    outbox_interval: float = 1.0
    # Seconds between two rounds of the scheduled-job runner in each server process; 0 turns it off.
    jobs_tick: float = 2.0
    # A job's lease lapses after this many seconds if its process died while running it.
    jobs_lease_seconds: float = 600.0
    # Per-job interval overrides in seconds, e.g. CARLOOP_JOBS_EVERY='{"ledger_check": 3600}'.
    jobs_every: dict[str, float] = Field(default_factory=dict)
    # The ecosystem (broker, bridge, simulated fleet) in the server. auto: on for the demo (development on
    # the default database), with an embedded broker unless mqtt_url names one.
    ecosystem: Literal["auto", "on", "off"] = "auto"
    mqtt_url: str = ""
    mqtt_embedded_port: int = 18830
    # Simulate every paired car and home device in the server (the demo's "fleet"); default: development.
    ecosystem_simulate: bool | None = None
    # Load the sentence encoder and build the similar-suggestion indexes in the background at start-up, so the
    # first duplicate hint after a restart does not wait for them; default: on except in tests.
    similar_warmup: bool | None = None
    # Seconds between checks for changed scenes and devices while the bridge runs.
    reload_interval: float = 2.0
    # The fast lanes' group commit (web.lanes): requests per transaction, how long a batch waits for
    # company, and how many may queue before new ones get 503 + Retry-After.
    lane_max_batch: int = 500
    lane_max_wait_ms: float = 2.0
    lane_max_pending: int = 2048

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment == "production":
            for name in ("secret_key", "simulator_secret"):
                if getattr(self, name).get_secret_value() == PLACEHOLDER_SECRET:
                    raise ValueError(f"CARLOOP_{name.upper()} must be set in production")
            if self.payment_provider == "simulator":
                raise ValueError(
                    "the payment simulator lets anyone 'pay'; configure a real provider in production"
                )
            if self.otp_sender == "page":
                raise ValueError("CARLOOP_OTP_SENDER=page shows login codes on the page; not in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The SQLite file behind ``database_url``, if it is one."""
        if not self.is_sqlite:
            return None
        tail = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        return Path(tail) if tail and tail != ":memory:" else None
