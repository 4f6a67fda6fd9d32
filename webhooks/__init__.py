"""Inbound HTTP from both platforms: verification, dedupe, the durable inbox, fast ack.

verify.py       Standard Webhooks verification, a pure function over raw bytes
credentials.py  the installation and secrets a delivery is checked against, cached a few seconds
hints.py        e-conomic hints: placeholders parsed, the job each makes (pure)
inbox.py        the inbox writer: group commit, acknowledged after the commit
inbox_process.py  on SQLite, the inbox's writes in a process of their own
receivers.py    the two receivers' handlers, in DESIGN.md's order of checks
wiring.py       what the application hands in (database, cipher, clocks, metrics)

`setup_routes(app, wire)` adds the routes and a ``cleanup_ctx`` running the writer: at start
it calls ``wire(app)`` (the app's services exist by then), at shutdown it commits what is
queued before the database closes. `forget_installation(id)` is for whatever changes what the
receivers answer (a secret rotated, a status changed): called after its commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from webhooks.credentials import forget_installation
from webhooks.wiring import REASONS, Observer, Reason, Wiring

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["REASONS", "Observer", "Reason", "Wiring", "forget_installation", "setup_routes"]

COLLECTION_PATH = "/webhooks/collection/{installation_key}"
ECONOMIC_PATH = "/webhooks/economic/{installation_key}/{url_secret}/{topic}"


def setup_routes(app: web.Application, wire: Callable[[web.Application], Wiring]) -> None:
    # Imported here, not above: the inbox process (`webhooks.inbox_process`) imports this
    # package and needs none of the HTTP side, whose imports cost it a quarter of a second
    # at every start.
    from webhooks.inbox import InboxWriter
    from webhooks.receivers import RECEIVER, Receiver, collection, economic

    async def inbox_writer(app: web.Application) -> AsyncIterator[None]:
        wiring = wire(app)
        writer = InboxWriter(
            wiring.db,
            clock=wiring.clock,
            jobs_enqueued=wiring.jobs_enqueued,
            process=wiring.inbox_process,
        )
        writer.start()
        app[RECEIVER] = Receiver(wiring, writer)
        yield
        await writer.close()

    app.cleanup_ctx.append(inbox_writer)
    app.router.add_post(COLLECTION_PATH, collection)
    # No HEAD: a HEAD must not store a hint.
    app.router.add_get(ECONOMIC_PATH, economic, allow_head=False)
    app.router.add_post(ECONOMIC_PATH, economic)
