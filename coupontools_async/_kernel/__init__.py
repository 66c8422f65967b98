"""What generated code stands on: written by hand, importing nothing else of the package.

``_generated`` imports only this package; everything else may import both.
"""

from ._operation import (
    NO_EXTRA_FIELDS,
    ApiVersion,
    Model,
    Operation,
    Pagination,
    Param,
    ParamLocation,
    Requester,
    RequestFn,
    ResponseKind,
)
from ._pager import AsyncPager, Page, items_at
from ._raw import RAW_SINK, RawGroup, RawMethod, RawResponse, to_raw_response_wrapper
from ._resource import Extras, Resource

__all__ = [
    "NO_EXTRA_FIELDS",
    "RAW_SINK",
    "ApiVersion",
    "AsyncPager",
    "Extras",
    "Model",
    "Operation",
    "Page",
    "Pagination",
    "Param",
    "ParamLocation",
    "RawGroup",
    "RawMethod",
    "RawResponse",
    "RequestFn",
    "Requester",
    "Resource",
    "ResponseKind",
    "items_at",
    "to_raw_response_wrapper",
]
