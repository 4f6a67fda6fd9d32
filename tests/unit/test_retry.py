"""The retry policy as a pure function: classification, backoff schedule, Retry-After."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from sync.errors import (
    AuthLostError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from sync.retry import BASE_DELAY, MAX_DELAY, backoff, decide

NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


def test_backoff_ceiling_doubles_and_is_capped() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    top = Top()
    assert [backoff(n, top) for n in range(1, 6)] == [BASE_DELAY * 2**k for k in range(5)]
    assert backoff(40, top) == MAX_DELAY


@given(st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=2**32))
def test_full_jitter_stays_within_the_ceiling(attempts: int, seed: int) -> None:
    delay = backoff(attempts, random.Random(seed))
    assert 0 <= delay <= min(MAX_DELAY, BASE_DELAY * 2 ** (attempts - 1))


@given(st.floats(min_value=0, max_value=86_400), st.integers(min_value=0, max_value=2**32))
def test_retry_is_never_earlier_than_retry_after(retry_after: float, seed: int) -> None:
    exc = RateLimitedError("slow down", retry_after=retry_after)
    d = decide(exc, attempts=1, max_attempts=10, now=NOW, rng=random.Random(seed))
    assert d.outcome == "retry" and d.state == "failed" and d.code == "rate_limited"
    assert d.run_at >= NOW + dt.timedelta(seconds=retry_after)


def test_failure_table() -> None:
    rng = random.Random(1)
    cases = [
        (TransientError("502"), "retry", "failed"),
        (AuthLostError("401"), "park", "parked"),
        (ValidationError("422"), "problem", "dead"),
        (NotFoundError("404"), "problem", "dead"),
        (KeyError("surprise"), "dead", "dead"),
    ]
    for exc, outcome, state in cases:
        d = decide(exc, attempts=1, max_attempts=5, now=NOW, rng=rng)
        assert (d.outcome, d.state) == (outcome, state), exc
    assert decide(KeyError("x"), attempts=1, max_attempts=5, now=NOW, rng=rng).code == "bug"


def test_transient_failures_stop_after_max_attempts() -> None:
    d = decide(TransientError("503"), attempts=5, max_attempts=5, now=NOW, rng=random.Random(1))
    assert (d.outcome, d.state, d.code) == ("dead", "dead", "attempts_exhausted")


def test_our_database_being_unreachable_is_transient() -> None:
    from sync.store.db import DatabaseUnavailable

    now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    decision = decide(
        DatabaseUnavailable("PostgreSQL unavailable: ConnectionDoesNotExistError"),
        attempts=1,
        max_attempts=10,
        now=now,
        rng=random.Random(1),
    )
    assert decision.outcome == "retry" and decision.code == "database_unavailable"
    assert decision.run_at > now


def test_backoff_does_not_overflow_and_absurd_retry_after_is_bounded() -> None:
    now = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    assert 0 <= backoff(10_000, random.Random(2)) <= 3600
    for wait, most in ((float("inf"), 172800), (float("nan"), 3600), (-5.0, 3600), (1e300, 172800)):
        decision = decide(
            RateLimitedError("429", retry_after=wait),
            attempts=3,
            max_attempts=10,
            now=now,
            rng=random.Random(3),
        )
        assert now <= decision.run_at <= now + dt.timedelta(seconds=most)
