"""Raw responses: the parsed result beside the HTTP response(s) it came from.

:func:`to_raw_response_wrapper` keeps a method's whole signature (a ``ParamSpec``), and a
raw group declares each of its methods as a :class:`RawMethod` of the resource's, so
``ct.with_raw_response.wallet_users.get(1, 2)`` is ``RawResponse[WalletUser]`` to a type
checker, for generated and hand-written methods alike. The client appends every response
it receives to :data:`RAW_SINK` while a wrapped call runs (a context variable: concurrent
calls never see each other's).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import attrs
import httpx

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["RAW_SINK", "RawGroup", "RawMethod", "RawResponse", "to_raw_response_wrapper"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

RAW_SINK: contextvars.ContextVar[list[httpx.Response] | None] = contextvars.ContextVar(
    "coupontools_raw_sink", default=None
)
"""Where the client puts the responses of the call a raw wrapper is running."""


@attrs.frozen
class RawResponse(Generic[T]):
    """A parsed result beside the HTTP responses it came from."""

    parsed: T
    """What the method returns normally (a model, a list of models, a report, bytes, None)."""
    responses: tuple[httpx.Response, ...]
    """Every HTTP response of the call, in order: one for most methods, several for those
    that make several requests, none for an import that had nothing to send."""
    method: str = ""
    """The name of the method called, for the error below."""

    @property
    def http_response(self) -> httpx.Response:
        """The last HTTP response of the call (status, headers, raw body).

        Raises :class:`LookupError` when the call sent nothing (an import whose rows were
        all invalid, duplicates or done already): ``parsed`` holds its result even then.
        """
        if not self.responses:
            raise LookupError(
                f"{self.method or 'the call'} sent no request, so there is no HTTP response; "
                "its result is in .parsed"
            )
        return self.responses[-1]

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
    name = getattr(func, "__name__", "")

    @functools.wraps(func)
    async def wrapped(*args: P.args, **kwargs: P.kwargs) -> RawResponse[R]:
        sink: list[httpx.Response] = []
        token = RAW_SINK.set(sink)
        try:
            parsed = await func(*args, **kwargs)
        finally:
            RAW_SINK.reset(token)
        return RawResponse(parsed, tuple(sink), name)

    return wrapped


class RawMethod(Generic[P, R]):
    """One method of a raw group: the resource's method of the same name, returning a RawResponse.

    Declared in the class body (``get = RawMethod(WalletUsersResource.get)``), so a type
    checker reads the signature off the resource's method, and a subclass that redeclares
    a name for a hand-written override gets the override's signature. The wrapper is built
    on first use and kept in the group's ``__dict__``, which wins over this descriptor.
    """

    def __init__(self, method: Callable[Concatenate[Any, P], Awaitable[R]]) -> None:
        self._name: str = method.__name__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, group: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(
        self, group: RawGroup, owner: type[Any]
    ) -> Callable[P, Awaitable[RawResponse[R]]]: ...

    def __get__(self, group: RawGroup | None, owner: type[Any]) -> Any:
        if group is None:
            return self
        wrapped = to_raw_response_wrapper(getattr(group._resource, self._name))
        group.__dict__[self._name] = wrapped
        return wrapped


class RawGroup:
    """The base of every ``<Group>WithRawResponse``: ``ct.with_raw_response.<group>``.

    Each subclass declares its methods as :class:`RawMethod` attributes (the generated
    one per operation, a hand-written one per composite). A method of the resource that
    is not declared (a pager such as ``iter``) has no raw form and is refused by name.
    """

    def __init__(self, resource: Any) -> None:
        self._resource = resource

    if not TYPE_CHECKING:  # to a type checker, an undeclared name is simply missing

        def __getattr__(self, name: str) -> Any:
            if not name.startswith("_") and callable(getattr(self._resource, name, None)):
                raise AttributeError(
                    f"{type(self._resource).__name__}.{name} has no raw response: it returns "
                    "a pager or sends no request of its own. with_raw_response has the "
                    "methods that send a request and return its answer (for a pager, call "
                    "the method that fetches one page)",
                    name=name,
                    obj=self,
                )
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self
            )
