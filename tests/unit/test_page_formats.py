"""How the pages read and write amounts: exact, by the currency's exponent, either language's
way of writing them."""

from __future__ import annotations

import pytest

from plugin.pages.company import amount_text
from plugin.pages.formats import amount
from sync import money


@pytest.mark.parametrize(
    ("typed", "minor"),
    [("1.234,50", 123450), ("1234,50", 123450), ("1,234.50", 123450), ("1234.50", 123450),
     ("250", 25000), (" 0,05 ", 5), ("1 000,00", 100000)],
)  # fmt: skip
def test_amounts_typed_either_way_read_exactly(typed: str, minor: int) -> None:
    assert money.to_minor(amount_text(typed), "DKK") == minor


def test_amounts_are_written_per_language_and_exponent() -> None:
    assert amount(123450, "DKK", "en") == "DKK 1,234.50"
    assert amount(123450, "DKK", "da") == "1.234,50 DKK"
    assert amount(1500, "ISK", "da") == "1.500 ISK"
    assert amount(-5, "EUR", "en") == "EUR -0.05"
    assert "minor units" in amount(12, "XXX", "en")  # never a guessed decimal point


def test_the_client_address_behind_trusted_proxies_only() -> None:
    from aiohttp.test_utils import make_mocked_request

    from plugin.pages.accounts import client_address

    forwarded = make_mocked_request(
        "POST", "/settings/login", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    )
    assert client_address(forwarded, 1) == "203.0.113.9"  # what our one proxy saw
    assert client_address(forwarded, 2) == "6.6.6.6"
    assert client_address(forwarded, 3) != "6.6.6.6"  # too few entries: the peer's
    assert client_address(forwarded, 0) != "203.0.113.9"  # no proxy trusted: never the header
