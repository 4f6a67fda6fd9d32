"""``collectbridge users create`` and ``collectbridge tokens create``.

``users create --email E --role R [--agreement A]…`` creates the user (or finds them by e-mail)
and gives them role R in each company named, or in every installation when none is: a role
they already had there is replaced, their other memberships are left as they are. Every
agreement is checked before anything is written, so a name that is not installed changes
nothing (exit 2). Each grant is written to the audit log with the actor ``cli``.

``tokens create --email E`` makes a personal API token for an existing user (no such user →
exit 2). The token is shown once, alone on the last line of the output, so a script can take
it with ``tail -n 1``; only its hash is stored (`sync.store.api_tokens`) and it is never logged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from plugin.settings import Settings
from sync.store.api_tokens import ApiTokens, new_token
from sync.store.audit import AuditLog
from sync.store.db import Database, open_database
from sync.store.installations import Installation, Installations
from sync.store.migrate import migrate
from sync.store.users import Role, Users, normal_email

CLI_ACTOR = "cli"


class Refused(Exception):
    """What the operator asked for cannot be done; the message says why (exit 2)."""


@asynccontextmanager
async def _database(settings: Settings, now: dt.datetime) -> AsyncIterator[Database]:
    db = await open_database(settings.database_url)
    try:
        await migrate(db, now)
        yield db
    finally:
        await db.close()


async def run_people_command(settings: Settings, args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC)
    try:
        async with _database(settings, now) as db:
            if args.command == "users":
                role = cast(Role, args.role)
                await create_user(db, args.email, role, args.agreement or [], now=now)
            else:
                await create_token(db, args.email, args.name or "", now=now)
    except Refused as exc:
        print(f"collectbridge: {exc}", file=sys.stderr)
        return 2
    return 0


def checked_email(email: str) -> str:
    address = normal_email(email)
    local, at, domain = address.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in address):
        raise Refused(f"{email!r} is not an e-mail address")
    return address


async def _chosen(db: Database, agreements: list[int]) -> list[Installation]:
    """The installations named (each once), or every one when none is; Refused when one of
    them is not installed."""
    installations = Installations(db)
    if not agreements:
        return await installations.list()
    found = {a: await installations.get_by_agreement(a) for a in dict.fromkeys(agreements)}
    missing = [str(a) for a, i in found.items() if i is None]
    if missing:
        raise Refused(
            f"agreement {', '.join(missing)} is not installed (nothing was changed); "
            "install the app for that company first"
        )
    return [i for i in found.values() if i is not None]


async def create_user(
    db: Database, email: str, role: Role, agreements: list[int], *, now: dt.datetime
) -> None:
    address = checked_email(email)
    chosen = await _chosen(db, agreements)
    async with db.transaction() as tx:
        users = Users(tx)
        user_id = await users.find_or_create(email=address, name="", now=now)
        for installation in chosen:
            await users.grant(user_id, installation.id, role, now=now)
            await AuditLog(tx).record(
                installation_id=installation.id,
                actor=CLI_ACTOR,
                action="membership.granted",
                at=now,
                detail={"email": address, "role": role},
            )
    print(f"user {address} (id {user_id})")
    for installation in chosen:
        print(f"  {role} of {installation.agreement_number} {installation.company_name}")
    if not chosen:
        print("  no installations yet: a member of none")


async def create_token(db: Database, email: str, name: str, *, now: dt.datetime) -> None:
    address = checked_email(email)
    user = await Users(db).get_by_email(address)
    if user is None:
        raise Refused(
            f"no user with e-mail {address}; create one with "
            f"collectbridge users create --email {address} --role ROLE"
        )
    token = new_token()
    async with db.transaction() as tx:
        token_id = await ApiTokens(tx).create(user_id=user.id, token=token, name=name, now=now)
        await AuditLog(tx).record(
            installation_id=None,
            actor=CLI_ACTOR,
            action="api_token.created",
            at=now,
            detail={"email": address, "token_id": token_id, "name": name},
        )
    print(f"API token {token_id} for {address}; it is shown only now, keep it safe:")
    print(token)
