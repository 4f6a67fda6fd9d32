"""How the collection platform's answers become `sync.errors` exceptions, pure.

The status → class table is `sync.errors.FAILURE_TABLE`; 401 is not in it because the client
answers it with one token refresh first. The platform's problem document, with its ``code``,
becomes the exception's ``detail``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sync.clients.collection_auth import PLATFORM
from sync.errors import SyncError, error_for_status


def error_for(status: int, problem: dict[str, Any], retry_after: float | None) -> SyncError:
    """The `sync.errors` exception for a non-2xx answer (401 is handled before this)."""
    message = f"collection platform answered {status} {problem.get('code', '')}".strip()
    return error_for_status(
        status, message, detail=problem, retry_after=retry_after, platform=PLATFORM
    )


def problem_of(answer: bytes, status: int) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(answer)
    except msgspec.DecodeError:
        return {"status": status, "code": "", "detail": answer[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"status": status, "code": ""}
