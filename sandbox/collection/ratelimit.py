"""The per-account rate limit: a token bucket (20 requests/s, burst 40), pure.

`take` returns the bucket after the request and, when refused, the seconds until one token is
back (the ``Retry-After`` the caller must honour, rounded up to whole seconds by the handler).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated: float


def take(bucket: Bucket | None, now: float, rate: float, burst: int) -> tuple[Bucket, float | None]:
    """Take one token; ``(bucket, None)`` when allowed, ``(bucket, wait_seconds)`` when not."""
    if bucket is None:
        bucket = Bucket(float(burst), now)
    tokens = min(float(burst), bucket.tokens + max(0.0, now - bucket.updated) * rate)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), None
    return Bucket(tokens, now), (1.0 - tokens) / rate


class RateLimiter:
    """Buckets keyed by account (or partner client)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, Bucket] = {}

    def check(self, key: str, now: float) -> float | None:
        bucket, wait = take(self._buckets.get(key), now, self.rate, self.burst)
        self._buckets[key] = bucket
        return wait
