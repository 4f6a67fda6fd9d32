"""Token refresh across processes: one refresh for many callers in two worker processes, crash
recovery inside the reuse interval, a lost link after it, and revocation on uninstall.

Every test here is about the database-held refresh lease and token store, so each runs on
SQLite and on PostgreSQL (``linked`` is overridden with ``linked_any``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import sys
from typing import Any

import pytest

from sync.clients.collection_auth import StoredTokens
from sync.errors import AuthLostError
from sync.store.installations import Installations
from tests.fixtures.collection import CollectionSandbox
from tests.integration.collection.conftest import Linked

WORKER = "tests.integration.collection.refresh_worker"


@pytest.fixture
def linked(linked_any: Linked) -> Linked:
    return linked_any


async def calls(sandbox: CollectionSandbox, since: str, path: str) -> list[dict[str, Any]]:
    answer = await sandbox.control("GET", f"/_sandbox/calls?since={since}")
    return [c for c in answer["items"] if c["path"] == path]


async def token_calls(sandbox: CollectionSandbox, since: str) -> list[dict[str, Any]]:
    return await calls(sandbox, since, "/oauth/token")


async def spawn(
    linked: Linked, sandbox: CollectionSandbox, *args: str
) -> asyncio.subprocess.Process:
    argv = [WORKER, linked.db_url, sandbox.url, str(linked.installation_id), *args]
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def make_expired(linked: Linked) -> None:
    """Our books say the access token expired a second ago (the platform still accepts it)."""
    current = await linked.store.load_tokens(linked.installation_id)
    assert current is not None
    expired = StoredTokens(
        access_token=current.access_token,
        refresh_token=current.refresh_token,
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
        account_id=current.account_id,
    )
    await linked.store.save_tokens(linked.installation_id, expired, now=dt.datetime.now(dt.UTC))


@pytest.mark.slow
async def test_two_processes_twenty_callers_one_refresh(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    await make_expired(linked)
    since = collection_sandbox.state.now_rfc3339()
    workers = [await spawn(linked, collection_sandbox, "10") for _ in range(2)]
    outputs = await asyncio.gather(*(w.communicate() for w in workers))
    for (out, err), worker in zip(outputs, workers, strict=True):
        assert worker.returncode == 0, err.decode()
        assert json.loads(out.decode().strip().splitlines()[-1]) == {"ok": 10, "errors": []}
    assert len(await token_calls(collection_sandbox, since)) == 1
    stored = await linked.store.load_tokens(linked.installation_id)
    assert stored is not None and stored.refreshing is None
    assert stored.refresh_token != linked.grant["refresh_token"]


@pytest.mark.slow
async def test_killed_between_receiving_and_storing_recovers(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    await make_expired(linked)
    since = collection_sandbox.state.now_rfc3339()
    worker = await spawn(linked, collection_sandbox, "1", "hang")
    assert worker.stdout is not None
    line = await asyncio.wait_for(worker.stdout.readline(), 30)
    assert line.strip() == b"GOT_PAIR"
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    assert worker.returncode == -signal.SIGKILL
    old = str(linked.grant["refresh_token"])
    crashed = await linked.store.load_tokens(linked.installation_id)
    assert crashed is not None and crashed.refresh_token == old and crashed.refreshing == old
    # A restarted process re-presents the recorded token within the reuse interval.
    assert (await linked.client.account()).id == collection_sandbox.account_ids[0]
    successor = collection_sandbox.state.refresh_tokens[old].successor
    assert successor is not None
    recovered = await linked.store.load_tokens(linked.installation_id)
    assert recovered is not None and recovered.refreshing is None
    assert recovered.refresh_token == successor["refresh_token"]
    assert len(await token_calls(collection_sandbox, since)) == 2
    assert not any(g.revoked for g in collection_sandbox.state.grants.values())


async def test_used_refresh_token_after_the_interval_loses_the_link(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    sandbox = collection_sandbox
    form = {"grant_type": "refresh_token", "refresh_token": str(linked.grant["refresh_token"])}
    async with sandbox.session.post(
        f"{sandbox.url}/oauth/token", data=form, headers=sandbox.basic_auth
    ) as resp:
        assert resp.status == 200  # somebody used our refresh token and never stored the answer
    sandbox.wall.skip(31)
    await make_expired(linked)
    since = sandbox.state.now_rfc3339()
    with pytest.raises(AuthLostError):
        await linked.client.account()
    with pytest.raises(AuthLostError):
        await linked.client.account()  # no loop: nothing more is sent
    assert len(await token_calls(sandbox, since)) == 1
    installation = await Installations(linked.db).get(linked.installation_id)
    assert installation is not None and installation.collection_state == "lost"


async def test_revoked_grant_answers_401_and_loses_the_link_once(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    sandbox = collection_sandbox
    before = sandbox.state.now_rfc3339()
    assert await linked.client.revoke_grant()
    [revoke] = await calls(sandbox, before, "/oauth/revoke")
    assert revoke["status"] == 200
    assert all(g.revoked for g in sandbox.state.grants.values())
    stored = await linked.store.load_tokens(linked.installation_id)
    assert stored is not None and not stored.lost
    bearer = {"Authorization": f"Bearer {stored.access_token}"}
    async with sandbox.session.get(f"{sandbox.url}/v1/account", headers=bearer) as resp:
        assert resp.status == 401
        assert (await resp.json())["code"] == "invalid_token"
    since = sandbox.state.now_rfc3339()
    with pytest.raises(AuthLostError):
        await linked.client.account()
    with pytest.raises(AuthLostError):
        await linked.client.account()  # no loop: the lost link is known, nothing is sent
    assert len(await token_calls(sandbox, since)) == 1
    assert len(await calls(sandbox, since, "/v1/account")) == 1
    installation = await Installations(linked.db).get(linked.installation_id)
    assert installation is not None and installation.collection_state == "lost"


async def test_saving_without_an_account_id_keeps_the_stored_one(linked: Linked) -> None:
    current = await linked.store.load_tokens(linked.installation_id)
    assert current is not None and current.account_id == linked.grant["account_id"]
    answer = StoredTokens(
        access_token="at_x", refresh_token="rt_x", expires_at=dt.datetime.now(dt.UTC)
    )
    await linked.store.save_tokens(linked.installation_id, answer, now=dt.datetime.now(dt.UTC))
    saved = await linked.store.load_tokens(linked.installation_id)
    assert saved is not None and saved.account_id == linked.grant["account_id"]
    assert saved.refresh_token == "rt_x" and saved.expires_at.tzinfo is not None
