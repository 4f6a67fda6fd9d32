"""The collection events push-back acts on, typed at the boundary (contracts/collection-api.md).

A job may carry an event whole (``{id, type, account_id, sequence, occurred_at, data}``) or its
``data`` alone; `event_data` takes either. Money is integer minor units of ``currency``. An event
that does not have the contract's shape is a `MalformedEvent` (a permanent problem, never a
retry: the same bytes will not parse better tomorrow).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import msgspec

from sync.errors import PermanentError
from sync.mapping import today_in_copenhagen

T = TypeVar("T")
Source = Literal["collector", "creditor"]
CloseReason = Literal["paid", "withdrawn", "written_off"]


class MalformedEvent(PermanentError):
    code = "malformed_event"


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    """What of a payment went to one claim (the platform allocates costs → interest →
    principal)."""

    claim_ref: str
    principal: int = 0
    interest: int = 0
    fees: int = 0

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fees


class PaymentReceived(msgspec.Struct, frozen=True, kw_only=True):
    payment_id: str
    case_id: str
    paid_on: dt.date
    currency: str
    amount: int
    source: Source
    allocations: tuple[Allocation, ...] = ()


class WrittenOff(msgspec.Struct, frozen=True, kw_only=True):
    claim_ref: str
    principal: int


class CaseClosed(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    reason: CloseReason
    write_offs: tuple[WrittenOff, ...] = ()


def event_data(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``data`` of a whole event, or the mapping itself when it is the data already."""
    data = event.get("data") if "type" in event else None
    return data if isinstance(data, Mapping) else event


def occurred_on(event: Mapping[str, Any]) -> dt.date | None:
    """The Danish business date of a whole event (``occurred_at``), None for bare data."""
    raw = event.get("occurred_at")
    if not isinstance(raw, str):
        return None
    try:
        at = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return today_in_copenhagen(at) if at.tzinfo is not None else at.date()


def _typed(event: Mapping[str, Any], kind: type[T], name: str) -> T:
    try:
        return msgspec.convert(dict(event_data(event)), kind, strict=False)
    except msgspec.ValidationError as exc:
        raise MalformedEvent(
            f"a {name} event the contract does not describe: {exc}", platform="collection"
        ) from exc


def payment_received(event: Mapping[str, Any]) -> PaymentReceived:
    return _typed(event, PaymentReceived, "payment.received")


def case_closed(event: Mapping[str, Any]) -> CaseClosed:
    return _typed(event, CaseClosed, "case.closed")
