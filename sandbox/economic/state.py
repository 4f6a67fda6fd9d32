"""The simulator's in-memory world: agreements (companies) with their ledgers, grants, and the
platform-wide knobs (faults, budgets, the call log, idempotency cache).

Records are slotted dataclasses holding integer minor units; documents are rendered from them
only when a page is served (``render.py``), so 100,000 invoices per company stay cheap.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from sandbox.clock import SimClock


class Line(NamedTuple):
    number: int
    description: str
    quantity: int  # hundredths: 150 means 1.50
    unit: str
    unit_price: int  # minor units
    total: int  # minor units, net
    product: str
    vat_rate: int  # percent


class Recipient(NamedTuple):
    name: str
    address: str | None
    zip: str | None
    city: str | None
    country: str | None
    ean: str | None
    cvr: str | None
    vat_zone: int


@dataclass(slots=True)
class Customer:
    number: int
    name: str
    currency: str
    payment_terms: int
    group: int
    vat_zone: int
    last_updated: dt.datetime
    email: str | None = None
    cvr: str | None = None
    ean: str | None = None
    public_entry_number: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    phone: str | None = None
    mobile: str | None = None
    barred: bool = False


@dataclass(slots=True)
class Invoice:
    number: int
    customer: int
    date: dt.date
    due_date: dt.date
    currency: str
    rate: Decimal  # base-currency units per 100 units of ``currency``
    net: int
    vat: int
    gross: int
    remainder: int
    payment_terms: int
    recipient: Recipient
    lines: tuple[Line, ...]
    heading: str
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    number: int
    name: str
    days: int
    kind: str  # e-conomic's paymentTermsType: net, invoiceMonth, paidInCash, …


@dataclass(frozen=True, slots=True)
class Account:
    number: int
    name: str
    kind: str  # accountType: profitAndLoss, status, heading, …
    debit_credit: str
    vat_code: str | None = None


@dataclass(slots=True)
class Journal:
    number: int
    name: str
    contra_account: int | None
    restricted_to: str | None = None
    drafts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AccountingYear:
    year: str  # "2026" or "2025/2026"
    start: dt.date
    end: dt.date

    @property
    def url_id(self) -> str:
        """``2025/2026`` is written ``2025_6_2026`` in URLs."""
        return self.year.replace("/", "_6_")


@dataclass(slots=True)
class Company:
    agreement: int
    name: str
    cvr: str
    email: str
    phone: str
    address: str
    zip: str
    city: str
    bank_account: str
    years: list[AccountingYear]
    demo: bool = False
    base_currency: str = "DKK"
    customers: dict[int, Customer] = field(default_factory=dict)
    invoices: dict[int, Invoice] = field(default_factory=dict)
    by_customer: dict[int, list[int]] = field(default_factory=dict)
    payment_terms: dict[int, PaymentTerms] = field(default_factory=dict)
    accounts: dict[int, Account] = field(default_factory=dict)
    journals: dict[int, Journal] = field(default_factory=dict)
    booked_vouchers: list[dict[str, Any]] = field(default_factory=list)
    next_voucher: int = 1
    version: int = 0  # bumped on every change: invalidates cached scans
    legacy_webhooks: dict[str, str] = field(default_factory=dict)
    webhook_subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Whether the app's role opens the Webhooks API (the contract: 403 when the role lacks it).
    webhooks_api: bool = True

    def add_invoice(self, invoice: Invoice) -> None:
        self.invoices[invoice.number] = invoice
        self.by_customer.setdefault(invoice.customer, []).append(invoice.number)
        self.version += 1

    def next_invoice_number(self) -> int:
        return max(self.invoices, default=10000) + 1

    def year_of(self, day: dt.date) -> AccountingYear | None:
        return next((y for y in self.years if y.start <= day <= y.end), None)


@dataclass(slots=True)
class Grant:
    token: str
    agreement: int
    revoked: bool = False


@dataclass(slots=True)
class Faults:
    status: int = 0
    rate: float = 0.0
    latency_ms: int = 0
    drop_webhooks_rate: float = 0.0
    retry_after: int = 1  # seconds sent with injected 429/503 answers


@dataclass(slots=True)
class Budget:
    limit: int = 50_000
    window_seconds: float = 86_400.0
    calls: deque[float] = field(default_factory=deque)  # wall-clock times of counted calls


@dataclass(slots=True)
class CallRecord:
    agreement: int | None
    method: str
    path: str
    query: str
    status: int
    at: dt.datetime


@dataclass
class SimState:
    """Everything one simulator instance knows; the fixture exposes it for white-box checks."""

    clock: SimClock
    app_secret_token: str
    app_public_token: str
    rng: random.Random
    companies: dict[int, Company] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    budgets: dict[int, Budget] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    auto_approve: bool = False
    next_log_id: int = 1

    def company(self, agreement: int) -> Company:
        return self.companies[agreement]

    def budget(self, agreement: int) -> Budget:
        return self.budgets.setdefault(agreement, Budget())

    def issue_grant(self, agreement: int) -> str:
        """A new grant token for ``agreement`` (what "Add app" does); old grants stay valid."""
        token = "".join(
            self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
            for _ in range(40)
        )
        self.grants[token] = Grant(token=token, agreement=agreement)
        return token

    def revoke(self, agreement: int) -> int:
        revoked = 0
        for grant in self.grants.values():
            if grant.agreement == agreement and not grant.revoked:
                grant.revoked = True
                revoked += 1
        return revoked

    def granted_agreements(self) -> set[int]:
        return {g.agreement for g in self.grants.values() if not g.revoked}

    def log_id(self) -> str:
        self.next_log_id += 1
        return f"{self.rng.getrandbits(32):08x}-{self.next_log_id:06d}"
