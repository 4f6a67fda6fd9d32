"""Errors of ``/api/v1``, answered as ``application/problem+json`` (RFC 9457):
``{status, code, detail}``, where ``code`` is stable and ``detail`` is safe to show a person.

    ApiError                 base: an HTTP status, a stable code, a detail
    ├── Unauthenticated      401: no credentials, an unknown token, an expired session
    ├── Forbidden            403: a role too low, a cookie call without its CSRF token
    ├── NotFound             404: no such thing, or one of a company the caller is no member of
    ├── Conflict             409: an action the state of the thing forbids (``invalid_state``)
    └── Invalid              422: a query parameter or body we cannot take

`problems_middleware` turns these, aiohttp's own HTTP errors (an unknown path, a wrong method)
and anything unexpected (500, logged) into problem documents for every ``/api/v1`` path, and
marks every answer there ``Cache-Control: no-store``: each is one caller's view.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
PROBLEM_TYPE = "application/problem+json"


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    code: str
    detail: str


class ApiError(Exception):
    status = 500

    def __init__(self, code: str, detail: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


class Unauthenticated(ApiError):
    status = 401

    def __init__(self, code: str, detail: str, *, token_presented: bool = False) -> None:
        # RFC 6750 §3: say which scheme to use, and that the one presented was refused.
        challenge = 'Bearer error="invalid_token"' if token_presented else "Bearer"
        super().__init__(code, detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class Invalid(ApiError):
    status = 422


def problem_response(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = msgspec.json.encode(Problem(status=status, code=code, detail=detail))
    return web.Response(
        status=status, body=body, content_type=PROBLEM_TYPE, headers=dict(headers or {})
    )


# aiohttp's own refusals, by status: the code we give them.
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_api_path(request.path):
        return await handler(request)
    try:
        response = await handler(request)
    except ApiError as exc:
        response = problem_response(exc.status, exc.code, exc.detail, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, f"http_{exc.status}")
        kept = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        response = problem_response(exc.status, code, exc.reason, kept)
    except Exception:
        log.exception("API request failed", extra={"path": request.path})
        response = problem_response(500, "internal_error", "something went wrong on our side")
    response.headers["Cache-Control"] = "no-store"
    return response
