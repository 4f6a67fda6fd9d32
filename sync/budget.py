"""Spending e-conomic's 50,000 calls a day: a pure rule for how fast bulk work may go.

Two kinds of work share an installation's daily budget (`COLLECTBRIDGE_ECONOMIC_DAILY_BUDGET`):

- *prompt* work — a webhook hint's re-fetch, a handover's re-read, a reconcile, the incremental
  customer sync — may use all of it: it is small and somebody waits for it;
- *bulk* work — the bootstrap, full scans, invoice PDFs — may use at most ``BULK_SHARE`` of the
  day (the rest stays for prompt work however large the backfill), and at most
  ``limit × HOURLY_SHARE`` in any hour, so a big backfill spreads over the day instead of
  spending it in its first hour.

Either limit reached is a wait, never a failure: the job is rescheduled for when the window
has room (`sync.errors.BudgetExhaustedError`, no attempt spent). The check and the count are
two statements, so runs in flight at once may each make one call past a limit: the default
ceiling (47,500) leaves 2,500 calls under e-conomic's 50,000 for that and for people's own use.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

Pace = Literal["prompt", "bulk"]
BULK_SHARE = 0.8
HOURLY_SHARE = 1 / 12
DAY = dt.timedelta(hours=24)
HOUR = dt.timedelta(hours=1)


def bulk_day_limit(limit: int) -> int:
    return math.floor(limit * BULK_SHARE)


def bulk_hour_limit(limit: int) -> int:
    return max(math.floor(limit * HOURLY_SHARE), 1)


def limits(limit: int, pace: Pace) -> list[tuple[int, dt.timedelta]]:
    """The (calls, window) limits a call of ``pace`` must stay under."""
    if pace == "prompt":
        return [(limit, DAY)]
    return [(bulk_day_limit(limit), DAY), (bulk_hour_limit(limit), HOUR)]
