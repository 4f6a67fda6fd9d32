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


async def test_problems_index_migration_folds_existing_duplicates(database_url: str) -> None:
    db = await open_database(database_url)
    try:
        await migrate(db, NOW, upto=3)
        stamp = "'2026-11-23T12:00:00.000000Z'"
        if db.dialect == "postgresql":
            stamp = "TIMESTAMPTZ '2026-11-23 12:00:00+00'"
        row = (
            "(NULL, 'rejected_by_collector', 'configuration_error', 'collection:client', 'm', "
            f"'{{}}', {stamp}, {stamp})"
        )
        await db.run_script(
            "INSERT INTO problems (installation_id, category, code, subject, message, detail, "
            f"first_seen_at, last_seen_at) VALUES {row}, {row}"
        )
        assert [m.version for m in await migrate(db, NOW)] == [
            m.version for m in available(db.dialect) if m.version > 3
        ]
        rows = await db.fetch("open_problems_without_installation")
        assert [(r["code"], r["occurrences"]) for r in rows] == [("configuration_error", 2)]
    finally:
        await db.close()
