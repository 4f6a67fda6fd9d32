"""Roles in a company, in order: ``guest`` < ``caseworker`` < ``admin``.

Each role can do everything the roles below it can (DESIGN.md, "External surface"): a guest
reads, a caseworker also resyncs and works claims, an admin also changes settings and manages
users. Routes and pages ask `allows` rather than comparing names, so the order lives here only.
"""

from __future__ import annotations

from typing import get_args

from sync.store.users import Role

ROLES: tuple[Role, ...] = get_args(Role)
RANK: dict[Role, int] = {"guest": 0, "caseworker": 1, "admin": 2}
assert set(RANK) == set(ROLES), "every role has a rank"


def allows(role: Role, needed: Role) -> bool:
    """Whether a member with ``role`` may do what needs ``needed``."""
    return RANK[role] >= RANK[needed]
