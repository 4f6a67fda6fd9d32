"""A company's settings beside its policy: ``/api/v1/installations/{agreement}/settings``.

    GET   …/settings     guest   the settings
    PATCH …/settings     admin   change the fields sent; the others stay as they are

What they are: the journal our vouchers go to, the accounts for interest, fees, losses and
output VAT, the customer groups that count as businesses, the channel priority (a non-empty
order of distinct channels the collection platform falls back down), whether the journal is
booked automatically (``auto_book``), whether invoice PDFs are sent (``send_documents``),
whether a written-off customer is marked barred in e-conomic (``barred_on_close``), and how
many days a revoked installation's personal data is kept (``retention_days``: at most the
operator's ``COLLECTBRIDGE_RETENTION_DAYS``; null: that). PATCH rather than PUT: leaving an
account out must not unset it. The settings pages' form saves through the same function,
`change_settings`; every change is in the audit log with the fields before and after.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web
from msgspec import UNSET, UnsetType

from plugin.api.auth import Member
from plugin.api.claims import audit
from plugin.api.errors import Invalid
from plugin.api.registry import Api, reply
from plugin.keys import CLOCK, DATABASE, SETTINGS
from plugin.onboarding.flow import ACCOUNTS_MISSING, JOURNAL_MISSING
from sync.clients.collection_types import Channel
from sync.company_settings import CompanySettings, company_settings
from sync.store.installations import Installations
from sync.store.problems import Problems

Account = Annotated[int, msgspec.Meta(ge=1)]


class AccountsView(msgspec.Struct, frozen=True, kw_only=True):
    interest_income: int | None
    fee_income: int | None
    loss: int | None
    output_vat: int | None


class SettingsView(msgspec.Struct, frozen=True, kw_only=True):
    journal_number: int | None
    accounts: AccountsView
    business_customer_groups: list[int]
    channels: list[Channel]
    auto_book: bool
    send_documents: bool
    barred_on_close: bool
    retention_days: int | None
    """None: the operator's COLLECTBRIDGE_RETENTION_DAYS."""
    retention_limit: int
    """The operator's COLLECTBRIDGE_RETENTION_DAYS: retention_days may only be shorter."""


class AccountsChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    interest_income: Account | UnsetType | None = UNSET
    fee_income: Account | UnsetType | None = UNSET
    loss: Account | UnsetType | None = UNSET
    output_vat: Account | UnsetType | None = UNSET


class SettingsChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of ``PATCH …/settings``: only the fields to change."""

    journal_number: Annotated[int, msgspec.Meta(ge=1)] | UnsetType = UNSET
    accounts: AccountsChange | UnsetType = UNSET
    business_customer_groups: list[Annotated[int, msgspec.Meta(ge=1)]] | UnsetType = UNSET
    channels: Annotated[list[Channel], msgspec.Meta(min_length=1)] | UnsetType = UNSET
    auto_book: bool | UnsetType = UNSET
    send_documents: bool | UnsetType = UNSET
    barred_on_close: bool | UnsetType = UNSET
    retention_days: Annotated[int, msgspec.Meta(ge=1)] | UnsetType | None = UNSET


def settings_view(settings: CompanySettings, *, retention_limit: int) -> SettingsView:
    a = settings.accounts
    return SettingsView(
        journal_number=settings.journal_number,
        accounts=AccountsView(
            interest_income=a.interest_income,
            fee_income=a.fee_income,
            loss=a.loss,
            output_vat=a.output_vat,
        ),
        business_customer_groups=list(settings.business_customer_groups),
        channels=list(settings.channels),
        auto_book=settings.auto_book,
        send_documents=settings.send_documents,
        barred_on_close=settings.barred_on_close,
        retention_days=settings.retention_days,
        retention_limit=retention_limit,
    )


def merged(raw: dict[str, Any], change: SettingsChange, *, retention_limit: int) -> dict[str, Any]:
    """The stored settings document with ``change`` applied; `Invalid` for what cannot be."""
    sent = {k: v for k, v in msgspec.to_builtins(change).items()}
    if "channels" in sent and len(set(sent["channels"])) != len(sent["channels"]):
        raise Invalid("invalid_settings", "channels: each channel at most once")
    days = sent.get("retention_days")
    if days is not None and days > retention_limit:
        raise Invalid(
            "invalid_settings",
            f"retention_days: at most {retention_limit} (COLLECTBRIDGE_RETENTION_DAYS)",
        )
    if "accounts" in sent:
        sent["accounts"] = {**raw.get("accounts", {}), **sent["accounts"]}
    return {**raw, **sent}


async def change_settings(
    request: web.Request, member: Member, change: SettingsChange
) -> SettingsView:
    db, now = request.app[DATABASE], request.app[CLOCK]()
    limit = request.app[SETTINGS].retention_days
    installations = Installations(db)
    current = await installations.get(member.installation.id)
    assert current is not None
    document = merged(current.settings, change, retention_limit=limit)
    before = settings_view(company_settings(current.settings), retention_limit=limit)
    await installations.save_settings(current.id, document, now=now)
    after = settings_view(company_settings(document), retention_limit=limit)
    # What onboarding could not choose, chosen here: its problem is solved.
    problems = Problems(db)
    if after.journal_number is not None:
        await problems.resolve_open(current.id, JOURNAL_MISSING, now=now)
    if None not in msgspec.structs.astuple(after.accounts):
        await problems.resolve_open(current.id, ACCOUNTS_MISSING, now=now)
    await audit(
        request,
        member,
        "settings.changed",
        now,
        fields=sorted(msgspec.to_builtins(change)),
        before=msgspec.to_builtins(before),
        after=msgspec.to_builtins(after),
    )
    return after


async def show_settings(request: web.Request, member: Member) -> web.Response:
    limit = request.app[SETTINGS].retention_days
    return reply(
        settings_view(company_settings(member.installation.settings), retention_limit=limit)
    )


async def patch_settings(request: web.Request, member: Member) -> web.Response:
    try:
        change = msgspec.json.decode(await request.read(), type=SettingsChange)
    except msgspec.ValidationError as exc:
        raise Invalid("invalid_settings", str(exc)) from None
    except msgspec.DecodeError:
        raise Invalid("invalid_body", "the body is not JSON") from None
    return reply(await change_settings(request, member, change))


def add_routes(api: Api) -> None:
    base = "/installations/{agreement}"
    api.member_route(
        "GET",
        f"{base}/settings",
        show_settings,
        role="guest",
        summary="The company's settings beside its policy (journal, accounts, channels, booking)",
        response=SettingsView,
    )
    api.member_route(
        "PATCH",
        f"{base}/settings",
        patch_settings,
        role="admin",
        summary="Change the settings sent; those left out stay as they are",
        response=SettingsView,
        body=SettingsChange,
    )
