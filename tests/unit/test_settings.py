"""Settings: each bad value names its variable in one line; secrets never show."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from plugin.logs import ContextFilter, JsonFormatter
from plugin.settings import REQUIRED_TO_SERVE, Secret, SettingsError, load_settings

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
    ContextFilter([secret]).filter(record)
    line = JsonFormatter().format(record)
    assert secret not in line and "********" in line and "RuntimeError" in line


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
