"""Timing a queue benchmark run: throughput from the enqueue on, and each claim call's latency."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Awaitable
from typing import Any

import msgspec


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Run(msgspec.Struct, frozen=True, kw_only=True):
    jobs_per_s: float
    seconds: float
    enqueue_seconds: float
    claims: int
    claim_p50_ms: float
    claim_p99_ms: float


class Stopwatch:
    """Times one run from its enqueue; collects the duration of each claim call."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.enqueued = self.started
        self.claims: list[float] = []

    def enqueue_done(self) -> None:
        self.enqueued = time.perf_counter()

    async def claim(self, call: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        try:
            return await call
        finally:
            self.claims.append(time.perf_counter() - started)

    def run(self, count: int) -> Run:
        elapsed = time.perf_counter() - self.started
        return Run(
            jobs_per_s=round(count / elapsed),
            seconds=round(elapsed, 3),
            enqueue_seconds=round(self.enqueued - self.started, 3),
            claims=len(self.claims),
            claim_p50_ms=round(percentile(self.claims, 50) * 1000, 2),
            claim_p99_ms=round(percentile(self.claims, 99) * 1000, 2),
        )


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else math.nan
