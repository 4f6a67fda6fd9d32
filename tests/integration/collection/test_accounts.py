"""The partner flow against the simulator: a client_credentials token, ``POST /v1/accounts``, and
the new account's grant stored through the token store before it is used; an account that
exists already answers 409 ``account_exists`` with the account to link instead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import pytest
from msgspec.structs import replace

from sync.clients.collection import create_account
from sync.clients.collection_auth import save_created_grant
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.clients.collection_types import CreatedAccount, NewAccount
from sync.errors import ConflictError
from sync.store.db import Database
from sync.store.installations import Installations
from tests.fixtures.collection import CollectionSandbox
from tests.integration.collection.support import CIPHER, make_client, utcnow

NEW = NewAccount(
    name="Kunde ApS",
    cvr="31415926",
    country="DK",
    email="bogholderi@kunde.dk",
    base_currency="DKK",
    external_ref="economic:7001",
)


async def calls(sandbox: CollectionSandbox, since: str) -> list[tuple[str, str, int]]:
    answer = await sandbox.control("GET", f"/_sandbox/calls?since={since}")
    return [(c["method"], c["path"], c["status"]) for c in answer["items"]]


async def create(sandbox: CollectionSandbox, account: NewAccount, key: str) -> CreatedAccount:
    return await create_account(
        sandbox.session,
        base_url=sandbox.url,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        account=account,
        idempotency_key=key,
    )


async def test_create_account_stores_the_grant_and_uses_it(
    collection_sandbox: CollectionSandbox,
    database_url: str,
    db_for: Callable[[str], Awaitable[Database]],
) -> None:
    sandbox = collection_sandbox
    db = await db_for(database_url)
    installation = await Installations(db).create(
        agreement_number=7001, company_name="Kunde ApS", now=utcnow(), status="active"
    )
    store = DatabaseTokenStore(db, CIPHER)
    since = sandbox.state.now_rfc3339()

    created = await create(sandbox, NEW, "create-account:7001")
    saved = await save_created_grant(store, installation.id, created, now=utcnow())
    grant = created.grant
    assert grant.refresh_token is not None
    for shown in (repr(created), str(saved), f"{[created, saved]}"):
        assert grant.access_token not in shown and grant.refresh_token not in shown

    assert await calls(sandbox, since) == [
        ("POST", "/oauth/token", 200),
        ("POST", "/v1/accounts", 201),
    ]
    assert created.account.id in sandbox.state.accounts
    assert created.account.name == NEW.name and created.account.cvr == NEW.cvr
    stored = await store.load_tokens(installation.id)
    assert stored == saved
    assert stored.account_id == created.account.id and not stored.lost
    assert stored.refresh_token == created.grant.refresh_token
    assert stored.expires_at > utcnow() + dt.timedelta(minutes=59)
    client = make_client(
        sandbox.session,
        sandbox.url,
        store,
        installation.id,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
    )
    assert (await client.account()).id == created.account.id
    row = await Installations(db).get(installation.id)
    assert row is not None and row.collection_state == "ok"


async def test_a_retried_create_with_the_same_key_returns_the_same_account(
    collection_sandbox: CollectionSandbox,
) -> None:
    first = await create(collection_sandbox, NEW, "create-account:7001")
    again = await create(collection_sandbox, NEW, "create-account:7001")
    assert again == first
    refs = [a.external_ref for a in collection_sandbox.state.accounts.values()]
    assert refs.count(NEW.external_ref) == 1


@pytest.mark.parametrize("clash", ["external_ref", "cvr"])
async def test_an_existing_account_is_a_conflict_naming_it(
    collection_sandbox: CollectionSandbox, clash: str
) -> None:
    first = await create(collection_sandbox, NEW, "create-account:7001")
    other = {"external_ref": "economic:7002", "cvr": "27182818"}
    other.pop(clash)
    with pytest.raises(ConflictError) as caught:
        await create(collection_sandbox, replace(NEW, **other), f"create-account:{clash}")
    assert caught.value.code == "conflict"
    assert caught.value.detail["code"] == "account_exists"
    assert caught.value.detail["account_id"] == first.account.id
    assert caught.value.detail["status"] == 409


async def test_a_seeded_account_with_the_same_cvr_is_named(
    collection_sandbox: CollectionSandbox,
) -> None:
    seeded = collection_sandbox.state.accounts[collection_sandbox.account_ids[0]]
    assert seeded.cvr is not None
    with pytest.raises(ConflictError) as caught:
        await create(collection_sandbox, replace(NEW, cvr=seeded.cvr), "create-account:x")
    assert caught.value.detail["account_id"] == seeded.id
