"""The JSON shapes ``/api/v1`` answers with, as msgspec Structs (DESIGN.md, "External surface").

Handlers encode these and ``openapi.json`` describes them (`plugin.api.registry`), so the
description cannot drift from the answers. A Struct's name is its schema's name there. A field
set to ``UNSET`` is left out of the answer (legacy webhook URLs for anyone but an admin); a
``None`` is sent as ``null`` (nothing known yet). Timestamps are RFC 3339 in UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from sync.store.installations import Status

Timestamp = Annotated[dt.datetime, msgspec.Meta(tz=True)]


class Onboarding(msgspec.Struct, frozen=True, kw_only=True):
    state: Literal["pending", "done"]


class EconomicAccess(msgspec.Struct, frozen=True, kw_only=True):
    state: Literal["ok", "lost"]


class CollectionLink(msgspec.Struct, frozen=True, kw_only=True):
    state: Literal["none", "ok", "lost"]
    account_id: str | None


class WebhookTopics(msgspec.Struct, frozen=True, kw_only=True):
    """One value per e-conomic webhook topic."""

    invoice: Timestamp | None
    customer: Timestamp | None
    daybook: Timestamp | None


class LegacyUrls(msgspec.Struct, frozen=True, kw_only=True):
    """The full webhook URLs (with their secret) to paste into e-conomic."""

    invoice: str
    customer: str
    daybook: str


class EconomicWebhooks(msgspec.Struct, frozen=True, kw_only=True):
    mode: Literal["api", "legacy", "mixed", "none"]
    subscriptions: dict[str, Literal["api", "legacy"]]
    last_received: WebhookTopics
    legacy_urls: LegacyUrls | UnsetType | None = UNSET
    """Admins only (left out for other roles); null while there is nothing to paste."""


class CollectionWebhooks(msgspec.Struct, frozen=True, kw_only=True):
    state: Literal["none", "ok", "lost"]


class Webhooks(msgspec.Struct, frozen=True, kw_only=True):
    economic: EconomicWebhooks
    collection: CollectionWebhooks


class Stream(msgspec.Struct, frozen=True, kw_only=True):
    last_success_at: Timestamp | None
    lag_seconds: int | None


class Streams(msgspec.Struct, frozen=True, kw_only=True):
    customers: Stream
    invoices: Stream
    events: Stream


class Budget(msgspec.Struct, frozen=True, kw_only=True):
    used_24h: int
    """e-conomic calls in the last 24 hours."""
    limit: int
    """Our own ceiling (COLLECTBRIDGE_ECONOMIC_DAILY_BUDGET), under e-conomic's 50,000."""


class Installation(msgspec.Struct, frozen=True, kw_only=True):
    agreement_number: int
    company_name: str
    status: Status
    onboarding: Onboarding
    economic: EconomicAccess
    collection: CollectionLink
    webhooks: Webhooks
    streams: Streams
    budget: Budget


class InstallationList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Installation]
    next_cursor: str | UnsetType = UNSET
    """Left out on the last page."""


# -- the sync engine: claims, policy, problems, jobs -----------------------------------------

Day = Annotated[dt.date, msgspec.Meta(description="A calendar day, YYYY-MM-DD")]


class ClaimView(msgspec.Struct, frozen=True, kw_only=True):
    """An overdue invoice (or open credit note) as the sync engine keeps it."""

    invoice_number: int
    customer_number: int
    kind: Literal["invoice", "credit_note"]
    state: Literal[
        "monitoring",
        "awaiting_approval",
        "scheduled",
        "held",
        "in_collection",
        "closed",
        "withdrawn",
    ]
    currency: str
    remaining: int
    """Minor units of ``currency`` (by its ISO 4217 exponent)."""
    due_date: Day
    handover_on: Day | None
    """The day it goes (or went) to collection; null while none is planned."""
    held: bool
    disputed: bool
    case_id: str | None
    """The collection case, once handed over."""


class ClaimList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ClaimView]
    next_cursor: str | UnsetType = UNSET
    """Left out on the last page."""


class Approval(msgspec.Struct, frozen=True, kw_only=True):
    """An approved claim (202): its handover is the job ``job_id``; ``claim`` stays in its
    state until that job has handed it over."""

    job_id: int
    claim: ClaimView


class PolicyView(msgspec.Struct, frozen=True, kw_only=True):
    mode: Literal["manual", "automatic"]
    min_days_overdue: int
    min_amount: int
    """Minor units of the base currency, compared with the remaining amount."""
    exclude_customer_groups: list[int]
    start_step: Literal["reminder_1", "collection_notice"]
    notice_days: int


class ProblemView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    category: Literal["missing_data", "rejected_by_collector", "ledger_refused", "auth_lost", "bug"]
    code: str
    subject: str
    """What it is about, e.g. ``customer:42`` or ``invoice:1001``."""
    message: str
    occurrences: int
    first_seen_at: Timestamp
    last_seen_at: Timestamp


class ProblemList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ProblemView]


class JobAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """Answered 202: the job that does it (a twin still waiting, when there was one)."""

    job_id: int


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    done: int
    total: int | None
    """Null until known."""


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    kind: str
    state: Literal["queued", "running", "succeeded", "failed", "parked", "dead"]
    progress: Progress
    installation: int
    """The company's agreement number."""
    attempts: int
    last_error: str | None
    """With every known secret masked."""
    error_code: str | None
    run_at: Timestamp
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


class OnboardingNote(msgspec.Struct, frozen=True, kw_only=True):
    """Something onboarding could not settle by itself (a journal to create, an account to
    pick): what a person should do."""

    code: str
    message: str


class OnboardedInstallation(Installation, frozen=True, kw_only=True):
    """The installation after onboarding, with the bootstrap it started (or the one running)."""

    bootstrap_job_id: int
    notes: list[OnboardingNote] = msgspec.field(default_factory=list)


class AuthorizeRedirect(msgspec.Struct, frozen=True, kw_only=True):
    """Where to send the person: the collection platform's consent page (link an account)."""

    authorize_url: str


class AccountExistsProblem(msgspec.Struct, frozen=True, kw_only=True):
    """409 ``account_exists``: the company has a collection account already; link it."""

    status: int
    code: str
    detail: str
    authorize_url: str


class PolicyChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of ``PUT …/policy``: the whole policy, fields left out taking these defaults."""

    mode: Literal["manual", "automatic"] = "manual"
    min_days_overdue: Annotated[int, msgspec.Meta(ge=1, le=1095)] = 10
    min_amount: Annotated[int, msgspec.Meta(ge=0)] = 10_000
    exclude_customer_groups: list[Annotated[int, msgspec.Meta(ge=1)]] = msgspec.field(
        default_factory=list
    )
    start_step: Literal["reminder_1", "collection_notice"] = "reminder_1"
    notice_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 0


class ResyncRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of ``POST …/resync``."""

    scope: Annotated[
        str,
        msgspec.Meta(
            pattern="^(all|customers|invoices|events|invoice:[1-9][0-9]*)$",
            description="all, customers, invoices, events, or invoice:<n>",
        ),
    ] = "all"


class WithdrawRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The optional body of ``POST …/claims/{invoice}/withdraw``: why, as the collector is told."""

    reason: Literal["sent_in_error", "disputed", "paid_to_creditor", "credited"] = "sent_in_error"


class TokenView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class TokenList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[TokenView]


class TokenRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[
        str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")
    ]
    """Trimmed when stored: not blank, no NUL, `plugin.api.tokens.MAX_NAME` characters at most."""


class NewToken(msgspec.Struct, frozen=True, kw_only=True):
    """The token itself appears here once, and never again."""

    id: int
    name: str
    token: str
    created_at: dt.datetime


# -- push-back: write-offs and the outbox ------------------------------------------------------


class WriteOffLineView(msgspec.Struct, frozen=True, kw_only=True):
    """One claim's remaining principal written off: ``net`` to the loss account, ``vat`` to
    output VAT (the invoice's VAT share). Minor units of the write-off's currency."""

    invoice_number: int
    customer_number: int
    principal: int
    net: int
    vat: int


class WriteOffView(msgspec.Struct, frozen=True, kw_only=True):
    """A written-off case's proposal: booked in e-conomic only after an admin approved it."""

    id: int
    case_id: str
    state: Literal["pending", "approved", "rejected"]
    currency: str
    closed_on: Day
    principal: int
    net: int
    vat: int
    lines: list[WriteOffLineView]
    created_at: Timestamp
    decided_at: Timestamp | None
    outbox_state: Literal["pending", "sent", "failed", "dead"] | None
    """Its voucher's outbox item, once an approval queued it; null before."""


class WriteOffList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[WriteOffView]
    next_cursor: str | UnsetType = UNSET
    """Left out on the last page."""


class WriteOffApproved(msgspec.Struct, frozen=True, kw_only=True):
    """An approved write-off (202): the job ``job_id`` posts its voucher."""

    job_id: int
    write_off: WriteOffView


class OutboxItemView(msgspec.Struct, frozen=True, kw_only=True):
    """One write to a platform, stored before it was sent."""

    id: int
    platform: Literal["economic", "collection"]
    operation: str
    """``voucher.payment``, ``voucher.writeoff``, ``journal.book``, ``customer.barred``."""
    idempotency_key: str
    state: Literal["pending", "sent", "failed", "dead"]
    attempts: int
    last_error: str | None
    """The platform's error (failed: tried again; dead: waits for a retry), secrets masked."""
    created_at: Timestamp
    first_attempt_at: Timestamp | None
    sent_at: Timestamp | None


class OutboxList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[OutboxItemView]
    next_cursor: str | UnsetType = UNSET
    """Left out on the last page."""


class OutboxRetried(msgspec.Struct, frozen=True, kw_only=True):
    """A failed or dead write pending again (202); the job ``job_id`` sends it."""

    job_id: int | None
    """Null when the write names no job to send it."""
    item: OutboxItemView


# -- the inbox: webhook deliveries and collection events ---------------------------------------


class InboxEntryView(msgspec.Struct, frozen=True, kw_only=True):
    """One stored delivery: an e-conomic hint, or a collection event (by webhook or feed)."""

    id: int
    installation: int
    """The company's agreement number."""
    source: Literal["economic", "collection"]
    topic: str
    """The collection event's type, or the e-conomic hint's topic."""
    event_id: str | None
    """The collection event's id; null for a hint."""
    state: Literal["new", "processed", "rejected", "dead"]
    """``dead``: processing failed for a bug (replay it once fixed); ``rejected``: not an
    event of the contract's shape."""
    error: str | None
    """Why it is dead or rejected (or a note, e.g. an unknown type skipped); secrets masked."""
    received_at: Timestamp
    processed_at: Timestamp | None


class InboxList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[InboxEntryView]
    next_cursor: str | UnsetType = UNSET
    """Left out on the last page."""


class InboxReplayed(msgspec.Struct, frozen=True, kw_only=True):
    """A dead or rejected event ``new`` again (202); the job ``job_id`` processes it."""

    job_id: int
    entry: InboxEntryView
