"""Logging set-up: text or one JSON object per line, with job and installation ids.

Every record carries the fields bound in `sync.logcontext` (job id, installation id, job kind)
and any ``extra=`` fields. As a second line of defence every record passes `sync.redaction.scrub`,
the one redaction also used for stored and printed errors: the configured secrets (remembered
here, at set-up) and every installation's secrets the process has loaded since are masked, so a
secret that slipped into an exception text still never reaches the log.

The access log is on (at INFO, through the same handler). `collectbridge serve` writes it with
`masked_access_logger`: an e-conomic webhook path carries the installation's URL secret, and
is logged as ``/webhooks/economic/<key>/***/invoice?number=1`` (`mask_url_secrets`), whether
or not the secret is one this process knows. Every other record is masked the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from aiohttp.abc import AbstractAccessLogger
    from aiohttp.web_request import BaseRequest
    from aiohttp.web_response import StreamResponse

from sync import logcontext
from sync.redaction import remember_secrets, scrub

# The segment after the installation key of an e-conomic webhook path is its URL secret.
_URL_SECRET = re.compile(
    r"(/webhooks/economic/[^/?#\s\"]*/|/settings/password/reset/|/settings/invite/)[^/?#\s\"]+"
)
URL_SECRET_MASK = "***"  # noqa: S105 - the mask, not a secret


def mask_url_secrets(text: str) -> str:
    """``text`` with the secret of every path that carries one masked: an e-conomic webhook's
    URL secret, a password reset's or an invitation's link token."""
    return _URL_SECRET.sub(rf"\g<1>{URL_SECRET_MASK}", text)


@functools.cache
def masked_access_logger() -> type[AbstractAccessLogger]:
    """aiohttp's access logger (same format, same fields) with e-conomic URL secrets masked in
    every value it writes: the request line, and headers such as ``Referer`` that may repeat
    it. Built on first use, so that commands which serve nothing never import aiohttp."""
    from aiohttp.web_log import AccessLogger

    class MaskedAccessLogger(AccessLogger):
        def _format_line(
            self, request: BaseRequest, response: StreamResponse, time: float
        ) -> Iterable[tuple[str | tuple[str, str], str]]:
            return [
                (key, mask_url_secrets(value) if isinstance(value, str) else value)
                for key, value in super()._format_line(request, response, time)
            ]

    return MaskedAccessLogger


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Adds the job context and scrubs secret values (and e-conomic URL secrets) from the
    message, its arguments, the traceback and every ``extra=`` field. ``secrets`` (the
    configured ones) are remembered for `scrub`; secrets remembered later, as installations'
    tokens are loaded, are masked too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        remember_secrets(*secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in logcontext.current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        record.msg = _clean(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = _clean(record.exc_text)
        if record.stack_info:
            record.stack_info = _clean(record.stack_info)
        for key, value in _extras(record).items():
            if not isinstance(value, int | float | bool | None):
                setattr(record, key, _clean(str(value)))
        return True


def _clean(text: str) -> str:
    return mask_url_secrets(scrub(text))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["error"] = record.exc_text
        return msgspec.json.encode(entry, enc_hook=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        return f"{line} {extras}" if extras else line


def configure(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
