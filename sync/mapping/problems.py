"""What a mapping returns: the mapped value, or None, together with the problems it found.

    Mapped(value, problems)   a NamedTuple, so ``debtor, problems = debtor_of(...)`` reads well

- ``value`` set, ``problems`` empty: send it.
- ``value`` set, ``problems`` not empty: it can be sent; a person should still hear of them.
- ``value`` None: nothing sendable could be made without guessing; ``problems`` says why
  (never empty then).

A `MappingProblem` carries exactly what `sync.store.problems.Problems.record` takes (category,
stable ``code``, ``subject`` such as ``customer:42`` or ``invoice:10001``, a message a bookkeeper
can act on, and a small ``detail``), so a caller passes it on unchanged.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, NamedTuple, TypeVar

import msgspec

T = TypeVar("T")


class MappingProblem(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    subject: str
    message: str
    detail: dict[str, Any] = {}
    category: Literal["missing_data"] = "missing_data"


class Mapped(NamedTuple, Generic[T]):
    value: T | None
    problems: tuple[MappingProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """A value, and nothing a person needs to hear of."""
        return self.value is not None and not self.problems
