"""One redaction for every error that is stored, printed or logged: `scrub` masks each secret
the process has been told about, configured or per installation, with known secret values."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Iterator

import aiohttp
import pytest

from plugin.logs import ContextFilter, JsonFormatter
from sync import redaction
from sync.clients.economic import EconomicClient
from sync.redaction import MASK, SecretRegistry, remember_secrets, scrub


def known(label: str) -> str:
    """A secret value of this test alone (the registry is process-wide and only grows)."""
    return f"{label}-{secrets.token_urlsafe(12)}"


def test_remembered_values_are_masked_everywhere_in_a_text() -> None:
    grant, token = known("grant"), known("at")
    remember_secrets(grant, None, token)
    text = f"refused {grant} (again: {grant}); Authorization: Bearer {token}."
    assert scrub(text) == f"refused {MASK} (again: {MASK}); Authorization: Bearer {MASK}."
    assert scrub("nothing secret here") == "nothing secret here"


def test_none_and_short_values_are_ignored() -> None:
    registry = SecretRegistry()
    registry.remember(None, "", "a", "abc")
    assert registry.scrub("a abc abcd") == "a abc abcd"
    registry.remember("abcd")
    assert registry.scrub("a abc abcd") == f"a abc {MASK}"


def test_the_longest_secret_wins_and_overlaps_leave_nothing() -> None:
    registry = SecretRegistry()
    registry.remember("token", "token-with-more", "more-and-then")
    assert registry.scrub("x token-with-more y") == f"x {MASK} y"
    assert registry.scrub("token-with-more-and-then!") == f"{MASK}!"
    assert registry.scrub("tokentoken") == MASK


def test_the_registry_keeps_the_most_recently_remembered() -> None:
    registry = SecretRegistry(limit=2)
    registry.remember("first-secret", "second-secret")
    registry.remember("first-secret")  # seen again: kept
    registry.remember("third-secret")
    assert registry.scrub("first-secret second-secret third-secret") == (
        f"{MASK} second-secret {MASK}"
    )


def test_many_secrets_scrub_quickly() -> None:
    registry = SecretRegistry()
    values = [secrets.token_urlsafe(32) for _ in range(5000)]
    registry.remember(*values)
    text = "x" * 4000 + values[1234] + "y" * 4000
    assert registry.scrub(text) == "x" * 4000 + MASK + "y" * 4000


def test_a_log_record_is_masked_with_secrets_remembered_after_logging_was_set_up() -> None:
    handler_filter = ContextFilter([])  # set up before any installation's token was loaded
    token = known("access")
    remember_secrets(token)
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "call with %s", (token,), None)
    try:
        raise RuntimeError(f"401 for Bearer {token}")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    record.header = f"Bearer {token}"
    handler_filter.filter(record)
    line = JsonFormatter().format(record)
    assert token not in line and MASK in line and "RuntimeError" in line


def test_configured_secrets_are_remembered_at_logging_set_up() -> None:
    configured = known("client-secret")
    ContextFilter([configured])
    assert scrub(f"refused {configured}") == f"refused {MASK}"


@pytest.fixture
def fresh_secrets() -> Iterator[SecretRegistry]:
    """The registry of a process that has not met any secret yet."""
    with redaction.fresh_process() as registry:
        yield registry


async def test_an_economic_clients_grant_token_is_remembered(fresh_secrets: SecretRegistry) -> None:
    grant, app_secret = known("grant-token"), known("app-secret")
    async with aiohttp.ClientSession() as session:
        EconomicClient(
            session,
            base_url="http://127.0.0.1:9",
            app_secret_token=app_secret,
            grant_token=grant,
            installation_id=1,
            recorder=None,  # type: ignore[arg-type]  # never called: no request is made
        )
    assert scrub(f"X-AgreementGrantToken: {grant}, {app_secret}") == (
        f"X-AgreementGrantToken: {MASK}, {MASK}"
    )
