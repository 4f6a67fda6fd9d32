"""The sync engine's exceptions, each with a stable ``code``.

    SyncError                      base; ``code`` is stable, ``message`` is safe to show a person
    ├── TransientError             429, 500, 502-504, timeouts, connection errors: retry later
    │   ├── RateLimitedError       429 with the time to wait
    │   │   └── BudgetExhaustedError  our daily e-conomic budget is used up: wait, no attempt spent
    │   ├── LeaseBusyError         another job holds a lease this one waited for: no attempt spent
    │   └── ConfigurationError     our own set-up is refused (e.g. client credentials): wait for the
    │                              operator, no attempt spent; no installation loses its link
    ├── AuthLostError              the platform no longer accepts an installation's grant: park
    ├── PermanentError             400, 403, 404, 409, 422: record a problem, no retry
    │   ├── PermissionDeniedError  403
    │   ├── NotFoundError          404
    │   ├── ConflictError          409
    │   └── ValidationError        400/422 with the platform's details
    └── (anything else)            a bug: the job goes dead, visible and retryable

Messages never carry secrets: adapters put the platform's own error text in ``detail``, never
request headers or tokens. An error with ``spends_attempt`` False is not the job's own failure:
the job waits (never earlier than ``retry_after``) without using up its attempts.
"""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    code = "sync_error"
    spends_attempt = True

    def __init__(self, message: str, *, detail: Any = None, platform: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.platform = platform


class TransientError(SyncError):
    code = "unavailable"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        detail: Any = None,
        platform: str | None = None,
    ) -> None:
        super().__init__(message, detail=detail, platform=platform)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    code = "rate_limited"


class BudgetExhaustedError(RateLimitedError):
    code = "budget_exhausted"
    spends_attempt = False


class LeaseBusyError(TransientError):
    """Another job holds the lease this one waits for (`sync.store.leases.Leases.hold`): not
    this job's failure; it tries again in a minute without spending an attempt."""

    code = "lease_busy"
    spends_attempt = False

    def __init__(self, message: str, *, retry_after: float | None = 60.0) -> None:
        super().__init__(message, retry_after=retry_after)


class ConfigurationError(TransientError):
    """Our own set-up was refused; jobs wait (5 minutes at least) until the operator fixes it."""

    code = "configuration_error"
    spends_attempt = False

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = 300.0,
        detail: Any = None,
        platform: str | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after, detail=detail, platform=platform)


class AuthLostError(SyncError):
    code = "auth_lost"


class PermanentError(SyncError):
    code = "rejected"


class PermissionDeniedError(PermanentError):
    code = "permission_denied"


class NotFoundError(PermanentError):
    code = "not_found"


class ConflictError(PermanentError):
    code = "conflict"


class ValidationError(PermanentError):
    code = "validation_failed"


# DESIGN.md's one failure table, by HTTP status, for both platforms. 401 is not in it: each
# client decides what a refused credential means (e-conomic: grant revoked; collection: refresh
# once, then the link is lost).
FAILURE_TABLE: dict[int, type[SyncError]] = {
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


def error_for_status(
    status: int, message: str, *, detail: Any, retry_after: float | None, platform: str
) -> SyncError:
    """The exception for a non-2xx answer: by the table, else transient for 5xx, permanent."""
    kind = FAILURE_TABLE.get(status, TransientError if status >= 500 else PermanentError)
    if issubclass(kind, TransientError):
        return kind(message, retry_after=retry_after, detail=detail, platform=platform)
    return kind(message, detail=detail, platform=platform)
