"""A company's settings page: the handover policy, the channel priority, booking (journal,
accounts, automatic booking, barred on close), documents, retention, and the connection
(pause, resume, disconnect).

    GET  /settings/{agreement}/settings           guest: read-only below admin
    POST /settings/{agreement}/settings/policy    admin
    POST /settings/{agreement}/settings/channels  admin
    POST /settings/{agreement}/settings/booking   admin
    POST /settings/{agreement}/settings/{act}     admin: pause, resume, disconnect

Each form saves through the API's own function (`plugin.api.policy.apply_policy`,
`plugin.api.company.change_settings`, `plugin.api.lifecycle`), so the validation, the audit
log and the effects are the API's. Amounts are typed in the base currency's major unit and
converted exactly (`sync.money.to_minor`, from the decimal text, never a float).
"""

from __future__ import annotations

from typing import Any, get_args

import msgspec
from aiohttp import web

from plugin.api.company import SettingsChange, change_settings, settings_view
from plugin.api.errors import ApiError
from plugin.api.lifecycle import disconnect_installation, pause_installation, resume_installation
from plugin.api.policy import apply_policy, base_currency
from plugin.keys import SETTINGS
from plugin.pages.guard import Pages, Visitor, render
from plugin.pages.texts import translator
from plugin.roles import allows
from sync import money
from sync.clients.collection_types import Channel
from sync.company_settings import company_settings

CHANNELS: tuple[Channel, ...] = get_args(Channel)
LIFECYCLE = {
    "pause": pause_installation,
    "resume": resume_installation,
    "disconnect": disconnect_installation,
}


async def settings_page(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    return await _page(request, visitor, message=None, error=None, status=200)


async def _page(
    request: web.Request, visitor: Visitor, *, message: str | None, error: str | None, status: int
) -> web.Response:
    installation = visitor.installation
    settings = company_settings(installation.settings)
    currency = await base_currency(request, installation.id)
    return await render(
        request,
        visitor,
        "company_settings.html",
        {
            "settings": settings_view(
                settings, retention_limit=request.app[SETTINGS].retention_days
            ),
            "policy": settings.policy,
            "min_amount": money.to_text(settings.policy.min_amount, currency),
            "currency": currency,
            "channels": CHANNELS,
            "can_change": allows(visitor.role, "admin"),
            "message": message,
            "error": error,
        },
        status=status,
    )


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]


def amount_text(text: str) -> str:
    """An amount as typed, in the decimal text `sync.money.to_minor` reads: ``1.234,50`` and
    ``1234,50`` (Danish) as well as ``1,234.50`` and ``1234.50`` (English)."""
    text = text.strip().replace(" ", "").replace("\u00a0", "")
    if "," in text and ("." not in text or text.rindex(",") > text.rindex(".")):
        return text.replace(".", "").replace(",", ".")
    return text.replace(",", "")


async def save_policy(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    form, member = visitor.form, visitor.company
    assert member is not None
    currency = await base_currency(request, visitor.installation.id)
    try:
        document: dict[str, Any] = {
            "mode": form.get("mode", "manual"),
            "min_days_overdue": int(form.get("min_days_overdue", "")),
            "min_amount": money.to_minor(amount_text(form.get("min_amount", "")), currency),
            "exclude_customer_groups": _numbers(form.get("exclude_customer_groups", "")),
            "start_step": form.get("start_step", "reminder_1"),
            "notice_days": int(form.get("notice_days", "0") or 0),
        }
    except (ValueError, money.NotAnAmount):
        error = translator(visitor.language)("invalid_number")
        return await _page(request, visitor, message=None, error=error, status=422)
    try:
        await apply_policy(request, member, document)
    except ApiError as exc:
        return await _page(request, visitor, message=None, error=exc.detail, status=exc.status)
    return await _page(request, visitor, message="account_saved", error=None, status=200)


async def save_channels(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    chosen = [visitor.form.get(f"channel_{i}", "") for i in range(1, len(CHANNELS) + 1)]
    return await _change(request, visitor, {"channels": [c for c in chosen if c]})


async def save_booking(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    form = visitor.form
    try:
        change: dict[str, Any] = {
            "accounts": {
                k: int(form[k]) if form.get(k, "").strip() else None
                for k in ("interest_income", "fee_income", "loss", "output_vat")
            },
            "business_customer_groups": _numbers(form.get("business_customer_groups", "")),
            "auto_book": form.get("auto_book") == "on",
            "send_documents": form.get("send_documents") == "on",
            "barred_on_close": form.get("barred_on_close") == "on",
            "retention_days": int(form["retention_days"])
            if form.get("retention_days", "").strip()
            else None,
        }
        if form.get("journal_number", "").strip():
            change["journal_number"] = int(form["journal_number"])
    except ValueError:
        error = translator(visitor.language)("invalid_number")
        return await _page(request, visitor, message=None, error=error, status=422)
    return await _change(request, visitor, change)


async def _change(request: web.Request, visitor: Visitor, change: dict[str, Any]) -> web.Response:
    member = visitor.company
    assert member is not None
    try:
        decoded = msgspec.convert(change, SettingsChange)
        await change_settings(request, member, decoded)
    except msgspec.ValidationError as exc:
        return await _page(request, visitor, message=None, error=str(exc), status=422)
    except ApiError as exc:
        return await _page(request, visitor, message=None, error=exc.detail, status=exc.status)
    return await _page(request, visitor, message="account_saved", error=None, status=200)


async def lifecycle(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    name = request.match_info["act"]
    act = LIFECYCLE.get(name)
    if act is None:
        raise web.HTTPNotFound()
    if name == "disconnect" and visitor.form.get("confirm") != "yes":
        error = translator(visitor.language)("disconnect_unconfirmed")
        return await _page(request, visitor, message=None, error=error, status=422)
    member = visitor.company
    assert member is not None
    try:
        await act(request, member)
    except ApiError as exc:
        return await _page(request, visitor, message=None, error=exc.detail, status=exc.status)
    raise web.HTTPSeeOther(f"/settings/{visitor.installation.agreement_number}")


def add_pages(pages: Pages) -> None:
    base = "/settings/{agreement}/settings"
    pages.member("GET", base, settings_page, role="guest")
    pages.member("POST", f"{base}/policy", save_policy, role="admin")
    pages.member("POST", f"{base}/channels", save_channels, role="admin")
    pages.member("POST", f"{base}/booking", save_booking, role="admin")
    pages.member("POST", f"{base}/{{act}}", lifecycle, role="admin")
