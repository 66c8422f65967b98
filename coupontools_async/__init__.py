"""Async client for the Coupontools API (v3 and v4), on asyncio and trio.

::

    from coupontools_async import AsyncClient

    async with AsyncClient() as ct:      # COUPONTOOLS_CLIENT_ID / COUPONTOOLS_CLIENT_SECRET
        cards = await ct.wallet_cards.list()
"""

from typing import TYPE_CHECKING, Any

from ._client import DEFAULT_BASE_URL, AsyncClient, RawResponse
from ._pagination import AsyncPager, Page
from ._transport import RetryEvent, RetryPolicy, RetryTransport
from ._version import __version__
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


if TYPE_CHECKING:
    from ._generated import models


def __getattr__(name: str) -> Any:
    # The models module is the heaviest of the package: loaded when first used.
    if name == "models":
        from ._generated import models

        return models
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
