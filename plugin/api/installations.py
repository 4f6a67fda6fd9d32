"""``GET /api/v1/installations`` and ``GET /api/v1/installations/{agreement}``.

Both show the caller's companies only (memberships); another company's agreement is a 404 like
one that does not exist (`plugin.api.auth`). `installation_view` maps what the store knows
(`sync.store.overviews`) onto the documented shape, a pure function of its inputs:

- ``onboarding.state`` is ``done`` once onboarding recorded ``completed_at`` under the
  installation's ``settings["onboarding"]``;
- ``economic.state`` is ``lost`` while the installation is ``revoked`` or ``deleted`` (we hold
  no e-conomic access we use then), else ``ok``;
- webhooks: nothing is registered yet, so ``mode`` is ``none`` with no subscriptions, and the
  legacy URLs are ``null`` for admins and left out for everyone else;
- streams: the last success of each sync stream and the seconds since (null: never);
- budget: e-conomic calls of the rolling 24 hours against COLLECTBRIDGE_ECONOMIC_DAILY_BUDGET.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from aiohttp import web
from msgspec import UNSET

from plugin.api import shapes
from plugin.api.auth import Caller, Member
from plugin.api.paging import PAGING, encode_cursor, page_request
from plugin.api.registry import Api, reply
from plugin.keys import CLOCK, DATABASE, SETTINGS
from sync.store.installations import Installation
from sync.store.overviews import InstallationOverview, Overviews


def installation_view(
    overview: InstallationOverview, *, now: dt.datetime, budget_limit: int
) -> shapes.Installation:
    installation = overview.installation
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
                mode="none",
                subscriptions={},
                legacy_urls=None if overview.role == "admin" else UNSET,
                last_received=shapes.WebhookTopics(
                    **{topic: _utc(at) for topic, at in overview.last_received.items()}
                ),
            ),
            collection=shapes.CollectionWebhooks(state="none"),
        ),
        streams=shapes.Streams(
            **{
                name: stream_view(overview.streams.get(name), now=now)
                for name in ("customers", "invoices", "events")
            }
        ),
        budget=shapes.Budget(used_24h=overview.economic_calls_24h, limit=budget_limit),
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
    return shapes.Stream(last_success_at=_utc(last_success_at), lag_seconds=lag)


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    return at.astimezone(dt.UTC) if at is not None else None


async def list_installations(request: web.Request, caller: Caller) -> web.Response:
    page = page_request(request.query)
    now = request.app[CLOCK]()
    overviews, more = await Overviews(request.app[DATABASE]).page(
        caller.user.id, after=page.after, limit=page.limit, now=now
    )
    limit = request.app[SETTINGS].economic_daily_budget
    items = [installation_view(o, now=now, budget_limit=limit) for o in overviews]
    return reply(
        shapes.InstallationList(
            items=items,
            next_cursor=encode_cursor(overviews[-1].installation.id) if more else UNSET,
        )
    )


async def show_installation(request: web.Request, member: Member) -> web.Response:
    now = request.app[CLOCK]()
    overview = await Overviews(request.app[DATABASE]).one(
        member.caller.user.id, member.installation, member.role, now=now
    )
    limit = request.app[SETTINGS].economic_daily_budget
    return reply(installation_view(overview, now=now, budget_limit=limit))


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
