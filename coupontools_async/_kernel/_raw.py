"""Raw responses: the parsed result beside the HTTP response(s) it came from.

:func:`to_raw_response_wrapper` keeps a method's whole signature (a ``ParamSpec``), so
``ct.with_raw_response.wallet_users.get(1, 2)`` is ``RawResponse[WalletUser]`` to a type
checker. The client appends every response it receives to :data:`RAW_SINK` while a
wrapped call runs (a context variable: concurrent calls never see each other's).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, TypeVar

import attrs
import httpx

__all__ = ["RAW_SINK", "RawGroup", "RawResponse", "to_raw_response_wrapper"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

RAW_SINK: contextvars.ContextVar[list[httpx.Response] | None] = contextvars.ContextVar(
    "coupontools_raw_sink", default=None
)
"""Where the client puts the responses of the call a raw wrapper is running."""


@attrs.frozen
class RawResponse(Generic[T]):
    """A parsed result beside the HTTP response it came from."""

    parsed: T
    """What the method returns normally (a model, a list of models, bytes or None)."""
    http_response: httpx.Response
    """The last HTTP response of the call (status, headers, raw body)."""
    responses: tuple[httpx.Response, ...] = ()
    """Every HTTP response of the call, for methods that make several requests."""

    @property
    def status_code(self) -> int:
        """The HTTP status of the last response."""
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The headers of the last response."""
        return self.http_response.headers


def to_raw_response_wrapper(
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[RawResponse[R]]]:
    """``func`` with the same arguments, returning a :class:`RawResponse` of its result."""

    @functools.wraps(func)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[R]:
        sink: list[httpx.Response] = []
        token = RAW_SINK.set(sink)
        try:
            parsed = await func(*args, **kwargs)
        finally:
            RAW_SINK.reset(token)
        if not sink:
            name = getattr(func, "__name__", "this method")
            raise TypeError(f"{name} makes no HTTP request; it has no raw response")
        return RawResponse(parsed, sink[-1], tuple(sink))

    return wrapped


class RawGroup:
    """The base of every generated ``<Group>WithRawResponse``.

    The generated subclass sets one typed attribute per operation; a method only a
    hand-written subclass of the group has (a composite such as ``sessions.list``) is
    wrapped on first use by :meth:`__getattr__`.
    """

    def __init__(self, resource: Any) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._resource, name)
        if not callable(method):
            raise AttributeError(name)
        return to_raw_response_wrapper(method)
