"""Money at the simulator's edge: integer minor units inside, 2-decimal JSON numbers outside.

Amounts are kept as ``int`` øre/cent everywhere in the simulator's state. Only documents going
out are rendered as ``Decimal`` with exactly two decimals (encoded as JSON numbers by
``encode_json``), and amounts coming in are parsed from the JSON text as ``Decimal``; no float
arithmetic ever touches money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_CENT = Decimal("0.01")


def to_decimal(minor: int) -> Decimal:
    """Minor units → a Decimal with exactly two decimals (``101999`` → ``1019.99``)."""
    return Decimal(minor).scaleb(-2)


def to_minor(value: Decimal | int | str) -> int:
    """A decimal amount → minor units, rounding half-even at the cent."""
    try:
        amount = Decimal(value).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    return int(amount.scaleb(2))


def div_half_even(numerator: int, denominator: int) -> int:
    """Integer division rounded half-even, exact for any sign (denominator > 0)."""
    quotient, rest = divmod(numerator, denominator)
    twice = 2 * rest
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def scale(minor: int, rate: Decimal) -> int:
    """Convert minor units with an e-conomic exchange rate (base units per 100 foreign units)."""
    return to_minor(Decimal(minor) * rate / Decimal(10000))


def encode_json(document: Any) -> bytes:
    return _ENCODER.encode(document)


def decode_json(body: bytes) -> Any:
    """Decode a request body keeping every non-integer number as an exact Decimal."""
    return _DECODER.decode(body)
