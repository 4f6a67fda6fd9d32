"""`sync.money`: decimal text ↔ integer minor units by the currency's ISO 4217 exponent."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.money import (
    EXPONENTS,
    NotAnAmount,
    UnknownCurrency,
    exponent,
    to_decimal,
    to_minor,
    to_text,
)

currencies = st.sampled_from(sorted(EXPONENTS))
minor_units = st.integers(min_value=-(10**15), max_value=10**15)


def text_of(minor: int, places: int) -> str:
    """Decimal text with exactly ``places`` decimals, written out by hand (no Decimal)."""
    sign, digits = ("-" if minor < 0 else ""), str(abs(minor)).rjust(places + 1, "0")
    if not places:
        return sign + digits
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def test_every_exponent_is_zero_or_two() -> None:
    assert set(EXPONENTS.values()) == {0, 2}
    assert exponent("DKK") == exponent("EUR") == exponent("SEK") == 2
    assert exponent("ISK") == exponent("JPY") == 0
    assert exponent("isk") == 0  # codes are matched case-insensitively


@given(currencies, minor_units)
def test_text_to_minor_to_text_is_exact(currency: str, minor: int) -> None:
    text = text_of(minor, EXPONENTS[currency])
    assert to_minor(text, currency) == minor
    assert to_text(to_minor(text, currency), currency) == text
    assert to_minor(Decimal(text), currency) == minor
    assert to_decimal(minor, currency) == Decimal(text)
    assert to_decimal(minor, currency).as_tuple().exponent == -EXPONENTS[currency]


@given(currencies, minor_units, st.integers(min_value=0, max_value=9))
def test_an_extra_digit_rounds_half_even(currency: str, minor: int, digit: int) -> None:
    places = EXPONENTS[currency]
    text = text_of(minor, places)
    longer = text + ("" if places else ".") + str(digit)
    expected = int(Decimal(longer).scaleb(places).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    assert to_minor(longer, currency) == expected
    if digit < 5:
        assert expected == minor  # towards the written amount
    elif digit > 5:
        assert expected == minor + (1 if minor >= 0 else -1)  # away from zero
    else:
        assert expected % 2 == 0  # a tie goes to the even neighbour


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1019.99", "DKK", 101999),
        ("0.07", "DKK", 7),
        ("0.29", "EUR", 29),
        ("1.15", "SEK", 115),
        ("-1019.99", "DKK", -101999),
        ("-0.07", "NOK", -7),
        ("1500", "ISK", 1500),
        ("-1500", "JPY", -1500),
    ],
)
def test_awkward_values_are_exact(text: str, currency: str, minor: int) -> None:
    assert to_minor(text, currency) == minor
    assert to_minor(Decimal(text), currency) == minor
    assert to_text(minor, currency) == text
    # the floats these would be, times 100, are not whole: 1019.99 * 100 == 101998.99999999999
    assert str(to_decimal(minor, currency)) == text


def test_ties_and_odd_shapes() -> None:
    assert to_minor(Decimal("0.125"), "DKK") == 12 and to_minor(Decimal("0.135"), "DKK") == 14
    assert to_minor(Decimal("-0.125"), "DKK") == -12
    assert to_minor(Decimal("2.5"), "ISK") == 2 and to_minor(Decimal("3.5"), "ISK") == 4
    assert to_minor(Decimal("1E+2"), "DKK") == 10000 and to_minor(Decimal("1E+2"), "ISK") == 100
    assert to_minor(Decimal("1019.990"), "DKK") == 101999
    assert to_minor(1500, "ISK") == 1500 and to_minor(15, "DKK") == 1500
    huge = 10**40
    assert to_minor(str(huge), "DKK") == huge * 100  # no context precision in the way
    assert to_text(huge, "DKK") == f"{huge // 100}.00"
    assert to_text(0, "DKK") == "0.00" and to_text(0, "ISK") == "0"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_refused(value: float) -> None:
    with pytest.raises(NotAnAmount):
        to_minor(value, "DKK")  # type: ignore[arg-type]


def test_other_non_amounts_are_refused() -> None:
    for value in (True, None, "", "1,5", "abc", "NaN", "Infinity", "-inf", [1]):
        with pytest.raises(NotAnAmount):
            to_minor(value, "DKK")  # type: ignore[arg-type]
    with pytest.raises(NotAnAmount):
        to_decimal(1.5, "DKK")  # type: ignore[arg-type]
    with pytest.raises(NotAnAmount):
        to_text(True, "DKK")


@given(st.text(min_size=0, max_size=5).filter(lambda c: c.upper() not in EXPONENTS))
def test_unknown_currencies_are_refused(currency: str) -> None:
    with pytest.raises(UnknownCurrency) as caught:
        to_minor("1.00", currency)
    assert caught.value.currency == currency and caught.value.code == "unknown_currency"
    with pytest.raises(UnknownCurrency):
        to_decimal(100, currency)
    with pytest.raises(UnknownCurrency):
        to_text(100, currency)
    with pytest.raises(UnknownCurrency):
        exponent(currency)


def test_three_decimal_currencies_are_not_guessed() -> None:
    for code in ("BHD", "KWD", "TND", "XXX", "DK", ""):
        with pytest.raises(UnknownCurrency):
            exponent(code)
