"""What a delivery is checked against, cached for a few seconds per installation key.

    cache = Credentials(load, clock=clock)
    known = await cache.get(key, "signing")   # Known(installation or None, accepted secrets)
    forget_installation(installation_id)       # every cache of this process drops it

Without it, every delivery costs two store reads before its verification (the installation by
key, then its secrets, decrypted): more than the HMAC and the group-committed insert together.
Here the answer of those reads, the installation row and the secrets accepted now (for
``"url"``, the e-conomic URL secrets; for ``"signing"``, the collection signing secrets), is
kept per key for `TTL_SECONDS`, at most `MAX_KNOWN` keys (least recently used first out).

Staleness, and what bounds it:

- This process: whatever changes what a receiver answers calls `forget_installation` once it
  has committed: a rotation of either secret (`plugin.api.webhooks`), a status change that
  revokes an installation, pauses or resumes it (`plugin.lifecycle`). A lookup in flight
  while it is forgotten answers its own requests but is not kept.
- Other processes (several ``serve`` processes, a CLI, the worker's retention purge): nothing
  tells this one, so an entry is never older than `TTL_SECONDS`: for that long at most, a
  revoked installation's delivery can still be stored (its jobs are parked all the same: the
  inbox writer reads the status again after its commit), a reinstalled one answered 410, a
  new signing secret refused with 401 (both platforms retry non-2xx answers for days), and a
  purged (``deleted``) installation answered 410 where 404 would follow.
- The rotation overlap: a list that holds the previous secret is kept no later than the end of
  its overlap (`sync.store.webhook_secrets.OVERLAP`), judged by the business clock, so the old
  secret stops being accepted at the same instant as without the cache. An entry is dropped
  too when the business clock leaves ``[filled, filled + TTL)`` (tests move it by hours).
- A known installation with no secret of the kind yet (onboarding has not stored it) is never
  kept: the first secret stored is used by the next delivery.

An unknown key is cached too (``installation`` None), in a pool of its own of at most
`MAX_UNKNOWN` keys, so that a flood of made-up keys cannot push the known ones out, and keys
that are no installation key at all (`KEY` does not match) share one entry. A lookup of an
unknown key costs what one of a known key does: the same two reads on a miss, a dictionary
lookup on a hit. Its time tells only whether the same key was asked for in the last few seconds,
never whether it exists. Concurrent misses of one key share one load.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from sync.store.installations import Installation
from sync.worker import Clock

Kind = Literal["url", "signing"]
TTL_SECONDS = 5.0
MAX_KNOWN = 10_000
MAX_UNKNOWN = 1_000
# Installation keys are `secrets.token_urlsafe(16)`; anything else is never looked up.
KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NOT_A_KEY = ""  # the one cache slot of every string that is no installation key


class Known(NamedTuple):
    """What the store says of a key: its installation (None: unknown) and the secrets of the
    kind asked for, accepted now (the current one first)."""

    installation: Installation | None
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Loaded:
    """A load's answer, and when its secrets change by themselves (the overlap's end)."""

    known: Known
    changes_at: dt.datetime | None = None


Load = Callable[[str | None, Kind, dt.datetime], Awaitable[Loaded]]
"""Reads a key (None: no installation key at all) at a business time."""


@dataclass(frozen=True, slots=True)
class _Entry:
    known: Known
    expires: float  # monotonic seconds
    valid_from: dt.datetime  # business time
    valid_until: dt.datetime

    def fresh(self, at: float, now: dt.datetime) -> bool:
        return at < self.expires and self.valid_from <= now < self.valid_until


_CACHES: weakref.WeakSet[Credentials] = weakref.WeakSet()


def forget_installation(installation_id: int) -> None:
    """Drop what every cache of this process holds of an installation (its secrets rotated,
    its status changed): the next delivery reads the store."""
    for cache in list(_CACHES):
        cache.forget(installation_id)


class Credentials:
    def __init__(
        self,
        load: Load,
        *,
        clock: Clock,
        ttl: float = TTL_SECONDS,
        max_known: int = MAX_KNOWN,
        max_unknown: int = MAX_UNKNOWN,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._clock = clock
        self._ttl = ttl
        self._span = dt.timedelta(seconds=ttl)
        self._max = {True: max_known, False: max_unknown}
        self._monotonic = monotonic
        self._entries: dict[bool, OrderedDict[tuple[str, Kind], _Entry]] = {
            True: OrderedDict(),
            False: OrderedDict(),
        }
        self._loading: dict[tuple[str, Kind], asyncio.Task[Known]] = {}
        self._generation = 0
        self.loads = 0  # how many times the store was read (for tests and the benchmark)
        _CACHES.add(self)

    def __len__(self) -> int:
        return len(self._entries[True]) + len(self._entries[False])

    async def get(self, key: str, kind: Kind) -> Known:
        """The installation of ``key`` and its accepted secrets of ``kind``; raises what the
        store raises (`sync.store.db.DatabaseError`, `sync.crypto.DecryptionError`)."""
        slot = (key if KEY.fullmatch(key) else _NOT_A_KEY, kind)
        now = self._clock()
        at = self._monotonic()
        for known_key in (True, False):
            entries = self._entries[known_key]
            entry = entries.get(slot)
            if entry is None:
                continue
            if entry.fresh(at, now):
                entries.move_to_end(slot)
                return entry.known
            del entries[slot]
        loading = self._loading.get(slot)
        if loading is None:
            # A task of its own: a request that goes away does not cancel the others' load.
            fill = self._fill(slot, now, self._generation)
            loading = asyncio.create_task(fill, name="webhook-credentials")
            loading.add_done_callback(_retrieved)
            self._loading[slot] = loading
        return await asyncio.shield(loading)

    async def _fill(self, slot: tuple[str, Kind], now: dt.datetime, generation: int) -> Known:
        try:
            key, kind = slot
            loaded = await self._load(key or None, kind, now)
            self.loads += 1
        finally:
            if self._loading.get(slot) is asyncio.current_task():
                del self._loading[slot]
        known = loaded.known
        if generation == self._generation and (known.installation is None or known.secrets):
            until = now + self._span
            if loaded.changes_at is not None:
                until = min(until, loaded.changes_at)
            is_known = known.installation is not None
            entries = self._entries[is_known]
            entries[slot] = _Entry(known, self._monotonic() + self._ttl, now, until)
            entries.move_to_end(slot)
            while len(entries) > self._max[is_known]:
                entries.popitem(last=False)
        return known

    def forget(self, installation_id: int) -> None:
        # A load in flight may have read the state before the change: it is not kept, and the
        # next lookup of its key starts a load of its own.
        self._generation += 1
        self._loading.clear()
        entries = self._entries[True]
        for slot in [s for s, e in entries.items() if _id(e) == installation_id]:
            del entries[slot]

    def clear(self) -> None:
        self._generation += 1
        self._loading.clear()
        for entries in self._entries.values():
            entries.clear()


def _id(entry: _Entry) -> int | None:
    return entry.known.installation.id if entry.known.installation is not None else None


def _retrieved(task: asyncio.Task[Known]) -> None:
    # A load that failed with no request left waiting on it leaves nobody to read the error.
    if not task.cancelled():
        task.exception()
