"""The ``/api/v1`` route table: the one place an API route is added.

    api = Api()
    api.caller_route("GET", "/installations", list_installations, summary="…",
                     response=InstallationPage, params=PAGING)
    api.member_route("GET", "/installations/{agreement}", show_installation, role="guest",
                     summary="…", response=InstallationView)
    api.mount(app)

Every route added here is authenticated (`plugin.api.auth.authenticate`) before its handler
runs; a member route (its path names ``{agreement}``) is also scoped to that company and checked
for its role, and its handler gets the `Member`. ``/api/v1/openapi.json`` (OpenAPI 3.1) is built
from this same table, response schemas from the handlers' msgspec Structs, so a route cannot be
served undescribed, or described with a shape other than the one it answers with. The
description itself is the one route open to everyone: tools read it before they hold a token,
and it says nothing about any company.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from importlib import metadata
from typing import Any, Literal

import msgspec
from aiohttp import web

from plugin.api.auth import CSRF_HEADER, SAFE_METHODS, Caller, Member, authenticate, member
from plugin.api.errors import API_PREFIX, Problem, problems_middleware
from plugin.keys import SETTINGS
from plugin.sessions import SESSION_COOKIE
from sync.store.users import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CallerHandler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]
MemberHandler = Callable[[web.Request, Member], Awaitable[web.StreamResponse]]
OPENAPI_PATH = "/openapi.json"
OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)
_PATH_PARAM = re.compile(r"\{([a-z_]+)\}")
_SCHEMA_REF = "#/components/schemas/{name}"
_PROBLEMS = {
    401: "No credentials, or a token or session that is not (or no longer) valid",
    403: "The caller's role in the company is too low, or a cookie call lacks its CSRF token",
    404: "No such company or thing, or one of a company the caller is no member of (the same)",
    409: "An action the current state forbids (code invalid_state)",
    422: "A parameter or body that cannot be taken",
}


class Param(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    location: Literal["path", "query"]
    description: str
    schema: dict[str, Any]
    required: bool = False
    """For a query parameter: whether it must be given (a path parameter always must)."""


def number_in_path(name: str, description: str) -> Param:
    """A path parameter naming a row or a ledger record by its positive number."""
    return Param(
        name=name,
        location="path",
        description=description,
        schema={"type": "integer", "minimum": 1},
    )


def state_in_query(states: Sequence[str], description: str) -> Param:
    """The ``?state=`` filter of a list, one of ``states``."""
    return Param(
        name="state",
        location="query",
        description=description,
        schema={"type": "string", "enum": list(states)},
    )


AGREEMENT = Param(
    name="agreement",
    location="path",
    description="The company's e-conomic agreement number",
    schema={"type": "integer", "minimum": 1},
)


class Route(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    path: str
    """Below ``/api/v1``."""
    handler: Handler
    summary: str
    access: Literal["public", "caller", "member"]
    role: Role | None
    params: tuple[Param, ...]
    response: Any
    """The Struct type answered with ``status``, or None for a free-form JSON object (or, with
    204, no body)."""
    status: int = 200
    """The status of a success: 200, or 201, 202 or 204 where the route answers so."""
    conflicts: bool = False
    """Whether the route may answer 409 ``invalid_state``."""
    body: Any = None
    """The Struct type of the route's JSON request body (None: it takes none)."""
    body_required: bool = True
    """Whether the body must be sent (False: an empty one takes every default)."""
    alternatives: tuple[Any, ...] = ()
    """Other Struct types its 200 may answer with, beside ``response``."""
    conflict: Any = None
    """A Struct type its 409 may answer with, beside the plain Problem."""


def reply(value: Any, *, status: int = 200) -> web.Response:
    """A JSON answer, encoded by msgspec (datetimes as RFC 3339)."""
    return web.Response(
        status=status, body=msgspec.json.encode(value), content_type="application/json"
    )


class Api:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._add(
            Route(
                method="GET",
                path=OPENAPI_PATH,
                handler=openapi_document,
                summary="This description of the API (OpenAPI 3.1)",
                access="public",
                role=None,
                params=(),
                response=None,
            )
        )

    def caller_route(
        self,
        method: str,
        path: str,
        handler: CallerHandler,
        *,
        summary: str,
        response: Any,
        params: Sequence[Param] = (),
        status: int = 200,
        conflicts: bool = False,
        body: Any = None,
    ) -> None:
        """A route for any authenticated caller, about no one company; ``status``, ``conflicts``
        and ``body`` as for `member_route`."""
        if "{agreement}" in path:
            raise ValueError(f"{path} names a company: add it with member_route")

        async def run(request: web.Request) -> web.StreamResponse:
            return await handler(request, await authenticate(request))

        run.__name__ = handler.__name__
        self._add(
            Route(
                method=method,
                path=path,
                handler=run,
                summary=summary,
                access="caller",
                role=None,
                params=tuple(params),
                response=response,
                status=status,
                conflicts=conflicts,
                body=body,
            )
        )

    def member_route(
        self,
        method: str,
        path: str,
        handler: MemberHandler,
        *,
        role: Role,
        summary: str,
        response: Any,
        params: Sequence[Param] = (),
        status: int = 200,
        conflicts: bool = False,
        body: Any = None,
        body_required: bool = True,
        alternatives: Sequence[Any] = (),
        conflict: Any = None,
    ) -> None:
        """A route about the company of ``{agreement}``, for its members of ``role`` or above;
        ``status``: that of its success; ``conflicts``: it may answer 409 (an action the state
        forbids); ``body``, the type of its JSON body, and whether it may be left out;
        ``alternatives`` and ``conflict``: more shapes of its success and its 409."""
        if "{agreement}" not in path:
            raise ValueError(f"{path} names no company: add it with caller_route")

        async def run(request: web.Request) -> web.StreamResponse:
            caller = await authenticate(request)
            found = await member(request, caller, request.match_info["agreement"], role)
            return await handler(request, found)

        run.__name__ = handler.__name__
        self._add(
            Route(
                method=method,
                path=path,
                handler=run,
                summary=summary,
                access="member",
                role=role,
                params=(AGREEMENT, *params),
                response=response,
                status=status,
                conflicts=conflicts or conflict is not None,
                body=body,
                body_required=body_required,
                alternatives=tuple(alternatives),
                conflict=conflict,
            )
        )

    def _add(self, route: Route) -> None:
        named = {p.name for p in route.params if p.location == "path"}
        if set(_PATH_PARAM.findall(route.path)) != named:
            raise ValueError(f"{route.path}: describe exactly its path parameters")
        if any((r.method, r.path) == (route.method, route.path) for r in self.routes):
            raise ValueError(f"{route.method} {route.path} is added twice")
        self.routes.append(route)

    def mount(self, app: web.Application) -> None:
        """Serve every route under ``/api/v1`` with problem+json errors, and the description."""
        app[OPENAPI_DOCUMENT] = msgspec.json.encode(self.openapi(app[SETTINGS].public_url))
        for route in self.routes:
            app.router.add_route(route.method, API_PREFIX + route.path, route.handler)
        app.middlewares.append(problems_middleware)

    def openapi(self, public_url: str) -> dict[str, Any]:
        shapes = [(r.response, *r.alternatives, r.body, r.conflict) for r in self.routes]
        answered = (t for route_shapes in shapes for t in route_shapes if t is not None)
        types = list(dict.fromkeys([Problem, *answered]))  # in the order routes were added
        refs, schemas = msgspec.json.schema_components(types, ref_template=_SCHEMA_REF)
        ref_of = dict(zip(types, refs, strict=True))
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes:
            paths.setdefault(API_PREFIX + route.path, {})[route.method.lower()] = _operation(
                route, ref_of
            )
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "collectbridge API",
                "version": _version(),
                "description": (
                    "Authenticate with a personal API token (collectbridge tokens create) as "
                    "Authorization: Bearer <token>, or, from the settings pages, with the session "
                    f"cookie plus the session's CSRF token in {CSRF_HEADER} on methods other than "
                    "GET. Errors are application/problem+json {status, code, detail}."
                ),
            },
            "servers": [{"url": public_url}],
            "security": [{"bearer": []}, {"session": []}],
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                },
            },
        }


def _operation(route: Route, ref_of: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    schema = ref_of[route.response] if route.response is not None else {"type": "object"}
    if route.alternatives:
        schema = {"anyOf": [schema, *(ref_of[t] for t in route.alternatives)]}
    success: dict[str, Any] = {"description": HTTPStatus(route.status).phrase}
    if route.status != 204:
        success["content"] = {"application/json": {"schema": schema}}
    responses: dict[str, Any] = {str(route.status): success}
    for status in _problem_statuses(route):
        problem = ref_of[Problem]
        if status == 409 and route.conflict is not None:
            problem = {"anyOf": [problem, ref_of[route.conflict]]}
        responses[str(status)] = {
            "description": _PROBLEMS[status],
            "content": {"application/problem+json": {"schema": problem}},
        }
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "parameters": [
            {
                "name": p.name,
                "in": p.location,
                "required": p.location == "path" or p.required,
                "description": p.description,
                "schema": p.schema,
            }
            for p in route.params
        ],
        "responses": responses,
    }
    if route.body is not None:
        operation["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": {"schema": ref_of[route.body]}},
        }
    if route.access == "public":
        operation["security"] = []
    elif route.role is not None:
        operation["x-role"] = route.role
    return operation


def _problem_statuses(route: Route) -> list[int]:
    if route.access == "public":
        return []
    statuses = [401]
    if route.method not in SAFE_METHODS or (route.role not in (None, "guest")):
        statuses.append(403)
    if any(p.location == "path" for p in route.params):  # a company, or a thing by its id
        statuses.append(404)
    if route.conflicts:
        statuses.append(409)
    if route.body is not None or any(p.location == "query" for p in route.params):
        statuses.append(422)
    return statuses


def _version() -> str:
    try:
        return metadata.version("collectbridge")
    except metadata.PackageNotFoundError:
        return "0+unknown"


async def openapi_document(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_DOCUMENT], content_type="application/json")
