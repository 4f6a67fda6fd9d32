"""The e-conomic wire format, pure: exact decimals, error classification, decoding.

e-conomic sends amounts as decimal JSON numbers (``1019.99``, ``1500`` for ISK). They are
decoded straight from the JSON text into ``Decimal`` (never through ``float``) and stay
``Decimal`` in the read structs: this module converts no money. Turning them into integer minor
units needs the record's currency and its ISO 4217 exponent, so it happens in the mapping code
with `sync.money.to_minor`; writes go the other way in `sync.clients.economic`
(`sync.money.to_decimal`), encoded here as plain JSON numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from sync.errors import AuthLostError, SyncError, error_for_status

PLATFORM = "economic"
T = TypeVar("T")

_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")


def decode(body: bytes, kind: type[T]) -> T:
    """JSON bytes → ``kind``, every non-integer number an exact ``Decimal`` (money included)."""
    return msgspec.convert(_decoder.decode(body), kind)


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
