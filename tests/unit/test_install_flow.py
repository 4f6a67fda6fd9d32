"""The install flow's pure core: the signed state cookie, the grant page URL, the refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from yarl import URL

from plugin.install_flow import (
    REFUSALS,
    STATE_LIFETIME,
    InstallError,
    grant_page_url,
    locale_for,
    new_nonce,
    read_state,
    sign_state,
    state_keys,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
OLD, NEW = "old-secret-key-that-is-long-enough-1234", "new-secret-key-that-is-long-enough-5678"


def code_of(value: str | None, keys: list[bytes], now: dt.datetime = NOW) -> str:
    with pytest.raises(InstallError) as caught:
        read_state(value, keys=keys, now=now)
    return caught.value.code


def test_a_state_we_signed_reads_back_its_nonce_until_it_expires() -> None:
    keys = state_keys([NEW])
    nonce = new_nonce()
    value = sign_state(nonce, key=keys[0], now=NOW)
    assert read_state(value, keys=keys, now=NOW) == nonce
    assert read_state(value, keys=keys, now=NOW + STATE_LIFETIME) == nonce
    assert code_of(value, keys, NOW + STATE_LIFETIME + dt.timedelta(seconds=1)) == "state_expired"


def test_the_signing_key_is_derived_for_its_purpose() -> None:
    from sync.crypto import derive_key

    assert state_keys([NEW]) == [derive_key(NEW, "install-state")]
    assert derive_key(NEW, "install-state") != derive_key(NEW, "collectbridge tokens v1")


def test_a_rotated_key_still_reads_states_signed_before_the_rotation() -> None:
    before = sign_state("n0nce", key=state_keys([OLD])[0], now=NOW)
    assert read_state(before, keys=state_keys([NEW, OLD]), now=NOW) == "n0nce"
    assert code_of(before, state_keys([NEW])) == "state_forged"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "v1",
        "v1..1700000000.sig",
        "v2.nonce.1700000000.sig",
        "v1.nonce.notanumber.sig",
        "v1.nonce.1700000000.",
        "v1.nonce.1700000000",
        "v1.nonce.1700000000.sïg",  # non-ASCII: compare_digest would raise, not refuse
        "v1.nonce.１７００000000.sig",  # digits that are not ASCII digits
    ],
)
def test_malformed_states_are_forged_or_missing(value: str) -> None:
    assert code_of(value, state_keys([NEW])) in ("state_forged", "state_missing")


def test_missing_and_future_states() -> None:
    keys = state_keys([NEW])
    assert code_of(None, keys) == "state_missing"
    future = sign_state("n", key=keys[0], now=NOW + dt.timedelta(minutes=5))
    assert code_of(future, keys) == "state_forged"


def test_every_refusal_says_something_and_answers_an_error_status() -> None:
    for code, (status, message) in REFUSALS.items():
        assert status >= 400 and message.endswith((".", ")")), code
        assert InstallError(code).status == status


def test_grant_page_url_carries_our_token_and_callback() -> None:
    url = URL(
        grant_page_url(
            "https://secure.e-conomic.com/secure/api1/requestaccess.aspx?x=1",
            app_public_token="pub",
            public_url="https://bridge.example/",
            locale="da-DK",
        )
    )
    assert url.query["x"] == "1"
    assert url.query["appPublicToken"] == "pub"
    assert url.query["redirectUrl"] == "https://bridge.example/install/economic/callback"
    assert url.query["locale"] == "da-DK"


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en-US"),
        ("da-DK,da;q=0.9,en;q=0.8", "da-DK"),
        ("fr-FR, sv;q=0.5", "sv-SE"),
        ("nb", "nb-NO"),
        ("de", "en-US"),
    ],
)
def test_locale_follows_the_browser(header: str | None, locale: str) -> None:
    assert locale_for(header) == locale
