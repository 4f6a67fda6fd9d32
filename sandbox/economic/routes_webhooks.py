"""The Webhooks API (``/webhooksapi/v1.0.0``): event types and CRUD on subscriptions.

Our picks where the contract is silent: answers are bare JSON (no collection envelope), ids are
GUIDs, ``EventTypes`` also lists each type's legacy topic and URL placeholders, ``PUT`` replaces
a subscription, ``DELETE`` answers 204, and a second subscription for an event type the
agreement already subscribes to answers 409. An agreement whose app role lacks the Webhooks API
(``PUT /_sandbox/roles {webhooks_api: false}``) gets 403 on every route here, as the contract's
"403 (app role lacks access)" says.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from yarl import URL

from sandbox.economic.bodies import read_object
from sandbox.economic.errors import ApiError, field_error, not_found
from sandbox.economic.gateway import COMPANY
from sandbox.economic.keys import STATE
from sandbox.economic.render import respond
from sandbox.economic.state import Company
from sandbox.economic.webhooks import EVENT_TYPES, PLACEHOLDERS

PREFIX = "/webhooksapi/v1.0.0"
MAX_HEADERS = 5


def _invalid(key: str, message: str) -> ApiError:
    return ApiError(400, "Validation error.", errors=field_error([key], message))


def validated(doc: dict[str, Any]) -> dict[str, Any]:
    if doc.get("eventType") not in {e[0] for e in EVENT_TYPES}:
        raise _invalid("eventType", "Unknown eventType; see EventTypes.")
    if not isinstance(doc.get("name"), str) or not doc["name"].strip():
        raise _invalid("name", "name is required.")
    raw_url = str(doc.get("url", ""))
    url = URL(raw_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise _invalid("url", "url must be an absolute http(s) URL.")
    headers = doc.get("headers", [])
    if (
        not isinstance(headers, list)
        or len(headers) > MAX_HEADERS
        or not all(
            isinstance(h, dict)
            and isinstance(h.get("name"), str)
            and isinstance(h.get("value"), str)
            for h in headers
        )
    ):
        raise _invalid("headers", f"headers is a list of at most {MAX_HEADERS} {{name, value}}.")
    content_type = doc.get("contentType", "application/json")
    return {
        "eventType": doc["eventType"],
        "name": doc["name"],
        "url": raw_url,  # as written: yarl would percent-encode the [PLACEHOLDERS]
        "contentType": content_type,
        "headers": headers,
    }


def _company(request: web.Request) -> Company:
    company = request[COMPANY]
    if not company.webhooks_api:
        raise ApiError(403, "The app's role does not give access to the Webhooks API.")
    return company


def _find(company: Company, webhook_id: str) -> dict[str, Any]:
    for sub in company.webhook_subscriptions.values():
        if sub["id"] == webhook_id:
            return sub
    raise not_found("Webhook")


async def event_types(request: web.Request) -> web.Response:
    _company(request)
    return respond(
        [
            {
                "eventType": name,
                "description": text,
                "legacyTopic": topic,
                "placeholders": list(PLACEHOLDERS[topic]),
            }
            for name, text, topic in EVENT_TYPES
        ]
    )


async def list_webhooks(request: web.Request) -> web.Response:
    return respond(list(_company(request).webhook_subscriptions.values()))


async def create_webhook(request: web.Request) -> web.Response:
    company = _company(request)
    sub = validated(await read_object(request))
    if sub["eventType"] in company.webhook_subscriptions:
        raise ApiError(409, f"A webhook for {sub['eventType']} already exists.")
    sub["id"] = str(uuid.UUID(int=request.app[STATE].rng.getrandbits(128), version=4))
    company.webhook_subscriptions[sub["eventType"]] = sub
    return respond(sub, status=201)


async def get_webhook(request: web.Request) -> web.Response:
    return respond(_find(_company(request), request.match_info["id"]))


async def put_webhook(request: web.Request) -> web.Response:
    company = _company(request)
    old = _find(company, request.match_info["id"])
    new = validated(await read_object(request)) | {"id": old["id"]}
    if new["eventType"] != old["eventType"] and new["eventType"] in company.webhook_subscriptions:
        raise ApiError(409, f"A webhook for {new['eventType']} already exists.")
    del company.webhook_subscriptions[old["eventType"]]
    company.webhook_subscriptions[new["eventType"]] = new
    return respond(new)


async def delete_webhook(request: web.Request) -> web.Response:
    company = _company(request)
    sub = _find(company, request.match_info["id"])
    del company.webhook_subscriptions[sub["eventType"]]
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/EventTypes", event_types)
    app.router.add_get(f"{PREFIX}/webhooks", list_webhooks)
    app.router.add_post(f"{PREFIX}/webhooks", create_webhook)
    app.router.add_get(f"{PREFIX}/webhooks/{{id}}", get_webhook)
    app.router.add_put(f"{PREFIX}/webhooks/{{id}}", put_webhook)
    app.router.add_delete(f"{PREFIX}/webhooks/{{id}}", delete_webhook)
