"""A company's choices, as kept in ``installations.settings`` (JSON) and read by the engine.

Onboarding (`plugin.onboarding`) writes them, the sync engine and the handover policy read
them. Unknown keys are kept by the writers and ignored here, so a later field never breaks an
older reader; a missing key takes its default. The document:

    {"onboarding": {"completed_at": "2026-12-01T10:00:00Z", "collection_mode": "create",
                    "bootstrap_job_id": 17},
     "journal_number": 7,
     "accounts": {"interest_income": 3600, "fee_income": 3610, "loss": 2900, "output_vat": 14200},
     "business_customer_groups": [2],
     "policy": {"mode": "manual", "min_days_overdue": 10, "min_amount": 10000,
                "exclude_customer_groups": [], "start_step": "reminder_1", "notice_days": 0},
     "channels": ["nemhandel", "eboks", "email", "sms", "letter"],
     "auto_book": false, "barred_on_close": false, "retention_days": null,
     "webhooks": {
         "economic": {"mode": "mixed",
                      "subscriptions": {"INVOICE_BOOKED": "api", "CUSTOMER_CREATED": "legacy", …},
                      "subscription_ids": {"INVOICE_BOOKED": "8f0c…"}},
         "collection": {"state": "ok", "endpoint_id": "we_…", "account_id": "acc_…"}}}

``webhooks`` is what onboarding registered (`plugin.onboarding`): per e-conomic event type
whether the Webhooks API delivers it (``api``, with the subscription's id) or the customer must
paste a legacy URL (``legacy``), and the collection webhook endpoint. The secrets themselves are
never here: they are encrypted columns (`sync.store.webhook_secrets`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from sync.clients.collection_types import Channel

PolicyMode = Literal["manual", "automatic"]
StartStep = Literal["reminder_1", "collection_notice"]
# Danish practice: the public-sector and business e-invoice network first, then the business
# mailbox, then e-mail and SMS, paper last. The platform falls back down the list.
DEFAULT_CHANNELS: tuple[Channel, ...] = ("nemhandel", "eboks", "ehf", "email", "sms", "letter")


class _Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    pass


class Policy(_Settings, frozen=True, kw_only=True):
    """DESIGN.md's handover policy; a PUT replaces it whole, fields left out take these."""

    mode: PolicyMode = "manual"
    min_days_overdue: int = 10
    min_amount: int = 10_000  # minor units of the base currency, against the remaining amount
    exclude_customer_groups: tuple[int, ...] = ()
    start_step: StartStep = "reminder_1"
    notice_days: int = 0


class Accounts(_Settings, frozen=True, kw_only=True):
    """Ledger accounts the push-back books to (None until chosen)."""

    interest_income: int | None = None
    fee_income: int | None = None
    loss: int | None = None
    output_vat: int | None = None


class OnboardingRecord(_Settings, frozen=True, kw_only=True):
    completed_at: dt.datetime | None = None
    collection_mode: Literal["create", "link"] | None = None
    bootstrap_job_id: int | None = None


WebhookMode = Literal["api", "legacy", "mixed", "none"]
Delivery = Literal["api", "legacy"]


class EconomicWebhookSettings(_Settings, frozen=True, kw_only=True):
    mode: WebhookMode = "none"
    subscriptions: dict[str, Delivery] = msgspec.field(default_factory=dict)
    subscription_ids: dict[str, str] = msgspec.field(default_factory=dict)


class CollectionWebhookSettings(_Settings, frozen=True, kw_only=True):
    state: Literal["none", "ok", "lost"] = "none"
    endpoint_id: str | None = None
    account_id: str | None = None  # the collection account the endpoint belongs to


class WebhookSettings(_Settings, frozen=True, kw_only=True):
    economic: EconomicWebhookSettings = EconomicWebhookSettings()
    collection: CollectionWebhookSettings = CollectionWebhookSettings()


class CompanySettings(_Settings, frozen=True, kw_only=True):
    onboarding: OnboardingRecord = OnboardingRecord()
    journal_number: int | None = None
    accounts: Accounts = Accounts()
    business_customer_groups: tuple[int, ...] = ()
    policy: Policy = Policy()
    channels: tuple[Channel, ...] = DEFAULT_CHANNELS
    auto_book: bool = False
    # Invoice PDFs go with the claims (one e-conomic call each, within the budget); a company
    # may keep them back (the debtor then recognises the claim by its lines and totals).
    send_documents: bool = True
    barred_on_close: bool = False
    retention_days: int | None = None
    webhooks: WebhookSettings = WebhookSettings()

    @property
    def onboarded(self) -> bool:
        return self.onboarding.completed_at is not None


def company_settings(raw: dict[str, Any] | None) -> CompanySettings:
    """The typed view of an installation's settings; `msgspec.ValidationError` when a stored
    value has the wrong type (the writers validate, so that is a bug worth seeing)."""
    return msgspec.convert(raw or {}, CompanySettings, strict=False)


def settings_document(settings: CompanySettings) -> dict[str, Any]:
    """Back to the JSON document (dates as RFC 3339 text)."""
    document: dict[str, Any] = msgspec.to_builtins(settings)
    return document
