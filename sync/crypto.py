"""Encryption of stored secrets (grant tokens, OAuth tokens, webhook URL secrets).

AES-256-GCM with keys derived by HKDF-SHA256 from the operator's secrets. A ciphertext reads
``v1.<key id>.<base64url(nonce || ciphertext)>``; the key id is a hash of the derived key (never
its position in the list), so rotating keys in ``COLLECTBRIDGE_SECRET_KEY`` (new key first, old
keys after it) keeps old data readable while new data uses the new key. An optional context
(e.g. ``b"installation:7:economic_token"``) is bound as associated data, so a ciphertext copied
into another row or column does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"


class DecryptionError(Exception):
    code = "decryption_failed"


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte working key for one purpose (``tokens``, ``sessions``, …) from one secret."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(secret.encode())


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"collectbridge key id:" + key).hexdigest()[:12]


class TokenCipher:
    """Encrypts with the first secret, decrypts with any of them."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one secret key is needed")
        keys = [derive_key(s, "collectbridge tokens v1") for s in secrets]
        self._current = (key_id(keys[0]), AESGCM(keys[0]))
        self._by_id = {key_id(k): AESGCM(k) for k in keys}

    @property
    def current_key_id(self) -> str:
        return self._current[0]

    def encrypt(self, plaintext: str, *, context: bytes = b"") -> str:
        kid, aead = self._current
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, plaintext.encode(), context)
        return f"{VERSION}.{kid}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, *, context: bytes = b"") -> str:
        try:
            version, kid, body = token.split(".", 2)
        except ValueError:
            raise DecryptionError("not a collectbridge ciphertext") from None
        aead = self._by_id.get(kid)
        if version != VERSION or aead is None:
            raise DecryptionError(f"no key with id {kid} is configured")
        raw = base64.urlsafe_b64decode(body)
        try:
            return aead.decrypt(raw[:12], raw[12:], context).decode()
        except InvalidTag:
            raise DecryptionError("ciphertext does not match its key or context") from None

    def key_id_of(self, token: str) -> str:
        return token.split(".", 2)[1]
