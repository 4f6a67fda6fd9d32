"""Migrations apply once, record themselves, and leave nothing pending."""

from __future__ import annotations

import datetime as dt

from sync.store.db import Database, open_database
from sync.store.migrate import available, migrate, pending

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


async def test_fresh_database_has_everything_pending(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        assert [m.version for m in await pending(db)] == [m.version for m in available(db.dialect)]
        applied = await migrate(db, NOW)
        assert [m.version for m in applied] == [m.version for m in available(db.dialect)]
        assert await pending(db) == []
        assert await migrate(db, NOW) == []
    finally:
        await db.close()


async def test_engines_have_the_same_migrations(db: Database) -> None:
    assert [m.version for m in available("sqlite")] == [m.version for m in available("postgresql")]
    rows = await db.fetch("list_schema_migrations")
    assert rows[0]["applied_at"].tzinfo is not None
