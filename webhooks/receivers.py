"""The two webhook receivers (DESIGN.md, External surface), short handlers around pure checks.

    POST     /webhooks/collection/{installation_key}                      Standard Webhooks
    GET|POST /webhooks/economic/{installation_key}/{url_secret}/{topic}   e-conomic hints

Answers, checked in this order: 404 for an unknown installation key, a wrong URL secret or an
unknown topic (one answer for all three, the same as an unrouted path's); 413 for a body over
`MAX_BODY` bytes (read with that limit, never whole first); 415 for a content type other than
JSON (collection only: e-conomic hints carry no body of use); 401 for a missing or bad
signature or a timestamp more than 5 minutes away (collection only: e-conomic signs nothing);
410 for a revoked or deleted installation; 400 for a malformed placeholder or body; 204 once
stored (a duplicate too), and 503 when the inbox could not be written (both platforms retry).

The URL secret is compared in constant time against both accepted secrets (the current one and,
for 24 h after a rotation, the one it replaced: `sync.store.webhook_secrets`), a dummy standing
in for one not there, so the time does not tell whether a rotation is under way or the key is
known. The overlap is judged by the business clock (`Wiring.clock`); a collection delivery is
verified against the same list (`verify` tries every listed signature against every secret). The
collection receiver does the same work for an unknown key as for a known one up to the answer
(the same lookup, the body read, one HMAC with a dummy secret), so its time does not tell
whether a key exists. A paused installation still stores (its jobs wait: they are parked).

The installation and its secrets come from `webhooks.credentials`: read from the store at most
once every few seconds per key (unknown keys included), forgotten at once in this process when a
secret rotates or the installation's status changes (`forget_installation`).

Collection events are stored ``new`` with the key ``collection:<installation id>:<event id>``;
processing them is the inbox processor's. An e-conomic hint is stored ``processed``, its job
enqueued in the same transaction (`webhooks.hints` says why its key is unique per delivery).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import logging
import re
import secrets as random
from collections.abc import Sequence

import msgspec
from aiohttp import web

from sync import schedules
from sync.crypto import DecryptionError
from sync.jobs import NewJob
from sync.store.db import DatabaseError
from sync.store.inbox import NewEntry, Source
from sync.store.installations import Installations
from sync.store.webhook_secrets import (
    COLLECTION_COLUMN,
    ECONOMIC_COLUMN,
    OVERLAP,
    WebhookSecrets,
)
from webhooks.credentials import Credentials, Kind, Known, Loaded
from webhooks.hints import (
    TOPICS,
    HintError,
    encode_hint,
    hint_dedupe_key,
    hint_job,
    new_delivery_id,
    parse_hint,
)
from webhooks.inbox import InboxUnavailable, InboxWriter, JobsFor
from webhooks.verify import VerificationError, verify
from webhooks.wiring import Reason, Wiring

log = logging.getLogger(__name__)
MAX_BODY = 1_048_576
GONE: frozenset[str] = frozenset({"revoked", "deleted"})
_EVENT_TYPE = re.compile(r"[!-~]{1,100}")  # printable ASCII: it becomes the row's topic
_NO_INSTALLATION = 0  # an id no row has: the secrets' query is made for an unknown key too
_DUMMY_URL_SECRET = random.token_urlsafe(24).encode()
_DUMMY_SIGNING_SECRET = "whsec_" + base64.b64encode(random.token_bytes(32)).decode()
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")

_STATUS: dict[Reason, int] = {
    "not_found": 404,
    "too_large": 413,
    "unsupported_type": 415,
    "bad_signature": 401,
    "gone": 410,
    "malformed": 400,
}
_TEXT: dict[Reason, str] = {
    "not_found": "404: Not Found",  # aiohttp's own, so that an unrouted path looks the same
    "too_large": "the body is larger than 1048576 bytes",
    "unsupported_type": "the body must be JSON",
    "bad_signature": "the signature was not accepted",
    "gone": "the installation is no longer connected",
    "malformed": "malformed",
}


class Receiver:
    """What both handlers share, built once per application (see `setup_routes`)."""

    def __init__(self, wiring: Wiring, writer: InboxWriter) -> None:
        self.wiring = wiring
        self.observer = wiring.observer
        self.writer = writer
        self.installations = Installations(wiring.db)
        self.secrets = WebhookSecrets(wiring.db, wiring.cipher) if wiring.cipher else None
        self.credentials = Credentials(self.read, clock=wiring.clock)

    async def known(self, key: str, kind: Kind) -> Known:
        """The installation of ``key`` and the secrets of ``kind`` accepted now, as the store
        said within the last few seconds (`webhooks.credentials`)."""
        return await self.credentials.get(key, kind)

    async def read(self, key: str | None, kind: Kind, now: dt.datetime) -> Loaded:
        """The store's answer for ``key`` (None: no installation key at all): the same two reads
        for an unknown key as for a known one (the secrets' with an id no row has)."""
        installation = await self.installations.get_by_key(key) if key is not None else None
        installation_id = installation.id if installation else _NO_INSTALLATION
        if self.secrets is None:  # no COLLECTBRIDGE_SECRET_KEY: nothing can have been stored
            return Loaded(Known(installation, ()))
        if kind == "url":
            accepted = await self.secrets.url_secrets(installation_id, now=now)
        else:
            accepted = await self.secrets.signing_secrets(installation_id, now=now)
        changes_at = None
        if len(accepted) > 1:  # within a rotation's overlap: the previous one expires
            column = ECONOMIC_COLUMN if kind == "url" else COLLECTION_COLUMN
            rotated_at = await self.secrets.rotated_at(installation_id, column)
            changes_at = rotated_at + OVERLAP if rotated_at is not None else now
        return Loaded(Known(installation, tuple(accepted)), changes_at)

    def rejected(self, source: Source, reason: Reason, detail: str = "") -> web.Response:
        self.observer.webhook_rejected(source, reason)
        text = f"{_TEXT[reason]}: {detail}" if detail else _TEXT[reason]
        response = web.Response(status=_STATUS[reason], text=text)
        if reason == "too_large":
            # The rest of the body is never read: this connection serves no further request.
            response.force_close()
        return response

    async def stored(
        self, entry: NewEntry, jobs: Sequence[NewJob] = (), *, then: JobsFor | None = None
    ) -> web.Response:
        try:
            new = await self.writer.store(entry, jobs, then=then)
        except InboxUnavailable:
            return self.unavailable(entry.source)
        if new:
            self.observer.webhook_received(entry.source)
        else:
            self.observer.webhook_duplicate(entry.source)
        return web.Response(status=204)

    def unavailable(self, source: Source) -> web.Response:
        self.observer.webhook_unavailable(source)
        return web.Response(status=503, text="try again later", headers={"Retry-After": "5"})


RECEIVER = web.AppKey("webhook_receiver", Receiver)


class Abandoned(Exception):
    """The sender closed its connection before its body was in."""


async def read_limited(request: web.Request, limit: int = MAX_BODY) -> bytes | None:
    """The body, or None when it is longer than ``limit`` (read no further than that). Raises
    `Abandoned` when the sender goes away mid-body."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except OSError as exc:  # the transport's error handed to the body: reset, broken pipe
        raise Abandoned from exc
    return b"".join(chunks)


def _abandoned(source: Source) -> web.Response:
    """The sender went away before its body was in (its connection closed mid-body): nothing
    was stored, nobody is there to answer, and it is no error of ours (aiohttp would log a
    traceback and a 500). The platform sends the delivery again."""
    log.debug("%s webhook abandoned by its sender mid-body", source)
    return web.Response(status=400)


def is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


class Envelope(msgspec.Struct, frozen=True):
    """What the receiver checks of a collection event; the rest is the processor's."""

    id: str
    type: str
    sequence: int


_ENVELOPE = msgspec.json.Decoder(Envelope)


async def collection(request: web.Request) -> web.Response:
    receiver = request.app[RECEIVER]
    try:
        return await _collection(receiver, request)
    except Abandoned:
        return _abandoned("collection")
    except (DatabaseError, DecryptionError) as exc:
        log.warning("collection webhook not stored: %s", type(exc).__name__)
        return receiver.unavailable("collection")


async def _collection(receiver: Receiver, request: web.Request) -> web.Response:
    installation, secrets = await receiver.known(request.match_info["installation_key"], "signing")
    body = await read_limited(request)
    now = receiver.wiring.wall()
    if installation is None:
        _dummy_verify(body or b"", request, now)
        return receiver.rejected("collection", "not_found")
    if body is None:
        return receiver.rejected("collection", "too_large")
    if not is_json(request.content_type):
        return receiver.rejected("collection", "unsupported_type")
    try:
        event_id = verify(body, request.headers, secrets, now)
    except VerificationError as exc:
        return receiver.rejected("collection", "bad_signature", exc.code)
    if installation.status in GONE:
        return receiver.rejected("collection", "gone")
    try:
        envelope = _ENVELOPE.decode(body)
    except msgspec.DecodeError:
        return receiver.rejected("collection", "malformed", "not an event")
    if envelope.id != event_id:
        return receiver.rejected("collection", "malformed", "the event id is not webhook-id")
    if not _EVENT_TYPE.fullmatch(envelope.type):
        return receiver.rejected("collection", "malformed", "no event type")
    headers = {name: request.headers[name] for name in SIGNATURE_HEADERS if name in request.headers}
    entry = NewEntry(
        source="collection",
        installation_id=installation.id,
        dedupe_key=f"collection:{installation.id}:{event_id}",
        topic=envelope.type,
        headers=headers,
        body=body,
    )
    # Its processing is queued with the row (it needs the row's id), so it runs at once.
    agreement = installation.agreement_number
    return await receiver.stored(
        entry,
        then=lambda inbox_id: [
            schedules.inbox_event(installation.id, agreement, event_id, inbox_id=inbox_id)
        ],
    )


def _dummy_verify(body: bytes, request: web.Request, now: float) -> None:
    """The HMAC a known installation's delivery costs, for an unknown one."""
    try:
        verify(body, request.headers, [_DUMMY_SIGNING_SECRET], now)
    except VerificationError:
        pass


def url_secret_matches(given: str, accepted: Sequence[str]) -> bool:
    """Whether ``given`` is one of the (at most two) ``accepted`` secrets: always two
    constant-time comparisons, both made (a dummy for a missing one), whatever matches."""
    raw = given.encode("utf-8", "replace")
    candidates = [s.encode() for s in accepted[:2]]
    candidates += [_DUMMY_URL_SECRET] * (2 - len(candidates))
    results = [hmac.compare_digest(raw, c) for c in candidates]
    return any(results[: len(accepted)])


async def economic(request: web.Request) -> web.Response:
    receiver = request.app[RECEIVER]
    try:
        return await _economic(receiver, request)
    except Abandoned:
        return _abandoned("economic")
    except (DatabaseError, DecryptionError) as exc:
        log.warning("e-conomic webhook not stored: %s", type(exc).__name__)
        return receiver.unavailable("economic")


async def _economic(receiver: Receiver, request: web.Request) -> web.Response:
    info = request.match_info
    installation, stored = await receiver.known(info["installation_key"], "url")
    matches = url_secret_matches(info["url_secret"], stored)
    topic = info["topic"]
    if installation is None or not matches or topic not in TOPICS:
        return receiver.rejected("economic", "not_found")
    if await read_limited(request) is None:  # read only to honour the limit: nothing of use
        return receiver.rejected("economic", "too_large")
    if installation.status in GONE:
        return receiver.rejected("economic", "gone")
    try:
        hint = parse_hint(topic, request.query.items())
    except HintError as exc:
        return receiver.rejected("economic", "malformed", str(exc))
    entry = NewEntry(
        source="economic",
        installation_id=installation.id,
        dedupe_key=hint_dedupe_key(installation.id, topic, hint, new_delivery_id()),
        topic=topic,
        body=encode_hint(hint),
        state="processed",
    )
    job = hint_job(hint, installation.id, installation.agreement_number)
    return await receiver.stored(entry, (job,))
