"""Redaction: values that hold secrets print themselves masked.

A token that reaches a ``repr`` reaches logs, tracebacks and test output. `redacted` gives a
msgspec Struct class a ``__repr__`` (also used by ``str``) and a ``__rich_repr__`` that show the
named fields as ``'********'`` (or through a function of their own, such as `masked_url`);
equality, hashing and encoding are unchanged, so the wire and the database still see the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec

MASK = "********"
StructType = TypeVar("StructType", bound=type[msgspec.Struct])
Shown = Callable[[Any], str]


def _hide(value: Any) -> Any:
    return None if value is None else MASK


def redacted(*hidden: str, **shown: Shown) -> Callable[[StructType], StructType]:
    """Class decorator: ``hidden`` fields print as ``'********'``, ``shown`` ones through a
    function (given the field's value, returning the text to show in its place)."""
    masks: dict[str, Callable[[Any], Any]] = {name: _hide for name in hidden}
    masks.update(shown)

    def apply(cls: StructType) -> StructType:
        unknown = set(masks) - set(cls.__struct_fields__)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}")

        def __rich_repr__(self: msgspec.Struct) -> list[tuple[str, Any]]:
            shown = []
            for name in self.__struct_fields__:
                value = getattr(self, name)
                shown.append((name, masks[name](value) if name in masks else value))
            return shown

        def __repr__(self: msgspec.Struct) -> str:
            body = ", ".join(f"{name}={value!r}" for name, value in __rich_repr__(self))
            return f"{type(self).__name__}({body})"

        cls.__repr__ = __repr__  # type: ignore[assignment, method-assign]
        cls.__rich_repr__ = __rich_repr__  # type: ignore[method-assign]
        return cls

    return apply


def masked_url(url: str) -> str:
    """``url`` with its password (``user:pass@`` or a ``password=`` query parameter) masked;
    everything else is kept as written."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    masked = url
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        masked = masked.replace(parts.netloc, f"{user}:{MASK}@{hostport}", 1)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(key.lower() == "password" for key, _ in pairs):
        query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in pairs], safe="*")
        masked = masked.replace(f"?{parts.query}", f"?{query}", 1)
    return masked
