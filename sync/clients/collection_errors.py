"""How the collection platform's answers become `sync.errors` exceptions, pure.

The status → class table is data (`ERRORS`); 401 is not in it because the client answers it
with one token refresh first. The platform's problem document, with its ``code``, becomes the
exception's ``detail``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sync.clients.collection_auth import PLATFORM
from sync.errors import (
    ConflictError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    RateLimitedError,
    SyncError,
    TransientError,
    ValidationError,
)

ERRORS: dict[int, type[SyncError]] = {
    400: ValidationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
    500: TransientError,
    502: TransientError,
    503: TransientError,
    504: TransientError,
}


def error_for(status: int, problem: dict[str, Any], retry_after: float | None) -> SyncError:
    """The `sync.errors` exception for a non-2xx answer (401 is handled before this)."""
    kind = ERRORS.get(status, TransientError if status >= 500 else PermanentError)
    message = f"collection platform answered {status} {problem.get('code', '')}".strip()
    if issubclass(kind, TransientError):
        return kind(message, retry_after=retry_after, detail=problem, platform=PLATFORM)
    return kind(message, detail=problem, platform=PLATFORM)


def problem_of(answer: bytes, status: int) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(answer)
    except msgspec.DecodeError:
        return {"status": status, "code": "", "detail": answer[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"status": status, "code": ""}
