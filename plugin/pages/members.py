"""A company's users and their roles (admins only, the page itself included).

    GET  /settings/{agreement}/users                              members and open invitations
    POST /settings/{agreement}/users/invite                       invite by link (e-mail, role)
    POST /settings/{agreement}/users/{user_id}/role               change a member's role
    POST /settings/{agreement}/users/{user_id}/remove             remove a member
    POST /settings/{agreement}/users/{user_id}/reset-link         a password reset link
    POST /settings/{agreement}/invitations/{invitation_id}/cancel withdraw an invitation

An invitation is a random link token (only its hash is stored), good for 7 days and once; the
link is shown to the admin on the answer page, once, and mailed when SMTP is configured. A reset
link is shown once the same way. A company always keeps an admin: the last one can be neither
demoted nor removed (checked inside the change's transaction). Access is looked up on every
request, so a removed member's next page or API call for the company is 404.

A reset link signs its holder in as the member, so an admin may make one only for a member whose
every company they administer too: otherwise admin rights in one company would open the
person's others. Every change is in the audit log, by the admin's e-mail, never with a token.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from aiohttp import web

from plugin.api.errors import NotFound
from plugin.api.values import path_number
from plugin.keys import CLOCK, DATABASE, SETTINGS
from plugin.pages.accounts import reset_link
from plugin.pages.guard import Pages, Visitor, companies_of, render
from plugin.pages.texts import LANGUAGES, translator
from plugin.roles import ROLES
from sync.store.accounts import Accounts, Invitations
from sync.store.audit import AuditLog
from sync.store.db import Connection
from sync.store.users import Role, Users, normal_email

INVITATION_LIFETIME = dt.timedelta(days=7)
MAX_EMAIL = 320
DONE = frozenset({"role_changed", "member_removed", "invitation_cancelled"})


class LastAdmin(Exception):
    """The change would leave the company without an admin."""


def _id(request: web.Request, name: str) -> int:
    number = path_number(request.match_info[name])
    if number is None:
        raise NotFound("not_found", f"no such {name}")
    return number


def _role(text: str | None) -> Role | None:
    return next((r for r in ROLES if r == text), None)


def _looks_like_email(email: str) -> bool:
    local, at, domain = email.partition("@")
    return bool(local and at and "." in domain and " " not in email) and len(email) <= MAX_EMAIL


def _base(visitor: Visitor) -> str:
    return f"/settings/{visitor.installation.agreement_number}"


async def users_page(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    done = request.query.get("done")
    return await _page(request, visitor, message=done if done in DONE else None)


async def _page(
    request: web.Request,
    visitor: Visitor,
    *,
    message: str | None = None,
    error: str | None = None,
    shown: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    db, now = request.app[DATABASE], request.app[CLOCK]()
    installation = visitor.installation
    users = Users(db)
    members = []
    for m in await users.members(installation.id):
        user = await users.get(m.user_id)
        name = user.name if user and user.name != m.email else ""
        members.append({"id": m.user_id, "email": m.email, "name": name, "role": m.role})
    return await render(
        request,
        visitor,
        "members.html",
        {
            "members": members,
            "invitations": await Invitations(db).open(installation.id, now=now),
            "roles": ROLES,
            "message": message,
            "error": error,
            "shown": shown,
        },
        status=status,
    )


async def _audit(
    db: Connection, visitor: Visitor, action: str, at: dt.datetime, **detail: Any
) -> None:
    await AuditLog(db).record(
        installation_id=visitor.installation.id,
        actor=visitor.me.user.email,
        action=action,
        at=at,
        detail=detail,
    )


# Invitations -------------------------------------------------------------------------------


async def invite(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    email = normal_email(visitor.form.get("email", ""))
    role = _role(visitor.form.get("role"))
    if not _looks_like_email(email):
        return await _page(request, visitor, error="invite_email_invalid", status=422)
    if role is None:
        return await _page(request, visitor, error="role_invalid", status=422)
    db, now = request.app[DATABASE], request.app[CLOCK]()
    installation = visitor.installation
    existing = await Users(db).get_by_email(email)
    if existing and await Users(db).role_in(existing.id, installation.id) is not None:
        return await _page(request, visitor, error="already_member", status=409)
    token = secrets.token_urlsafe(32)
    async with db.transaction() as tx:
        invitation_id = await Invitations(tx).create(
            token=token,
            installation_id=installation.id,
            email=email,
            role=role,
            invited_by=visitor.me.user.id,
            now=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        await _audit(
            tx, visitor, "member.invited", now, invitation_id=invitation_id, email=email, role=role
        )
    link = f"{request.app[SETTINGS].public_url.rstrip('/')}/settings/invite/{token}"
    mailed = await _mail_invitation(request.app, visitor, to=email, role=role, link=link)
    shown = {"kind": "invitation", "email": email, "link": link, "mailed": mailed}
    return await _page(request, visitor, message="invited", shown=shown)


async def _mail_invitation(
    app: web.Application, visitor: Visitor, *, to: str, role: Role, link: str
) -> bool:
    """The invitation by e-mail, in English and Danish (the invitee's language is unknown)."""
    from plugin.notices import send_mail  # the notices module sends through SMTP, when set

    company = visitor.installation
    texts = [translator(language) for language in LANGUAGES]
    subject = " / ".join(t("invite_title", company=company.company_name) for t in texts)
    body = "\n\n".join(
        t(
            "invite_mail",
            inviter=visitor.me.user.email,
            company=company.company_name,
            agreement=company.agreement_number,
            role=t(f"role_{role}"),
            link=link,
        )
        for t in texts
    )
    return await send_mail(app[SETTINGS], to=to, subject=subject, text=body + "\n")


async def cancel_invitation(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    invitation_id = _id(request, "invitation_id")
    db, now = request.app[DATABASE], request.app[CLOCK]()
    installation = visitor.installation
    open_ = {i.id: i for i in await Invitations(db).open(installation.id, now=now)}
    if invitation_id not in open_ or not await Invitations(db).cancel(
        invitation_id, installation.id
    ):
        raise NotFound("not_found", "no open invitation with that id")
    email = open_[invitation_id].email
    await _audit(db, visitor, "invitation.cancelled", now, invitation_id=invitation_id, email=email)
    raise web.HTTPSeeOther(f"{_base(visitor)}/users?done=invitation_cancelled")


# Members -----------------------------------------------------------------------------------


async def change_role(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    user_id = _id(request, "user_id")
    role = _role(visitor.form.get("role"))
    if role is None:
        return await _page(request, visitor, error="role_invalid", status=422)
    db, now = request.app[DATABASE], request.app[CLOCK]()
    installation = visitor.installation
    try:
        async with db.transaction() as tx:
            await Accounts(tx).lock_admins(installation.id)  # before the count it judges by
            current, email = await _member(tx, user_id, installation.id)
            if current == role:
                raise web.HTTPSeeOther(f"{_base(visitor)}/users")
            if current == "admin" and await Accounts(tx).admins(installation.id) <= 1:
                raise LastAdmin
            await Accounts(tx).change_role(user_id, installation.id, role)
            await _audit(
                tx,
                visitor,
                "member.role_changed",
                now,
                user_id=user_id,
                email=email,
                old_role=current,
                role=role,
            )
    except LastAdmin:
        return await _page(request, visitor, error="last_admin_demote", status=409)
    if user_id == visitor.me.user.id and role != "admin":
        raise web.HTTPSeeOther(_base(visitor))  # no longer allowed to see the users page
    raise web.HTTPSeeOther(f"{_base(visitor)}/users?done=role_changed")


async def remove(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    user_id = _id(request, "user_id")
    db, now = request.app[DATABASE], request.app[CLOCK]()
    installation = visitor.installation
    try:
        async with db.transaction() as tx:
            await Accounts(tx).lock_admins(installation.id)  # before the count it judges by
            current, email = await _member(tx, user_id, installation.id)
            if current == "admin" and await Accounts(tx).admins(installation.id) <= 1:
                raise LastAdmin
            await Accounts(tx).remove_member(user_id, installation.id)
            # An invitation still open would let the removed person straight back in.
            await Invitations(tx).cancel_for(installation.id, email)
            await _audit(
                tx, visitor, "member.removed", now, user_id=user_id, email=email, role=current
            )
    except LastAdmin:
        return await _page(request, visitor, error="last_admin_remove", status=409)
    if user_id == visitor.me.user.id:
        raise web.HTTPSeeOther("/settings")
    raise web.HTTPSeeOther(f"{_base(visitor)}/users?done=member_removed")


async def _member(db: Connection, user_id: int, installation_id: int) -> tuple[Role, str]:
    """A member's role and e-mail; 404 for anybody who is not a member of the company."""
    role = await Users(db).role_in(user_id, installation_id)
    user = await Users(db).get(user_id) if role is not None else None
    if role is None or user is None:
        raise NotFound("not_found", "no member with that id")
    return role, user.email


async def make_reset_link(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    user_id = _id(request, "user_id")
    db, now = request.app[DATABASE], request.app[CLOCK]()
    _, email = await _member(db, user_id, visitor.installation.id)
    mine = await companies_of(request, visitor.me.user.id)
    administered = {c["agreement"] for c in mine if c["role"] == "admin"}
    theirs = {c["agreement"] for c in await companies_of(request, user_id)}
    if not theirs <= administered:
        return await _page(request, visitor, error="reset_elsewhere", status=409)
    link = await reset_link(request.app, user_id, now=now)
    await _audit(db, visitor, "member.reset_link", now, user_id=user_id, email=email)
    shown = {"kind": "reset", "email": email, "link": link, "mailed": False}
    return await _page(request, visitor, message="reset_link_made", shown=shown)


def add_pages(pages: Pages) -> None:
    base = "/settings/{agreement}"
    pages.member("GET", f"{base}/users", users_page, role="admin")
    pages.member("POST", f"{base}/users/invite", invite, role="admin")
    pages.member("POST", f"{base}/users/{{user_id}}/role", change_role, role="admin")
    pages.member("POST", f"{base}/users/{{user_id}}/remove", remove, role="admin")
    pages.member("POST", f"{base}/users/{{user_id}}/reset-link", make_reset_link, role="admin")
    pages.member(
        "POST", f"{base}/invitations/{{invitation_id}}/cancel", cancel_invitation, role="admin"
    )
