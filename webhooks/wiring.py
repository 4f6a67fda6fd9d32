"""What the receivers are given by the application: the ports, built once in `create_app`.

`webhooks` imports nothing of `plugin` (imports point ``plugin → webhooks → sync``): the app
hands in a `Wiring` with its database, cipher, clocks and an `Observer` (its metrics).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from sync.store.db import Database
from sync.store.inbox import Source
from sync.worker import Clock

if TYPE_CHECKING:  # not imported by the inbox process, which imports this package
    from sync.crypto import TokenCipher

Reason = Literal["not_found", "too_large", "unsupported_type", "bad_signature", "gone", "malformed"]
REASONS: dict[Source, tuple[Reason, ...]] = {
    "collection": (
        "not_found",
        "too_large",
        "unsupported_type",
        "bad_signature",
        "gone",
        "malformed",
    ),
    # e-conomic hints have no body of use and no signature: never 415 or 401.
    "economic": ("not_found", "too_large", "gone", "malformed"),
}


class Observer(Protocol):
    """Where the receivers report what they did (`plugin.metrics.Metrics`)."""

    def webhook_received(self, source: Source) -> None: ...

    def webhook_duplicate(self, source: Source) -> None: ...

    def webhook_rejected(self, source: Source, reason: Reason) -> None: ...

    def webhook_unavailable(self, source: Source) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Wiring:
    """``clock`` is business time (when a delivery was received, when its jobs run); ``wall``
    is Unix seconds for Standard Webhooks timestamps, which the platform takes from its wall
    clock; ``cipher`` is None while no ``COLLECTBRIDGE_SECRET_KEY`` is configured (then no
    secret can have been stored, and every delivery is refused); ``jobs_enqueued`` is called
    after each commit that enqueued jobs (the embedded worker's ``wake``, so that a hint's
    re-fetch starts at once rather than at the worker's next poll); ``inbox_process``: the
    inbox's writes in a process of their own (`webhooks.inbox_process`), else in this one."""

    db: Database
    cipher: TokenCipher | None
    clock: Clock
    observer: Observer
    wall: Callable[[], float] = field(default=time.time)
    jobs_enqueued: Callable[[], None] | None = None
    inbox_process: bool = True
