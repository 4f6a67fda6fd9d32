"""e-conomic's ``filter=`` language: a pure parser and a compiler to predicates.

Grammar (``$and:`` binds tighter than ``$or:``; parentheses group)::

    expr := conj ("$or:" conj)*        conj := atom ("$and:" atom)*
    atom := "(" expr ")" | field "$" op ":" value

``op`` is one of eq ne gt gte lt lte like in nin. A value runs until ``$and:``, ``$or:``, an
unescaped ``)`` or the end; ``$$ $( $) $* $, $[ $]`` stand for the character after the ``$``.
``$like`` is case-insensitive, ``*`` is the wildcard and a pattern without one means "contains".
``$in``/``$nin`` take ``[n,n,…]`` with at most 200 numbers. ``null`` as a value means the field
is absent (only with ``$eq``/``$ne``). String ``$eq``/``$ne`` compare case-insensitively, as the
platform's SQL Server collation does (the contract is silent; this is our pick). A record whose
field is absent fails every comparison except ``$ne`` and ``$nin``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "like", "in", "nin"})
ESCAPABLE = frozenset("$()*,[]")
MAX_IN = 200
WILDCARD = object()  # a ``*`` that was not escaped

Predicate = Callable[[Any], bool]


class FilterError(ValueError):
    """A malformed or forbidden filter; the message goes into the 400's ``errors`` list."""


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    parts: tuple[Any, ...]  # str characters and WILDCARD markers


@dataclass(frozen=True, slots=True)
class Junction:
    kind: str  # "and" | "or"
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Field:
    """A filterable/sortable property: its type and how to read it from a record."""

    kind: str  # int | money (a Decimal amount) | decimal | str | date | datetime | bool
    get: Callable[[Any], Any]


def parse(text: str) -> Condition | Junction:
    parser = _Parser(text)
    node = parser.expr()
    if parser.pos != len(text):
        raise FilterError(f"Unexpected '{text[parser.pos :]}' in filter.")
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def expr(self) -> Condition | Junction:
        items = [self.conj()]
        while self.take("$or:"):
            items.append(self.conj())
        return items[0] if len(items) == 1 else Junction("or", tuple(items))

    def conj(self) -> Condition | Junction:
        items = [self.atom()]
        while self.take("$and:"):
            items.append(self.atom())
        return items[0] if len(items) == 1 else Junction("and", tuple(items))

    def atom(self) -> Condition | Junction:
        if self.take("("):
            node = self.expr()
            if not self.take(")"):
                raise FilterError("Missing ')' in filter.")
            return node
        match = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\$([a-z]+):").match(self.text, self.pos)
        if match is None:
            raise FilterError(f"Expected 'field$operator:value' at '{self.text[self.pos :]}'.")
        field, op = match.groups()
        if op not in OPS:
            raise FilterError(f"Unknown filter operator '${op}'.")
        self.pos = match.end()
        return Condition(field, op, self.value())

    def value(self) -> tuple[Any, ...]:
        parts: list[Any] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == ")" or text.startswith(("$and:", "$or:"), self.pos):
                break
            if char == "$":
                escaped = text[self.pos + 1 : self.pos + 2]
                if escaped not in ESCAPABLE or not escaped:
                    raise FilterError(f"Invalid escape '${escaped}' in filter value.")
                parts.append(escaped)
                self.pos += 2
                continue
            parts.append(WILDCARD if char == "*" else char)
            self.pos += 1
        return tuple(parts)

    def take(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False


def compile_filter(node: Condition | Junction, fields: Mapping[str, Field]) -> Predicate:
    """Turn a parsed filter into a predicate over records, checking fields and values."""
    if isinstance(node, Junction):
        preds = [compile_filter(item, fields) for item in node.items]
        if node.kind == "and":
            return lambda record: all(p(record) for p in preds)
        return lambda record: any(p(record) for p in preds)
    field = fields.get(node.field)
    if field is None:
        raise FilterError(f"Filtering is not allowed on property '{node.field}'.")
    return _condition(node, field)


def _text(parts: tuple[Any, ...]) -> str:
    return "".join("*" if p is WILDCARD else p for p in parts)


def _condition(node: Condition, field: Field) -> Predicate:
    get, raw = field.get, _text(node.parts)
    if node.op in ("in", "nin"):
        wanted = frozenset(_numbers(raw, node.field))
        if field.kind not in ("int", "money", "decimal"):
            raise FilterError(f"'${node.op}' works on numeric properties only ('{node.field}').")
        hit = set(wanted)
        if node.op == "in":
            return lambda r: (v := get(r)) is not None and v in hit
        return lambda r: (v := get(r)) is None or v not in hit
    if node.op == "like":
        regex = _like_regex(node.parts)
        return lambda r: (v := get(r)) is not None and regex.search(str(v)) is not None
    if raw == "null" and node.op in ("eq", "ne"):
        present = node.op == "ne"
        return lambda r: (get(r) not in (None, False)) == present
    return _comparison(node.op, _literal(raw, field, node.field), field)


def _comparison(op: str, target: Any, field: Field) -> Predicate:
    get = field.get
    fold = field.kind == "str"
    if field.kind == "bool":
        return lambda r: (bool(get(r)) == target) == (op == "eq") if op in ("eq", "ne") else False

    def value(record: Any) -> Any:
        v = get(record)
        return v.casefold() if fold and v is not None else v

    compare: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: v == target,
        "ne": lambda v: v != target,
        "gt": lambda v: v > target,
        "gte": lambda v: v >= target,
        "lt": lambda v: v < target,
        "lte": lambda v: v <= target,
    }
    test = compare[op]
    if op == "ne":
        return lambda r: (v := value(r)) is None or test(v)
    return lambda r: (v := value(r)) is not None and test(v)


def _literal(raw: str, field: Field, name: str) -> Any:
    try:
        if field.kind == "int":
            return int(raw)
        if field.kind in ("money", "decimal"):
            return Decimal(raw)
        if field.kind == "date":
            return dt.date.fromisoformat(raw)
        if field.kind == "datetime":
            return parse_timestamp(raw)
        if field.kind == "bool":
            if raw not in ("true", "false"):
                raise ValueError(raw)
            return raw == "true"
    except (ValueError, InvalidOperation) as exc:
        raise FilterError(f"Invalid value '{raw}' for property '{name}'.") from exc
    return raw.casefold()


def parse_timestamp(raw: str) -> dt.datetime:
    """ISO 8601 with ``Z`` or an offset; a timestamp without one is taken as UTC."""
    value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _numbers(raw: str, name: str) -> list[Decimal]:
    if not (raw.startswith("[") and raw.endswith("]")):
        raise FilterError(f"'$in'/'$nin' on '{name}' takes a list like [1,2,3].")
    items = [item.strip() for item in raw[1:-1].split(",") if item.strip()]
    if len(items) > MAX_IN:
        raise FilterError(f"'$in'/'$nin' takes at most {MAX_IN} values.")
    try:
        return [Decimal(item) for item in items]
    except InvalidOperation as exc:
        raise FilterError(f"'$in'/'$nin' on '{name}' takes numbers only.") from exc


def _like_regex(parts: tuple[Any, ...]) -> re.Pattern[str]:
    body = "".join(".*" if p is WILDCARD else re.escape(p) for p in parts)
    if WILDCARD in parts:
        body = f"^{body}$"
    return re.compile(body, re.IGNORECASE | re.DOTALL)
