"""Sending one write through the outbox: stored first, sent with its key, its answer kept, never
twice (DESIGN.md, Invariants).

    sender = OutboxSender(Outbox(db), clock=clock)
    item = await sender.deliver(new, send=send, find=find)
    await retry_item(outbox, queue, item_id, now=now)    # a person's retry (CLI, API)

1. The row is stored unless its idempotency key is (`sync.store.outbox`). A row already
   ``sent`` is done: its stored answer stands and nothing is sent. A ``dead`` one raises
   `OutboxDead` (a person retries it: ``collectbridge outbox retry``, ``POST …/outbox/{id}/retry``).
2. The platforms keep idempotency keys only so long (`KEY_RETENTION`: e-conomic one hour, the
   collection platform a day). A row first attempted longer ago than that may have landed
   without its answer reaching us, and sending it again would not be replayed: ``find`` reads
   the platform back first, and a write found there is ``sent`` with what was found. When
   ``find`` cannot tell, it raises a `PermanentError` and the row is ``dead`` until a person
   has looked (their retry sends it: `Outbox.retry` forgets the earlier attempts of a dead
   row, which was refused or unverifiable, and gives it a new key generation).
3. The attempt is marked (``pending``, one more attempt, its time) *before* the call, so a crash
   between the call and the stored answer leaves the row pending, with the time since when the
   platform may hold it. A write never stored before is stored with its first attempt marked,
   in one commit (`Outbox.add_attempted`).
4. ``send(key)`` gets the row's sending key and returns the answer to keep (JSON); then the row
   is ``sent``, and ``then(tx, row)`` writes what the answer makes in the same commit (push-back:
   the voucher's number, the journal's booking queued). A platform replaying the key's first
   answer is success like any other. A transient failure (or lost access, or a bug) leaves it
   ``failed``, a refusal (400, 403, 404, 409, 422) ``dead``, with the platform's error in
   ``last_error``; the exception goes on to the
   worker, which retries, parks or records the problem as for any job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from sync.errors import PermanentError, SyncError
from sync.jobs import JobQueue, NewJob
from sync.redaction import scrub
from sync.store.db import Connection
from sync.store.outbox import NewOutboxItem, Outbox, OutboxItem

KEY_RETENTION = {"economic": dt.timedelta(hours=1), "collection": dt.timedelta(hours=24)}
# Our clock and the platform's may differ a little: read back a little before the key expires.
CLOCK_MARGIN = dt.timedelta(minutes=5)
MAX_ERROR = 2000
Clock = Callable[[], dt.datetime]
Send = Callable[[str], Awaitable[Any]]
Find = Callable[[OutboxItem], Awaitable[Any | None]]
# What a write's answer makes (the voucher remembered, say), in the transaction marking it sent.
Then = Callable[[Connection, OutboxItem], Awaitable[None]]


class OutboxDead(PermanentError):
    """A write the platform refused before; it is sent again only when a person retries it."""

    code = "outbox_dead"


def error_text(exc: BaseException) -> str:
    """The platform's error as kept in ``last_error``: code, message and the platform's detail
    (its message, errors and logId), scrubbed of secrets, cut short."""
    if isinstance(exc, SyncError):
        text = f"{exc.code}: {exc.message}"
        if exc.detail is not None:
            text += " " + msgspec.json.encode(exc.detail).decode()
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub(text)[:MAX_ERROR]


def needs_read_back(item: OutboxItem, *, now: dt.datetime) -> bool:
    """Whether the platform may have forgotten the key of an attempt that may have landed."""
    if item.first_attempt_at is None:
        return False
    retention = KEY_RETENTION.get(item.platform, dt.timedelta(hours=1))
    return now - item.first_attempt_at >= retention - CLOCK_MARGIN


class OutboxSender:
    def __init__(self, outbox: Outbox, *, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock

    async def open(self, new: NewOutboxItem, **own: Any) -> OutboxItem:
        """The stored row of ``new`` (stored now unless its key is); ``own``: see `Outbox.add`."""
        return await self.outbox.add(new, now=self.clock(), **own)

    async def deliver(
        self,
        new: NewOutboxItem | OutboxItem,
        *,
        send: Send,
        find: Find | None = None,
        then: Then | None = None,
        own: Mapping[int, int] | None = None,
    ) -> OutboxItem:
        """Send ``new`` once (see the module); ``own`` are the remainder drops stored with a new
        row (`Outbox.add`), ``then`` what its answer makes, committed with the ``sent`` mark."""
        if isinstance(new, NewOutboxItem):
            # A write never stored is stored with its first attempt marked, one commit before
            # the call; one stored before goes the way of any stored row.
            fresh = await self.outbox.add_attempted(new, own=own, now=self.clock())
            if fresh is not None:
                return await self._send(fresh, send, then)
            item = await self.outbox.by_key(new.idempotency_key)
            assert item is not None, "a stored key"
        else:
            item = new
        if item.state == "sent":
            return item
        if item.state == "dead":
            raise OutboxDead(
                f"outbox item {item.id} ({item.operation}) was refused: {item.last_error}; "
                "retry it once the cause is fixed",
                detail={"outbox_id": item.id},
                platform=item.platform,
            )
        if find is not None and needs_read_back(item, now=self.clock()):
            try:
                found = await find(item)
            except PermanentError as exc:  # cannot tell whether it landed: a person looks
                await self.outbox.not_sent(item.id, state="dead", error=error_text(exc))
                raise
            if found is not None:
                return await self._sent(item, {"found_on_read_back": True, **found}, then)
        if not await self.outbox.attempt(item.id, now=self.clock()):
            # sent (or refused) meanwhile by another run: its outcome stands
            return await self.deliver(await self._reread(item), send=send, find=find, then=then)
        return await self._send(item, send, then)

    async def _send(self, item: OutboxItem, send: Send, then: Then | None) -> OutboxItem:
        """The call, its attempt marked under way (committed) before it."""
        try:
            answer = await send(item.sending_key)
        except PermanentError as exc:
            await self.outbox.not_sent(item.id, state="dead", error=error_text(exc))
            raise
        except Exception as exc:  # cancelled (a lost lease): left pending, as after a crash
            await self.outbox.not_sent(item.id, state="failed", error=error_text(exc))
            raise
        return await self._sent(item, answer, then)

    async def _sent(self, item: OutboxItem, answer: Any, then: Then | None) -> OutboxItem:
        """The row ``sent`` with its answer (and ``then``'s writes in the same commit)."""
        if then is None:
            stored = await self.outbox.sent(item.id, answer, now=self.clock())
        else:
            async with self.outbox.transaction() as tx:
                stored = await Outbox(tx).sent(item.id, answer, now=self.clock())
                if stored is not None:
                    await then(tx, stored)
        # None: another run stored its answer first (its outcome stands, ``then`` was its own)
        return stored if stored is not None else await self._reread(item)

    async def _reread(self, item: OutboxItem) -> OutboxItem:
        stored = await self.outbox.get(item.id)
        assert stored is not None
        return stored


class Retried(msgspec.Struct, frozen=True, kw_only=True):
    item: OutboxItem
    job_id: int | None


async def retry_item(
    outbox: Outbox, queue: JobQueue, item_id: int, *, now: dt.datetime
) -> Retried | None:
    """A person's retry: a failed or dead write pending again and the job that sends it queued
    (None when the write is neither failed nor dead)."""
    if not await outbox.retry(item_id):
        return None
    item = await outbox.get(item_id)
    assert item is not None
    job_id = None
    if item.job is not None:
        job_id = await queue.enqueue(msgspec.convert(item.job, NewJob), now=now)
    return Retried(item=item, job_id=job_id)
