"""The per-account event log: sequence numbers, retention and the ``GET /v1/events`` feed.

Every event gets the next sequence of its account and is handed to ``state.dispatch`` (the
webhook deliverer). The feed returns the same events in sequence order. Retention is 30 days of
wall-clock time, not business time: one ``advance_days=70`` would otherwise delete events
before anyone could read them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from sandbox.collection.auth import require
from sandbox.collection.problems import ApiError, json_response
from sandbox.collection.state import STATE, CollectionState, Event

routes = web.RouteTableDef()
MAX_LIMIT = 500


def emit(
    state: CollectionState,
    account_id: str,
    type_: str,
    data: dict[str, Any],
    on: dt.date | None = None,
) -> Event:
    sequence = state.sequences.get(account_id, 0) + 1
    state.sequences[account_id] = sequence
    event = Event(
        id=state.new_id("evt"),
        account_id=account_id,
        sequence=sequence,
        type=type_,
        occurred_at=state.business_timestamp(on),
        data=data,
        stored_at=state.wall(),
    )
    log = state.events.setdefault(account_id, [])
    log.append(event)
    horizon = state.wall() - state.settings.event_retention
    while log and log[0].stored_at < horizon:
        log.pop(0)
    state.dispatch(event)
    return event


def feed(log: list[Event], after: int, limit: int) -> dict[str, Any]:
    """Events with a sequence above ``after``; ``next_after`` is the last one returned."""
    items = [event for event in log if event.sequence > after][:limit]
    next_after = items[-1].sequence if items else after
    return {"items": [event.body() for event in items], "next_after": next_after}


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise ApiError(400, "bad_request", f"{name} must be between {low} and {high}")
    return value


@routes.get("/v1/events")
async def list_events(request: web.Request) -> web.Response:
    account_id = require(request, "events:read")
    after = int_param(request, "after", 0, 0, 2**62)
    limit = int_param(request, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    state = request.app[STATE]
    return json_response(feed(state.events.get(account_id, []), after, limit))
