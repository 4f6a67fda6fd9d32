"""Problems: actionable sync errors a person should see, by category, deduplicated while open."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from sync.errors import AuthLostError, SyncError
from sync.jobs import Job
from sync.store.db import Connection, to_struct

Category = Literal["missing_data", "rejected_by_collector", "ledger_refused", "auth_lost", "bug"]


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    installation_id: int | None
    category: Category
    code: str
    subject: str
    message: str
    detail: dict[str, Any]
    occurrences: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None


def category_of(exc: BaseException) -> Category:
    if isinstance(exc, AuthLostError):
        return "auth_lost"
    if isinstance(exc, SyncError):
        return "ledger_refused" if exc.platform == "economic" else "rejected_by_collector"
    return "bug"


class Problems:
    """Over the database, or over an open transaction to record a problem with its cause."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    async def record(
        self,
        *,
        installation_id: int | None,
        category: Category,
        code: str,
        subject: str,
        message: str,
        detail: dict[str, Any] | None = None,
        now: dt.datetime,
    ) -> int:
        row = await self.db.fetchrow(
            "record_problem",
            installation_id=installation_id,
            category=category,
            code=code,
            subject=subject,
            message=message,
            detail=detail or {},
            now=now,
        )
        assert row is not None
        return int(row["id"])

    async def record_job_problem(self, job: Job, exc: BaseException, now: dt.datetime) -> None:
        message = exc.message if isinstance(exc, SyncError) else str(exc)
        detail = exc.detail if isinstance(exc, SyncError) else None
        await self.record(
            installation_id=job.installation_id,
            category=category_of(exc),
            code=getattr(exc, "code", "bug"),
            subject=f"job:{job.kind}:{job.dedupe_key or job.id}",
            message=message,
            detail={"detail": detail} if detail is not None else {},
            now=now,
        )

    async def open(self, installation_id: int) -> list[Problem]:
        rows = await self.db.fetch("list_open_problems", installation_id=installation_id)
        return [to_struct(r, Problem) for r in rows]

    async def resolve(self, problem_id: int, *, now: dt.datetime) -> bool:
        return await self.db.execute("resolve_problem", id=problem_id, now=now) == 1

    async def resolve_open(self, installation_id: int, code: str, *, now: dt.datetime) -> int:
        """Close an installation's open problems of one code (its cause is gone); how many."""
        return await self.db.execute(
            "resolve_open_problems", installation_id=installation_id, code=code, now=now
        )

    async def open_subjects(self, installation_id: int) -> set[str]:
        rows = await self.db.fetch("open_problem_subjects", installation_id=installation_id)
        return {str(r["subject"]) for r in rows}

    async def resolve_subjects(
        self, installation_id: int, subjects: Iterable[str], *, now: dt.datetime
    ) -> None:
        """Close the open problems about these records (they went through since)."""
        rows = [{"installation_id": installation_id, "subject": s, "now": now} for s in subjects]
        if rows:
            await self.db.executemany("resolve_problems_of_subject", rows)
