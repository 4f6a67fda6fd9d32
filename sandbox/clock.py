"""The simulated business date shared by both simulators.

Only business time is simulated (due dates, overdue lists, case steps, interest). Wall-clock time
still drives signatures, token expiry and retries. Both simulators of one `collectbridge sandbox`
process hold the same `SimClock`, so `POST /_sandbox/clock` on either moves both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

Listener = Callable[[dt.date, dt.date], Awaitable[None]]


class SimClock:
    """A date that starts at today in Europe/Copenhagen and moves only forward, by whole days."""

    def __init__(self, start: dt.date | None = None) -> None:
        self._today = start or dt.datetime.now(COPENHAGEN).date()
        self._listeners: list[Listener] = []

    def today(self) -> dt.date:
        return self._today

    def on_advance(self, listener: Listener) -> None:
        """Register a coroutine called with (old, new) after every advance, in order."""
        self._listeners.append(listener)

    async def advance(self, days: int) -> dt.date:
        if days < 0:
            raise ValueError("the simulated clock only moves forward")
        old = self._today
        self._today = old + dt.timedelta(days=days)
        for listener in self._listeners:
            await listener(old, self._today)
        return self._today
