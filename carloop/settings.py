"""Every knob of carloop, read from ``CARLOOP_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me-in-production"  # noqa: S105 - a marker, refused in production
PRODUCTION_HINT = (
    " (no CARLOOP_ENVIRONMENT means production; for a local demo run `carloop demo`,"
    " for development set CARLOOP_ENVIRONMENT=development)"
)


WECHAT_FIELDS = (
    "wechat_mchid",
    "wechat_appid",
    "wechat_cert_serial_no",
    "wechat_private_key",
    "wechat_apiv3_key",
    "wechat_public_key",
    "wechat_public_key_id",
)


def _private_channel(url: str) -> bool:
    """Whether an outside service's address keeps what travels in it private: https, or this machine
    (a local stand-in or a proxy beside the process)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost", "::1")


class Settings(BaseSettings):
    """Configuration for one carloop process; build it once at the edge and pass it down.

    Safe by default: without ``CARLOOP_ENVIRONMENT`` a process is **production** (real secrets and a
    real payment provider required, no sign-in codes on pages). ``carloop demo`` asks for
    ``development`` itself, and the test suite for ``test``. Conveniences that give sign-in codes or
    "payments" to anyone (``otp_sender=page``, the payment simulator) are never allowed in production,
    and ``otp_sender=page`` must be asked for explicitly in development and test.
    """

    model_config = SettingsConfigDict(env_prefix="CARLOOP_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "production"
    database_url: str = "sqlite:///./var/carloop.db"
    # A PostgreSQL streaming replica of database_url for reports (the analytics dashboard, its API and
    # exports); "" reads them from database_url. Its rows lag the primary by the replication delay.
    read_database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    # The built-in payment simulator signs its notifications with this key (HMAC-SHA256).
    simulator_secret: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    # The provider new payments start with; the pay page also offers every other configured one.
    payment_provider: Literal["simulator", "alipay", "wechat"] = "simulator"
    # Alipay open platform credentials (PEM text or a path to a PEM file).
    alipay_app_id: str = ""
    alipay_app_private_key: SecretStr = SecretStr("")
    alipay_public_key: str = ""
    alipay_sandbox: bool = True
    # Alipay's gateway (gateway.do) for server-side calls and pay links; "" is Alipay's own, the sandbox's
    # or production's by alipay_sandbox. The launch bench points it at its stand-in (carloop.bench).
    alipay_gateway: str = ""
    # WeChat Pay API v3 (direct merchant): merchant id, app id, the merchant API certificate's serial
    # number and private key (PEM text or a path), the APIv3 key (32 bytes, decrypts callbacks), and
    # WeChat Pay's platform public key (PEM text or a path) with its id (``PUB_KEY_ID_...``).
    wechat_mchid: str = ""
    wechat_appid: str = ""
    wechat_cert_serial_no: str = ""
    wechat_private_key: SecretStr = SecretStr("")
    wechat_apiv3_key: SecretStr = SecretStr("")
    wechat_public_key: str = ""
    wechat_public_key_id: str = ""
    wechat_gateway: str = "https://api.mch.weixin.qq.com"
    # Callbacks older (or newer) than this many seconds are refused as replays.
    wechat_callback_window_seconds: int = 300
    public_base_url: str = "http://127.0.0.1:8000"
    # Where sign-in codes go besides the SMS provider (when one is set, codes always go by SMS): "log" (the
    # server log; without a provider, development and tests only) or "page" (shown on the sign-in page and
    # in the API reply as well: development and tests only, asked for explicitly).
    otp_sender: Literal["log", "page"] = "log"
    otp_ttl_seconds: int = 300
    # Text messages (sign-in codes, notices that matter): Alibaba Cloud SMS or Tencent Cloud SMS. Production
    # needs one, or nobody can sign in. Keys come from the environment only (docs/SECURITY.md).
    sms_provider: Literal["none", "aliyun", "tencent"] = "none"
    sms_access_key_id: str = ""  # Alibaba Cloud AccessKey ID / Tencent Cloud SecretId
    sms_access_key_secret: SecretStr = SecretStr("")  # Alibaba Cloud AccessKey secret / Tencent SecretKey
    sms_sign_name: str = ""  # the approved signature (签名), e.g. 卡路智行
    sms_app_id: str = ""  # Tencent Cloud SmsSdkAppId (Alibaba Cloud has none)
    sms_region: str = ""  # "" = cn-hangzhou (Alibaba Cloud) / ap-guangzhou (Tencent Cloud)
    sms_endpoint: str = (
        ""  # "" = the provider's public API; a URL such as http://127.0.0.1:9000 for a stand-in
    )
    # Approved template codes by purpose (carloop.sms.rules.TEMPLATES), e.g. {"login_code": "SMS_1234"};
    # "purpose:en" names an English template for English readers where the provider approved one.
    sms_templates: dict[str, str] = Field(default_factory=dict)
    # At most this many messages to one phone, and per template, each sms_window_seconds (database counters).
    sms_per_phone_window: int = 10
    sms_per_template_window: int = 5000
    sms_window_seconds: int = 3600
    # Opening notices of a campaign go out at most this many a second (the provider's bulk rate).
    campaign_notice_per_second: int = Field(default=200, ge=1, le=100_000)
    # E-mail notices through SMTP, for owners who gave an address; "" host = no e-mail.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_from: str = "carloop <noreply@carloop.invalid>"
    session_ttl_hours: int = 24 * 14
    # Sign-in back-off per account and device: this many free wrong attempts (code requests), then a
    # wait of backoff_base_seconds doubling each time, capped at rate_window_seconds. Never a lock.
    login_attempts_per_window: int = 5
    otp_requests_per_window: int = 5
    backoff_base_seconds: int = 30
    rate_window_seconds: int = 900
    # A coarse ceiling per caller address and window, high enough for a mobile carrier's shared
    # address (CGNAT): it stops floods, not buyers.
    otp_requests_per_ip_window: int = 300
    login_attempts_per_ip_window: int = 300
    default_locale: Literal["zh_CN", "en"] = "zh_CN"
    timezone: str = "Asia/Shanghai"
    # Largest request body accepted (bytes); larger ones get a 413 problem before any handler runs.
    max_body_bytes: int = 4 * 1024 * 1024  # room for the 2 MB market CSV upload and its form
    # Seconds between outbox dispatch passes in the server; 0 turns the in-process worker off.
    outbox_interval: float = 1.0
    # Where outbox events go after commit: "" is the poller above (one machine, the demo); a NATS URL
    # (nats://[user:password@]host:4222, or tls://) relays them to a JetStream stream and every domain's
    # handlers consume it through a durable pull consumer (carloop/bus, docs/SCALING.md).
    event_bus: str = ""
    event_stream: str = "CARLOOP_EVENTS"
    event_subject_prefix: str = "carloop.events"
    # A consumer's handlers get this many deliveries of an event, waiting event_backoff seconds (the
    # n-th entry after the n-th failure, the last one after that); then the event is a dead letter.
    event_max_attempts: int = Field(default=8, ge=1, le=100)
    event_backoff: list[float] = Field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0, 600.0])
    # Seconds JetStream remembers a message id, so a relay that re-publishes after a crash adds nothing.
    event_duplicate_window: float = 600.0
    # Seconds a consumer may hold a delivered event without acking it; a process killed mid-batch
    # gets its events redelivered to the other processes after this long.
    event_ack_wait: float = Field(default=60.0, gt=0)
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
    # Seconds between checks for changed scenes and devices while the bridge runs (and, sharded, between
    # the bridge's beats).
    reload_interval: float = 2.0
    # Cars sharded across the servers' bridges (one broker named by mqtt_url): each bridge serves the
    # partitions it holds a lease on; a bridge that dies is replaced after bridge_lease_seconds.
    bridge_sharded: bool = False
    bridge_lease_seconds: float = Field(default=10.0, gt=0)
    bridge_partitions: int = Field(default=256, ge=1, le=65_536)  # fixed for a deployment
    # The fast lanes' group commit (web.lanes): requests per transaction, how long a batch waits for
    # company, and how many may queue before new ones get 503 + Retry-After.
    lane_max_batch: int = 500
    lane_max_wait_ms: float = 2.0
    lane_max_pending: int = 2048
    # Addresses (comma-separated, or "*") of the proxies whose X-Forwarded-For / -Proto the served stack
    # believes, so per-address limits see real clients; "" believes no proxy (granian has no flag for it).
    forwarded_allow_ips: str = "127.0.0.1"
    # Where carloop keeps Mosquitto's password_file and acl_file (``passwords`` and ``acl``) up to date
    # for a broker it does not run itself; "" = only the embedded broker's own (docs/SECURITY.md).
    mqtt_auth_dir: str = ""
    # The bridge's MQTT password (login ``carloop-bridge``); "" derives it from secret_key.
    mqtt_bridge_password: SecretStr = SecretStr("")
    # Real-name verification of identity numbers (accounts.realname): "tencent" asks Tencent Cloud FaceID
    # (IdCardVerification) whether name and number belong together; "standin" checks only the GB 11643
    # checksum and refuses the numbers in realname_standin_refused (development and tests only).
    realname_verifier: Literal["standin", "tencent"] = "standin"
    realname_standin_refused: list[str] = Field(default_factory=list)
    # Tencent Cloud API credentials (a CAM sub-account allowed only faceid:IdCardVerification), from the
    # environment or a secret store, never the repository; the region and the FaceID endpoint (an https
    # URL or a bare host; tests point it at their local stand-in of the API); seconds to wait for it.
    realname_tencent_secret_id: str = ""
    realname_tencent_secret_key: SecretStr = SecretStr("")
    realname_tencent_region: str = "ap-guangzhou"
    realname_tencent_endpoint: str = "https://faceid.tencentcloudapi.com"
    realname_tencent_timeout: int = Field(default=10, ge=1, le=60)
    # The store finder's base-map tiles ({z}/{x}/{y} template of a tile server the operator runs or
    # licenses); empty: no tiles, the map draws city names, outlets and distances by itself.
    map_tile_url: str = Field(default="", max_length=300)
    # The official e-invoice (fapiao) provider (invoicing.fapiao): "standin" issues local numbers
    # (development and tests; the default there); "disabled" says the maker issues e-invoices offline.
    # Production must name one explicitly and refuses the stand-in.
    einvoice_provider: Literal["standin", "disabled"] | None = None
    # The seller named on receipts and sales documents (the maker's registered sales company).
    seller_name: str = Field(default="carloop", min_length=1, max_length=100)
    # A TrueType font file (.ttf/.ttc) with Chinese glyphs, embedded in the PDFs; empty: the system's
    # WenQuanYi Micro Hei (fonts-wqy-microhei), else the reader's STSong-Light (a warning says so).
    pdf_cjk_font: str = Field(default="", max_length=300)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production":
            hint = PRODUCTION_HINT
            if self.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
                raise ValueError(f"CARLOOP_SECRET_KEY must be set in production{hint}")
            if self.payment_provider == "simulator":
                raise ValueError(
                    "the payment simulator lets anyone 'pay'; configure a real provider"
                    f" (CARLOOP_PAYMENT_PROVIDER) in production{hint}"
                )
            if self.otp_sender == "page":
                raise ValueError(
                    f"CARLOOP_OTP_SENDER=page shows sign-in codes to anyone; not in production{hint}"
                )
            if self.public_base_url.startswith("http://127.0.0.1"):
                raise ValueError(
                    "CARLOOP_PUBLIC_BASE_URL must be the site's public https address in production"
                    " (payment providers call it back)" + hint
                )
            if self.einvoice_provider in (None, "standin"):
                raise ValueError(
                    "the e-invoice stand-in issues no real fapiao; configure the maker's provider or"
                    f" CARLOOP_EINVOICE_PROVIDER=disabled (e-invoices issued offline) in production{hint}"
                )
            if self.realname_verifier == "standin":
                raise ValueError(
                    "CARLOOP_REALNAME_VERIFIER=standin checks only the identity number's checksum, so anyone"
                    " could claim anyone's identity; in production use CARLOOP_REALNAME_VERIFIER=tencent"
                    " with CARLOOP_REALNAME_TENCENT_SECRET_ID and CARLOOP_REALNAME_TENCENT_SECRET_KEY" + hint
                )
            endpoint = self.realname_tencent_endpoint  # a bare host name: the client adds https
            if self.realname_verifier == "tencent" and "//" in endpoint and not _private_channel(endpoint):
                raise ValueError(
                    "CARLOOP_REALNAME_TENCENT_ENDPOINT must be https in production (names and identity"
                    " numbers travel in it)" + hint
                )
            for name, gateway in (("ALIPAY", self.alipay_gateway), ("WECHAT", self.wechat_gateway)):
                if gateway and not _private_channel(gateway):
                    raise ValueError(
                        f"CARLOOP_{name}_GATEWAY must be https in production (payments, refunds and"
                        " their answers travel in it)" + hint
                    )
        if self.realname_verifier == "tencent" and not (
            self.realname_tencent_secret_id and self.realname_tencent_secret_key.get_secret_value()
        ):
            raise ValueError(
                "CARLOOP_REALNAME_VERIFIER=tencent needs CARLOOP_REALNAME_TENCENT_SECRET_ID and"
                " CARLOOP_REALNAME_TENCENT_SECRET_KEY (a Tencent Cloud API key allowed to call FaceID"
                " IdCardVerification)"
            )
        missing = self.wechat_missing()
        if missing and (self.payment_provider == "wechat" or len(missing) < len(WECHAT_FIELDS)):
            raise ValueError(
                "WeChat Pay is half configured; set " + ", ".join(f"CARLOOP_{m.upper()}" for m in missing)
            )
        if self.environment == "production" and self.sms_provider == "none":
            raise ValueError(
                "production sends sign-in codes by SMS (without a provider nobody can sign in): set"
                " CARLOOP_SMS_PROVIDER (aliyun or tencent) with its keys, sign name and templates"
                + PRODUCTION_HINT
            )
        if self.sms_provider != "none":
            sms_missing = [
                name
                for name, value in (
                    ("CARLOOP_SMS_ACCESS_KEY_ID", self.sms_access_key_id),
                    ("CARLOOP_SMS_ACCESS_KEY_SECRET", self.sms_access_key_secret.get_secret_value()),
                    ("CARLOOP_SMS_SIGN_NAME", self.sms_sign_name),
                    ("CARLOOP_SMS_TEMPLATES[login_code]", self.sms_templates.get("login_code", "")),
                    (
                        "CARLOOP_SMS_TEMPLATES[registration_code]",
                        self.sms_templates.get("registration_code", ""),
                    ),
                    ("CARLOOP_SMS_APP_ID", self.sms_app_id if self.sms_provider == "tencent" else "-"),
                )
                if not value
            ]
            if sms_missing:
                raise ValueError(f"CARLOOP_SMS_PROVIDER={self.sms_provider} needs " + ", ".join(sms_missing))
        if self.event_bus and urlsplit(self.event_bus).scheme not in ("nats", "tls"):
            raise ValueError(
                "CARLOOP_EVENT_BUS must be empty (the database poller) or a nats:// or tls:// URL"
            )
        if self.payment_provider == "simulator" and self.simulator_secret.get_secret_value() == "":
            raise ValueError("CARLOOP_SIMULATOR_SECRET may not be empty")
        return self

    def wechat_missing(self) -> list[str]:
        """The WeChat Pay settings still empty (all of them: WeChat Pay is simply not configured)."""
        missing = []
        for name in WECHAT_FIELDS:
            value = getattr(self, name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not str(text).strip():
                missing.append(name)
        return missing

    @property
    def payment_providers(self) -> list[str]:
        """Every provider a buyer may pay with: the default first, then the others fully configured."""
        names: list[str] = [self.payment_provider]
        if "wechat" not in names and not self.wechat_missing():
            names.append("wechat")
        alipay = (self.alipay_app_id, self.alipay_public_key, self.alipay_app_private_key.get_secret_value())
        if "alipay" not in names and all(alipay):
            names.append("alipay")
        return names

    @property
    def shows_codes(self) -> bool:
        """Whether sign-in codes are handed out in replies (explicit page mode, never in production)."""
        return self.otp_sender == "page" and self.environment != "production"

    @property
    def effective_einvoice_provider(self) -> str:
        """The e-invoice provider in use: the configured one, else the stand-in (never in production)."""
        return self.einvoice_provider or "standin"

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
