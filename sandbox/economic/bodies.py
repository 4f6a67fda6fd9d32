"""Reading request bodies: JSON decoded with exact Decimals; ``null`` rejected ("omit instead")."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from sandbox.economic.errors import ApiError, field_error
from sandbox.economic.money import decode_json


def first_null(value: Any, path: list[str | int]) -> list[str | int] | None:
    if value is None:
        return path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = first_null(item, [*path, key])
        if found is not None:
            return found
    return None


async def read_json(request: web.Request) -> Any:
    try:
        body = decode_json(await request.read())
    except msgspec.DecodeError as exc:
        raise ApiError(400, "The request body is not valid JSON.", errors=[str(exc)]) from exc
    null_at = first_null(body, [])
    if null_at:
        raise ApiError(
            400,
            "Validation error.",
            errors=field_error(null_at, "null is not accepted; omit the property."),
        )
    return body


async def read_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Expected a JSON object.", errors=["Expected a JSON object."])
    return body
