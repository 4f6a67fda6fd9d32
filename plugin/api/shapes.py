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
