"""Numbered migrations: ``migrations/<engine>/NNNN_name.sql``, recorded in ``schema_migrations``.

Applied by ``collectbridge migrate`` and at start. Each migration runs in its own transaction,
under a lock (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so processes
starting together apply each migration once.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import msgspec

from sync.store.db import Connection, Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class Migration(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    name: str
    sql: str


def available(dialect: str, root: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted((root / dialect).glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"migration file name not understood: {path.name}")
        found.append(
            Migration(version=int(match[1]), name=match[2], sql=path.read_text(encoding="utf-8"))
        )
    return found


async def _applied(conn: Connection) -> set[int]:
    await conn.execute("create_schema_migrations")
    return {row["version"] for row in await conn.fetch("list_schema_migrations")}


async def pending(db: Database) -> list[Migration]:
    """Migrations not yet applied: plain reads, no lock (``/readyz`` calls this often)."""
    row = await db.fetchrow("schema_migrations_exists")
    done: set[int] = set()
    if row is not None and row["present"]:
        done = {row["version"] for row in await db.fetch("list_schema_migrations")}
    return [m for m in available(db.dialect) if m.version not in done]


async def migrate(db: Database, now: dt.datetime, *, upto: int | None = None) -> list[Migration]:
    """Apply what is pending, in order (only up to version ``upto`` when given)."""
    applied: list[Migration] = []
    for migration in available(db.dialect):
        if upto is not None and migration.version > upto:
            break
        async with db.transaction() as tx:
            await tx.execute("lock_migrations")
            if migration.version in await _applied(tx):
                continue
            await tx.run_script(migration.sql)
            await tx.execute(
                "record_schema_migration", version=migration.version, name=migration.name, now=now
            )
        applied.append(migration)
    return applied
