"""The sync jobs as `NewJob`s (kinds and dedupe keys of DESIGN.md, Jobs) and their schedules.

One constructor per kind, so every enqueuer (onboarding, the API's resync, webhook hints, the
jobs themselves) names a job the same way. Beside DESIGN.md's serial keys, the jobs that walk
the whole ledger (``sync.bootstrap``, ``sync.scan``) share the serial key
``backfill:<agreement>``: they keep one checkpoint, so one of them runs at a time.

Periodic work chains itself: a periodic job enqueues its next run when it ends
(`next_runs`), and `periodic_jobs` (at worker start and in the daily housekeeping) puts back a
chain that broke (a job that went dead, a database restored from a backup). A queued twin
absorbs a new one and keeps the earlier ``run_at`` (the queue's dedupe), so asking again is free.

Payloads merge when a twin absorbs a job, the new keys winning, so a flag is set only when it
asks for more: ``full`` on a scan, ``reason: approved`` on a handover. A daily scan absorbed
into a requested full scan leaves it full, and a policy handover absorbed into an approved
one leaves it approved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync.jobs import NewJob

CUSTOMERS_EVERY = dt.timedelta(minutes=15)
EVENTS_EVERY = dt.timedelta(minutes=5)
SCAN_EVERY = dt.timedelta(days=1)
FULL_SCAN_EVERY = dt.timedelta(days=7)
HOUSEKEEPING_EVERY = dt.timedelta(days=1)
NOTICES_EVERY = dt.timedelta(minutes=5)


def _job(
    kind: str,
    installation_id: int,
    dedupe_key: str,
    *,
    serial_key: str | None = None,
    run_at: dt.datetime | None = None,
    priority: int = 0,
    **payload: Any,
) -> NewJob:
    return NewJob(
        kind=kind,
        installation_id=installation_id,
        payload=payload,
        dedupe_key=dedupe_key,
        serial_key=serial_key,
        run_at=run_at,
        priority=priority,
    )


def bootstrap(installation_id: int, agreement: int) -> NewJob:
    return _job(
        "sync.bootstrap",
        installation_id,
        f"bootstrap:{agreement}",
        serial_key=f"backfill:{agreement}",
    )


def scan(
    installation_id: int, agreement: int, *, full: bool = False, run_at: dt.datetime | None = None
) -> NewJob:
    return _job(
        "sync.scan",
        installation_id,
        f"scan:{agreement}",
        serial_key=f"backfill:{agreement}",
        run_at=run_at,
        **({"full": True} if full else {}),
    )


def customers(installation_id: int, agreement: int, *, run_at: dt.datetime | None = None) -> NewJob:
    return _job("sync.customers", installation_id, f"customers:{agreement}", run_at=run_at)


def customer(installation_id: int, agreement: int, number: int, old: int | None = None) -> NewJob:
    payload: dict[str, Any] = {"customer": number}
    if old is not None and old != number:
        payload["old"] = old
    return _job(
        "sync.customer",
        installation_id,
        f"customer:{agreement}:{number}",
        serial_key=f"customer:{agreement}:{number}",
        **payload,
    )


def invoice(installation_id: int, agreement: int, number: int) -> NewJob:
    return _job(
        "sync.invoice",
        installation_id,
        f"invoice:{agreement}:{number}",
        serial_key=f"invoice:{agreement}:{number}",
        invoice=number,
    )


def remainders(installation_id: int, agreement: int) -> NewJob:
    return _job("sync.remainders", installation_id, f"remainders:{agreement}")


def reconcile(installation_id: int, agreement: int, number: int) -> NewJob:
    return _job(
        "sync.reconcile",
        installation_id,
        f"reconcile:{agreement}:{number}",
        serial_key=f"invoice:{agreement}:{number}",
        invoice=number,
    )


def document(installation_id: int, agreement: int, number: int) -> NewJob:
    """An invoice PDF to its claim: below other work (``priority`` -1), at the bulk pace."""
    return _job(
        "sync.document",
        installation_id,
        f"document:{agreement}:{number}",
        serial_key=f"invoice:{agreement}:{number}",
        priority=-1,
        invoice=number,
    )


def handover(installation_id: int, agreement: int, number: int, *, reason: str) -> NewJob:
    payload: dict[str, Any] = {"invoice": number}
    if reason != "policy":
        payload["reason"] = reason
    return NewJob(
        kind="handover.claim",
        installation_id=installation_id,
        payload=payload,
        dedupe_key=f"handover:{agreement}:{number}",
        serial_key=f"invoice:{agreement}:{number}",
    )


def housekeeping(*, run_at: dt.datetime | None = None) -> NewJob:
    return NewJob(kind="maintenance.purge", dedupe_key="purge", run_at=run_at)


def notices(*, run_at: dt.datetime | None = None) -> NewJob:
    """Every company's new problems and announced handovers into notices, mailed to its admins
    (``plugin.notices``): one job for all companies, so a revoked one, whose own jobs wait, still
    hears that its access was lost; one at a time (``serial_key``)."""
    return NewJob(kind="notices.send", dedupe_key="notices", serial_key="notices", run_at=run_at)


def periodic_jobs(installation_id: int, agreement: int, *, now: dt.datetime) -> list[NewJob]:
    """The periodic jobs of an onboarded installation, each at its next due time. (The events
    feed's chain starts when onboarding links the collection account, and at worker start.)"""
    return [
        customers(installation_id, agreement, run_at=now + CUSTOMERS_EVERY),
        scan(installation_id, agreement, run_at=now + SCAN_EVERY),
    ]


# -- collection events and push-back (DESIGN.md, Jobs) ------------------------------------------


def events(installation_id: int, agreement: int, *, run_at: dt.datetime | None = None) -> NewJob:
    """Read the collection events feed after the last sequence seen (gap fill, safety net)."""
    return _job("sync.events", installation_id, f"events:{agreement}", run_at=run_at)


def inbox_event(installation_id: int, agreement: int, event_id: str, *, inbox_id: int) -> NewJob:
    """Process one stored collection event (``inbox_id``: its inbox row)."""
    return _job("inbox.event", installation_id, f"event:{agreement}:{event_id}", inbox_id=inbox_id)


def pushback_payment(
    installation_id: int, agreement: int, payment_id: str, case_id: str, event: dict[str, Any]
) -> NewJob:
    """A collector's payment booked into the ledger; ``event`` is the ``payment.received``."""
    return _job(
        "pushback.payment",
        installation_id,
        f"payment:{agreement}:{payment_id}",
        serial_key=f"case:{agreement}:{case_id}",
        event=event,
    )


def pushback_writeoff(
    installation_id: int, agreement: int, case_id: str, event: dict[str, Any]
) -> NewJob:
    """A written-off case's write-off proposal (booked after an admin approves it)."""
    return _job(
        "pushback.writeoff",
        installation_id,
        f"writeoff:{agreement}:{case_id}",
        serial_key=f"case:{agreement}:{case_id}",
        event=event,
    )


def pushback_barred(installation_id: int, agreement: int, customer: int) -> NewJob:
    return _job(
        "pushback.barred",
        installation_id,
        f"barred:{agreement}:{customer}",
        serial_key=f"customer:{agreement}:{customer}",
        customer=customer,
    )
