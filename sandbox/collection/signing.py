"""Standard Webhooks signing and verification, pure functions over raw bytes.

A signature is ``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>`` where ``key`` is
the base64-decoded part of a ``whsec_`` secret. The ``webhook-signature`` header lists one
signature per active secret (two during a rotation overlap), space separated. ``now`` is always
passed in, so the specification's example vector can be checked without a clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE_SECONDS = 5 * 60


class SignatureError(Exception):
    """The delivery does not carry a valid, fresh signature."""


def new_secret(raw: bytes | None = None) -> str:
    """A ``whsec_`` secret over 32 random bytes (or the ``raw`` bytes given)."""
    return SECRET_PREFIX + base64.b64encode(raw or secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def delivery_headers(
    secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Iterable[str],
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> None:
    """Raise `SignatureError` unless one listed signature matches one secret and time is fresh."""
    lowered = {key.lower(): value for key, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    listed = lowered.get("webhook-signature")
    if not (msg_id and stamp and listed):
        raise SignatureError("missing webhook headers")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise SignatureError("malformed webhook-timestamp") from exc
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    offered = [part.split(",", 1)[1] for part in listed.split() if part.startswith("v1,")]
    for secret in secrets:
        expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
        # Check every pair so the time taken does not depend on which one matched.
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise SignatureError("no matching signature")
