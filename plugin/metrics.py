"""Prometheus metrics, in a registry of the app's own (no module-level state).

Job counts by kind and state are read from the database at scrape time, so they are true for
all processes; latencies and counters are those of this process. So are the inbox's lag (the age
of the oldest collection event not processed yet, 0 when none waits) and its dead letters.
"""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from sync.jobs import JOB_STATES, JobQueue
from sync.store.inbox import Inbox, Source
from webhooks import REASONS, Reason


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Gauge(
            "collectbridge_jobs",
            "Jobs by kind and state",
            ["kind", "state"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "collectbridge_job_duration_seconds",
            "Time a job's handler ran",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.webhooks_received = Counter(
            "collectbridge_webhooks_received_total",
            "Webhook deliveries stored",
            ["source"],
            registry=self.registry,
        )
        self.webhooks_rejected = Counter(
            "collectbridge_webhooks_rejected_total",
            "Webhook deliveries refused",
            ["source", "reason"],
            registry=self.registry,
        )
        self.api_calls = Counter(
            "collectbridge_api_calls_total",
            "Calls to a platform",
            ["platform", "status"],
            registry=self.registry,
        )
        self.webhooks_duplicates = Counter(
            "collectbridge_webhooks_duplicates_total",
            "Webhook deliveries acknowledged as duplicates of stored ones (nothing added)",
            ["source"],
            registry=self.registry,
        )
        self.webhooks_unavailable = Counter(
            "collectbridge_webhooks_unavailable_total",
            "Webhook deliveries answered 503: the inbox could not be written (they are retried)",
            ["source"],
            registry=self.registry,
        )
        self.inbox_lag = Gauge(
            "collectbridge_inbox_lag_seconds",
            "Age of the oldest inbox entry not processed yet (0 when none waits)",
            registry=self.registry,
        )
        self.inbox_dead = Gauge(
            "collectbridge_inbox_dead",
            "Collection events whose processing failed for a bug, waiting for a replay",
            registry=self.registry,
        )
        self.event_gaps = Counter(
            "collectbridge_event_gaps_total",
            "Collection events that arrived past a gap in the account's sequence (a feed read "
            "was queued)",
            registry=self.registry,
        )
        self.events_filled = Counter(
            "collectbridge_event_gaps_filled_total",
            "Collection events the events feed brought that no webhook had delivered",
            registry=self.registry,
        )
        for source in ("economic", "collection"):
            self.webhooks_received.labels(source=source)
            self.webhooks_duplicates.labels(source=source)
            self.webhooks_unavailable.labels(source=source)
        # Every (source, reason) a receiver can answer is a series from the start, at zero.
        for source, reasons in REASONS.items():
            for reason in reasons:
                self.webhooks_rejected.labels(source=source, reason=reason)

    def webhook_received(self, source: Source) -> None:
        self.webhooks_received.labels(source=source).inc()

    def webhook_duplicate(self, source: Source) -> None:
        self.webhooks_duplicates.labels(source=source).inc()

    def webhook_rejected(self, source: Source, reason: Reason) -> None:
        self.webhooks_rejected.labels(source=source, reason=reason).inc()

    def webhook_unavailable(self, source: Source) -> None:
        self.webhooks_unavailable.labels(source=source).inc()

    def event_gap(self) -> None:
        self.event_gaps.inc()

    def events_filled_from_feed(self, count: int) -> None:
        self.events_filled.inc(count)

    def job_finished(self, kind: str, outcome: str, seconds: float) -> None:
        self.job_seconds.labels(kind=kind, outcome=outcome).observe(seconds)

    async def render(self, queue: JobQueue, *, now: dt.datetime | None = None) -> bytes:
        inbox = Inbox(queue.db)
        oldest = await inbox.oldest_new()
        at = now or dt.datetime.now(dt.UTC)
        self.inbox_lag.set(max(0.0, (at - oldest).total_seconds()) if oldest else 0.0)
        self.inbox_dead.set(await inbox.count_dead())
        self.jobs.clear()
        counts = await queue.counts()
        for kind, state, count in counts:
            self.jobs.labels(kind=kind, state=state).set(count)
        if not counts:
            for state in JOB_STATES:
                self.jobs.labels(kind="", state=state).set(0)
        return generate_latest(self.registry)
