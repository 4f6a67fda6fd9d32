"""Fields every log line carries while a job runs (installation and job id), via contextvars."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_fields", default=None
)


def current() -> dict[str, Any]:
    return _fields.get() or {}


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    token = _fields.set({**current(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _fields.reset(token)
