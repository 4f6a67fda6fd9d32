"""Users, memberships, sessions, install states, the audit log and installing an agreement, on
both engines."""

from __future__ import annotations

import datetime as dt

import pytest

from sync.crypto import DecryptionError, TokenCipher
from sync.store.audit import AuditLog
from sync.store.db import Database
from sync.store.economic_grants import EconomicGrants
from sync.store.install_states import InstallStates
from sync.store.installations import Installations
from sync.store.sessions import Sessions, token_hash
from sync.store.users import Users

NOW = dt.datetime(2026, 11, 23, 12, 0, 30, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


async def test_activate_creates_then_reactivates_keeping_id_and_key(db: Database) -> None:
    installations = Installations(db)
    first = await installations.activate(agreement_number=7, company_name="A ApS", now=NOW)
    assert first.status == "active" and first.revoked_at is None
    await installations.set_status(first.id, "revoked", now=NOW + MINUTE)
    again = await installations.activate(
        agreement_number=7, company_name="A ApS (new name)", now=NOW + 2 * MINUTE
    )
    assert (again.id, again.installation_key, again.created_at) == (
        first.id,
        first.installation_key,
        NOW,
    )
    assert again.status == "active" and again.revoked_at is None
    assert again.company_name == "A ApS (new name)" and again.updated_at == NOW + 2 * MINUTE


async def test_users_are_found_by_email_whatever_its_case(db: Database) -> None:
    users = Users(db)
    alice = await users.find_or_create(email=" Alice@Example.com ", name="Alice", now=NOW)
    assert await users.find_or_create(email="alice@example.com", name="A. Other", now=NOW) == alice
    found = await users.get_by_email("ALICE@example.com")
    assert found is not None and found.id == alice and found.name == "Alice"
    nameless = await users.find_or_create(email="bob@example.com", name="", now=NOW)
    assert await users.find_or_create(email="bob@example.com", name="Bob", now=NOW) == nameless
    bob = await users.get(nameless)
    assert bob is not None and bob.name == "Bob"  # an empty name is filled in


async def test_memberships_hold_one_role_per_company(db: Database) -> None:
    installation = await Installations(db).activate(agreement_number=8, company_name="B", now=NOW)
    users = Users(db)
    user = await users.find_or_create(email="c@example.com", name="C", now=NOW)
    assert await users.role_in(user, installation.id) is None
    await users.grant(user, installation.id, "guest", now=NOW)
    await users.grant(user, installation.id, "admin", now=NOW)
    assert await users.role_in(user, installation.id) == "admin"
    assert [(m.email, m.role) for m in await users.members(installation.id)] == [
        ("c@example.com", "admin")
    ]


async def test_sessions_keep_only_a_hash_and_expire(db: Database) -> None:
    user = await Users(db).find_or_create(email="d@example.com", name="D", now=NOW)
    sessions = Sessions(db)
    await sessions.create(
        token="secret-token", user_id=user, csrf_token="csrf", now=NOW, expires_at=NOW + MINUTE
    )
    session = await sessions.get("secret-token", now=NOW)
    assert session is not None and session.user_id == user and session.csrf_token == "csrf"
    assert session.token_hash == token_hash("secret-token") != "secret-token"
    assert await sessions.get("secret-token", now=NOW + MINUTE) is None
    assert await sessions.get("other-token", now=NOW) is None
    assert await sessions.purge(before=NOW + 2 * MINUTE) == 1
    assert not await sessions.delete("secret-token")


async def test_an_install_state_is_used_once_and_only_while_fresh(db: Database) -> None:
    states = InstallStates(db)
    await states.create("fresh", now=NOW)
    await states.create("stale", now=NOW - 20 * MINUTE)
    assert await states.get("unknown") is None
    assert await states.use("fresh", now=NOW, since=NOW - 10 * MINUTE)
    assert not await states.use("fresh", now=NOW, since=NOW - 10 * MINUTE)  # a replay
    assert not await states.use("stale", now=NOW, since=NOW - 10 * MINUTE)
    assert not await states.use("unknown", now=NOW, since=NOW - 10 * MINUTE)
    used = await states.get("fresh")
    assert used is not None and used.used_at == NOW and used.created_at == NOW
    assert await states.purge(before=NOW - 10 * MINUTE) == 1
    assert await states.get("stale") is None


async def test_the_grant_is_stored_encrypted_for_its_own_row(db: Database) -> None:
    installations = Installations(db)
    one = await installations.activate(agreement_number=10, company_name="x", now=NOW)
    two = await installations.activate(agreement_number=11, company_name="y", now=NOW)
    cipher = TokenCipher(["a-secret-key-long-enough-for-the-settings!"])
    grants = EconomicGrants(db, cipher)
    assert await grants.load(one.id) is None
    await grants.save(one.id, "grant-token-of-one", now=NOW)
    assert await grants.load(one.id) == "grant-token-of-one"
    row = await db.fetchrow("get_economic_token", id=one.id)
    assert row is not None and "grant-token-of-one" not in row["economic_token"]
    await db.execute("set_economic_token", id=two.id, economic_token=row["economic_token"], now=NOW)
    with pytest.raises(DecryptionError):  # a ciphertext copied into another row is refused
        await grants.load(two.id)


async def test_audit_log_keeps_entries_in_order(db: Database) -> None:
    installation = await Installations(db).activate(agreement_number=12, company_name="z", now=NOW)
    audit = AuditLog(db)
    await audit.record(
        installation_id=installation.id, actor="e@example.com", action="a.first", at=NOW
    )
    await audit.record(
        installation_id=installation.id,
        actor="e@example.com",
        action="a.second",
        at=NOW + MINUTE,
        detail={"k": 1},
    )
    entries = await audit.list(installation.id)
    assert [(e.action, e.detail) for e in entries] == [("a.first", {}), ("a.second", {"k": 1})]
