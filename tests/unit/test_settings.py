"""Settings: each bad value names its variable in one line; secrets (the database password
included) never show; the demo's env file is private from its first byte."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from plugin.demo import demo_environment, write_private
from plugin.logs import ContextFilter, JsonFormatter
from plugin.settings import REQUIRED_TO_SERVE, Secret, SettingsError, load_settings
from sync.redaction import masked_url

KEY = "k" * 40
SECRETS = {
    "COLLECTBRIDGE_SECRET_KEY": "s3cr3t-key-material-0123456789abcdefXYZ",
    "COLLECTBRIDGE_ECONOMIC_APP_SECRET_TOKEN": "app-secret-token-VALUE-1234",
    "COLLECTBRIDGE_ECONOMIC_APP_PUBLIC_TOKEN": "app-public-token-VALUE-5678",
    "COLLECTBRIDGE_COLLECTION_CLIENT_SECRET": "client-secret-VALUE-9999",
}
GOOD = {
    **SECRETS,
    "COLLECTBRIDGE_COLLECTION_API_URL": "http://127.0.0.1:9/",
    "COLLECTBRIDGE_COLLECTION_CLIENT_ID": "client",
}

BAD = [
    ("DATABASE_URL", "mysql://x/y"),
    ("DATABASE_URL", "sqlite:///"),
    ("DATABASE_URL", "postgresql://hostonly"),
    ("PUBLIC_URL", "ftp://example.com"),
    ("PUBLIC_URL", "not a url"),
    ("ECONOMIC_API_URL", "restapi.e-conomic.com"),
    ("ECONOMIC_OPENAPI_URL", "//apis"),
    ("ECONOMIC_INSTALL_URL", "secure"),
    ("COLLECTION_API_URL", "mailto:x@y"),
    ("SECRET_KEY", "short"),
    ("SECRET_KEY", f"{KEY},short"),
    ("SECRET_KEY", ",,"),
    ("LOG_FORMAT", "xml"),
    ("LOG_LEVEL", "LOUD"),
    ("JOB_LEASE_SECONDS", "soon"),
    ("JOB_LEASE_SECONDS", "0"),
    ("WORKER_CONCURRENCY", "1.5"),
    ("WORKER_CONCURRENCY", "0"),
    ("INSTALLATION_CONCURRENCY", "many"),
    ("SHUTDOWN_GRACE_SECONDS", "-1"),
    ("INBOX_PROCESS", "maybe"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_value_names_its_variable_in_one_line(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**GOOD, f"COLLECTBRIDGE_{name}": value})
    message = str(caught.value)
    assert f"COLLECTBRIDGE_{name}" in message and "\n" not in message


@pytest.mark.parametrize("name", REQUIRED_TO_SERVE)
def test_a_missing_required_value_is_named(name: str) -> None:
    env = {k: v for k, v in GOOD.items() if k != f"COLLECTBRIDGE_{name}"}
    with pytest.raises(SettingsError, match=f"COLLECTBRIDGE_{name} is required"):
        load_settings(env, require=REQUIRED_TO_SERVE)


def test_defaults_and_good_values() -> None:
    settings = load_settings(
        {
            **GOOD,
            "COLLECTBRIDGE_SECRET_KEY": f"{KEY}, {'o' * 32}",
            "COLLECTBRIDGE_DATABASE_URL": "sqlite:////tmp/x.db",
        }
    )
    assert settings.database_url == "sqlite:////tmp/x.db"
    assert load_settings({}).database_url == "sqlite:///var/collectbridge.db"
    assert [s.reveal() for s in settings.secret_keys] == [KEY, "o" * 32]
    assert settings.collection_api_url == "http://127.0.0.1:9"
    assert settings.economic_openapi_url == "https://apis.e-conomic.com"
    assert settings.inbox_process is True
    assert load_settings({"COLLECTBRIDGE_INBOX_PROCESS": "off"}).inbox_process is False
    assert load_settings({"COLLECTBRIDGE_INBOX_PROCESS": "On"}).inbox_process is True


def test_secrets_are_masked_in_repr_and_str() -> None:
    settings = load_settings(GOOD, require=REQUIRED_TO_SERVE)
    for text in (repr(settings), str(settings), f"{settings}"):
        for secret in SECRETS.values():
            assert secret not in text
    assert repr(Secret("x")) == "Secret('********')"


def test_log_records_never_carry_a_configured_secret() -> None:
    secret = SECRETS["COLLECTBRIDGE_COLLECTION_CLIENT_SECRET"]
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "token was %s", (secret,), None)
    try:
        raise RuntimeError(f"refused {secret}")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.url = f"https://x/?client_secret={secret}"  # an extra= field
    record.attempt = 3
    ContextFilter([secret]).filter(record)
    line = JsonFormatter().format(record)
    assert secret not in line and "********" in line and "RuntimeError" in line
    assert '"attempt":3' in line


def test_cli_error_output_never_shows_a_secret(tmp_path) -> None:
    """A malformed setting stops the process with one clear line, and no secret in any output."""
    env = {
        **GOOD,
        "COLLECTBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "COLLECTBRIDGE_WORKER_CONCURRENCY": "lots",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "plugin.cli", "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "COLLECTBRIDGE_WORKER_CONCURRENCY" in done.stderr
    for secret in SECRETS.values():
        assert secret not in done.stdout + done.stderr


def test_a_burst_worker_logs_no_secret(tmp_path) -> None:
    env = {
        **GOOD,
        "COLLECTBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "COLLECTBRIDGE_LOG_FORMAT": "json",
        "COLLECTBRIDGE_LOG_LEVEL": "DEBUG",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "plugin.cli", "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "migrations applied" in done.stderr
    for secret in SECRETS.values():
        assert secret not in done.stdout + done.stderr


PG_PASSWORD = "pg-Pa55word-VALUE-4242"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://cb:{PG_PASSWORD}@db:5432/cb", "postgresql://cb:********@db:5432/cb"),
        (
            "postgres://cb:p%40ss%2Fw@db/cb?sslmode=require",
            "postgres://cb:********@db/cb?sslmode=require",
        ),
        (
            "postgresql://db/cb?user=cb&password=p%26w&x=1",
            "postgresql://db/cb?user=cb&password=********&x=1",
        ),
        ("postgresql://cb@db:5432/cb", "postgresql://cb@db:5432/cb"),
        ("sqlite:///var/collectbridge.db", "sqlite:///var/collectbridge.db"),
        ("sqlite:////abs/path.db", "sqlite:////abs/path.db"),
    ],
)
def test_masked_url_hides_only_the_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_the_database_password_never_shows() -> None:
    url = f"postgresql://collectbridge:{PG_PASSWORD}@db.internal:5432/collectbridge"
    settings = load_settings({**GOOD, "COLLECTBRIDGE_DATABASE_URL": url})
    assert settings.database_url == url  # the value itself is kept for connecting
    for text in (repr(settings), str(settings), f"{[settings]}", str(settings.__rich_repr__())):
        assert PG_PASSWORD not in text
        assert "postgresql://collectbridge:********@db.internal:5432/collectbridge" in text
    assert PG_PASSWORD in settings.secret_values()  # so the log filter masks it too
    assert set(SECRETS.values()) <= set(settings.secret_values())
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "cannot reach %s", (url,), None)
    ContextFilter(settings.secret_values()).filter(record)
    assert PG_PASSWORD not in JsonFormatter().format(record)


def test_a_bad_url_is_reported_without_its_password() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**GOOD, "COLLECTBRIDGE_PUBLIC_URL": f"ftp://me:{PG_PASSWORD}@host/"})
    assert PG_PASSWORD not in str(caught.value) and "COLLECTBRIDGE_PUBLIC_URL" in str(caught.value)


def test_demo_env_is_private_from_the_start(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the common default: a plain write would be world-readable
    try:
        env = demo_environment({}, tmp_path / "var")
    finally:
        os.umask(previous)
    env_file = tmp_path / "var" / "demo.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert [p.name for p in env_file.parent.iterdir()] == ["demo.env"]  # no temporary left
    assert len(env["COLLECTBRIDGE_SECRET_KEY"]) >= 32
    again = demo_environment({"COLLECTBRIDGE_LOG_LEVEL": "DEBUG"}, tmp_path / "var")
    assert again["COLLECTBRIDGE_SECRET_KEY"] == env["COLLECTBRIDGE_SECRET_KEY"]  # kept
    assert again["COLLECTBRIDGE_LOG_LEVEL"] == "DEBUG"


def test_demo_env_never_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "demo.env"
    target.write_text("COLLECTBRIDGE_SECRET_KEY=kept\n")
    write_private(target, "COLLECTBRIDGE_SECRET_KEY=other\n")
    assert target.read_text() == "COLLECTBRIDGE_SECRET_KEY=kept\n"
    assert [p.name for p in tmp_path.iterdir()] == ["demo.env"]


def test_the_economic_daily_budget_defaults_to_the_clients_and_is_checked() -> None:
    from sync.clients.economic import DAILY_BUDGET

    assert load_settings({}).economic_daily_budget == DAILY_BUDGET == 47_500
    budget = load_settings({"COLLECTBRIDGE_ECONOMIC_DAILY_BUDGET": "30000"}).economic_daily_budget
    assert budget == 30_000
    for bad in ("lots", "0", "1.5"):
        with pytest.raises(SettingsError, match="COLLECTBRIDGE_ECONOMIC_DAILY_BUDGET"):
            load_settings({"COLLECTBRIDGE_ECONOMIC_DAILY_BUDGET": bad})
