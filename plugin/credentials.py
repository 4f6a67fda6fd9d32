"""Passwords and the second factor, as plain functions over values.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile); a hash made with older parameters is replaced at the next sign-in. A sign-in for an
e-mail we do not know still verifies against a fixed hash, so the answer takes as long as for a
known one and does not tell which addresses have accounts.

The second factor is TOTP (RFC 6238: 6 digits, 30 seconds, SHA-1, as every authenticator app
reads it), one step of clock drift either way accepted. Its key is kept encrypted
(`sync.crypto.Cipher`), never shown again after it was set up.
"""

from __future__ import annotations

import datetime as dt
import hmac

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
ISSUER = "collectbridge"

_HASHER = PasswordHasher()
_UNKNOWN_USER_HASH = _HASHER.hash("an account nobody has")


class PasswordRefused(ValueError):
    """A new password that does not meet the rules; ``code`` names which."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def check_new_password(password: str, *, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRefused("password_too_short")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRefused("password_too_long")
    if password.strip().lower() == email.strip().lower():
        raise PasswordRefused("password_is_email")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: no password, or no such user; the time
    taken is the same)."""
    try:
        return _HASHER.verify(stored or _UNKNOWN_USER_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


def new_totp_key() -> str:
    return pyotp.random_base32()


def totp_uri(key: str, *, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (typed in or from a QR code)."""
    return pyotp.TOTP(key).provisioning_uri(name=email, issuer_name=ISSUER)


def totp_code(key: str, *, at: dt.datetime) -> str:
    return pyotp.TOTP(key).at(at)


def verify_totp(key: str, code: str, *, at: dt.datetime) -> bool:
    return totp_step(key, code, at=at) is not None


def totp_step(key: str, code: str, *, at: dt.datetime, after: int | None = None) -> int | None:
    """The 30-second step ``code`` is right for (``at``'s, or one either side), later than
    ``after`` (the last step a code was accepted for: a code works once); None otherwise."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(key)
    now = totp.timecode(at)
    for step in (now - 1, now, now + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
