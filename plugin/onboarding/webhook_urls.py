"""Our webhook URLs on both platforms, and what e-conomic's answers make of them: pure.

e-conomic (DESIGN.md, "External surface"): one URL per topic, carrying the installation's key
and URL secret (e-conomic signs nothing) and the event's placeholders as query parameters,
the same for a Webhooks-API subscription and a legacy webhook pasted by hand:

    <public>/webhooks/economic/<key>/<url secret>/invoice?number=[INVOICENO]
    <public>/webhooks/economic/<key>/<url secret>/customer?new=[NEWNUMBER]&old=[OLDNUMBER]
    <public>/webhooks/economic/<key>/<url secret>/daybook
        ?daybook=[DAYBOOKNO]&from=[FROMSERIALNO]&to=[TOSERIALNO]

The collection platform (Standard Webhooks, signed): ``<public>/webhooks/collection/<key>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sync.company_settings import Delivery, WebhookMode

Topic = Literal["invoice", "customer", "daybook"]
TOPICS: tuple[Topic, ...] = ("invoice", "customer", "daybook")
# The contract's Webhooks API event types, each with the legacy topic whose placeholders it fills.
EVENT_TOPICS: dict[str, Topic] = {
    "INVOICE_BOOKED": "invoice",
    "CUSTOMER_CREATED": "customer",
    "CUSTOMER_UPDATED": "customer",
    "CUSTOMER_DELETED": "customer",
    "DAYBOOK_BOOKED": "daybook",
}
PLACEHOLDERS: dict[Topic, str] = {
    "invoice": "number=[INVOICENO]",
    "customer": "new=[NEWNUMBER]&old=[OLDNUMBER]",
    "daybook": "daybook=[DAYBOOKNO]&from=[FROMSERIALNO]&to=[TOSERIALNO]",
}


def economic_webhook_url(
    public_url: str, installation_key: str, url_secret: str, topic: Topic
) -> str:
    # Written out, not built with yarl: the [PLACEHOLDERS] must reach e-conomic unencoded.
    base = public_url.rstrip("/")
    return f"{base}/webhooks/economic/{installation_key}/{url_secret}/{topic}?{PLACEHOLDERS[topic]}"


def economic_webhook_urls(
    public_url: str, installation_key: str, url_secret: str
) -> dict[Topic, str]:
    return {t: economic_webhook_url(public_url, installation_key, url_secret, t) for t in TOPICS}


def collection_webhook_url(public_url: str, installation_key: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/collection/{installation_key}"


def webhook_mode(subscriptions: Mapping[str, Delivery]) -> WebhookMode:
    """``api`` when the Webhooks API delivers every event type, ``legacy`` when none, else
    ``mixed``; ``none`` before anything was registered."""
    kinds = set(subscriptions.values())
    if not kinds:
        return "none"
    if len(kinds) == 2:
        return "mixed"
    return "api" if kinds == {"api"} else "legacy"


def legacy_topics(subscriptions: Mapping[str, Delivery]) -> list[Topic]:
    """The topics whose legacy URL a person must paste into e-conomic, in `TOPICS` order."""
    needed = {EVENT_TOPICS[e] for e, how in subscriptions.items() if how == "legacy"}
    return [t for t in TOPICS if t in needed]
