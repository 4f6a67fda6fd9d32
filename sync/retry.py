"""The retry policy: a pure function from a failure to a decision.

It follows DESIGN.md's failure table. Transient failures (429, 5xx, timeouts, connection errors)
retry with capped exponential backoff and full jitter, never earlier than a ``Retry-After`` the
platform asked for; lost access parks the job until a person acts; permanent refusals (400, 403,
404, 409, 422) become a recorded problem and are not retried; anything unexpected is a bug and
goes dead at once, visible and retryable by hand. Our own database being unreachable (or
busy, or a deadlock) is transient too: the adapters raise `DatabaseUnavailable` for it.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Literal

import msgspec

from sync.errors import AuthLostError, PermanentError, SyncError, TransientError
from sync.store.db import DatabaseUnavailable

BASE_DELAY = 2.0
MAX_DELAY = 3600.0

Outcome = Literal["retry", "park", "problem", "dead"]


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    outcome: Outcome
    state: Literal["failed", "parked", "dead"]
    run_at: dt.datetime
    code: str
    spends_attempt: bool = True


def backoff(
    attempts: int, rng: random.Random, *, base: float = BASE_DELAY, cap: float = MAX_DELAY
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempts-1))]."""
    ceiling = min(cap, base * 2 ** min(max(attempts - 1, 0), 32))
    return rng.uniform(0, ceiling)


def classify(exc: BaseException) -> Outcome:
    if isinstance(exc, TransientError | DatabaseUnavailable):
        return "retry"
    if isinstance(exc, AuthLostError):
        return "park"
    if isinstance(exc, PermanentError):
        return "problem"
    return "dead"


def decide(
    exc: BaseException, *, attempts: int, max_attempts: int, now: dt.datetime, rng: random.Random
) -> Decision:
    outcome = classify(exc)
    code = exc.code if isinstance(exc, SyncError | DatabaseUnavailable) else "bug"
    if outcome == "retry":
        spends = getattr(exc, "spends_attempt", True)
        if spends and attempts >= max_attempts:
            return Decision(outcome="dead", state="dead", run_at=now, code="attempts_exhausted")
        delay = backoff(attempts, rng)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, _bounded(float(retry_after)))
        return Decision(
            outcome="retry",
            state="failed",
            run_at=now + dt.timedelta(seconds=delay),
            code=code,
            spends_attempt=spends,
        )
    if outcome == "park":
        return Decision(outcome="park", state="parked", run_at=now, code=code)
    return Decision(outcome=outcome, state="dead", run_at=now, code=code)


def _bounded(seconds: float) -> float:
    """A platform's wait, kept to something a timestamp can hold (two days at most)."""
    if seconds != seconds or seconds < 0:
        return 0.0
    return min(seconds, 2 * 86400.0)
