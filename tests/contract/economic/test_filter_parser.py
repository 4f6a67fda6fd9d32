"""Unit tests of the pure filter parser and compiler (no HTTP)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from sandbox.economic.filters import (
    WILDCARD,
    Condition,
    Field,
    FilterError,
    Junction,
    compile_filter,
    parse,
)

FIELDS = {
    "n": Field("int", lambda r: r.n),
    "name": Field("str", lambda r: r.name),
    "amount": Field("money", lambda r: r.amount),
    "day": Field("date", lambda r: r.day),
    "at": Field("datetime", lambda r: r.at),
    "flag": Field("bool", lambda r: r.flag),
    "customer.number": Field("int", lambda r: r.n),
}


def rec(
    n: int = 1,
    name: str | None = "Bøgeskov ApS",
    amount: Decimal = Decimal("1019.99"),  # money getters give the amount as documents show it
    day: dt.date = dt.date(2026, 1, 2),
    flag: bool = False,
) -> SimpleNamespace:
    at = dt.datetime(2026, 8, 1, 9, 30, tzinfo=dt.UTC)
    return SimpleNamespace(n=n, name=name, amount=amount, day=day, at=at, flag=flag)


def matches(text: str, record: SimpleNamespace) -> bool:
    return compile_filter(parse(text), FIELDS)(record)


def test_and_binds_tighter_than_or() -> None:
    node = parse("n$eq:1$or:n$eq:2$and:name$eq:x")
    assert isinstance(node, Junction) and node.kind == "or"
    assert node.items[0] == Condition("n", "eq", ("1",))
    assert isinstance(node.items[1], Junction) and node.items[1].kind == "and"


def test_parentheses_group() -> None:
    node = parse("(n$eq:1$or:n$eq:2)$and:name$eq:x")
    assert isinstance(node, Junction) and node.kind == "and"
    assert matches("(n$eq:1$or:n$eq:2)$and:name$like:bøge", rec(n=2))
    assert not matches("(n$eq:1$or:n$eq:2)$and:name$like:nope", rec(n=2))
    assert matches("n$eq:2$or:n$eq:1$and:name$like:nope", rec(n=2))


def test_escapes_stand_for_the_character() -> None:
    node = parse("name$eq:a$$b$(c$)d$*e$,f$[g$]")
    assert isinstance(node, Condition)
    assert "".join(node.parts) == "a$b(c)d*e,f[g]"
    assert WILDCARD not in node.parts


def test_unescaped_star_is_a_wildcard() -> None:
    node = parse("name$like:a*b")
    assert isinstance(node, Condition) and node.parts == ("a", WILDCARD, "b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("n$eq:1", True),
        ("n$ne:1", False),
        ("n$gt:0", True),
        ("n$gte:1", True),
        ("n$lt:1", False),
        ("n$lte:1", True),
        ("n$in:[3,1]", True),
        ("n$nin:[3,1]", False),
        ("amount$eq:1019.99", True),
        ("amount$gt:1019.98", True),
        ("amount$lt:1019.99", False),
        ("amount$in:[1019.99]", True),
        ("day$gte:2026-01-02", True),
        ("day$gt:2026-01-02", False),
        ("at$gte:2026-08-01T09:30:00Z", True),
        ("at$gt:2026-08-01T09:30:00Z", False),
        ("at$lt:2026-08-01T11:30:01+02:00", True),
        ("flag$eq:false", True),
        ("flag$eq:true", False),
        ("name$eq:BØGESKOV APS", True),
        ("name$like:skov", True),
        ("name$like:SKOV", True),
        ("name$like:bøge*", True),
        ("name$like:skov*", False),
        ("name$like:*aps", True),
        ("name$like:b*g*s", True),
        ("customer.number$eq:1", True),
        ("name$eq:null", False),
        ("name$ne:null", True),
    ],
)
def test_operators(text: str, expected: bool) -> None:
    assert matches(text, rec()) is expected


def test_like_escaped_star_is_literal() -> None:
    assert matches("name$like:a$*b", rec(name="xa*by"))
    assert not matches("name$like:a$*b", rec(name="axxb"))


def test_absent_field_only_matches_negations() -> None:
    absent = rec(name=None)
    assert matches("name$eq:null", absent)
    assert not matches("name$eq:x", absent)
    assert matches("name$ne:x", absent)
    assert not matches("name$like:x", absent)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("missing$eq:1", "Filtering is not allowed on property 'missing'."),
        ("n$foo:1", "Unknown filter operator"),
        ("n$eq:abc", "Invalid value"),
        ("name$in:[1,2]", "numeric"),
        ("n$in:[a]", "numbers only"),
        ("n$in:1,2", "takes a list"),
        (f"n$in:[{','.join(str(i) for i in range(201))}]", "at most 200"),
        ("(n$eq:1", "Missing ')'"),
        ("n$eq:1)", "Unexpected"),
        ("name$eq:a$x", "Invalid escape"),
        ("nonsense", "Expected"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_filter(parse(text), FIELDS)


def test_in_takes_exactly_200() -> None:
    values = ",".join(str(i) for i in range(200))
    assert matches(f"n$in:[{values}]", rec(n=199))
