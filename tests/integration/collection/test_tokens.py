"""Token refresh across processes: one refresh for many callers in two worker processes, crash
recovery inside the reuse interval, a lost link after it (recorded once, with a problem, and
failing fast afterwards), refused client credentials (a configuration error, the link kept), a
database blip while storing a new pair, and revocation on uninstall. Token shapes print masked.

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

import msgspec
import pytest

from sync.clients.collection import CollectionClient
from sync.clients.collection_auth import (
    StoredTokens,
    authorization_request,
    stored_from_response,
)
from sync.clients.collection_tokens import AUTH_LOST, DatabaseTokenStore
from sync.clients.collection_types import TokenResponse, WebhookEndpoint
from sync.errors import AuthLostError, ConfigurationError, TransientError
from sync.store.db import open_database
from sync.store.installations import Installations
from sync.store.migrate import migrate
from sync.store.problems import Problem, Problems
from tests.fixtures.collection import CollectionSandbox
from tests.fixtures.conditions import eventually
from tests.fixtures.proxy import ProxiedDatabase
from tests.integration.collection.conftest import Linked
from tests.integration.collection.support import CIPHER, linked_installation, make_client

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


async def expire_refresh_leases(linked: Linked) -> None:
    """The refresh lease ran out long ago by any clock: its holder stalled past it."""
    await linked.db.run_script("UPDATE leases SET until = '2000-01-01T00:00:00.000000Z'")


def stalling_client(linked: Linked, sandbox: CollectionSandbox, stall: Any) -> CollectionClient:
    return make_client(
        sandbox.session,
        sandbox.url,
        linked.store,
        linked.installation_id,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        after_token_answer=stall,
    )


async def test_a_holder_whose_lease_passed_cannot_overwrite_the_next_holders_pair(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    """A holds the lease, gets a pair and stalls past its lease; process B takes the lease and
    stores another pair. A's late save is refused: it uses what B stored, never its own."""
    sandbox = collection_sandbox
    await make_expired(linked)
    theirs = stored_from_response(TokenResponse(**await sandbox.link()), dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    ours: list[TokenResponse] = []

    async def stall_while_b_takes_over(answer: TokenResponse) -> None:
        ours.append(answer)
        await expire_refresh_leases(linked)
        now = dt.datetime.now(dt.UTC)
        assert await linked.store.acquire_refresh_lock(
            linked.installation_id, "process-b", now=now, ttl=30
        )
        await linked.store.save_tokens(linked.installation_id, theirs, now=now)

    client = stalling_client(linked, sandbox, stall_while_b_takes_over)
    since = sandbox.state.now_rfc3339()
    assert (await client.account()).id == sandbox.account_ids[0]
    stored = await linked.store.load_tokens(linked.installation_id)
    assert stored is not None and stored.refreshing is None
    assert stored.access_token == theirs.access_token
    assert stored.refresh_token == theirs.refresh_token
    [answer] = ours
    assert answer.access_token != theirs.access_token
    assert await client.tokens.access_token() == theirs.access_token
    assert len(await token_calls(sandbox, since)) == 1


async def test_a_pair_whose_lease_ran_out_untaken_is_stored_under_a_new_lease(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    """Nobody took the lapsed lease: the holder takes it again and stores the pair it holds
    (the only copy of it) instead of asking the token endpoint again."""
    sandbox = collection_sandbox
    await make_expired(linked)

    async def stall_past_the_lease(answer: TokenResponse) -> None:
        await expire_refresh_leases(linked)

    client = stalling_client(linked, sandbox, stall_past_the_lease)
    since = sandbox.state.now_rfc3339()
    assert (await client.account()).id == sandbox.account_ids[0]
    successor = sandbox.state.refresh_tokens[str(linked.grant["refresh_token"])].successor
    assert successor is not None
    stored = await linked.store.load_tokens(linked.installation_id)
    assert stored is not None and stored.refreshing is None
    assert stored.refresh_token == successor["refresh_token"]
    assert len(await token_calls(sandbox, since)) == 1


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


async def auth_problems(linked: Linked) -> list[Problem]:
    found = await Problems(linked.db).open(linked.installation_id)
    return [p for p in found if p.code == AUTH_LOST]


async def test_invalid_grant_is_recorded_once_and_later_calls_fail_fast(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    sandbox = collection_sandbox
    assert await linked.client.revoke_grant()  # the grant is dead: its refresh → invalid_grant
    await make_expired(linked)
    since = sandbox.state.now_rfc3339()
    with pytest.raises(AuthLostError) as caught:
        await linked.client.account()
    assert caught.value.detail["error"] == "invalid_grant"
    assert len(await token_calls(sandbox, since)) == 1

    installation = await Installations(linked.db).get(linked.installation_id)
    assert installation is not None and installation.collection_state == "lost"
    [problem] = await auth_problems(linked)
    assert (problem.category, problem.occurrences) == ("auth_lost", 1)
    assert problem.detail == {"platform": caught.value.detail}
    assert "link the collection account again" in problem.message

    # Later calls, in this client and in a fresh one (another process), ask nobody anything.
    after = sandbox.state.now_rfc3339()
    fresh = make_client(
        sandbox.session,
        sandbox.url,
        linked.store,
        linked.installation_id,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
    )
    for client in (linked.client, fresh, linked.client):
        with pytest.raises(AuthLostError):
            await client.account()
    made = (await sandbox.control("GET", f"/_sandbox/calls?since={after}"))["items"]
    assert made == []
    [problem] = await auth_problems(linked)
    assert problem.occurrences == 1


async def test_relinking_resolves_the_auth_lost_problem(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    assert await linked.client.revoke_grant()
    await make_expired(linked)
    with pytest.raises(AuthLostError):
        await linked.client.account()
    assert len(await auth_problems(linked)) == 1
    grant = await collection_sandbox.link()  # the admin links the account again
    tokens = stored_from_response(TokenResponse(**grant), dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    await linked.store.save_tokens(linked.installation_id, tokens, now=dt.datetime.now(dt.UTC))
    assert await auth_problems(linked) == []
    installation = await Installations(linked.db).get(linked.installation_id)
    assert installation is not None and installation.collection_state == "ok"
    assert (await linked.client.account()).id == collection_sandbox.account_ids[0]


async def test_invalid_client_is_a_configuration_error_and_keeps_the_link(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    sandbox = collection_sandbox
    wrong_secret = "rotated-away-client-secret-0000"
    misconfigured = make_client(
        sandbox.session,
        sandbox.url,
        linked.store,
        linked.installation_id,
        client_id=sandbox.client_id,
        client_secret=wrong_secret,
    )
    await make_expired(linked)
    since = sandbox.state.now_rfc3339()
    with pytest.raises(ConfigurationError) as caught:
        await misconfigured.account()
    error = caught.value
    # Jobs wait for the operator without spending attempts; nothing goes dead for it.
    assert isinstance(error, TransientError) and error.code == "configuration_error"
    assert not error.spends_attempt and error.retry_after == 300
    assert "COLLECTBRIDGE_COLLECTION_CLIENT_SECRET" in error.message
    for secret in (wrong_secret, sandbox.client_secret, str(linked.grant["refresh_token"])):
        assert secret not in f"{error} {error.message} {error.detail!r}"
    assert [c["status"] for c in await token_calls(sandbox, since)] == [401]

    installation = await Installations(linked.db).get(linked.installation_id)
    assert installation is not None and installation.collection_state == "ok"
    assert await Problems(linked.db).open(linked.installation_id) == []
    stored = await linked.store.load_tokens(linked.installation_id)
    assert stored is not None and not stored.lost
    # Once the operator fixes the credentials, the same grant refreshes as if nothing happened.
    assert (await linked.client.account()).id == sandbox.account_ids[0]
    assert not any(g.revoked for g in sandbox.state.grants.values())


@pytest.mark.postgres
async def test_a_database_blip_while_storing_the_new_pair_is_retried(
    collection_sandbox: CollectionSandbox, postgres_url: str, proxied_postgres: ProxiedDatabase
) -> None:
    sandbox = collection_sandbox
    direct = await open_database(postgres_url)
    await migrate(direct, dt.datetime.now(dt.UTC))
    proxy = proxied_postgres.proxy
    through_proxy = await open_database(proxied_postgres.url)
    restoring: list[asyncio.Task[None]] = []

    async def database_goes_away(answer: TokenResponse) -> None:
        await proxy.cut()  # the pair is in hand; the database is gone for a moment

        async def come_back() -> None:
            # back once the store has met the outage (its first try failed), before it gives up
            await eventually(lambda: proxy.refused > 0)
            await proxy.restore()

        restoring.append(asyncio.create_task(come_back()))

    try:
        installation_id, store = await linked_installation(
            through_proxy, await sandbox.link(), expired=True
        )
        client = make_client(
            sandbox.session,
            sandbox.url,
            store,
            installation_id,
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            after_token_answer=database_goes_away,
        )
        since = sandbox.state.now_rfc3339()
        assert (await client.account()).id == sandbox.account_ids[0]
        assert restoring, "the database never went away"
        assert len(await token_calls(sandbox, since)) == 1
        stored = await DatabaseTokenStore(direct, CIPHER).load_tokens(installation_id)
        assert stored is not None and stored.refreshing is None and not stored.lost
        assert [g.revoked for g in sandbox.state.grants.values()] == [False]
        assert stored.access_token in sandbox.state.access_tokens
    finally:
        await asyncio.gather(*restoring)
        await through_proxy.close()
        await direct.close()


async def test_token_shapes_never_show_a_token(
    collection_sandbox: CollectionSandbox, linked: Linked
) -> None:
    stored = await linked.store.load_tokens(linked.installation_id)
    assert stored is not None
    in_flight = msgspec.structs.replace(stored, refreshing=stored.refresh_token)
    answer = TokenResponse(**linked.grant)  # type: ignore[arg-type]
    request = authorization_request(
        collection_sandbox.url + "/oauth/authorize",
        client_id="c",
        redirect_uri="http://127.0.0.1:9/cb",
        scope="events:read",
    )
    endpoint = WebhookEndpoint(id="we_1", url="https://x", secret="whsec_c2VjcmV0LXNpZ25pbmcta2V5")
    secrets = [stored.access_token, stored.refresh_token, request.code_verifier, "whsec_"]
    for shape in (stored, in_flight, answer, request, endpoint):
        for text in (
            repr(shape),
            str(shape),
            f"{shape}",
            repr([shape]),
            str(shape.__rich_repr__()),
        ):
            assert not any(secret in text for secret in secrets), text
            assert "'********'" in text
    # Only the printing is masked: the values themselves and the wire form are untouched.
    assert answer.access_token == linked.grant["access_token"]
    assert msgspec.json.decode(msgspec.json.encode(answer))["refresh_token"] == stored.refresh_token
    assert repr(msgspec.structs.replace(stored, refreshing=None)).count("refreshing=None") == 1
