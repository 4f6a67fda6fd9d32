"""Debtors: ``PUT /v1/debtors/{external_ref}`` and ``POST /v1/debtors/batch``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.collection.auth import require
from sandbox.collection.problems import ApiError, invalid, json_body, json_response
from sandbox.collection.records import debtor_fields
from sandbox.collection.state import STATE, CollectionState, Debtor

routes = web.RouteTableDef()
MAX_BATCH = 500


def upsert_debtor(
    state: CollectionState, account_id: str, ref: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    fields, errors = debtor_fields(body)
    if errors:
        raise invalid(errors)
    existing = state.debtors.get((account_id, ref))
    if existing is None:
        debtor = Debtor(state.new_id("dbt"), account_id, ref, fields)
        state.debtors[(account_id, ref)] = debtor
        status = 201
    else:
        debtor, status = existing, 200
        if debtor.fields != fields:
            debtor.fields = fields
            debtor.version += 1
    return status, {"id": debtor.id, "external_ref": ref, "version": debtor.version}


def batch_items(body: dict[str, Any]) -> list[Any]:
    items = body.get("items")
    if not isinstance(items, list):
        raise ApiError(400, "bad_request", "items must be a list")
    if len(items) > MAX_BATCH:
        raise ApiError(400, "bad_request", f"at most {MAX_BATCH} items per batch")
    return items


def run_batch(items: list[Any], upsert: Any) -> list[dict[str, Any]]:
    """Each item on its own: a failure becomes that item's ``error`` (a problem object)."""
    results = []
    for item in items:
        ref = item.get("external_ref") if isinstance(item, dict) else None
        try:
            if not isinstance(ref, str) or not ref:
                raise invalid([{"field": "external_ref", "message": "required string"}])
            status, result = upsert(ref, item)
            results.append({"status": status, **result})
        except ApiError as exc:
            results.append({"external_ref": ref, "status": exc.status, "error": exc.document()})
    return results


@routes.put("/v1/debtors/{ref}")
async def put_debtor(request: web.Request) -> web.Response:
    account_id = require(request, "debtors:write")
    body = await json_body(request)
    state = request.app[STATE]
    status, result = upsert_debtor(state, account_id, request.match_info["ref"], body)
    return json_response(result, status=status)


@routes.post("/v1/debtors/batch")
async def batch_debtors(request: web.Request) -> web.Response:
    account_id = require(request, "debtors:write")
    items = batch_items(await json_body(request))
    state = request.app[STATE]
    results = run_batch(items, lambda ref, item: upsert_debtor(state, account_id, ref, item))
    return json_response({"results": results})
