"""The table of ``/settings`` pages, and the guard every one of them passes.

    pages = Pages()
    pages.public("GET", "/settings/login", login_form)            # anyone
    pages.signed_in("GET", "/settings", overview)                 # any signed-in person
    pages.member("POST", "/settings/{agreement}/resync", resync, role="caseworker")
    pages.mount(app)

A page is added only through this table, and each kind of entry says who may see it, so a
new page cannot slip through unguarded (``tests/integration/pages/test_routes.py`` walks the
router to make sure). The guard, in order:

1. No session (none, expired, or one still waiting for its second factor): a GET goes to the
   sign-in page and comes back afterwards; anything else gets 403.
2. A method that can change something must carry the session's CSRF token in the form's
   ``csrf_token`` field, or it is refused with 403 and changes nothing.
3. A company page (``{agreement}`` in its path) for a company the person is no member of, or
   that does not exist: 404, the same page for both, so agreement numbers cannot be probed; a
   member whose role is too low: 403.

Pages render through `render`, which gives every template the frame: the person, the
company in view, the companies they can switch to, the CSRF token and the translator.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal
from urllib.parse import quote

import aiohttp_jinja2
import msgspec
from aiohttp import web
from yarl import URL

from plugin.api.auth import SAFE_METHODS, Caller, Member, member
from plugin.api.errors import ApiError, Forbidden, NotFound
from plugin.keys import DATABASE
from plugin.pages.texts import Language, language_of, translator
from plugin.sessions import SignedIn, signed_in
from sync.store.installations import Installation
from sync.store.users import Role

CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/settings/login"
SWITCHER_LIMIT = 500
NO_STORE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
Guard = Literal["public", "signed_in", "guest", "caseworker", "admin"]


class Visitor(msgspec.Struct, frozen=True, kw_only=True):
    """Who is looking: signed in, and on a company page a member of that company."""

    me: SignedIn
    language: Language
    form: Mapping[str, str]
    company: Member | None = None

    @property
    def installation(self) -> Installation:
        assert self.company is not None, "a company page"
        return self.company.installation

    @property
    def role(self) -> Role:
        assert self.company is not None, "a company page"
        return self.company.role

    @property
    def caller(self) -> Caller:
        return Caller(user=self.me.user, via="session")


PublicHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
VisitorHandler = Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]]


class Route(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    path: str
    guard: Guard


class Pages:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._handlers: list[PublicHandler] = []

    def public(self, method: str, path: str, handler: PublicHandler) -> None:
        self._add(Route(method=method, path=path, guard="public"), handler)

    def signed_in(self, method: str, path: str, handler: VisitorHandler) -> None:
        self._add(Route(method=method, path=path, guard="signed_in"), _guarded(handler, None))

    def member(self, method: str, path: str, handler: VisitorHandler, *, role: Role) -> None:
        assert "{agreement}" in path, "a company page names its company"
        self._add(Route(method=method, path=path, guard=role), _guarded(handler, role))

    def _add(self, route: Route, handler: PublicHandler) -> None:
        assert route.path.startswith("/settings"), "the pages for people live under /settings"
        handler.__dict__["page_guard"] = route.guard  # read by the route-table test
        self.routes.append(route)
        self._handlers.append(handler)

    def mount(self, app: web.Application) -> None:
        for route, handler in zip(self.routes, self._handlers, strict=True):
            app.router.add_route(route.method, route.path, handler)


def _guarded(handler: VisitorHandler, role: Role | None) -> PublicHandler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        me = await signed_in(request)
        language = language_of(request, me.user.language if me else None)
        if me is None:
            if request.method in SAFE_METHODS:
                raise web.HTTPSeeOther(f"{LOGIN_PATH}?next={quote(request.path_qs, safe='')}")
            return refusal(request, language, 403, "forbidden_csrf")
        form: Mapping[str, str] = {}
        if request.method not in SAFE_METHODS:
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
            if not hmac.compare_digest(
                form.get(CSRF_FIELD, "").encode(), me.session.csrf_token.encode()
            ):
                return refusal(request, language, 403, "forbidden_csrf")
        visitor = Visitor(me=me, language=language, form=form)
        try:
            if role is not None:
                company = await member(
                    request, visitor.caller, request.match_info["agreement"], role
                )
                visitor = msgspec.structs.replace(visitor, company=company)
            return await handler(request, visitor)
        except NotFound:
            return refusal(request, language, 404, "not_found_text")
        except Forbidden as exc:
            if exc.code == "role_required" and role is not None:
                t = translator(language)
                return refusal(request, language, 403, "forbidden_role", role=t(f"role_{role}"))
            return refusal(request, language, 403, "forbidden_csrf")
        except ApiError as exc:
            return refusal(request, language, exc.status, None, detail=exc.detail)

    guarded.__name__ = handler.__name__
    return guarded


def forms_may_go_on_to(*urls: str | None) -> str:
    """The pages' policy with ``form-action`` widened to the origins of ``urls``: a form whose
    answer redirects to another site (e-conomic's grant page, the collection platform's consent
    page) is held to ``form-action`` by browsers through the redirect too."""
    origins = " ".join(sorted({str(URL(u).origin()) for u in urls if u}))
    policy = NO_STORE["Content-Security-Policy"]
    return (
        policy.replace("form-action 'self'", f"form-action 'self' {origins}") if origins else policy
    )


def refusal(
    request: web.Request,
    language: Language,
    status: int,
    text: str | None,
    *,
    detail: str = "",
    **fields: object,
) -> web.Response:
    t = translator(language)
    title = {404: "not_found_title", 403: "forbidden_title"}.get(status, "refused_title")
    context = {"title": t(title), "message": t(text, **fields) if text else detail}
    response = aiohttp_jinja2.render_template(
        "refusal.html", request, {**context, "lang": language, "t": t}
    )
    response.set_status(status)
    response.headers.update(NO_STORE)
    return response


async def companies_of(request: web.Request, user_id: int) -> list[dict[str, Any]]:
    """What the switcher offers: every company the person is a member of."""
    rows = await request.app[DATABASE].fetch(
        "member_installations", user_id=user_id, after=0, limit=SWITCHER_LIMIT
    )
    return [
        {"agreement": r["agreement_number"], "name": r["company_name"], "role": r["member_role"]}
        for r in rows
    ]


async def render(
    request: web.Request,
    visitor: Visitor,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """A page in the frame every page shares."""
    frame = {
        "t": translator(visitor.language),
        "lang": visitor.language,
        "me": visitor.me.user,
        "csrf_token": visitor.me.session.csrf_token,
        "company": visitor.company.installation if visitor.company else None,
        "role": visitor.company.role if visitor.company else None,
        "companies": await companies_of(request, visitor.me.user.id),
        "path": request.path,
    }
    response = aiohttp_jinja2.render_template(template, request, {**frame, **(context or {})})
    response.set_status(status)
    response.headers.update(NO_STORE)
    return response
