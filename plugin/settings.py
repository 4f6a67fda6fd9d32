"""Settings, read once from ``COLLECTBRIDGE_*`` environment variables into a frozen Struct.

A missing or malformed value raises `SettingsError` whose message is one line naming the
variable; the CLI prints it and exits. Secrets are wrapped in `Secret`, whose ``repr`` and ``str``
are masked, and the password in ``database_url`` (``postgresql://user:pass@host/db``) is masked in
the settings' ``repr``, so a settings object can be logged or shown in a traceback without leaking
them. Show the database URL to people with `masked_url`; `Settings.secret_values` lists what the
log filter masks as a second line of defence. ``COLLECTBRIDGE_SMTP_URL`` (optional) becomes an
`SmtpServer`, its password a `Secret`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import msgspec
from yarl import URL

from sync.redaction import masked_url, redacted

PREFIX = "COLLECTBRIDGE_"
MIN_SECRET_KEY_LENGTH = 32
DEFAULT_DATABASE_URL = "sqlite:///var/collectbridge.db"
SMTP_PORTS = {"smtp": 587, "smtps": 465}


class SettingsError(Exception):
    """A configuration problem, described in one line that names the variable."""


class Secret:
    """A secret string: masked whenever it is printed, revealed only on purpose."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SmtpServer(msgspec.Struct, frozen=True, kw_only=True):
    """Where notices are mailed: ``smtp://user:password@host:port`` (STARTTLS, required with a
    login unless the host is loopback, `plugin.notices.start_tls`; port 587 by default) or
    ``smtps://…`` (TLS from the first byte; 465).
    ``?from=address`` sets the sender (default ``collectbridge@<host of the public URL>``)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: Secret | None = None
    sender: str | None = None

    def __str__(self) -> str:
        """For logs and errors: never the password."""
        scheme = "smtps" if self.tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


@redacted(database_url=masked_url)
class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str = "http://127.0.0.1:8080"
    secret_keys: tuple[Secret, ...] = ()
    economic_app_secret_token: Secret | None = None
    economic_app_public_token: Secret | None = None
    economic_api_url: str = "https://restapi.e-conomic.com"
    economic_openapi_url: str = "https://apis.e-conomic.com"
    economic_install_url: str = "https://secure.e-conomic.com/secure/api1/requestaccess.aspx"
    collection_api_url: str | None = None
    collection_client_id: str | None = None
    collection_client_secret: Secret | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    job_lease_seconds: float = 60.0
    worker_concurrency: int = 8
    installation_concurrency: int = 2
    shutdown_grace_seconds: float = 30.0
    worker_poll_seconds: float = 1.0
    # Our own ceiling of e-conomic calls per company and rolling 24 h, under e-conomic's 50,000
    # (the same default as sync.clients.economic.DAILY_BUDGET).
    economic_daily_budget: int = 47_500
    # Personal data of a revoked installation is kept this long, then purged (a company's own
    # settings may shorten it).
    retention_days: int = 30
    # Notices by e-mail (None: they show on the dashboard only).
    smtp: SmtpServer | None = None
    # Reverse proxies in front of the app that append to X-Forwarded-For (0: none; the peer's
    # address is the client's). Only the sign-in rate limit reads the client's address.
    forwarded_hops: int = 0
    # The inbox's writes in a process of their own (`webhooks.inbox_process`); off: in the
    # app's process (where starting another process is not allowed, or to debug).
    inbox_process: bool = True

    def secret_values(self) -> list[str]:
        """Every configured secret as plain text, for the log filter to mask."""
        values = [s.reveal() for s in self.secret_keys]
        for secret in (
            self.economic_app_secret_token,
            self.economic_app_public_token,
            self.collection_client_secret,
            self.smtp.password if self.smtp else None,
        ):
            if secret is not None:
                values.append(secret.reveal())
        if self.smtp is not None and self.smtp.password is not None:
            values.append(quote(self.smtp.password.reveal(), safe=""))  # as written in the URL
        return values + database_passwords(self.database_url)


def database_passwords(url: str) -> list[str]:
    """The password of a database URL as written and decoded (empty for none or SQLite)."""
    parts = URL(url) if url.startswith(("postgresql://", "postgres://")) else None
    if parts is None:
        return []
    found = [parts.password or "", parts.raw_password or "", parts.query.get("password", "")]
    return sorted({p for p in found if p})


def _url(name: str, value: str) -> str:
    url = URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise SettingsError(f"{PREFIX}{name} must be an http(s) URL, got {masked_url(value)!r}")
    return value.rstrip("/")


def _database_url(value: str) -> str:
    if value.startswith("sqlite:///") and len(value) > len("sqlite:///"):
        return value
    if value.startswith(("postgresql://", "postgres://")):
        url = URL(value)
        if url.host and url.path.strip("/"):
            return value
    raise SettingsError(
        f"{PREFIX}DATABASE_URL must be sqlite:///relative/path.db, sqlite:////absolute/path.db "
        "or postgresql://user@host:port/db"
    )


def _smtp(value: str) -> SmtpServer:
    url = URL(value)
    if url.scheme not in SMTP_PORTS or not url.host:
        raise SettingsError(
            f"{PREFIX}SMTP_URL must be smtp://user:password@host:port or smtps://…, "
            f"got {masked_url(value)!r}"
        )
    return SmtpServer(
        host=url.host,
        port=url.explicit_port or SMTP_PORTS[url.scheme],
        tls=url.scheme == "smtps",
        username=url.user or None,
        password=Secret(url.password) if url.password else None,
        sender=url.query.get("from") or None,
    )


def _secret_keys(value: str) -> tuple[Secret, ...]:
    keys = tuple(part.strip() for part in value.split(",") if part.strip())
    if not keys:
        raise SettingsError(f"{PREFIX}SECRET_KEY is empty")
    for position, key in enumerate(keys, start=1):
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"{PREFIX}SECRET_KEY: key {position} is shorter than {MIN_SECRET_KEY_LENGTH} "
                "characters (generate one with `openssl rand -base64 32`)"
            )
    return tuple(Secret(k) for k in keys)


def _number(name: str, value: str, kind: type[int] | type[float], minimum: float) -> float:
    try:
        number = kind(value)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{PREFIX}{name} must be at least {minimum}, got {value!r}")
    return number


REQUIRED_TO_SERVE = (
    "SECRET_KEY",
    "ECONOMIC_APP_SECRET_TOKEN",
    "ECONOMIC_APP_PUBLIC_TOKEN",
    "COLLECTION_API_URL",
    "COLLECTION_CLIENT_ID",
    "COLLECTION_CLIENT_SECRET",
)


def load_settings(environ: Mapping[str, str], *, require: tuple[str, ...] = ()) -> Settings:
    """Build `Settings` from an environment; ``require`` names variables that must be set."""

    def get(name: str) -> str | None:
        value = environ.get(PREFIX + name)
        return value.strip() if value is not None and value.strip() else None

    for name in require:
        if get(name) is None:
            raise SettingsError(f"{PREFIX}{name} is required but not set")
    values: dict[str, object] = {}
    if (raw := get("DATABASE_URL")) is not None:
        values["database_url"] = _database_url(raw)
    for name in (
        "PUBLIC_URL",
        "ECONOMIC_API_URL",
        "ECONOMIC_OPENAPI_URL",
        "ECONOMIC_INSTALL_URL",
        "COLLECTION_API_URL",
    ):
        if (raw := get(name)) is not None:
            values[name.lower()] = _url(name, raw)
    if (raw := get("SMTP_URL")) is not None:
        values["smtp"] = _smtp(raw)
    if (raw := get("SECRET_KEY")) is not None:
        values["secret_keys"] = _secret_keys(raw)
    for name in (
        "ECONOMIC_APP_SECRET_TOKEN",
        "ECONOMIC_APP_PUBLIC_TOKEN",
        "COLLECTION_CLIENT_SECRET",
    ):
        if (raw := get(name)) is not None:
            values[name.lower()] = Secret(raw)
    if (raw := get("COLLECTION_CLIENT_ID")) is not None:
        values["collection_client_id"] = raw
    if (raw := get("LOG_FORMAT")) is not None:
        if raw not in ("text", "json"):
            raise SettingsError(f"{PREFIX}LOG_FORMAT must be 'text' or 'json', got {raw!r}")
        values["log_format"] = raw
    if (raw := get("LOG_LEVEL")) is not None:
        if raw.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        values["log_level"] = raw.upper()
    if (raw := get("INBOX_PROCESS")) is not None:
        if raw.lower() not in ("on", "off"):
            raise SettingsError(f"{PREFIX}INBOX_PROCESS must be 'on' or 'off', got {raw!r}")
        values["inbox_process"] = raw.lower() == "on"
    for name, kind, minimum in (
        ("JOB_LEASE_SECONDS", float, 1.0),
        ("WORKER_CONCURRENCY", int, 1),
        ("INSTALLATION_CONCURRENCY", int, 1),
        ("SHUTDOWN_GRACE_SECONDS", float, 0.0),
        ("WORKER_POLL_SECONDS", float, 0.01),
        ("ECONOMIC_DAILY_BUDGET", int, 1),
        ("RETENTION_DAYS", int, 1),
        ("FORWARDED_HOPS", int, 0),
    ):
        if (raw := get(name)) is not None:
            values[name.lower()] = _number(name, raw, kind, minimum)
    return Settings(**values)  # type: ignore[arg-type]


def sqlite_path(database_url: str) -> Path:
    """The file of a ``sqlite:///`` URL (three slashes: relative, four: absolute)."""
    return Path(database_url.removeprefix("sqlite:///"))
