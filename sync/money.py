"""Money: integer minor units by the currency's ISO 4217 exponent, and the one conversion.

Inside the app every amount is an ``int`` in the currency's minor unit (øre, cent; whole krónur
for ISK, whole yen for JPY). e-conomic speaks decimals: the client decodes its amounts from the
JSON text as exact ``Decimal`` (never through ``float``) and hands them on as they are; the
mapping code (`sync.mapping`) converts them here with the record's currency (base-currency
fields with the agreement's base currency), rounding half-even from the decimal. Writes go the
other way in one place, the e-conomic client's voucher documents (`to_decimal`). A currency
missing from `EXPONENTS` is `UnknownCurrency`, a problem for a person, never a guess at two
decimals.

    to_minor(Decimal("1019.99"), "DKK") == 101999
    to_minor(Decimal("1500"), "ISK") == 1500
    to_decimal(101999, "DKK") == Decimal("1019.99")
    to_text(101999, "DKK") == "1019.99"
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents of the currencies e-conomic agreements use, and of their
# neighbours. Currencies with exponent 3 (BHD, KWD, …) are left out on purpose: e-conomic
# documents amounts with two decimals, so such a ledger could not state them exactly.
EXPONENTS: dict[str, int] = {
    "AUD": 2, "BGN": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2,
    "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
    "ISK": 0, "JPY": 0, "KRW": 0, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "PHP": 2,
    "PLN": 2, "RON": 2, "SEK": 2, "SGD": 2, "THB": 2, "TRY": 2, "UAH": 2, "USD": 2,
    "ZAR": 2,
}  # fmt: skip


class UnknownCurrency(ValueError):
    """A currency code we hold no ISO 4217 exponent for."""

    code = "unknown_currency"

    def __init__(self, currency: str) -> None:
        super().__init__(f"currency {currency!r} is not one we know the minor unit of")
        self.currency = currency


class NotAnAmount(ValueError):
    """A value that is no exact amount: a float, a bool, text that is not a decimal, NaN or
    infinity (or, for `to_decimal`, minor units that are not an ``int``)."""

    code = "not_an_amount"


def exponent(currency: str) -> int:
    """The number of decimals of ``currency``'s minor unit (``"DKK"`` → 2, ``"ISK"`` → 0)."""
    try:
        return EXPONENTS[currency.upper()]
    except (KeyError, AttributeError):
        raise UnknownCurrency(str(currency)) from None


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """A decimal amount → integer minor units of ``currency``, rounding half-even.

    Strings are read as decimals (``"0.07"``); floats are refused: their binary value is not
    the amount that was written. Exact for any magnitude (integer arithmetic, no context
    precision)."""
    if isinstance(amount, float | bool) or not isinstance(amount, Decimal | int | str):
        raise NotAnAmount(f"amounts are never {type(amount).__name__}s: {amount!r}")
    places = exponent(currency)
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise NotAnAmount(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise NotAnAmount(f"not an amount: {amount!r}")
    numerator, denominator = value.as_integer_ratio()
    return _div_half_even(numerator * 10**places, denominator)


def to_decimal(minor: int, currency: str) -> Decimal:
    """Integer minor units → a Decimal with exactly the currency's decimals."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise NotAnAmount(f"minor units are an int, not {minor!r}")
    sign, digits, places = Decimal(minor).as_tuple()
    # Built from the digits, not with scaleb: no context precision can round a large amount.
    return Decimal((sign, digits, int(places) - exponent(currency)))


def to_text(minor: int, currency: str) -> str:
    """Minor units as decimal text (``"1019.99"``, ``"1500"``), as the collection API's
    ``unit_price`` and our texts want it."""
    return str(to_decimal(minor, currency))


def _div_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-even (``denominator`` > 0)."""
    quotient, rest = divmod(numerator, denominator)
    twice = 2 * rest
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient
