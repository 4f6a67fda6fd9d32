"""``POST /api/v1/installations/{agreement}/webhooks/economic/rotate`` and ``…/collection/rotate``
(admin): a webhook secret replaced, the one it replaces still accepted for 24 hours
(`sync.store.webhook_secrets.OVERLAP`; DESIGN.md, "External surface").

e-conomic: a new URL secret is stored (encrypted); the subscriptions onboarding made in the
Webhooks API are pointed at the new URLs (`plugin.onboarding.webhooks.resubscribe_economic`) and
the settings record what e-conomic answered. The answer is the installation view, whose legacy
URLs (admins only) carry the new secret: those are the ones to paste into e-conomic now; the old
ones keep working for 24 hours.

Collection: the platform rotates our endpoint's signing secret (``POST /v1/webhook-endpoints/
{id}/rotate-secret``, which signs with both for 24 hours); the new one is stored and the receiver
accepts both for as long. ``Idempotency-Key: webhook-secret:<agreement>:<endpoint>:<time of the
last rotation stored>``: a retry after the platform's answer was lost replays that answer.

    200    the installation (as ``GET …/{agreement}``)
    409    ``invalid_state`` (revoked or deleted), ``no_collection_webhook`` (no endpoint of
           ours to rotate), ``rotation_raced`` (another rotation got in first: look again)
    502    a platform refused or garbled an answer; 503 one could not be reached, or the
           server is not configured for it
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Member
from plugin.api.errors import ApiError, Conflict
from plugin.api.installations import view_for
from plugin.api.registry import Api, reply
from plugin.connections import Connections
from plugin.keys import SERVICES
from plugin.onboarding.choices import OnboardingError
from plugin.onboarding.flow import _platform_errors as platform_errors
from plugin.onboarding.webhook_urls import economic_webhook_urls
from plugin.onboarding.webhooks import resubscribe_economic
from sync.company_settings import EconomicWebhookSettings, company_settings
from sync.store.audit import AuditLog
from sync.store.installations import Installation, Installations
from sync.store.webhook_secrets import COLLECTION_COLUMN, RotationRaced, WebhookSecrets
from webhooks import forget_installation

if TYPE_CHECKING:
    from plugin.bootstrap import Services


class _Refused(ApiError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.status = status


def _secrets(services: Services, installation: Installation) -> WebhookSecrets:
    if installation.status in ("revoked", "deleted"):
        raise Conflict(
            "invalid_state", f"the webhook secrets of a {installation.status} installation stay"
        )
    if services.cipher is None:
        raise _Refused(503, "not_configured", "COLLECTBRIDGE_SECRET_KEY is not configured")
    return WebhookSecrets(services.db, services.cipher)


async def _save_economic(
    services: Services, installation_id: int, part: EconomicWebhookSettings
) -> None:
    async with services.db.transaction() as tx:
        found = await Installations(tx).get(installation_id)
        assert found is not None
        document: dict[str, Any] = dict(found.settings)
        hooks = dict(document.get("webhooks") or {})
        hooks["economic"] = msgspec.to_builtins(part)
        document["webhooks"] = hooks
        company_settings(document)  # what we write must read back
        await Installations(tx).save_settings(installation_id, document, now=services.clock())


async def rotate_economic(services: Services, installation: Installation, *, actor: str) -> None:
    secrets = _secrets(services, installation)
    try:
        fresh = await secrets.rotate_url_secret(installation.id, now=services.clock())
    except RotationRaced as exc:
        raise Conflict("rotation_raced", "another rotation got in first: look again") from exc
    forget_installation(installation.id)  # the receivers of this process see it at once
    recorded = company_settings(installation.settings).webhooks.economic
    detail: dict[str, Any] = {"mode": recorded.mode}
    if recorded.subscription_ids:
        urls = economic_webhook_urls(
            services.settings.public_url, installation.installation_key, fresh
        )
        try:
            async with platform_errors(services, installation):
                economic = await Connections(services).economic(installation)
                part = await resubscribe_economic(
                    economic, urls, agreement=installation.agreement_number, recorded=recorded
                )
        except OnboardingError as exc:
            # The new secret stays: the old one (still in the subscriptions) works for 24 h.
            await _audit(
                services,
                installation,
                actor,
                "webhooks.economic_rotated",
                {**detail, "resubscribed": False, "error": exc.code},
            )
            raise _Refused(exc.status, exc.code, exc.message) from exc
        await _save_economic(services, installation.id, part)
        detail = {"mode": part.mode, "subscriptions": part.subscriptions, "resubscribed": True}
    await _audit(services, installation, actor, "webhooks.economic_rotated", detail)


async def rotate_collection(services: Services, installation: Installation, *, actor: str) -> None:
    secrets = _secrets(services, installation)
    recorded = company_settings(installation.settings).webhooks.collection
    if recorded.endpoint_id is None or recorded.state == "none":
        raise Conflict(
            "no_collection_webhook", "the company has no collection webhook endpoint of ours"
        )
    last = await secrets.rotated_at(installation.id, COLLECTION_COLUMN)
    stamp = last.astimezone(dt.UTC).isoformat() if last else "never"
    key = f"webhook-secret:{installation.agreement_number}:{recorded.endpoint_id}:{stamp}"
    try:
        async with platform_errors(services, installation):
            client = Connections(services).collection(installation)
            fresh = await client.rotate_webhook_secret(recorded.endpoint_id, idempotency_key=key)
    except OnboardingError as exc:
        raise _Refused(exc.status, exc.code, exc.message) from exc
    await secrets.rotate_collection_signing_secret(installation.id, fresh, now=services.clock())
    forget_installation(installation.id)
    await _audit(
        services,
        installation,
        actor,
        "webhooks.collection_rotated",
        {"endpoint_id": recorded.endpoint_id},
    )


async def _audit(
    services: Services, installation: Installation, actor: str, action: str, detail: dict[str, Any]
) -> None:
    await AuditLog(services.db).record(
        installation_id=installation.id,
        actor=actor,
        action=action,
        at=services.clock(),
        detail=detail,
    )


async def _answer(request: web.Request, member: Member) -> web.Response:
    found = await Installations(request.app[SERVICES].db).get(member.installation.id)
    assert found is not None
    return reply(await view_for(request, member.caller.user.id, found, member.role))


async def post_economic_rotate(request: web.Request, member: Member) -> web.Response:
    services = request.app[SERVICES]
    await rotate_economic(services, member.installation, actor=member.caller.user.email)
    return await _answer(request, member)


async def post_collection_rotate(request: web.Request, member: Member) -> web.Response:
    services = request.app[SERVICES]
    await rotate_collection(services, member.installation, actor=member.caller.user.email)
    return await _answer(request, member)


def add_routes(api: Api) -> None:
    api.member_route(
        "POST",
        "/installations/{agreement}/webhooks/economic/rotate",
        post_economic_rotate,
        role="admin",
        summary="A new e-conomic URL secret: subscriptions moved to the new URLs, "
        "the old ones accepted for 24 h",
        response=shapes.Installation,
        conflicts=True,
    )
    api.member_route(
        "POST",
        "/installations/{agreement}/webhooks/collection/rotate",
        post_collection_rotate,
        role="admin",
        summary="A new collection signing secret: the old one accepted for 24 h",
        response=shapes.Installation,
        conflicts=True,
    )
