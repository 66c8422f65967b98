"""Async client for the Coupontools API (v3 and v4), on asyncio and trio.

::

    from coupontools_async import AsyncClient

    async with AsyncClient() as ct:      # COUPONTOOLS_CLIENT_ID / COUPONTOOLS_CLIENT_SECRET
        cards = await ct.wallet_cards.list()
"""

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

__version__ = "0.1.0"

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
