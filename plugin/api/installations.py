"""``GET /api/v1/installations`` and ``GET /api/v1/installations/{agreement}``.

Both show the caller's companies only (memberships); another company's agreement is a 404 like
one that does not exist (`plugin.api.auth`). `installation_view` maps what the store knows
(`sync.store.overviews`) onto the documented shape, a pure function of its inputs:

- ``onboarding.state`` is ``done`` once onboarding recorded ``completed_at`` under the
  installation's ``settings["onboarding"]``;
- ``economic.state`` is ``lost`` while the installation is ``revoked`` or ``deleted`` (we hold
  no e-conomic access we use then), else ``ok``;
- webhooks: what onboarding registered (``settings["webhooks"]``, `sync.company_settings`):
  the e-conomic ``mode`` and the delivery of each event type (``none`` and ``{}`` before
  onboarding); the legacy URLs, with their secret, for admins only (`legacy_urls_for`: null
  while the Webhooks API delivers everything) and left out for everyone else; the collection
  endpoint's ``state`` (``lost`` with the collection link);
- streams: the last success of each sync stream and the seconds since (null: never);
- budget: e-conomic calls of the rolling 24 hours against COLLECTBRIDGE_ECONOMIC_DAILY_BUDGET.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from aiohttp import web
from msgspec import UNSET

from plugin.api import shapes
from plugin.api.auth import Caller, Member
from plugin.api.paging import PAGING, encode_cursor, page_request
from plugin.api.registry import Api, reply
from plugin.api.values import as_utc
from plugin.keys import CLOCK, DATABASE, SERVICES, SETTINGS
from plugin.onboarding.webhook_urls import economic_webhook_urls
from plugin.roles import allows
from sync.company_settings import WebhookSettings
from sync.store.installations import Installation
from sync.store.overviews import InstallationOverview, Overviews
from sync.store.users import Role
from sync.store.webhook_secrets import WebhookSecrets

if TYPE_CHECKING:
    from plugin.bootstrap import Services


def installation_view(
    overview: InstallationOverview,
    *,
    now: dt.datetime,
    budget_limit: int,
    legacy_urls: shapes.LegacyUrls | None = None,
) -> shapes.Installation:
    """``legacy_urls``: shown to an admin (`legacy_urls_for` decides whether there are any)."""
    installation = overview.installation
    hooks = webhook_settings(installation.settings)
    return shapes.Installation(
        agreement_number=installation.agreement_number,
        company_name=installation.company_name,
        status=installation.status,
        onboarding=shapes.Onboarding(state=onboarding_state(installation.settings)),
        economic=shapes.EconomicAccess(state=economic_state(installation)),
        collection=shapes.CollectionLink(
            state=installation.collection_state, account_id=installation.collection_account_id
        ),
        webhooks=shapes.Webhooks(
            economic=shapes.EconomicWebhooks(
                mode=hooks.economic.mode,
                subscriptions=dict(hooks.economic.subscriptions),
                legacy_urls=legacy_urls if overview.role == "admin" else UNSET,
                last_received=shapes.WebhookTopics(
                    **{topic: as_utc(at) for topic, at in overview.last_received.items()}
                ),
            ),
            collection=shapes.CollectionWebhooks(
                # an endpoint of a grant the platform no longer accepts delivers nothing to us
                state="lost"
                if hooks.collection.state == "ok" and installation.collection_state == "lost"
                else hooks.collection.state
            ),
        ),
        streams=shapes.Streams(
            **{
                name: stream_view(overview.streams.get(name), now=now)
                for name in ("customers", "invoices", "events")
            }
        ),
        budget=shapes.Budget(used_24h=overview.economic_calls_24h, limit=budget_limit),
    )


def webhook_settings(settings: dict[str, Any]) -> WebhookSettings:
    """What onboarding registered; nothing (the defaults) when the stored part is unreadable."""
    try:
        return msgspec.convert(settings.get("webhooks") or {}, WebhookSettings, strict=False)
    except msgspec.ValidationError:
        return WebhookSettings()


async def legacy_urls_for(
    services: Services, installation: Installation, role: Role
) -> shapes.LegacyUrls | None:
    """The legacy webhook URLs, secret included, for an admin of an installation some of whose
    event types the Webhooks API does not deliver (mode ``legacy`` or ``mixed``); else None."""
    mode = webhook_settings(installation.settings).economic.mode
    if not allows(role, "admin") or mode not in ("legacy", "mixed") or services.cipher is None:
        return None
    secret = await WebhookSecrets(services.db, services.cipher).stored_url_secret(installation.id)
    if secret is None:
        return None
    public, key = services.settings.public_url, installation.installation_key
    return shapes.LegacyUrls(**economic_webhook_urls(public, key, secret))


async def view_for(
    request: web.Request, user_id: int, installation: Installation, role: Role
) -> shapes.Installation:
    """The installation as ``GET …/{agreement}`` answers it to this member."""
    now = request.app[CLOCK]()
    overview = await Overviews(request.app[DATABASE]).one(user_id, installation, role, now=now)
    return installation_view(
        overview,
        now=now,
        budget_limit=request.app[SETTINGS].economic_daily_budget,
        legacy_urls=await legacy_urls_for(request.app[SERVICES], installation, role),
    )


def onboarding_state(settings: dict[str, Any]) -> Literal["pending", "done"]:
    onboarding = settings.get("onboarding")
    done = isinstance(onboarding, dict) and onboarding.get("completed_at")
    return "done" if done else "pending"


def economic_state(installation: Installation) -> Literal["ok", "lost"]:
    return "lost" if installation.status in ("revoked", "deleted") else "ok"


def stream_view(last_success_at: dt.datetime | None, *, now: dt.datetime) -> shapes.Stream:
    if last_success_at is None:
        return shapes.Stream(last_success_at=None, lag_seconds=None)
    lag = max(int((now - last_success_at).total_seconds()), 0)
    return shapes.Stream(last_success_at=as_utc(last_success_at), lag_seconds=lag)


async def list_installations(request: web.Request, caller: Caller) -> web.Response:
    page = page_request(request.query)
    now = request.app[CLOCK]()
    overviews, more = await Overviews(request.app[DATABASE]).page(
        caller.user.id, after=page.after, limit=page.limit, now=now
    )
    limit = request.app[SETTINGS].economic_daily_budget
    services = request.app[SERVICES]
    items = [
        installation_view(
            o,
            now=now,
            budget_limit=limit,
            legacy_urls=await legacy_urls_for(services, o.installation, o.role),
        )
        for o in overviews
    ]
    return reply(
        shapes.InstallationList(
            items=items,
            next_cursor=encode_cursor(overviews[-1].installation.id) if more else UNSET,
        )
    )


async def show_installation(request: web.Request, member: Member) -> web.Response:
    return reply(await view_for(request, member.caller.user.id, member.installation, member.role))


def add_routes(api: Api) -> None:
    api.caller_route(
        "GET",
        "/installations",
        list_installations,
        summary="The companies the caller is a member of, oldest installation first",
        response=shapes.InstallationList,
        params=PAGING,
    )
    api.member_route(
        "GET",
        "/installations/{agreement}",
        show_installation,
        role="guest",
        summary="One company's installation: connections, webhooks, sync streams, budget",
        response=shapes.Installation,
    )
