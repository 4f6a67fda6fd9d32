"""Typed application and request keys shared by the simulator's modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from sandbox.economic.idempotency import IdempotencyCache
    from sandbox.economic.paging import ScanCache
    from sandbox.economic.state import SimState
    from sandbox.economic.webhooks import Dispatcher

STATE: web.AppKey[SimState] = web.AppKey("economic_state")
DISPATCHER: web.AppKey[Dispatcher] = web.AppKey("economic_dispatcher")
SCANS: web.AppKey[ScanCache] = web.AppKey("economic_scans")
IDEMPOTENCY: web.AppKey[IdempotencyCache] = web.AppKey("economic_idempotency")
