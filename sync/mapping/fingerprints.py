"""Content fingerprints of what we send, so an unchanged record is never sent again.

The fingerprint is the SHA-256 of the value's JSON with every object's keys sorted (Struct
fields included), cut to 128 bits of hex: the same content gives the same text whatever the
order of a dict or the Python object that held it (a `Debtor` and its ``to_builtins`` dict agree).
Stored in ``links`` beside the remote id; compare before pushing.
"""

from __future__ import annotations

import hashlib

import msgspec

_encoder = msgspec.json.Encoder(order="sorted")


def fingerprint(value: object) -> str:
    """32 hex characters naming ``value``'s content (Structs, dicts, lists, dates, decimals)."""
    return hashlib.sha256(_encoder.encode(value)).hexdigest()[:32]
