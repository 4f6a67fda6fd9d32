"""Standard Webhooks verification: one pure function over the raw bytes of a delivery.

    verify(body, headers, secrets, now) -> the event id (``webhook-id``)

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``
entries, one per secret the sender holds (two during a rotation overlap), where ``key`` is the
base64-decoded part of a ``whsec_`` secret (contracts/collection-api.md). Every listed ``v1``
signature is compared, in constant time, with the expected one of every secret we hold (two
during our rotation overlap); entries of other versions (``v1a`` …) are passed over. The HMAC is
computed once per secret, never once per listed signature, so a header listing a hundred
signatures costs no more than one listing two.

Errors: `VerificationError`, with a stable ``code``:

    missing_headers      webhook-id, webhook-timestamp or webhook-signature absent or empty
    bad_timestamp        the timestamp is not whole Unix seconds
    stale_timestamp      more than `TOLERANCE_SECONDS` in the past
    future_timestamp     more than `TOLERANCE_SECONDS` in the future
    no_matching_signature  no listed signature is one of our secrets'

``now`` is wall-clock Unix seconds, passed in (the platform signs with its wall clock, never
with the business date), so the specification's example vector can be checked without a clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Literal

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE_SECONDS = 5 * 60
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST_SIZE = hashlib.sha256().digest_size

Code = Literal[
    "missing_headers",
    "bad_timestamp",
    "stale_timestamp",
    "future_timestamp",
    "no_matching_signature",
]


class VerificationError(Exception):
    """The delivery carries no valid, fresh signature; ``code`` says which check failed."""

    def __init__(self, code: Code, detail: str) -> None:
        super().__init__(detail)
        self.code: Code = code


def secret_key(secret: str) -> bytes | None:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional), None when it is no
    base64 or empty: such a secret matches nothing."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    """The raw HMAC-SHA256 digest a ``v1`` signature carries (base64) for this delivery."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def listed_signatures(header: str) -> list[bytes]:
    """The digests of the ``v1`` entries of a ``webhook-signature`` header; entries of other
    versions and entries that are no base64 of a SHA-256 digest are left out."""
    found: list[bytes] = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            digest = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(digest) == _DIGEST_SIZE:
            found.append(digest)
    return found


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    *,
    tolerance: float = TOLERANCE_SECONDS,
) -> str:
    """The event id of a delivery signed with one of ``secrets`` within ``tolerance`` seconds
    of ``now``; raises `VerificationError` otherwise."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    header = lowered.get("webhook-signature", "")
    if not (msg_id and stamp and header):
        raise VerificationError("missing_headers", "webhook-id, -timestamp and -signature needed")
    if not _TIMESTAMP.fullmatch(stamp):
        raise VerificationError("bad_timestamp", "webhook-timestamp is not Unix seconds")
    if int(stamp) < now - tolerance:
        raise VerificationError("stale_timestamp", "webhook-timestamp is too old")
    if int(stamp) > now + tolerance:
        raise VerificationError("future_timestamp", "webhook-timestamp is in the future")
    offered = listed_signatures(header)
    matched = False
    for secret in secrets:
        key = secret_key(secret)
        if key is None:
            continue
        expected = sign(key, msg_id, stamp, body)
        # Every pair is compared (no early exit), so the time taken does not say which matched.
        for candidate in offered:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise VerificationError("no_matching_signature", "no listed signature matches")
    return msg_id
