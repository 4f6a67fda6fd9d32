"""Collections: ``skippages``/``pagesize`` paging, ``filter=`` and ``sort=``, and the envelope
``{collection, pagination{skipPages, pageSize, results, resultsWithoutFilter, firstPage,
lastPage, nextPage?}, self}`` (``nextPage`` absent on the last page)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

from sandbox.economic.errors import ApiError
from sandbox.economic.filters import Field, FilterError, compile_filter, parse

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Page:
    skip: int
    size: int


def page_of(query: Mapping[str, str]) -> Page:
    try:
        skip = int(query.get("skippages", "0"))
        size = int(query.get("pagesize", str(DEFAULT_PAGE_SIZE)))
    except ValueError as exc:
        raise ApiError(400, "skippages and pagesize must be whole numbers.") from exc
    if skip < 0 or size < 1:
        raise ApiError(
            400,
            "skippages must be 0 or more and pagesize 1 or more.",
            errors=["Invalid paging parameters."],
        )
    if size > MAX_PAGE_SIZE:
        raise ApiError(
            400,
            f"pagesize cannot exceed {MAX_PAGE_SIZE}.",
            errors=[f"The maximum page size is {MAX_PAGE_SIZE}."],
        )
    return Page(skip, size)


def sort_keys(text: str, fields: Mapping[str, Field]) -> list[tuple[Field, bool]]:
    keys = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, desc = (item[1:], True) if item.startswith("-") else (item, False)
        field = fields.get(name)
        if field is None:
            raise ApiError(
                400, "Invalid sort.", errors=[f"Sorting is not allowed on property '{name}'."]
            )
        keys.append((field, desc))
    return keys


def select(
    records: Sequence[Any], query: Mapping[str, str], fields: Mapping[str, Field]
) -> list[Any]:
    """Filter then sort (stable; records come in primary-key order)."""
    chosen = list(records)
    if query.get("filter"):
        try:
            predicate = compile_filter(parse(query["filter"]), fields)
        except FilterError as exc:
            raise ApiError(400, "Invalid filter.", errors=[str(exc)]) from exc
        chosen = [r for r in chosen if predicate(r)]
    for field, desc in reversed(sort_keys(query.get("sort", ""), fields)):
        chosen.sort(key=_sort_key(field.get, field.kind == "str"), reverse=desc)
    return chosen


def _sort_key(get: Callable[[Any], Any], fold: bool) -> Callable[[Any], tuple[bool, Any]]:
    def key(record: Any) -> tuple[bool, Any]:
        value = get(record)
        if value is None:
            return (False, "")
        return (True, value.casefold() if fold else value)

    return key


def envelope(
    items: list[dict[str, Any]], *, results: int, without_filter: int, page: Page, url: URL
) -> dict[str, Any]:
    last = max(0, (results - 1) // page.size)

    def at(skip: int) -> str:
        return str(url.update_query(skippages=str(skip), pagesize=str(page.size)))

    pagination: dict[str, Any] = {
        "skipPages": page.skip,
        "pageSize": page.size,
        "results": results,
        "resultsWithoutFilter": without_filter,
        "firstPage": at(0),
        "lastPage": at(last),
    }
    if page.skip < last:
        pagination["nextPage"] = at(page.skip + 1)
    return {"collection": items, "pagination": pagination, "self": str(url)}


class ScanCache:
    """Remembers the last few filtered+sorted scans; keys carry the company's version."""

    def __init__(self, size: int = 16) -> None:
        self._size, self._items = size, OrderedDict[Hashable, list[Any]]()

    def get(self, key: Hashable, compute: Callable[[], list[Any]]) -> list[Any]:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = self._items[key] = compute()
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return value


def collection(
    request: Any,
    source: Callable[[], Sequence[Any]],
    fields: Mapping[str, Field],
    render: Callable[[Any], dict[str, Any]],
    scans: ScanCache | None = None,
    key: Hashable = None,
) -> dict[str, Any]:
    """The whole answer for one collection request: select (cached under ``key``, which must
    change whenever the data does), page, render only the page."""
    query = request.query
    page = page_of(query)

    def compute() -> list[Any]:
        records = source()
        return [len(records), select(records, query, fields)]

    if scans is not None and key is not None:
        total, chosen = scans.get((key, query.get("filter", ""), query.get("sort", "")), compute)
    else:
        total, chosen = compute()
    start = page.skip * page.size
    items = [render(r) for r in chosen[start : start + page.size]]
    return envelope(items, results=len(chosen), without_filter=total, page=page, url=request.url)
