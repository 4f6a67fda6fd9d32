"""What signs a person in and lets them in, beside `sync.store.users` (who they are):
credentials, failed attempts, invitations and password resets.

The password is kept only as an argon2id hash (`plugin.passwords`), the TOTP key only
encrypted. Invitation and reset links carry a random token of which only the SHA-256 is stored,
as for sessions and API tokens, so a copy of the tables opens no door; each link expires and
works once.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import cast

import msgspec

from sync.store.db import Connection, to_struct
from sync.store.sessions import token_hash
from sync.store.users import Role


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    password_hash: str | None
    totp_secret: str | None
    """Encrypted; None: no second factor."""
    totp_last_step: int | None = None
    """The last 30-second step a code was accepted for (a code works once)."""


class Invitation(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    installation_id: int
    email: str
    role: Role
    created_at: dt.datetime
    expires_at: dt.datetime
    agreement_number: int = 0
    company_name: str = ""


class Accounts:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def credentials(self, user_id: int) -> Credentials:
        row = await self.db.fetchrow("get_credentials", user_id=user_id)
        assert row is not None, "credentials of a user that exists"
        return to_struct(row, Credentials)

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self.db.execute("set_password_hash", user_id=user_id, password_hash=password_hash)

    async def set_totp_secret(self, user_id: int, encrypted: str | None) -> None:
        await self.db.execute("set_totp_secret", user_id=user_id, totp_secret=encrypted)

    async def use_totp_step(self, user_id: int, step: int) -> bool:
        """Record that a code of ``step`` was used; False when that step (or a later one) was
        used already: a replayed code, or two sign-ins racing with one code."""
        return await self.db.execute("use_totp_step", user_id=user_id, step=step) == 1

    async def set_language(self, user_id: int, language: str) -> None:
        await self.db.execute("set_user_language", user_id=user_id, language=language)

    async def set_name(self, user_id: int, name: str) -> None:
        await self.db.execute("set_user_name", user_id=user_id, name=name.strip())

    # Failed sign-ins
    async def record_failure(self, subject: str, *, at: dt.datetime) -> None:
        await self.db.execute("record_login_failure", subject=subject, at=at)

    async def failures(self, subject: str, *, since: dt.datetime) -> int:
        row = await self.db.fetchrow("count_login_failures", subject=subject, since=since)
        return int(row["failures"]) if row else 0

    async def clear_failures(self, subject: str) -> None:
        await self.db.execute("clear_login_failures", subject=subject)

    async def purge_failures(self, *, before: dt.datetime) -> int:
        return await self.db.execute("purge_login_failures", before=before)

    # Memberships beyond granting (`Users.grant`)
    async def change_role(self, user_id: int, installation_id: int, role: Role) -> bool:
        changed = await self.db.execute(
            "set_membership_role", user_id=user_id, installation_id=installation_id, role=role
        )
        return changed == 1

    async def remove_member(self, user_id: int, installation_id: int) -> bool:
        removed = await self.db.execute(
            "remove_membership", user_id=user_id, installation_id=installation_id
        )
        return removed == 1

    async def lock_admins(self, installation_id: int) -> None:
        """Inside a transaction: hold the company's admin rows until it ends, so that a check
        of `admins` and the change it allows are not raced by another admin's change."""
        await self.db.execute("lock_admins", installation_id=installation_id)

    async def companies(self, user_id: int) -> int:
        """How many companies the user is a member of."""
        row = await self.db.fetchrow("count_memberships_of_user", user_id=user_id)
        return int(row["companies"]) if row else 0

    async def admins(self, installation_id: int) -> int:
        row = await self.db.fetchrow("count_admins", installation_id=installation_id)
        return int(row["admins"]) if row else 0


class Invitations:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def create(
        self,
        *,
        token: str,
        installation_id: int,
        email: str,
        role: Role,
        invited_by: int,
        now: dt.datetime,
        expires_at: dt.datetime,
    ) -> int:
        row = await self.db.fetchrow(
            "create_invitation",
            token_hash=token_hash(token),
            installation_id=installation_id,
            email=email.strip().lower(),
            role=role,
            invited_by=invited_by,
            now=now,
            expires_at=expires_at,
        )
        assert row is not None
        return int(row["id"])

    async def find(self, token: str, *, now: dt.datetime) -> Invitation | None:
        """The open invitation of a link token; None when unknown, used or expired."""
        row = await self.db.fetchrow("find_invitation", token_hash=token_hash(token), now=now)
        return to_struct(row, Invitation) if row else None

    async def accept(self, invitation_id: int, *, now: dt.datetime) -> bool:
        """Use the invitation up; False when it was used meanwhile."""
        return await self.db.execute("accept_invitation", id=invitation_id, now=now) == 1

    async def open(self, installation_id: int, *, now: dt.datetime) -> builtins.list[Invitation]:
        rows = await self.db.fetch("open_invitations", installation_id=installation_id, now=now)
        return [to_struct(r, Invitation) for r in rows]

    async def cancel_for(self, installation_id: int, email: str) -> int:
        """Withdraw the company's open invitations of ``email``; how many."""
        return await self.db.execute(
            "cancel_invitations_of_email",
            installation_id=installation_id,
            email=email.strip().lower(),
        )

    async def cancel(self, invitation_id: int, installation_id: int) -> bool:
        cancelled = await self.db.execute(
            "cancel_invitation", id=invitation_id, installation_id=installation_id
        )
        return cancelled == 1


class PasswordResets:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def create(
        self, *, token: str, user_id: int, now: dt.datetime, expires_at: dt.datetime
    ) -> None:
        await self.db.execute(
            "create_password_reset",
            token_hash=token_hash(token),
            user_id=user_id,
            now=now,
            expires_at=expires_at,
        )

    async def user_of(self, token: str, *, now: dt.datetime) -> int | None:
        """The user an open link resets the password of (the link stays open)."""
        row = await self.db.fetchrow("find_password_reset", token_hash=token_hash(token), now=now)
        return int(row["user_id"]) if row else None

    async def use(self, token: str, *, now: dt.datetime) -> int | None:
        """Use the link up; its user, or None when unknown, used or expired."""
        row = await self.db.fetchrow("use_password_reset", token_hash=token_hash(token), now=now)
        return cast(int, row["user_id"]) if row else None
