"""``Idempotency-Key`` on POSTs under /v1: the first answer kept 24 hours per account and key.

Same key and the same JSON value → the first answer again with ``Idempotent-Replayed: true``;
same key and another body → 409 ``idempotency_key_reused``. While the first request with a key
is still running, a second one waits for it (one lock per key) and then replays. Answers with a
5xx status are not kept, so such a request can be retried with the same key.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

RETENTION_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Stored:
    body_value: Any
    status: int
    payload: bytes
    content_type: str
    stored_at: float


class IdempotencyStore:
    def __init__(self, retention: float = RETENTION_SECONDS) -> None:
        self.retention = retention
        self._answers: dict[tuple[str, str], Stored] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def lock(self, scope: str, key: str) -> asyncio.Lock:
        return self._locks.setdefault((scope, key), asyncio.Lock())

    def lookup(self, scope: str, key: str, now: float) -> Stored | None:
        self._expire(now)
        return self._answers.get((scope, key))

    def save(self, scope: str, key: str, stored: Stored) -> None:
        if stored.status < 500:
            self._answers[(scope, key)] = stored

    def _expire(self, now: float) -> None:
        old = [k for k, v in self._answers.items() if now - v.stored_at > self.retention]
        for k in old:
            del self._answers[k]
            self._locks.pop(k, None)


def body_value(raw: bytes) -> Any:
    """The JSON value of a body (so key order and spacing do not matter); raw text otherwise."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
