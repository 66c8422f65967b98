"""What every generated operation is described by, and what it is called through.

The hand-written client implements :class:`Requester`; the generated methods only
build arguments and hand them over with their :class:`Operation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Generic, Literal, Protocol, TypeVar

import attrs

T = TypeVar("T")

ApiVersion = Literal["v3", "v4"]
ParamLocation = Literal["path", "query", "body"]
ResponseKind = Literal["json", "binary", "empty"]

NO_EXTRA_FIELDS: Mapping[str, Any] = MappingProxyType({})
"""The ``extra_fields`` of a model that came with no unknown keys (or was built by hand)."""


class Model:
    """The base of every generated model: keeps the wire keys the spec does not know.

    ``extra_fields`` is a slot, not an attrs field, so it is no argument of ``__init__``,
    takes no part in ``==``, ``hash`` or ``repr`` (an unknown key may hold anything,
    even a credential the ``repr=False`` rules cannot know about), and is not copied by
    ``attrs.evolve``, ``copy`` or pickling: only a decoded model has it.
    """

    __slots__ = ("_extra_fields",)
    _extra_fields: Mapping[str, Any]

    @property
    def extra_fields(self) -> Mapping[str, Any]:
        """The keys of the answer this model does not know, with their values as they came.

        Read-only; empty when there were none. Nested models keep their own; a known
        field is never in it.
        """
        try:
            return self._extra_fields
        except AttributeError:
            return NO_EXTRA_FIELDS


@attrs.frozen
class Param:
    """One documented parameter of an operation, with the constraints the docs state."""

    name: str
    """The Python argument name."""
    location: ParamLocation
    required: bool
    type: str
    """JSON Schema type: string, integer, number, boolean, array or object."""
    description: str = ""
    wire: str = attrs.field(default=attrs.Factory(lambda self: self.name, takes_self=True))
    """The name on the wire (JSON key or path placeholder); the Python name by default."""
    enum: tuple[str, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_items: int | None = None
    format: str | None = None
    """``e164``, ``email``, ``date``, ``ct-date-or-minute``, ``ct-datetime`` or None."""
    items_type: str | None = None
    """For arrays: the JSON Schema type of the items."""
    ref: str | None = None
    """The model (schema name) of an object, or of an array's items; its rules are in
    ``rules.MODEL_PARAMS``."""


@attrs.frozen
class Pagination:
    """How a paged list operation pages (the spec's ``x-pagination``)."""

    style: str
    page_param: str
    """Dotted path of the page number in the request body."""
    page_size: int
    """Documented (or assumed) number of items in a full page."""
    items: str
    """Dotted path of the item list in the response ("" when it is the response)."""
    first_page: int = 1
    page_size_param: str | None = None
    """Dotted path of the page size in the request body, when the caller may set it."""


@attrs.frozen
class Operation(Generic[T]):
    """Everything the spec says about one endpoint, for the client to act on."""

    id: str
    group: str
    method: str
    path: str
    api_version: ApiVersion
    idempotent: bool
    summary: str
    response_kind: ResponseKind
    response_type: Any
    """The type the response decodes into (an attrs class, ``list[...]``, ``bytes``, None)."""
    params: tuple[Param, ...] = ()
    error_codes: tuple[tuple[int, str], ...] = ()
    error_classes: tuple[tuple[int, str], ...] = ()
    """v3 codes this operation means differently from the table in ``errors``: (code,
    name of the ``errors`` class); the spec's ``x-error-classes``."""
    pagination: Pagination | None = None
    require_any_of: tuple[tuple[str, ...], ...] = ()
    require_one_of: tuple[tuple[str, ...], ...] = ()
    mutually_exclusive: tuple[tuple[str, ...], ...] = ()
    body_param: str | None = None
    """Set when the whole JSON body is one list argument (bulk create)."""
    assumptions: tuple[str, ...] = ()

    def param(self, name: str) -> Param:
        """The parameter with this Python name."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


class RequestFn(Protocol):
    """The client's ``_request``: validate, send and decode one call of an operation."""

    async def __call__(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        body: Any = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> T:
        """Validate, send and decode one call of ``operation``.

        ``None`` values in a body mapping mean "not given" and are not sent. The
        ``extra_*`` mappings are merged into the request after validation.
        """
        ...


class Requester(Protocol):
    """What a generated resource needs from a client: its :class:`RequestFn` ``_request``."""

    @property
    def _request(self) -> RequestFn: ...
