"""The e-conomic wire format, pure: money, error classification, decoding.

Money is the one conversion that matters: e-conomic sends amounts as decimal JSON numbers
(``1019.99``). They are decoded straight from the JSON text into ``Decimal`` (never through
``float``), then turned into integer minor units rounding half-even. Writes go the other way,
``minor_to_decimal``, and are encoded as JSON numbers. Nothing else in the code converts.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

import msgspec

from sync.errors import AuthLostError, SyncError, error_for_status

PLATFORM = "economic"
T = TypeVar("T")

# Every property e-conomic sends as money; converted to minor units wherever it appears.
MONEY_FIELDS = frozenset(
    {
        "amount",
        "balance",
        "dueAmount",
        "netAmount",
        "netAmountInBaseCurrency",
        "vatAmount",
        "grossAmount",
        "grossAmountInBaseCurrency",
        "remainder",
        "remainderInBaseCurrency",
        "roundingAmount",
        "unitNetPrice",
        "unitCostPrice",
        "totalNetAmount",
        "grossRemainderInBaseCurrency",
        "amountInBaseCurrency",
    }
)

_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")
_ONE = Decimal(1)


def decimal_to_minor(amount: Decimal | int) -> int:
    """``Decimal("1019.99")`` → ``101999``; a third decimal rounds half-even."""
    return int((Decimal(amount) * 100).quantize(_ONE, rounding=ROUND_HALF_EVEN))


def minor_to_decimal(minor: int) -> Decimal:
    """``101999`` → ``Decimal("1019.99")`` (always two decimals)."""
    return Decimal(minor).scaleb(-2)


def money_to_minor(value: Any) -> Any:
    """Walk decoded JSON and turn every money property into minor units."""
    if isinstance(value, dict):
        return {
            key: decimal_to_minor(item)
            if key in MONEY_FIELDS
            and isinstance(item, Decimal | int)
            and not isinstance(item, bool)
            else money_to_minor(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [money_to_minor(item) for item in value]
    return value


def decode(body: bytes, kind: type[T]) -> T:
    """JSON bytes → ``kind``, with exact decimals and money in minor units."""
    return msgspec.convert(money_to_minor(_decoder.decode(body)), kind)


def decode_raw(body: bytes) -> Any:
    """JSON bytes → builtins with every non-integer number an exact ``Decimal``."""
    return _decoder.decode(body)


def encode(document: Any) -> bytes:
    """Builtins (with ``Decimal`` amounts) → JSON bytes, decimals written as numbers."""
    return _encoder.encode(document)


def error_body(answer: bytes) -> dict[str, Any]:
    """The platform's ``{message, developerHint, logId, httpStatusCode, errors}`` (or a stub)."""
    try:
        value = msgspec.json.decode(answer)
    except msgspec.DecodeError:
        return {"message": answer[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"message": str(value)[:200]}


def error_for(status: int, body: Mapping[str, Any], retry_after: float | None) -> SyncError:
    """The `sync.errors` exception for a non-2xx answer; ``detail`` keeps message, errors and
    logId (never our request headers)."""
    detail = {
        key: body[key] for key in ("message", "errors", "logId", "httpStatusCode") if key in body
    }
    detail.setdefault("httpStatusCode", status)
    message = f"e-conomic answered {status}"
    if status == 401:  # the grant was revoked (or never valid): park, no retry
        return AuthLostError(message, detail=detail, platform=PLATFORM)
    return error_for_status(
        status, message, detail=detail, retry_after=retry_after, platform=PLATFORM
    )
