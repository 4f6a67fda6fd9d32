"""Money at the simulator's edge: integer minor units inside, decimal JSON numbers outside.

Amounts are kept as ``int`` in the currency's ISO 4217 minor unit everywhere in the simulator's
state: øre and cent (2 decimals), whole krónur and yen (0 decimals). Only documents going out are
rendered as ``Decimal`` with exactly the currency's decimals (``1019.99`` DKK, ``1500`` ISK;
encoded as JSON numbers by ``encode_json``), and amounts coming in are parsed from the JSON text
as ``Decimal`` by the currency's exponent; no float arithmetic ever touches money.

The simulator knows the currencies of `CURRENCIES` and no others (an unknown code is a 400 at
the edge). Where the contract is silent it picks:

* ``exchangeRate`` is base-currency units per 100 foreign units at fixed rates (`RATES`, stated
  in DKK, the base currency of every seeded agreement): 745.93 for EUR, 4.95 for ISK.
* Amounts in the base currency (``…InBaseCurrency``) are converted exactly and rounded
  half-even once, to the **base** currency's decimals (an ISK invoice has DKK base amounts
  with two decimals).
* A voucher amount with more decimals than its currency has is refused (``0.5`` ISK is a 400,
  as ``0.001`` DKK always was); the ``/_sandbox`` controls round such amounts half-even to the
  currency's unit instead (``509.995`` DKK books ``510.00``). Quantities are hundredths,
  rounded half-even.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, TypeGuard

import msgspec

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_HUNDREDTH = Decimal("0.01")

# ISO 4217 minor-unit exponents of the currencies the simulator accepts.
EXPONENTS: dict[str, int] = {
    "DKK": 2, "EUR": 2, "SEK": 2, "NOK": 2, "USD": 2, "GBP": 2, "ISK": 0, "JPY": 0,
}  # fmt: skip
# Fixed exchange rates: DKK per 100 units of the currency.
RATES: dict[str, Decimal] = {
    "DKK": Decimal(100),
    "EUR": Decimal("745.93"),
    "SEK": Decimal("68.47"),
    "NOK": Decimal("63.91"),
    "USD": Decimal("690.52"),
    "GBP": Decimal("871.20"),
    "ISK": Decimal("4.95"),
    "JPY": Decimal("4.41"),
}
CURRENCIES = tuple(EXPONENTS)


class UnknownCurrency(ValueError):
    """A currency code the simulator does not know."""

    def __init__(self, currency: object) -> None:
        super().__init__(f"Unknown currency {currency!r}; use one of {', '.join(CURRENCIES)}.")
        self.currency = currency


def known(currency: object) -> TypeGuard[str]:
    return isinstance(currency, str) and currency in EXPONENTS


def exponent(currency: object) -> int:
    """The number of decimals of the currency (``"DKK"`` → 2, ``"ISK"`` → 0)."""
    if not isinstance(currency, str) or currency not in EXPONENTS:
        raise UnknownCurrency(currency)
    return EXPONENTS[currency]


def to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units → a Decimal with exactly the currency's decimals (``101999`` → ``1019.99``
    in DKK, ``1500`` → ``1500`` in ISK)."""
    return Decimal(minor).scaleb(-exponent(currency))


def to_minor(value: Decimal | int | str, currency: str) -> int:
    """An exact decimal amount → minor units; more decimals than the currency has is an error."""
    places = exponent(currency)
    try:
        amount = Decimal(value)
        minor = amount.scaleb(places)
        if not minor.is_finite() or minor != minor.to_integral_value():
            raise ValueError(f"{value!r} has more than {places} decimals for {currency}")
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    return int(minor)


def round_to_minor(value: Decimal | int | str, currency: str) -> int:
    """A decimal amount → minor units of ``currency``, rounding half-even at its unit."""
    places = exponent(currency)
    try:
        return int(Decimal(value).scaleb(places).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def div_half_even(numerator: int, denominator: int) -> int:
    """Integer division rounded half-even, exact for any sign (denominator > 0)."""
    quotient, rest = divmod(numerator, denominator)
    twice = 2 * rest
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def _round(value: Fraction) -> int:
    return div_half_even(value.numerator, value.denominator)


def exchange_rate(currency: str, base: str) -> Decimal:
    """``currency``'s ``exchangeRate`` for an agreement whose base currency is ``base``."""
    if currency == base:
        return Decimal(100)
    rate = RATES[currency] * 100 / RATES[base]
    return rate if base == "DKK" else rate.quantize(Decimal("0.000001"), ROUND_HALF_EVEN)


def scale(minor: int, rate: Decimal, currency: str, base: str) -> int:
    """Minor units of ``currency`` → minor units of ``base`` with an e-conomic exchange rate
    (base units per 100 foreign units), rounded half-even to the base currency's unit."""
    exact = Fraction(minor) * Fraction(rate) / 100
    return _round(exact * 10 ** exponent(base) / 10 ** exponent(currency))


def convert(minor: int, source: str, target: str) -> int:
    """Minor units of ``source`` → minor units of ``target`` at the fixed rates, half-even."""
    if source == target:
        return minor
    exact = Fraction(minor) * Fraction(RATES[source]) / Fraction(RATES[target])
    return _round(exact * 10 ** exponent(target) / 10 ** exponent(source))


def hundredths(value: Decimal | int | str) -> int:
    """A quantity → hundredths (``1.5`` → ``150``), rounded half-even."""
    try:
        return int(Decimal(value).quantize(_HUNDREDTH, rounding=ROUND_HALF_EVEN).scaleb(2))
    except InvalidOperation as exc:
        raise ValueError(f"not a quantity: {value!r}") from exc


def quantity(value: int) -> Decimal:
    """Hundredths → a Decimal with two decimals (``150`` → ``1.50``)."""
    return Decimal(value).scaleb(-2)


def encode_json(document: Any) -> bytes:
    return _ENCODER.encode(document)


def decode_json(body: bytes) -> Any:
    """Decode a request body keeping every non-integer number as an exact Decimal."""
    return _DECODER.decode(body)
