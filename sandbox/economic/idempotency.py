"""``Idempotency-Key`` on writes: the first answer (below 500) is kept for one hour per
agreement and key; a replay gets it back with ``X-ResultFromCache: true``, whatever its body.
Answers of 500 and above (including injected faults) are not kept, so a retry can succeed."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

TTL_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Cached:
    status: int
    body: bytes
    content_type: str
    stored_at: float


class IdempotencyCache:
    def __init__(self) -> None:
        self._items: dict[tuple[int, str], Cached] = {}

    def get(self, agreement: int, key: str, now: float) -> web.Response | None:
        cached = self._items.get((agreement, key))
        if cached is None or now - cached.stored_at > TTL_SECONDS:
            return None
        return web.Response(
            status=cached.status,
            body=cached.body,
            content_type=cached.content_type,
            headers={"X-ResultFromCache": "true"},
        )

    def put(self, agreement: int, key: str, response: web.Response, now: float) -> None:
        if response.status >= 500 or not isinstance(response.body, bytes):
            return
        self._items[(agreement, key)] = Cached(
            response.status, response.body, response.content_type, now
        )
