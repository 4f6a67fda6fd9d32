"""API tokens and installation overviews in the store, on both engines."""

from __future__ import annotations

import datetime as dt

from sync.store.api_tokens import TOUCH_EVERY, ApiTokens, new_token
from sync.store.db import Database
from sync.store.installations import Installation, Installations
from sync.store.overviews import Overviews
from sync.store.sessions import token_hash
from sync.store.usage import ApiUsage
from sync.store.users import Users

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


async def test_a_token_is_found_by_its_hash_only_and_touched_at_most_once_a_minute(
    db: Database,
) -> None:
    user_id = await Users(db).find_or_create(email="kim@example.com", name="Kim", now=NOW)
    tokens = ApiTokens(db)
    token = new_token()
    assert token.startswith("cbt_") and len(token) >= 4 + 43 and new_token() != token
    token_id = await tokens.create(user_id=user_id, token=token, name="ci", now=NOW)
    rows = await db.fetch("find_api_token", token_hash=token_hash(token))
    assert [r["id"] for r in rows] == [token_id]

    found = await tokens.find(token)
    assert found is not None and found.id == token_id and found.name == "ci"
    assert (found.user.id, found.user.email, found.user.created_at) == (
        user_id,
        "kim@example.com",
        NOW,
    )
    assert found.last_used_at is None
    assert await tokens.find(token + "x") is None and await tokens.find("") is None

    await tokens.touch(token_id, now=NOW)
    await tokens.touch(token_id, now=NOW + TOUCH_EVERY / 2)  # too soon: not written
    assert await last_used(tokens, token) == NOW
    await tokens.touch(token_id, now=NOW + 2 * MINUTE)
    assert await last_used(tokens, token) == NOW + 2 * MINUTE


async def last_used(tokens: ApiTokens, token: str) -> dt.datetime | None:
    found = await tokens.find(token)
    assert found is not None
    return found.last_used_at


async def company(db: Database, agreement: int) -> Installation:
    return await Installations(db).activate(
        agreement_number=agreement, company_name=f"C{agreement}", now=NOW
    )


async def test_overviews_page_through_memberships_and_read_nobody_elses(db: Database) -> None:
    one, two, three = [await company(db, a) for a in (1, 2, 3)]
    users = Users(db)
    kim = await users.find_or_create(email="kim@example.com", name="", now=NOW)
    bo = await users.find_or_create(email="bo@example.com", name="", now=NOW)
    await users.grant(kim, one.id, "guest", now=NOW)
    await users.grant(kim, three.id, "admin", now=NOW)
    await users.grant(bo, two.id, "admin", now=NOW)
    usage = ApiUsage(db)
    for installation, calls in ((one, 2), (two, 5), (three, 1)):
        for _ in range(calls):
            await usage.record_api_call(installation.id, "economic", NOW - MINUTE)
    await usage.record_api_call(one.id, "economic", NOW - dt.timedelta(hours=25))
    await usage.record_api_call(one.id, "collection", NOW)

    overviews = Overviews(db)
    first, more = await overviews.page(kim, after=0, limit=1, now=NOW)
    assert more and [(o.installation.id, o.role, o.economic_calls_24h) for o in first] == [
        (one.id, "guest", 2)
    ]
    rest, more = await overviews.page(kim, after=one.id, limit=5, now=NOW)
    assert not more and [(o.installation.id, o.role, o.economic_calls_24h) for o in rest] == [
        (three.id, "admin", 1)
    ]
    everything, _ = await overviews.page(kim, after=0, limit=5, now=NOW)
    assert [o.installation.id for o in everything] == [one.id, three.id]  # two is Bo's
    assert everything[0].streams == {}
    assert everything[0].last_received == {"invoice": None, "customer": None, "daybook": None}

    alone = await overviews.one(bo, two, "admin", now=NOW)
    assert (alone.installation.id, alone.economic_calls_24h) == (two.id, 5)
    assert await overviews.page(bo, after=two.id, limit=5, now=NOW) == ([], False)
