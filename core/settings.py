"""One settings class for every entry point (HTTP, CLI, workers), read from `WUJIANG_*`."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Literal, TypeVar

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.crypto import KeyRing, decode_key, parse_blind_index_key, parse_data_keys

# Well-known development values: usable on a laptop, refused anywhere else.
DEV_LEDGER_HASH_KEY = "dev-only-ledger-hash-key-change-me"
# base64url of b"dev-only-data-key-do-not-use-it!" and b"dev-only-blind-index-key-no-use!".
DEV_DATA_KEYS = "dev:ZGV2LW9ubHktZGF0YS1rZXktZG8tbm90LXVzZS1pdCE"
DEV_BLIND_INDEX_KEY = "ZGV2LW9ubHktYmxpbmQtaW5kZXgta2V5LW5vLXVzZSE"

T = TypeVar("T")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WUJIANG_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./wujiang.db"
    redis_url: str = "memory://"
    # Connections per process; beyond them a Redis command waits briefly for a free one.
    redis_max_connections: int = 256
    database_pool_size: int = 10
    log_level: str = "INFO"
    log_json: bool = True
    # Keys the ledger's tamper-evidence HMAC; without it, hashes cannot be forged from the database.
    ledger_hash_key: SecretStr = SecretStr(DEV_LEDGER_HASH_KEY)
    # A checkpoint seals at most this many entries; `ledger checkpoint` repeats until caught up.
    ledger_checkpoint_size: int = 1000
    # Keys encrypting personal-data fields: `kid:base64url-32-byte-key,...`, the first one current.
    # Older keys stay listed until `wujiang keys rotate-data` has re-encrypted their tokens.
    data_keys: SecretStr = SecretStr(DEV_DATA_KEYS)
    # Keys the blind indexes (HMAC) that find and deduplicate encrypted fields: base64url, at
    # least 32 bytes, unlike every data key. Changing it invalidates every stored index.
    blind_index_key: SecretStr = SecretStr(DEV_BLIND_INDEX_KEY)
    # Public base URL of this service: the `iss` of every token, the base of discovery URLs.
    issuer: str = "http://127.0.0.1:8000"
    access_token_ttl_seconds: int = 600
    refresh_token_ttl_days: int = 30
    # SMS gateway (HTTP). Unset: codes are written to the console log, for development only.
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    # Real-name verification service (HTTP). Unset: only the ID number's format is checked.
    verification_url: str | None = None
    verification_token: SecretStr | None = None
    # --- the points programme ---
    # Local time of the programme: caps count per day, week, month and year here.
    points_timezone: str = "Asia/Shanghai"
    # Awards of more points than this wait for a second staff member (an `approver`).
    points_approval_threshold: int = 200
    # Points one staff member may award per day, across every resident.
    points_staff_daily_budget: int = 2000
    # When awarded points lapse: `end-of-next-year` (default: 31 December of the year after
    # they were earned, local time) or `days:N` after they were earned.
    points_expiry_policy: str = "end-of-next-year"
    # Seconds a resident's earning code (the QR shown in the app) stays valid.
    points_earn_code_ttl_seconds: int = 60
    # Stripe-compatible payments for points-plus-cash rewards. Unset: rewards with a cash part
    # cannot be redeemed (points-only rewards still can).
    payments_url: str | None = None
    payments_api_key: SecretStr | None = None
    payments_webhook_secret: SecretStr | None = None
    # --- notifications ---
    # Firebase service account (JSON text, or a file holding it) for push through FCM. Unset:
    # pushes are written to the log, clearly marked, outside production.
    fcm_credentials_json: SecretStr | None = None
    fcm_credentials_file: str | None = None
    # The Firebase project; by default the service account's own.
    fcm_project_id: str | None = None
    fcm_timeout_seconds: float = 30.0
    # Residents' default quiet hours (local time, HH:MM): non-urgent notices wait until the end.
    notify_quiet_start: str = "22:00"
    notify_quiet_end: str = "08:00"
    # A delivery is dead-lettered after this many failed attempts; retries back off
    # exponentially from the base delay (with jitter), never longer than the cap.
    notify_max_attempts: int = 8
    notify_backoff_base_seconds: float = 30.0
    notify_backoff_cap_seconds: float = 3600.0
    # A worker that has not recorded a send's outcome this long after claiming it is presumed
    # dead, and the delivery is claimed again (longer than the FCM timeout).
    notify_lease_seconds: float = 120.0
    # Outbox messages fanned out, and deliveries sent, per worker round.
    worker_batch_size: int = 200
    # How long an idle worker sleeps before looking again.
    worker_poll_seconds: float = 1.0
    # Run the worker inside the API process too (`wujiang serve --with-worker`; what `make run`
    # does on the embedded default, so one process does everything).
    worker_in_process: bool = False
    # --- channels ---
    # HMAC keys of the 12345 call-centre system: `kid:secret,kid:secret`, the first current;
    # every listed key verifies, so keys rotate by listing the new one before the old goes.
    # Unset: the hotline endpoints answer 503 `hotline-not-configured`.
    hotline_keys: SecretStr | None = None

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        # Malformed keys are refused in every environment, rather than failing mid-request.
        data_keys = _parsed("WUJIANG_DATA_KEYS", parse_data_keys, self.data_keys)
        blind_index_key = _parsed(
            "WUJIANG_BLIND_INDEX_KEY", parse_blind_index_key, self.blind_index_key
        )
        if any(key == blind_index_key for _, key in data_keys):
            raise ValueError("WUJIANG_BLIND_INDEX_KEY must differ from every WUJIANG_DATA_KEYS key")
        if self.points_expiry_policy != "end-of-next-year":
            days = self.points_expiry_policy.removeprefix("days:")
            if not (days.isdigit() and 0 < int(days) <= 3650) or days == self.points_expiry_policy:
                raise ValueError(
                    "WUJIANG_POINTS_EXPIRY_POLICY must be 'end-of-next-year' or 'days:N' "
                    "with N from 1 to 3650"
                )
        if self.env != "development":
            if self.ledger_hash_key.get_secret_value() == DEV_LEDGER_HASH_KEY:
                raise ValueError(
                    "WUJIANG_LEDGER_HASH_KEY still has its development default; "
                    f"set a secret of your own for env={self.env}"
                )
            if len(self.ledger_hash_key.get_secret_value()) < 16:
                raise ValueError("WUJIANG_LEDGER_HASH_KEY must be at least 16 characters")
            dev_data_key = parse_data_keys(DEV_DATA_KEYS)[0][1]
            # Under any key id: data encrypted under a published key is not encrypted at all.
            if any(key == dev_data_key for _, key in data_keys):
                raise ValueError(
                    "WUJIANG_DATA_KEYS still contains the development key; "
                    f"set keys of your own for env={self.env}"
                )
            if blind_index_key == decode_key(DEV_BLIND_INDEX_KEY):
                raise ValueError(
                    "WUJIANG_BLIND_INDEX_KEY still has its development default; "
                    f"set a key of your own for env={self.env}"
                )
        if self.env == "production":
            # Without them codes would only be logged and real names never checked.
            missing = [
                name
                for name, value in [
                    ("WUJIANG_SMS_GATEWAY_URL", self.sms_gateway_url),
                    ("WUJIANG_VERIFICATION_URL", self.verification_url),
                ]
                if not value
            ]
            if missing:
                raise ValueError(f"{' and '.join(missing)} must be set in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def keyring(self) -> KeyRing:
        """The data keys and the blind-index key, built once per settings instance."""
        return KeyRing.from_config(
            self.data_keys.get_secret_value(), self.blind_index_key.get_secret_value()
        )


def _parsed(name: str, parse: Callable[[str], T], secret: SecretStr) -> T:
    """`parse` applied to the secret, its ValueError re-raised under the variable's name."""
    try:
        return parse(secret.get_secret_value())
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None


class _SettingsOnce:
    """`get_settings()`: the settings, read from the environment once per process.

    `cache_clear()` makes the next call read the environment again; `install(settings)` makes
    every call return that object (tests install theirs, so patching it reaches all code)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    def __call__(self) -> Settings:
        if self._settings is None:
            self._settings = Settings()
        return self._settings

    def cache_clear(self) -> None:
        self._settings = None

    def install(self, settings: Settings) -> None:
        self._settings = settings


get_settings = _SettingsOnce()


def get_keyring() -> KeyRing:
    """This process's key ring for encrypted fields and blind indexes (cached on the settings)."""
    return get_settings().keyring
