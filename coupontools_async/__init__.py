"""Async client for the Coupontools API (v3 and v4), on asyncio and trio.

::

    from coupontools_async import AsyncClient

    async with AsyncClient() as ct:      # COUPONTOOLS_CLIENT_ID / COUPONTOOLS_CLIENT_SECRET
        cards = await ct.wallet_cards.list()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import DEFAULT_BASE_URL, AsyncClient, RawResponse
    from ._generated import models
    from ._pagination import AsyncPager, Page
    from ._transport import RetryEvent, RetryPolicy, RetryTransport
    from .errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        ConflictError,
        CoupontoolsError,
        DeliveryError,
        IntegrationError,
        InvalidRequestError,
        NotFoundError,
        RateLimitError,
        ServerError,
        ValidationError,
        WebhookError,
    )

from ._version import __version__  # one string, cheap to import

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncPager",
    "AuthenticationError",
    "ConflictError",
    "CoupontoolsError",
    "DeliveryError",
    "IntegrationError",
    "InvalidRequestError",
    "NotFoundError",
    "Page",
    "RateLimitError",
    "RawResponse",
    "RetryEvent",
    "RetryPolicy",
    "RetryTransport",
    "ServerError",
    "ValidationError",
    "WebhookError",
    "__version__",
    "models",
]

# The names are imported when first used (PEP 562), so that `import coupontools_async.cli`
# (the `coupontools` command's --help) does not pay for the client and the generated models.
_LAZY = {
    "DEFAULT_BASE_URL": "._client",
    "AsyncClient": "._client",
    "RawResponse": "._client",
    "models": "._generated",
    "AsyncPager": "._pagination",
    "Page": "._pagination",
    "RetryEvent": "._transport",
    "RetryPolicy": "._transport",
    "RetryTransport": "._transport",
    "APIConnectionError": ".errors",
    "APIError": ".errors",
    "APITimeoutError": ".errors",
    "AuthenticationError": ".errors",
    "ConflictError": ".errors",
    "CoupontoolsError": ".errors",
    "DeliveryError": ".errors",
    "IntegrationError": ".errors",
    "InvalidRequestError": ".errors",
    "NotFoundError": ".errors",
    "RateLimitError": ".errors",
    "ServerError": ".errors",
    "ValidationError": ".errors",
    "WebhookError": ".errors",
}


# Not seen by type checkers, so that a misspelt name is still an error to them.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
