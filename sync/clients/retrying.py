"""In-process retries shared by both platform clients: ``Retry-After`` and when to try again.

This is the part of DESIGN.md's failure table a client applies inside one call; the job queue
(`sync.retry`) handles whatever the call finally raises. Each client keeps its own mapping from
an answer to a `sync.errors` exception; this module only decides whether to send again, and when.

Retried here: timeouts and connection errors (a `TransientError` raised while sending) and the
statuses in `RETRY_STATUSES`, 429, 500, 502, 503 and 504. 500 is in the list because
contracts/economic.md names it ("Retry 429, 500, 502, 503, 504, timeouts and connection
errors") and DESIGN.md keeps one failure table for both clients (collection-api.md only says
"5xx"). Any other 5xx (501, 505, 507, 511, …) is still a `TransientError` ("unavailable") in
both clients' mappings, so the job is rescheduled with backoff, but it is not retried within
the call: asking again at once would get the same answer.

A ``Retry-After`` of at most `MAX_RETRY_AFTER` seconds is waited out, never less; a longer one
ends the call at once, and the client raises its error carrying ``retry_after`` so the job
queue reschedules at now + ``retry_after``. Without ``Retry-After`` the wait is capped
exponential backoff with full jitter (`sync.retry.backoff`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import re
from collections.abc import Awaitable, Callable

import msgspec
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from sync.errors import TransientError
from sync.retry import backoff

MAX_RETRY_AFTER = 30.0
# No platform asks for more: e-conomic's budget window is 24 h, the collection bucket refills
# in seconds. A larger value is a broken header; clamping it keeps `now + retry_after` finite.
RETRY_AFTER_CEILING = 86_400.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# RFC 9110 delta-seconds are digits; a sign and a fraction are tolerated (and clamped). Python
# spellings such as "nan", "inf" or "1_0" are not numbers here.
_DELTA_SECONDS = re.compile(r"[+-]?\d+(?:\.\d*)?")


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """One HTTP answer as the retry loop sees it (``retry_after`` already parsed)."""

    status: int
    body: bytes
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Delta-seconds or an HTTP-date → seconds from ``now`` in [0, `RETRY_AFTER_CEILING`].

    Negative values and dates in the past give 0; an unreadable value gives None (as if the
    header were absent). Never raises.
    """
    text = (value or "").strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return _clamp(float(text))  # a very long digit string is inf, clamped
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": an HTTP-date is always UTC
        when = when.replace(tzinfo=dt.UTC)
    return _clamp((when - now).total_seconds())


def _clamp(seconds: float) -> float:
    return min(max(seconds, 0.0), RETRY_AFTER_CEILING)


def retry_delay(status: int | None, retry_after: float | None, fallback: float) -> float | None:
    """Seconds to wait before sending again, or None when the call should end now.

    ``status`` is None for a failure without an answer (timeout, connection error);
    ``fallback`` is the backoff to use when the platform did not say how long to wait.
    """
    if status is not None and status not in RETRY_STATUSES:
        return None
    if retry_after is None:
        return fallback
    if retry_after > MAX_RETRY_AFTER:
        return None
    return retry_after  # never earlier than the platform asked


def _delay(state: RetryCallState, fallback: float) -> float | None:
    """`retry_delay` for the attempt that just ended; None when it succeeded or is not retried."""
    outcome = state.outcome
    if outcome is None:
        return None
    if outcome.failed:
        exc = outcome.exception()
        if not isinstance(exc, TransientError):
            return None
        return retry_delay(None, exc.retry_after, fallback)
    answer: Answer = outcome.result()
    return None if answer.ok else retry_delay(answer.status, answer.retry_after, fallback)


def _last_outcome(state: RetryCallState) -> Answer:
    """Once the attempts are spent: the last answer, or what the last attempt raised."""
    assert state.outcome is not None
    answer: Answer = state.outcome.result()
    return answer


async def send_with_retries(
    send: Callable[[], Awaitable[Answer]],
    *,
    attempts: int,
    base: float,
    cap: float,
    rng: random.Random,
) -> Answer:
    """Call ``send`` until it answers 2xx, fails in a way not retried here, or ``attempts``
    are spent. Returns the last answer (the caller maps a non-2xx one to its own error) or
    re-raises what ``send`` raised last."""

    def wait(state: RetryCallState) -> float:
        return _delay(state, backoff(state.attempt_number, rng, base=base, cap=cap)) or 0.0

    retrying = AsyncRetrying(
        retry=lambda state: _delay(state, 0.0) is not None,
        wait=wait,
        stop=stop_after_attempt(attempts),
        retry_error_callback=_last_outcome,
    )

    async def attempt() -> Answer:  # tenacity awaits only what is a coroutine function
        return await send()

    answer: Answer = await retrying(attempt)
    return answer
