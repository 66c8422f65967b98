"""Async iteration over every item of a paged list, driven by the spec's ``x-pagination``.

Only one page is held at a time, so memory stays flat however long the list is.

When to stop is the delicate part: the docs say v3 session pages split at 5,000 records
while a public integration sees pages of 100 (FACTS.md), so a documented page size
cannot be trusted. The pager stops on:

- an empty page;
- a page shorter than a page seen before it (a short page after full ones is the last);
- a page shorter than the page size the caller asked for (v4, where we set ``per_page``);
- a page identical to the one before (a server that ignores the page number);
- ``max_pages`` or ``max_items``.

A first page shorter than the documented size costs one more request to confirm
that nothing follows, rather than risk losing every page after it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

import attrs

from ._operation import Pagination

__all__ = ["AsyncPager", "Page"]

Item = TypeVar("Item")


@attrs.frozen
class Page(Generic[Item]):
    """One page of a list: its number, its items and the decoded response it came in."""

    number: int
    items: list[Item]
    response: Any


def items_at(response: Any, path: str) -> list[Any]:
    """The item list at a dotted attribute path of a decoded response ("" is the response)."""
    value = response
    for part in filter(None, path.split(".")):
        value = getattr(value, part, None)
    if value is None:
        return []
    return value if isinstance(value, list) else list(value)


class AsyncPager(Generic[Item]):
    """``async for item in pager`` yields every item of every page; ``pager.pages()`` pages.

    ``fetch(page_number)`` returns one decoded response; the items are read from it at
    the pagination's ``items`` path. Iterators are plain objects, not async generators,
    so leaving a loop early (``break``, ``max_items``) leaves nothing to finalize.
    """

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[Any]],
        pagination: Pagination,
        *,
        start_page: int | None = None,
        requested_page_size: int | None = None,
        max_pages: int | None = None,
        max_items: int | None = None,
    ) -> None:
        if max_pages is not None and max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        if max_items is not None and max_items < 0:
            raise ValueError("max_items must not be negative")
        self._fetch = fetch
        self._pagination = pagination
        self._start = pagination.first_page if start_page is None else start_page
        self._requested = requested_page_size
        self._max_pages = max_pages
        self._max_items = max_items

    def __aiter__(self) -> AsyncIterator[Item]:
        return _Items(self.pages(), self._max_items)

    def pages(self) -> AsyncIterator[Page[Item]]:
        """Every page in order, one request each, stopping as the module docstring says."""
        return _Pages(self)

    async def to_list(self) -> list[Item]:
        """Every item in one list (prefer ``async for`` for long lists: it keeps one page)."""
        return [item async for item in self]


class _Pages(AsyncIterator[Page[Item]]):
    def __init__(self, pager: AsyncPager[Item]) -> None:
        self._pager = pager
        self._number = pager._start
        self._fetched = 0
        self._largest = 0
        # A fingerprint of the last page, not the page: only one page stays alive.
        self._previous: tuple[int, Any, Any] | None = None
        self._done = False

    async def __anext__(self) -> Page[Item]:
        pager = self._pager
        if self._done:
            raise StopAsyncIteration
        response = await pager._fetch(self._number)
        items: list[Item] = items_at(response, pager._pagination.items)
        self._fetched += 1
        fingerprint = (len(items), items[0], items[-1]) if items else None
        if fingerprint is None or fingerprint == self._previous:
            self._done = True
            raise StopAsyncIteration
        page = Page(self._number, items, response)
        size = len(items)
        if (
            size < self._largest
            or (pager._requested is not None and size < pager._requested)
            or (pager._max_pages is not None and self._fetched >= pager._max_pages)
        ):
            self._done = True
        self._largest = max(self._largest, size)
        self._previous = fingerprint
        self._number += 1
        return page


class _Items(AsyncIterator[Item]):
    def __init__(self, pages: AsyncIterator[Page[Item]], max_items: int | None) -> None:
        self._pages = pages
        self._remaining = max_items
        self._current: Iterator[Item] = iter(())

    async def __anext__(self) -> Item:
        if self._remaining == 0:
            raise StopAsyncIteration
        while True:
            for item in self._current:
                if self._remaining is not None:
                    self._remaining -= 1
                return item
            page = await self._pages.__anext__()  # StopAsyncIteration ends us too
            self._current = iter(page.items)
