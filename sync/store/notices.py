"""Notices: what a company's people should act on, kept per installation for the dashboard and
mailed to its admins (`plugin.notices`).

A digest gathers what is new since the last one, and marks it in the same statement that reads
it (`take_news`), so a problem is noticed once while it is open and a handover once per
announcement, however often the job runs or however many workers run it (its serial key keeps
it to one at a time, the compare-and-set to once). A notice is ``pending`` until mailed, and
stays on the dashboard until someone marks it read.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any, Literal

import msgspec

from sync.store.db import Connection, to_struct

MailState = Literal["none", "pending", "sent", "failed"]


class NewProblem(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    category: str
    code: str
    subject: str
    message: str


class Announcement(msgspec.Struct, frozen=True, kw_only=True):
    """A claim announced for handover in a veto window: handed over on ``handover_on``
    unless someone holds it first."""

    invoice_number: int
    customer_number: int
    currency: str
    remaining: int
    handover_on: dt.date


class News(msgspec.Struct, frozen=True, kw_only=True):
    problems: builtins.list[NewProblem]
    announcements: builtins.list[Announcement]

    def __bool__(self) -> bool:
        return bool(self.problems or self.announcements)


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    installation_id: int
    kind: str
    subject: str
    """In English (the dashboard renders ``items`` in the reader's language)."""
    body: str
    items: builtins.list[dict[str, Any]]
    mail_state: MailState
    mail_attempts: int = 0
    recipients: int = 0
    created_at: dt.datetime
    mailed_at: dt.datetime | None = None
    read_at: dt.datetime | None = None
    read_by: str | None = None


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    language: str | None = None


class Notices:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def take_news(self, installation_id: int, *, now: dt.datetime) -> News:
        """The open problems and announced handovers not noticed yet, marked noticed (call it
        in the transaction that adds their notice: a rollback leaves them new)."""
        problems = await self.db.fetch(
            "take_new_problems", installation_id=installation_id, now=now
        )
        announced = await self.db.fetch("take_new_announcements", installation_id=installation_id)
        return News(
            problems=sorted((to_struct(r, NewProblem) for r in problems), key=lambda p: p.id),
            announcements=sorted(
                (to_struct(r, Announcement) for r in announced), key=lambda a: a.invoice_number
            ),
        )

    async def add(
        self,
        installation_id: int,
        *,
        subject: str,
        body: str,
        items: builtins.list[dict[str, Any]],
        mail_state: MailState,
        now: dt.datetime,
        kind: str = "digest",
    ) -> Notice:
        row = await self.db.fetchrow(
            "add_notice",
            installation_id=installation_id,
            kind=kind,
            subject=subject,
            body=body,
            items=items,
            mail_state=mail_state,
            now=now,
        )
        assert row is not None
        return to_struct(row, Notice)

    async def get(self, installation_id: int, notice_id: int) -> Notice | None:
        row = await self.db.fetchrow("get_notice", id=notice_id, installation_id=installation_id)
        return to_struct(row, Notice) if row else None

    async def unread(self, installation_id: int, *, limit: int = 50) -> builtins.list[Notice]:
        """The company's unread notices, newest first (the dashboard's list)."""
        rows = await self.db.fetch("unread_notices", installation_id=installation_id, limit=limit)
        return [to_struct(r, Notice) for r in rows]

    async def mark_read(
        self, installation_id: int, notice_id: int, *, by: str, now: dt.datetime
    ) -> bool:
        """False when there is no such unread notice of this company."""
        changed = await self.db.execute(
            "mark_notice_read", id=notice_id, installation_id=installation_id, read_by=by, now=now
        )
        return changed == 1

    async def to_mail(self, *, limit: int = 100) -> builtins.list[Notice]:
        rows = await self.db.fetch("notices_to_mail", limit=limit)
        return [to_struct(r, Notice) for r in rows]

    async def mail_tried(
        self, notice_id: int, *, state: MailState, recipients: int, now: dt.datetime
    ) -> None:
        await self.db.execute(
            "notice_mail_tried", id=notice_id, mail_state=state, recipients=recipients, now=now
        )

    async def recipients(self, installation_id: int) -> builtins.list[Recipient]:
        """The company's admins, who get its notices by e-mail."""
        rows = await self.db.fetch("notice_recipients", installation_id=installation_id)
        return [to_struct(r, Recipient) for r in rows]
