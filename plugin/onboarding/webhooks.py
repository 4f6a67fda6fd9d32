"""Onboarding's webhook step: subscriptions in e-conomic's Webhooks API, our collection webhook
endpoint. Both are safe to run again: what exists is recognised, not made twice.

e-conomic, per event type of `EVENT_TYPES` (contracts/economic.md, DESIGN.md "Jobs"):

    a subscription of ours (same event type, same URL) exists   → api (nothing is created)
    POST /webhooks answers 201                                   → api
    403 (the app's role lacks the Webhooks API)                  → legacy, this and every type
                                                                   not yet subscribed
    409 (another integration holds the event type)               → legacy, this type; unless
                                                                   the list read again shows
                                                                   ours (a racing run made it)

Each POST carries ``Idempotency-Key: webhook:<agreement>:<event type>:<digest of the URL>``.
"legacy" means the customer pastes our URL into e-conomic's own webhook settings; admins see
those URLs (`plugin.api.installations`). Any other failure stops onboarding (it can be run
again).

After a rotation of the URL secret (`resubscribe_economic`), each recorded subscription is
replaced (``PUT``) with the new URL, ``Idempotency-Key: webhook-update:<agreement>:<event
type>:<digest of the URL>``; one e-conomic no longer knows is made again, then the same steps
as above run with the new URLs (so what is ours is recognised and any type still missing made).

Collection: one endpoint for every event type (``["*"]``) at our receiver; its signing secret,
answered once, is stored encrypted (`sync.store.webhook_secrets`) and its id goes into the
settings with the account's. An endpoint already recorded for the linked account is kept (a
link to another account gets an endpoint of its own). A refusal (e.g. a linked grant without
``webhooks:manage``) leaves ``state: none`` with a note: events still arrive through the
events feed, which the sync reads to fill gaps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from urllib.parse import unquote

import msgspec

from plugin.onboarding.choices import Note
from plugin.onboarding.webhook_urls import EVENT_TOPICS, Topic, webhook_mode
from sync.clients.collection import CollectionClient
from sync.clients.economic import EconomicClient
from sync.clients.economic_types import Webhook
from sync.company_settings import (
    CollectionWebhookSettings,
    Delivery,
    EconomicWebhookSettings,
)
from sync.errors import ConflictError, NotFoundError, PermanentError, PermissionDeniedError
from sync.store.webhook_secrets import WebhookSecrets

EVENT_TYPES = tuple(EVENT_TOPICS)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _ours(existing: list[Webhook], urls: Mapping[Topic, str]) -> dict[str, Webhook]:
    """The subscriptions that are ours: our URL for the event type's topic (compared decoded,
    in case the platform stored the ``[PLACEHOLDERS]`` percent-encoded)."""
    found: dict[str, Webhook] = {}
    for hook in existing:
        topic = EVENT_TOPICS.get(hook.event_type)
        if topic is not None and unquote(hook.url) == unquote(urls[topic]):
            found[hook.event_type] = hook
    return found


async def subscribe_economic(
    client: EconomicClient, urls: Mapping[Topic, str], *, agreement: int
) -> EconomicWebhookSettings:
    try:
        ours = _ours(await client.webhooks(), urls)
    except PermissionDeniedError:
        return _settings(dict.fromkeys(EVENT_TYPES, "legacy"), {})
    delivery: dict[str, Delivery] = {}
    ids = {event: hook.id for event, hook in ours.items()}
    for event in EVENT_TYPES:
        if event in ids:
            delivery[event] = "api"
            continue
        url = urls[EVENT_TOPICS[event]]
        try:
            hook = await client.create_webhook(
                event_type=event,
                name=f"collectbridge {EVENT_TOPICS[event]} ({event})",
                url=url,
                headers={},
                idempotency_key=f"webhook:{agreement}:{event}:{digest(url)}",
            )
        except PermissionDeniedError:
            delivery.update({e: "legacy" for e in EVENT_TYPES if e not in delivery})
            break
        except ConflictError:
            again = _ours(await client.webhooks(), urls).get(event)
            if again is None:
                delivery[event] = "legacy"
                continue
            hook = again
        delivery[event] = "api"
        ids[event] = hook.id
    return _settings(delivery, ids)


async def resubscribe_economic(
    client: EconomicClient,
    urls: Mapping[Topic, str],
    *,
    agreement: int,
    recorded: EconomicWebhookSettings,
) -> EconomicWebhookSettings:
    """Our recorded subscriptions pointed at ``urls`` (the new URL secret's), the rest as
    `subscribe_economic` makes them."""
    for event, hook_id in recorded.subscription_ids.items():
        topic = EVENT_TOPICS.get(event)
        if topic is None or recorded.subscriptions.get(event) != "api":
            continue
        url = urls[topic]
        try:
            await client.update_webhook(
                hook_id,
                event_type=event,
                name=f"collectbridge {topic} ({event})",
                url=url,
                headers={},
                idempotency_key=f"webhook-update:{agreement}:{event}:{digest(url)}",
            )
        except NotFoundError:
            continue  # removed in e-conomic: subscribe_economic makes it again
        except PermissionDeniedError:
            break  # the role lost the Webhooks API: subscribe_economic says legacy
    return await subscribe_economic(client, urls, agreement=agreement)


def _settings(delivery: dict[str, Delivery], ids: dict[str, str]) -> EconomicWebhookSettings:
    return EconomicWebhookSettings(
        mode=webhook_mode(delivery),
        subscriptions={e: delivery[e] for e in EVENT_TYPES if e in delivery},
        subscription_ids={e: ids[e] for e in EVENT_TYPES if e in ids},
    )


async def ensure_collection_endpoint(
    client: CollectionClient,
    secrets: WebhookSecrets,
    *,
    installation_id: int,
    agreement: int,
    account_id: str | None,
    url: str,
    recorded: CollectionWebhookSettings,
    now: dt.datetime,
) -> tuple[CollectionWebhookSettings, Note | None]:
    """The endpoint recorded (with its secret stored), or a new one; a refusal → state none."""
    kept = recorded.endpoint_id and recorded.account_id == account_id
    if kept and await secrets.collection_signing_secret(installation_id):
        return msgspec.structs.replace(recorded, state="ok"), None
    try:
        endpoint = await client.create_webhook_endpoint(
            url, idempotency_key=f"webhook-endpoint:{agreement}:{account_id}:{digest(url)}"
        )
    except PermanentError as exc:
        note = Note(
            code="collection_webhook_refused",
            message="The collection platform refused our webhook endpoint "
            f"({exc.message}); its events still arrive through the events feed.",
        )
        return CollectionWebhookSettings(state="none", endpoint_id=None), note
    assert endpoint.secret is not None
    await secrets.save_collection_signing_secret(installation_id, endpoint.secret, now=now)
    settings = CollectionWebhookSettings(state="ok", endpoint_id=endpoint.id, account_id=account_id)
    return settings, None
