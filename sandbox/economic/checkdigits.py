"""Check digits of Danish identifiers: CVR (modulus 11) and EAN/GLN (GS1 mod 10)."""

from __future__ import annotations

CVR_WEIGHTS = (2, 7, 6, 5, 4, 3, 2, 1)


def cvr_is_valid(cvr: str) -> bool:
    """A CVR number is 8 digits, not starting with 0, whose weighted sum is divisible by 11."""
    if len(cvr) != 8 or not cvr.isdigit() or cvr[0] == "0":
        return False
    return sum(int(d) * w for d, w in zip(cvr, CVR_WEIGHTS, strict=True)) % 11 == 0


def cvr_check_digit(first7: str) -> int | None:
    """The 8th digit that makes ``first7`` a valid CVR, or None when no digit can (remainder 10)."""
    total = sum(int(d) * w for d, w in zip(first7, CVR_WEIGHTS[:7], strict=True))
    digit = -total % 11
    return None if digit == 10 else digit


def gs1_check_digit(body: str) -> int:
    """The GS1 check digit for the digits before it (weights 3,1,3,… from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return -total % 10


def gln_is_valid(gln: str) -> bool:
    """An EAN/GLN location number: 13 digits whose last one is the GS1 check digit."""
    return len(gln) == 13 and gln.isdigit() and gs1_check_digit(gln[:-1]) == int(gln[-1])
