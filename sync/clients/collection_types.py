"""Typed shapes of the collection platform API (contracts/collection-api.md), as msgspec Structs.

Payloads we send and answers we read; unknown fields are tolerated so the platform can add
fields. Money is integer minor units, dates are `datetime.date`, timestamps aware datetimes.
Shapes that carry a token or a secret print it masked (`sync.redaction`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from sync.redaction import redacted

Step = Literal[
    "reminder_1",
    "reminder_2",
    "reminder_3",
    "collection_notice",
    "collection_letter",
    "payment_plan",
    "court_claim",
    "bailiff",
]
Channel = Literal["eboks", "nemhandel", "ehf", "email", "sms", "letter"]


class Struct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base for every DTO here."""


class Problem(Struct, frozen=True, kw_only=True):
    status: int
    code: str = ""
    title: str = ""
    detail: str = ""
    type: str = ""
    errors: tuple[dict[str, str], ...] = ()
    account_id: str | None = None


@redacted("access_token", "refresh_token")
class TokenResponse(Struct, frozen=True, kw_only=True):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int = 3600
    refresh_token: str | None = None
    scope: str = ""
    account_id: str | None = None


class Account(Struct, frozen=True, kw_only=True):
    id: str
    name: str
    cvr: str | None = None
    country: str = ""
    base_currency: str = ""
    created_at: dt.datetime | None = None


class NewAccount(Struct, frozen=True, kw_only=True):
    name: str
    country: str
    email: str
    base_currency: str
    external_ref: str
    cvr: str | None = None


class CreatedAccount(Struct, frozen=True, kw_only=True):
    account: Account
    grant: TokenResponse


class Address(Struct, frozen=True, kw_only=True):
    street: str
    zip: str
    city: str
    country: str


class Debtor(Struct, frozen=True, kw_only=True):
    name: str
    kind: Literal["company", "person"]
    address: Address
    language: Literal["da", "en", "sv", "nb"]
    cvr: str | None = None
    ean: str | None = None
    email: str | None = None
    phone: str | None = None
    channels: tuple[Channel, ...] | None = None


class ClaimLine(Struct, frozen=True, kw_only=True):
    number: int
    description: str
    quantity: str
    unit: str
    unit_price: str
    amount: int
    vat_rate: float


class Claim(Struct, frozen=True, kw_only=True):
    debtor_ref: str
    kind: Literal["invoice", "credit_note"]
    invoice_number: int | str
    issued_on: dt.date
    due_on: dt.date
    currency: str
    net_amount: int
    vat_amount: int
    gross_amount: int
    remaining_amount: int
    description: str | None = None
    lines: tuple[ClaimLine, ...] | None = None
    source_url: str | None = None


class UpsertResult(Struct, frozen=True, kw_only=True):
    id: str
    external_ref: str
    version: int
    state: Literal["monitoring", "in_collection", "closed"] | None = None


class BatchItemResult(Struct, frozen=True, kw_only=True):
    external_ref: str | None
    status: int
    id: str | None = None
    version: int | None = None
    error: Problem | None = None


class BatchResult(Struct, frozen=True, kw_only=True):
    results: tuple[BatchItemResult, ...]


class HandoverResult(Struct, frozen=True, kw_only=True):
    case_id: str | None


class CreditorPayment(Struct, frozen=True, kw_only=True):
    external_id: str
    kind: Literal["payment", "credit_note"]
    amount: int
    paid_on: dt.date
    note: str | None = None


class PaymentRecord(Struct, frozen=True, kw_only=True):
    external_id: str
    amount: int
    payment_id: str | None = None
    case_id: str | None = None


class MoneyPart(Struct, frozen=True, kw_only=True):
    original: int = 0
    paid: int = 0
    remaining: int = 0
    accrued: int = 0
    charged: int = 0


class CaseAmounts(Struct, frozen=True, kw_only=True):
    principal: MoneyPart
    interest: MoneyPart
    fees: MoneyPart


class TimelineEntry(Struct, frozen=True, kw_only=True):
    at: dt.datetime
    kind: str
    detail: Any = None


class Case(Struct, frozen=True, kw_only=True):
    id: str
    debtor_ref: str
    claim_refs: tuple[str, ...]
    status: Literal["open", "paused", "closed"]
    step: Step
    currency: str
    amounts: CaseAmounts
    updated_at: dt.datetime
    closed_reason: Literal["paid", "withdrawn", "written_off"] | None = None
    timeline: tuple[TimelineEntry, ...] = ()


class CasesPage(Struct, frozen=True, kw_only=True):
    items: tuple[Case, ...]
    next_cursor: str | None = None


class Event(Struct, frozen=True, kw_only=True):
    id: str
    type: str
    account_id: str
    sequence: int
    occurred_at: dt.datetime
    data: dict[str, Any]


class EventsPage(Struct, frozen=True, kw_only=True):
    items: tuple[Event, ...]
    next_after: int


@redacted("secret")
class WebhookEndpoint(Struct, frozen=True, kw_only=True):
    id: str
    url: str = ""
    event_types: tuple[str, ...] = ()
    enabled: bool = True
    secret: str | None = None
