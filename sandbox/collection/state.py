"""Everything the collection simulator holds, in memory, in one object.

Records are plain dataclasses keyed by id or by ``(account_id, external_ref)``. Wall-clock time
(token expiry, idempotency, secret overlap, retries, ``/_sandbox/calls``) comes from ``wall``;
business time from the shared `SimClock`. Tests may read this object for white-box assertions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from aiohttp import web

from sandbox.clock import SimClock
from sandbox.collection.idempotency import IdempotencyStore
from sandbox.collection.ratelimit import RateLimiter

ALL_SCOPES = (
    "debtors:write",
    "claims:write",
    "cases:read",
    "payments:write",
    "events:read",
    "webhooks:manage",
)
PARTNER_SCOPE = "accounts:create"


@dataclass(frozen=True)
class Settings:
    client_id: str
    client_secret: str
    public_url: str | None
    delivery_retry_delays: tuple[float, ...]
    token_ttl: int
    reuse_interval: float
    code_ttl: float = 60.0
    delivery_timeout: float = 10.0
    secret_overlap: float = 24 * 3600.0
    event_retention: float = 30 * 24 * 3600.0


@dataclass
class Account:
    id: str
    name: str
    cvr: str | None
    country: str
    email: str
    base_currency: str
    external_ref: str | None
    created_at: str

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "cvr": self.cvr,
            "country": self.country,
            "base_currency": self.base_currency,
            "created_at": self.created_at,
        }


@dataclass
class Grant:
    id: str
    account_id: str
    client_id: str
    scope: tuple[str, ...]
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    client_id: str
    account_id: str | None
    grant_id: str | None
    scope: tuple[str, ...]
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    grant_id: str
    rotated_at: float | None = None
    successor: dict[str, Any] | None = None


@dataclass
class AuthCode:
    code: str
    client_id: str
    account_id: str
    redirect_uri: str
    challenge: str
    scope: tuple[str, ...]
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@dataclass
class Debtor:
    id: str
    account_id: str
    external_ref: str
    fields: dict[str, Any]
    version: int = 1


@dataclass
class Claim:
    id: str
    account_id: str
    external_ref: str
    fields: dict[str, Any]
    version: int = 1
    state: str = "monitoring"
    case_id: str | None = None
    document: bytes | None = None
    withdrawn_reason: str | None = None


@dataclass
class CaseClaim:
    """One claim's money inside a case. Interest is exact until posted (see interest.py)."""

    claim_ref: str
    due_on: dt.date
    principal_original: int
    principal_paid: int = 0
    interest_exact: Fraction = Fraction(0)
    accrued_through: dt.date | None = None
    interest_paid: int = 0
    fees_charged: int = 0
    fees_paid: int = 0
    reminder_fees: int = 0
    active: bool = True


@dataclass
class Case:
    id: str
    account_id: str
    debtor_ref: str
    currency: str
    step: str
    step_entered_on: dt.date
    updated_at: str
    status: str = "open"
    closed_reason: str | None = None
    claims: dict[str, CaseClaim] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Event:
    id: str
    account_id: str
    sequence: int
    type: str
    occurred_at: str
    data: dict[str, Any]
    stored_at: float

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "account_id": self.account_id,
            "sequence": self.sequence,
            "occurred_at": self.occurred_at,
            "data": self.data,
        }


@dataclass
class Endpoint:
    id: str
    account_id: str
    url: str
    event_types: tuple[str, ...]
    secret: str
    old_secret: str | None = None
    old_secret_until: float = 0.0
    enabled: bool = True
    deleted: bool = False

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


@dataclass
class Faults:
    status: int | None = None
    rate: float = 0.0
    latency_ms: int = 0
    drop_webhooks_rate: float = 0.0
    retry_after: int = 1
    count: int | None = None


@dataclass
class CollectionState:
    settings: Settings
    clock: SimClock
    seed: int = 1
    wall: Callable[[], float] = time.time
    accounts: dict[str, Account] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    debtors: dict[tuple[str, str], Debtor] = field(default_factory=dict)
    claims: dict[tuple[str, str], Claim] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    payments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[Event]] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    auto_consent: bool = False
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(20.0, 40))
    dispatch: Callable[[Event], None] = lambda event: None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.ids = random.Random(self.seed)
        self.fault_rng = random.Random(self.seed + 1)
        self.drop_rng = random.Random(self.seed + 2)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{self.ids.getrandbits(64):016x}"

    def now_rfc3339(self) -> str:
        return wall_rfc3339(self.wall())

    def business_timestamp(self, on: dt.date | None = None) -> str:
        """A business-time timestamp: the simulated date at the current UTC time of day."""
        moment = dt.datetime.fromtimestamp(self.wall(), dt.UTC)
        day = on or self.clock.today()
        return dt.datetime.combine(day, moment.timetz()).isoformat().replace("+00:00", "Z")


STATE = web.AppKey("collection_state", CollectionState)


def wall_rfc3339(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def parse_rfc3339(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
