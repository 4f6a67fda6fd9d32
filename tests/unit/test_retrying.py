"""The clients' shared retry rules as pure functions: ``Retry-After`` parsing and the wait."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.clients.retrying import (
    MAX_RETRY_AFTER,
    RETRY_AFTER_CEILING,
    Answer,
    parse_retry_after,
    retry_delay,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-5", 0.0),  # negative: as if the time had passed
        ("86400", 86_400.0),
        ("86401", RETRY_AFTER_CEILING),
        ("9" * 400, RETRY_AFTER_CEILING),  # float("999…") is inf
        ("Mon, 23 Nov 2026 12:00:30 GMT", 30.0),
        ("Mon, 23 Nov 2026 12:02:00 +0000", 120.0),
        ("Mon, 23 Nov 2026 12:00:10 -0000", 10.0),  # parsed as naive: taken as UTC
        ("Mon, 23 Nov 2026 11:00:00 GMT", 0.0),  # in the past
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_CEILING),
    ],
)
def test_retry_after_forms(header: str, seconds: float) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    "header",
    [None, "", "   ", "nan", "NaN", "inf", "-inf", "Infinity", "1e309", "1_000", "0x10", "soon",
     "Mon, 32 Nov 2026 12:00:00 GMT", "Mon, 23 Nov 99999999999999999999 12:00:00 GMT"],
)  # fmt: skip
def test_unreadable_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None


@given(st.text())
def test_any_header_parses_safely(header: str) -> None:
    seconds = parse_retry_after(header, NOW)
    assert seconds is None or 0.0 <= seconds <= RETRY_AFTER_CEILING


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_delta_seconds_are_clamped(value: int) -> None:
    seconds = parse_retry_after(str(value), NOW)
    assert seconds == min(max(float(value), 0.0), RETRY_AFTER_CEILING)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None])
def test_retried_failures_wait_retry_after_or_back_off(status: int | None) -> None:
    assert retry_delay(status, None, fallback=0.25) == 0.25
    assert retry_delay(status, 0.0, fallback=0.25) == 0.0
    assert retry_delay(status, 7.0, fallback=0.25) == 7.0  # never less than asked
    assert retry_delay(status, MAX_RETRY_AFTER, fallback=0.25) == MAX_RETRY_AFTER


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None])
def test_a_longer_retry_after_ends_the_call(status: int | None) -> None:
    assert retry_delay(status, MAX_RETRY_AFTER + 0.5, fallback=0.25) is None
    assert retry_delay(status, RETRY_AFTER_CEILING, fallback=0.25) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 415, 422, 501, 505, 507, 511])
def test_other_statuses_are_not_retried_in_process(status: int) -> None:
    assert retry_delay(status, None, fallback=0.25) is None
    assert retry_delay(status, 1.0, fallback=0.25) is None


def test_answer_ok_is_2xx() -> None:
    assert Answer(status=204, body=b"").ok
    assert not Answer(status=304, body=b"").ok
    assert not Answer(status=429, body=b"", retry_after=1.0).ok
