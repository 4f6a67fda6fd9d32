"""Late-payment interest (Renteloven § 5), pure.

The annual rate is Danmarks Nationalbank's lending rate fixed on 1 January and 1 July plus 8
percentage points. Interest is simple, actual/365, day by day on the principal that remains. The
exact amount is kept as a `Fraction` and rounded half-even to minor units only when posted, on
the cumulative total (so the posted total never depends on how often it was posted).

The reference rates below are the sandbox's dated data (per cent a year, effective from the
date). Past the last row the last rate continues; before the first row the first rate applies.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

SURCHARGE = Fraction(8)

REFERENCE_RATES: tuple[tuple[dt.date, Decimal], ...] = (
    (dt.date(2022, 1, 1), Decimal("0.05")),
    (dt.date(2022, 7, 1), Decimal("0.00")),
    (dt.date(2023, 1, 1), Decimal("1.75")),
    (dt.date(2023, 7, 1), Decimal("3.35")),
    (dt.date(2024, 1, 1), Decimal("3.75")),
    (dt.date(2024, 7, 1), Decimal("3.50")),
    (dt.date(2025, 1, 1), Decimal("2.75")),
    (dt.date(2025, 7, 1), Decimal("1.75")),
    (dt.date(2026, 1, 1), Decimal("1.75")),
)


def annual_rate(day: dt.date) -> Fraction:
    """The late-payment rate in per cent a year that applies on ``day``."""
    rate = REFERENCE_RATES[0][1]
    for start, value in REFERENCE_RATES:
        if start <= day:
            rate = value
    return Fraction(rate) + SURCHARGE


def accrue(principal: int, start: dt.date, end: dt.date) -> Fraction:
    """Exact interest in minor units on ``principal`` for the days in [start, end)."""
    if principal <= 0 or end <= start:
        return Fraction(0)
    total = Fraction(0)
    day = start
    while day < end:
        period_end = min(end, _next_fixing(day))
        days = (period_end - day).days
        total += Fraction(principal) * annual_rate(day) / 100 * days / 365
        day = period_end
    return total


def post(exact: Fraction) -> int:
    """Round an exact amount half-even to whole minor units."""
    return round(exact)  # Fraction rounds half to even


def _next_fixing(day: dt.date) -> dt.date:
    if day.month < 7:
        return dt.date(day.year, 7, 1)
    return dt.date(day.year + 1, 1, 1)
