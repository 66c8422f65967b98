"""The base class of every generated resource group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from ._operation import Operation, Requester, RequestFn
from ._pager import AsyncPager

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Extras", "Resource"]


class Extras(TypedDict, total=False):
    """The escape hatches every method takes, passed on to the call(s) it makes."""

    extra_body: Mapping[str, Any] | None
    extra_query: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None


class Resource:
    """A group of operations (one spec tag) bound to a client.

    ``_request`` is the client's own bound method, so a generated method reaches the
    request pipeline in one call.
    """

    def __init__(self, client: Requester) -> None:
        self._client = client
        self._request: RequestFn = client._request

    def _pager(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        body: Mapping[str, Any],
        page_size: int | None = None,
        start_page: int | None = None,
        max_pages: int | None = None,
        max_items: int | None = None,
        **extras: Unpack[Extras],
    ) -> AsyncPager[Any]:
        """Every page of ``operation``, as its ``x-pagination`` metadata says to ask for them."""
        pagination = operation.pagination
        if pagination is None:
            raise TypeError(f"{operation.id} is not a paged operation")
        size = None
        if pagination.page_size_param is not None:
            size = pagination.page_size if page_size is None else page_size

        async def fetch(page: int) -> Any:
            wire = _with(body, pagination.page_param, page)
            if size is not None and pagination.page_size_param is not None:
                wire = _with(wire, pagination.page_size_param, size)
            return await self._request(operation, path=path, body=wire, **extras)

        return AsyncPager(
            fetch,
            pagination,
            start_page=start_page,
            requested_page_size=size,
            max_pages=max_pages,
            max_items=max_items,
        )


def _with(body: Mapping[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with ``value`` at a dotted key path (the copies go as deep as it)."""
    top = dict(body)
    node = top
    *parents, last = dotted.split(".")
    for part in parents:
        child = node.get(part)
        node[part] = dict(child) if isinstance(child, Mapping) else {}
        node = node[part]
    node[last] = value
    return top
