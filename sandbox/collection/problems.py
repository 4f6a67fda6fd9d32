"""Errors as RFC 9457 problem documents (API) and RFC 6749 error bodies (OAuth endpoints)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM_TYPE = "https://collection.example/problems/"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
DEFAULT_CODES = {400: "bad_request", 404: "not_found", 405: "bad_request", 409: "conflict"}


class ApiError(Exception):
    """Raised by handlers; rendered as ``application/problem+json``."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}

    def document(self) -> dict[str, Any]:
        return problem(self.status, self.code, self.detail, self.errors, self.extra)

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=json.dumps(self.document()).encode(),
            content_type="application/problem+json",
            headers=self.headers,
        )


def problem(
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        doc["errors"] = errors
    doc.update(extra or {})
    return doc


def invalid(errors: list[dict[str, str]]) -> ApiError:
    return ApiError(422, "validation_failed", "the request body is not valid", errors=errors)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


class OAuthError(Exception):
    """Raised by the OAuth endpoints; rendered as ``{error, error_description}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> web.Response:
        headers = {"Cache-Control": "no-store"}
        if self.error == "invalid_client":
            headers["WWW-Authenticate"] = 'Basic realm="collection"'
        return web.json_response(
            {"error": self.error, "error_description": self.description},
            status=self.status,
            headers=headers,
        )


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        headers=headers,
    )


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or 400 ``bad_request``."""
    raw = await request.read()
    try:
        value = json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "bad_request", "the body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return value
