"""Redaction: values that hold secrets print themselves masked, and text is scrubbed of every
secret this process has seen.

A token that reaches a ``repr`` reaches logs, tracebacks and test output. `redacted` gives a
msgspec Struct class a ``__repr__`` (also used by ``str``) and a ``__rich_repr__`` that show the
named fields as ``'********'`` (or through a function of their own, such as `masked_url`);
equality, hashing and encoding are unchanged, so the wire and the database still see the value.

A secret can still slip into free text: an exception message, a platform's error body, a URL.
Every text that is stored as an error, printed or logged therefore passes `scrub`, which masks
each value given to `remember_secrets`: the configured secrets (at logging set-up) and each
installation's secrets at the moment they are decrypted, received or set (collection access and
refresh tokens, e-conomic grant tokens, webhook signing secrets). The registry is the one piece
of module-level state in `sync`, on purpose: it holds no connection and no I/O, only strings, it
only ever grows towards its cap, and every code path must see the same set, including those far
from any bootstrap (a logging filter, an exception stored by the queue); handing one registry
to each of them would leave exactly the gaps it exists to close.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec

MASK = "********"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
# A long-running process sees every installation's rotating tokens; the registry keeps the most
# recently remembered values (remembering one again renews it). Values past the cap are tokens
# superseded long ago, while current ones are remembered again each time they are loaded.
MAX_SECRETS = 20_000
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


class SecretRegistry:
    """Secret values to mask in text, indexed by their first characters so that scrubbing costs
    one look-up per position of the text, however many secrets there are."""

    def __init__(self, limit: int = MAX_SECRETS) -> None:
        self.limit = limit
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._by_prefix: dict[str, list[str]] = {}  # longest first
        self._lock = threading.Lock()  # logging may scrub from other threads

    def remember(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if value is None or len(value) < MIN_SECRET_LENGTH:
                    continue
                if value in self._recent:
                    self._recent.move_to_end(value)
                    continue
                self._recent[value] = None
                same = self._by_prefix.setdefault(value[:MIN_SECRET_LENGTH], [])
                same.append(value)
                same.sort(key=len, reverse=True)
                if len(self._recent) > self.limit:
                    self._forget(self._recent.popitem(last=False)[0])

    def _forget(self, value: str) -> None:
        prefix = value[:MIN_SECRET_LENGTH]
        self._by_prefix[prefix].remove(value)
        if not self._by_prefix[prefix]:
            del self._by_prefix[prefix]

    def scrub(self, text: str) -> str:
        """``text`` with every remembered secret replaced by `MASK`. Where secrets overlap (one
        inside another, or two touching) the whole covered stretch becomes one `MASK`, so the
        longest secret wins and no character of any of them is left."""
        with self._lock:
            if not self._by_prefix or len(text) < MIN_SECRET_LENGTH:
                return text
            spans = self._spans(text)
        return _masked(text, spans) if spans else text

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of the longest secret starting at each position where one starts."""
        spans = []
        for start in range(len(text) - MIN_SECRET_LENGTH + 1):
            candidates = self._by_prefix.get(text[start : start + MIN_SECRET_LENGTH])
            for secret in candidates or ():
                if text.startswith(secret, start):
                    spans.append((start, start + len(secret)))
                    break
        return spans


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each stretch covered by ``spans`` (sorted by start) replaced by `MASK`."""
    pieces, kept_from = [], 0
    run_start, run_end = spans[0]
    for start, end in spans[1:]:
        if start <= run_end:
            run_end = max(run_end, end)
            continue
        pieces += [text[kept_from:run_start], MASK]
        kept_from, run_start, run_end = run_end, start, end
    pieces += [text[kept_from:run_start], MASK, text[run_end:]]
    return "".join(pieces)


_REGISTRY = SecretRegistry()


@contextmanager
def fresh_process() -> Iterator[SecretRegistry]:
    """For the block, the registry of a process that has met no secret yet (how a test plays
    "another process"); the previous registry is back afterwards."""
    global _REGISTRY
    previous, _REGISTRY = _REGISTRY, SecretRegistry()
    try:
        yield _REGISTRY
    finally:
        _REGISTRY = previous


def remember_secrets(*values: str | None) -> None:
    """Mask these values in every later `scrub` of this process (None and values shorter than
    four characters are ignored)."""
    _REGISTRY.remember(*values)


def scrub(text: str) -> str:
    """``text`` with every secret remembered by this process replaced by `MASK`, longest first."""
    return _REGISTRY.scrub(text)
