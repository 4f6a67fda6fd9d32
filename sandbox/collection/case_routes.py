"""``GET /v1/cases/{id}`` and ``GET /v1/cases?updated_after=&cursor=&limit=``.

The list is ordered by ``(updated_at, id)``; the cursor is that pair of the last item, opaque
(base64url JSON), so a case updated while a caller pages moves to the end instead of being
skipped. ``updated_after`` is exclusive. Default ``limit`` 100, at most 500.
"""

from __future__ import annotations

import base64
import binascii
import json

from aiohttp import web

from sandbox.collection.auth import require
from sandbox.collection.casework import view
from sandbox.collection.events import int_param
from sandbox.collection.problems import ApiError, json_response, not_found
from sandbox.collection.state import STATE, parse_rfc3339

routes = web.RouteTableDef()


def encode_cursor(updated_at: str, case_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([updated_at, case_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        updated_at, case_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        parse_rfc3339(updated_at)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ApiError(400, "bad_request", "malformed cursor") from exc
    return str(updated_at), str(case_id)


@routes.get("/v1/cases/{case_id}")
async def get_case(request: web.Request) -> web.Response:
    account_id = require(request, "cases:read")
    state = request.app[STATE]
    case = state.cases.get(request.match_info["case_id"])
    if case is None or case.account_id != account_id:
        raise not_found("case")
    return json_response(view(state, case))


@routes.get("/v1/cases")
async def list_cases(request: web.Request) -> web.Response:
    account_id = require(request, "cases:read")
    state = request.app[STATE]
    limit = int_param(request, "limit", 100, 1, 500)
    mine = sorted(
        (c for c in state.cases.values() if c.account_id == account_id),
        key=lambda c: (parse_rfc3339(c.updated_at), c.id),
    )
    if request.query.get("updated_after"):
        try:
            after = parse_rfc3339(request.query["updated_after"])
        except ValueError as exc:
            raise ApiError(400, "bad_request", "updated_after must be RFC 3339") from exc
        mine = [c for c in mine if parse_rfc3339(c.updated_at) > after]
    if request.query.get("cursor"):
        at, case_id = decode_cursor(request.query["cursor"])
        mark = (parse_rfc3339(at), case_id)
        mine = [c for c in mine if (parse_rfc3339(c.updated_at), c.id) > mark]
    page = mine[:limit]
    body: dict[str, object] = {"items": [view(state, c) for c in page]}
    if len(mine) > limit:
        body["next_cursor"] = encode_cursor(page[-1].updated_at, page[-1].id)
    return json_response(body)
