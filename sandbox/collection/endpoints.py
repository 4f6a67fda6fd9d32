"""Webhook endpoints: create, list, delete and rotate the secret.

``POST /v1/webhook-endpoints`` answers the secret once; ``GET /v1/webhook-endpoints`` (an
addition to the contract) lists endpoints without secrets, with ``enabled``. After a rotation
deliveries carry signatures with both secrets for ``secret_overlap`` (24 h) wall-clock seconds.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from sandbox.collection.auth import require
from sandbox.collection.problems import invalid, json_body, json_response, not_found
from sandbox.collection.signing import new_secret
from sandbox.collection.state import STATE, CollectionState, Endpoint

routes = web.RouteTableDef()
EVENT_TYPES = (
    "case.opened",
    "case.step_changed",
    "case.closed",
    "payment.received",
    "letter.sent",
    "claim.rejected",
    "account.grant_revoked",
)


def public(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
    }


def _endpoint(request: web.Request) -> tuple[CollectionState, Endpoint]:
    account_id = require(request, "webhooks:manage")
    state = request.app[STATE]
    endpoint = state.endpoints.get(request.match_info["endpoint_id"])
    if endpoint is None or endpoint.deleted or endpoint.account_id != account_id:
        raise not_found("webhook endpoint")
    return state, endpoint


@routes.post("/v1/webhook-endpoints")
async def create_endpoint(request: web.Request) -> web.Response:
    account_id = require(request, "webhooks:manage")
    body = await json_body(request)
    state = request.app[STATE]
    url, types = body.get("url"), body.get("event_types", ["*"])
    errors = []
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        errors.append({"field": "url", "message": "an http(s) URL"})
    if not isinstance(types, list) or not types or any(t not in (*EVENT_TYPES, "*") for t in types):
        errors.append({"field": "event_types", "message": '["*"] or a list of event types'})
    if errors:
        raise invalid(errors)
    endpoint = Endpoint(
        id=state.new_id("we"),
        account_id=account_id,
        url=str(url),
        event_types=tuple(types),
        secret=new_secret(),
    )
    state.endpoints[endpoint.id] = endpoint
    return json_response({**public(endpoint), "secret": endpoint.secret}, status=201)


@routes.get("/v1/webhook-endpoints")
async def list_endpoints(request: web.Request) -> web.Response:
    account_id = require(request, "webhooks:manage")
    state = request.app[STATE]
    items = [
        public(e) for e in state.endpoints.values() if e.account_id == account_id and not e.deleted
    ]
    return json_response({"items": items})


@routes.delete("/v1/webhook-endpoints/{endpoint_id}")
async def delete_endpoint(request: web.Request) -> web.Response:
    _, endpoint = _endpoint(request)
    endpoint.deleted = True
    return web.Response(status=204)


@routes.post("/v1/webhook-endpoints/{endpoint_id}/rotate-secret")
async def rotate_secret(request: web.Request) -> web.Response:
    state, endpoint = _endpoint(request)
    endpoint.old_secret = endpoint.secret
    endpoint.old_secret_until = state.wall() + state.settings.secret_overlap
    endpoint.secret = new_secret()
    return json_response({"id": endpoint.id, "secret": endpoint.secret})
