"""The platform's error answers: ``{message, developerHint, logId, httpStatusCode, errors}``.

Handlers raise ``ApiError``; the middleware renders it with a fresh ``logId``. ``errors`` is a
list of strings (filters, paging) or an object mirroring the request (validation).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.economic.money import encode_json

HINTS = {
    400: "Check the request against the documentation; see errors for details.",
    401: "Send a valid X-AppSecretToken and X-AgreementGrantToken.",
    403: "The app's role does not give access to this resource.",
    404: "The resource does not exist.",
    409: "The resource changed or already exists.",
    415: "Send request bodies as application/json.",
    429: "The agreement's fair-use budget is spent; wait for Retry-After seconds.",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.errors = [] if errors is None else errors
        self.headers = headers or {}


def error_body(status: int, message: str, errors: Any, log_id: str) -> dict[str, Any]:
    return {
        "message": message,
        "developerHint": HINTS.get(status, "The service failed; try again later."),
        "logId": log_id,
        "httpStatusCode": status,
        "errors": errors,
    }


def error_response(error: ApiError, log_id: str) -> web.Response:
    body = encode_json(error_body(error.status, error.message, error.errors, log_id))
    return web.Response(
        status=error.status, body=body, content_type="application/json", headers=error.headers
    )


def field_error(path: list[str | int], message: str) -> dict[str, Any]:
    """An ``errors`` object mirroring the request down ``path`` (validation answers)."""
    node: dict[str, Any] = {"errors": [{"propertyName": str(path[-1]), "errorMessage": message}]}
    for key in reversed(path):
        node = {str(key): node}
    return node


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found.")
