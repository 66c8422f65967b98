"""FastAPI integration: one shared client for the whole app, and a webhook receiver.

Needs the ``fastapi`` extra: ``pip install 'coupontools-async[fastapi]'``.

::

    from fastapi import FastAPI
    from coupontools_async.fastapi import (
        CoupontoolsClient, VerifiedWebhookEvent, WebhookEvent, coupontools_lifespan,
    )

    app = FastAPI(lifespan=coupontools_lifespan())     # COUPONTOOLS_CLIENT_ID / _SECRET

    @app.get("/cards")
    async def cards(ct: CoupontoolsClient) -> list[str]:
        return [card.name or "" for card in await ct.wallet_cards.list()]

    @app.post("/webhooks/coupontools")
    async def receive(event: VerifiedWebhookEvent) -> dict[str, str]:
        ...                                             # a genuine, parsed event
        return {"status": "ok"}

    @app.post("/webhooks/unverified")
    async def receive_unverified(event: WebhookEvent) -> dict[str, str]:
        ...                                             # parsed, not asked about
        return {"status": "ok"}

The names here are dependencies: ``WebhookEvent`` and ``VerifiedWebhookEvent`` are
``Annotated`` types that make FastAPI parse (and verify) the body. The plain union of
the event models, for your own annotations, is ``coupontools_async.webhooks.WebhookEvent``.

The client is created when the app starts and closed when it stops; every request gets
that same client (it is safe to share between tasks).
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import Annotated, Any, Protocol

import anyio

try:
    from fastapi import Depends, HTTPException, Request
    from starlette.requests import HTTPConnection
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "coupontools_async.fastapi needs FastAPI: pip install 'coupontools-async[fastapi]'"
    ) from exc

from ._client import AsyncClient
from .errors import APIConnectionError, APIError, WebhookError
from .webhooks import WebhookEvent as _Event
from .webhooks import event_identity, parse_with_raw
from .webhooks import verify as verify_event

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_VERIFICATIONS",
    "RAW_STATE_KEY",
    "RECEIVER_STATE_KEY",
    "STATE_KEY",
    "ClientFactory",
    "CoupontoolsClient",
    "MemorySeenStore",
    "SeenStore",
    "VerifiedWebhookEvent",
    "WebhookEvent",
    "WebhookEventDep",
    "coupontools_lifespan",
    "get_client",
    "webhook_event",
]

logger = logging.getLogger("coupontools_async")

STATE_KEY = "coupontools"
"""The ``app.state`` attribute holding the shared client while the app runs."""

RECEIVER_STATE_KEY = "coupontools_webhook_receiver"
"""The ``app.state`` attribute prefix of the webhook receiver's per-app state."""

RAW_STATE_KEY = "coupontools_webhook_raw"
"""The ``request.state`` attribute holding the decoded webhook payload (a dict)."""

DEFAULT_MAX_BODY = 1024 * 1024
"""Largest webhook body accepted by default (1 MiB; the documented ones are under 3 KiB)."""

ClientFactory = Callable[[], AsyncClient]
"""Makes the shared client at startup: ``AsyncClient``, ``Sandbox().client``, a lambda..."""

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def coupontools_lifespan(
    client_factory: ClientFactory | None = None,
    *,
    lifespan: Lifespan | None = None,
    **client_kwargs: Any,
) -> Lifespan:
    """A lifespan that opens one :class:`AsyncClient` at startup and closes it at shutdown.

    ``FastAPI(lifespan=coupontools_lifespan())``. While the app runs, the client is
    ``app.state.coupontools``; endpoints get it with :data:`CoupontoolsClient` (or
    :func:`get_client`).

    Args:
        client_factory: makes the client (default: ``AsyncClient(**client_kwargs)``, which
            reads the ``COUPONTOOLS_*`` environment variables). Tests and demos can pass
            ``Sandbox().client``.
        lifespan: the app's own lifespan, run inside this one (so it can use the client);
            whatever it yields is passed on as the lifespan state.
        client_kwargs: arguments for ``AsyncClient`` when no factory is given
            (``client_id=``, ``max_retries=``, ...).
    """
    if client_factory is not None and client_kwargs:
        raise TypeError("pass client_factory or AsyncClient arguments, not both")

    def make_client() -> AsyncClient:
        if client_factory is not None:
            return client_factory()
        return AsyncClient(**client_kwargs)

    @asynccontextmanager
    async def coupontools(app: Any) -> AsyncIterator[Any]:
        async with make_client() as client:
            setattr(app.state, STATE_KEY, client)
            try:
                if lifespan is None:
                    yield None
                else:
                    async with lifespan(app) as state:
                        yield state
            finally:
                if hasattr(app.state, STATE_KEY):
                    delattr(app.state, STATE_KEY)

    return coupontools


def get_client(connection: HTTPConnection) -> AsyncClient:
    """The app's shared client (a FastAPI dependency; also works for websockets).

    Raises:
        RuntimeError: the app was not created with :func:`coupontools_lifespan`, or it is
            not running.
    """
    client: AsyncClient | None = getattr(connection.app.state, STATE_KEY, None)
    if client is None:
        raise RuntimeError(
            "no Coupontools client: create the app with "
            "FastAPI(lifespan=coupontools_lifespan()) and run its lifespan"
        )
    return client


CoupontoolsClient = Annotated[AsyncClient, Depends(get_client)]
"""An endpoint parameter annotated with this receives the app's shared client."""


class SeenStore(Protocol):
    """Where the receiver remembers the event ids it handed on (plug in Redis, a table, ...).

    ``add`` must be atomic: of two concurrent calls with one id, one returns False.
    """

    async def seen(self, event_id: str) -> bool:
        """Whether this id was handed on already (ids are ``"evt_...:type"``)."""

    async def add(self, event_id: str) -> bool:
        """Remember the id; False when it was there already."""

    async def discard(self, event_id: str) -> None:
        """Forget the id (its handling failed: a redelivery should be handled)."""


class MemorySeenStore:
    """A :class:`SeenStore` in memory, bounded: at most ``max_size`` ids, each for ``max_age`` s."""

    def __init__(
        self,
        *,
        max_size: int = 10_000,
        max_age: float = 24 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1 or max_age <= 0:
            raise ValueError("max_size must be at least 1 and max_age more than 0")
        self.max_size = max_size
        self.max_age = max_age
        self._clock = clock
        self._ids: OrderedDict[str, float] = OrderedDict()

    def _expire(self) -> None:
        limit = self._clock() - self.max_age
        while self._ids and (
            len(self._ids) > self.max_size or next(iter(self._ids.values())) < limit
        ):
            self._ids.popitem(last=False)

    async def seen(self, event_id: str) -> bool:
        """Whether the id is remembered (and not expired)."""
        self._expire()
        return event_id in self._ids

    async def add(self, event_id: str) -> bool:
        """Remember the id; False when it was there already."""
        self._expire()
        if event_id in self._ids:
            return False
        self._ids[event_id] = self._clock()
        self._expire()
        return True

    async def discard(self, event_id: str) -> None:
        """Forget the id."""
        self._ids.pop(event_id, None)

    def __len__(self) -> int:
        return len(self._ids)


DEFAULT_MAX_VERIFICATIONS = 4
"""Verification calls one app makes at once by default (more posts wait their turn)."""


class _Receiver:
    """Per app: the ids handed on, the ids refused, and the bound on verification calls."""

    def __init__(self, max_verifications: int) -> None:
        self.handed: SeenStore = MemorySeenStore()
        self.refused = MemorySeenStore(max_size=10_000, max_age=600.0)
        self.limiter = anyio.CapacityLimiter(max_verifications)
        self.calls = 0
        """Verification calls made (for monitoring and tests)."""


def _receiver(request: Request, max_verifications: int) -> _Receiver:
    key = f"{RECEIVER_STATE_KEY}_{max_verifications}"
    receiver: _Receiver | None = getattr(request.app.state, key, None)
    if receiver is None:
        receiver = _Receiver(max_verifications)
        setattr(request.app.state, key, receiver)
    return receiver


def webhook_event(
    *,
    verify: bool = False,
    max_body_size: int = DEFAULT_MAX_BODY,
    seen_store: SeenStore | None = None,
    max_verifications: int = DEFAULT_MAX_VERIFICATIONS,
) -> Callable[[Request], AsyncIterator[_Event]]:
    """A dependency giving the request's webhook, parsed into its typed event.

    ``event: Annotated[webhooks.WebhookEvent, Depends(webhook_event(max_body_size=4096))]``
    (:data:`WebhookEvent` and :data:`VerifiedWebhookEvent` are the two usual ones).

    Answers (instead of calling the endpoint):

    - 400 when the body is not a webhook payload, 413 when it is larger than
      ``max_body_size`` bytes;
    - with ``verify=True``, asking the API through the shared client: 401 when the event is
      not genuine (unknown id, an answer that contradicts its id, type, campaign or
      session, or an id that cannot be verified - such as the docs' ``directory_registration``
      example ``"922"``), 502 when the verification call itself fails;
    - 200 ``{"detail": {"status": "duplicate", ...}}`` for an event (id and type) already
      handed to the endpoint: a redelivered or replayed event is acknowledged, not handled twice.
      Ids are remembered in ``seen_store`` (default: in memory per app, 10,000 ids for 24
      hours); an id whose endpoint raised is forgotten, so its redelivery is handled.

    What a stream of made-up ids can cost is bounded: at most ``max_verifications``
    verification calls at once per app (the others wait), and an event refused once (its id and
    claimed type, campaign and session) is
    refused again for ten minutes without asking.

    The decoded payload (a dict) is also left on ``request.state.coupontools_webhook_raw``.
    """

    async def dependency(request: Request) -> AsyncIterator[_Event]:
        too_large = f"more than {max_body_size} bytes"
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_body_size:
            raise _refuse(413, "payload_too_large", too_large)
        body = bytearray()
        async with aclosing(request.stream()) as chunks:  # closed on every path (trio)
            async for chunk in chunks:
                body += chunk
                if len(body) > max_body_size:
                    raise _refuse(413, "payload_too_large", too_large)
        try:
            event, raw = parse_with_raw(bytes(body))
        except WebhookError as exc:
            raise _refuse(400, "invalid_webhook", str(exc)) from None
        setattr(request.state, RAW_STATE_KEY, raw)
        receiver = _receiver(request, max_verifications)
        handed = seen_store if seen_store is not None else receiver.handed
        # The type too: the docs' examples reuse one id across types (a real id is unique).
        seen_id = f"{event.id}:{event.type}"
        if await handed.seen(seen_id):
            raise _duplicate(event)
        if verify:
            await _verify(request, receiver, event)
        if not await handed.add(seen_id):
            raise _duplicate(event)
        try:
            yield event
        except Exception:
            await handed.discard(seen_id)  # not handled: a redelivery must be
            raise

    return dependency


def _claim(event: _Event) -> str:
    """The event's id with the identifying fields it claims: what a refusal is cached under.

    Not the id alone: a forged payload posted with a real id first must not get the
    genuine event refused when it arrives.
    """
    return json.dumps(sorted(event_identity(event).items()))


async def _verify(request: Request, receiver: _Receiver, event: _Event) -> None:
    claim = _claim(event)
    if await receiver.refused.seen(claim):
        raise _refuse(401, "unverified_webhook", "Coupontools does not confirm this event")
    client = get_client(request)
    async with receiver.limiter:
        receiver.calls += 1
        try:
            verification = await verify_event(client, event)
        except (APIError, APIConnectionError) as exc:
            logger.warning(
                "webhook %r (%r) could not be verified: %s", event.id[:40], event.type[:40], exc
            )
            raise _refuse(
                502, "verification_failed", f"could not verify the event: {type(exc).__name__}"
            ) from None
    if verification is None:
        await receiver.refused.add(claim)
        raise _refuse(401, "unverified_webhook", "Coupontools does not confirm this event")


def _duplicate(event: _Event) -> HTTPException:
    logger.info("webhook %r (%r) already handled: acknowledged", event.id[:40], event.type[:40])
    return HTTPException(
        status_code=200, detail={"status": "duplicate", "id": event.id, "type": event.type}
    )


def _refuse(status: int, error: str, message: str) -> HTTPException:
    logger.warning("webhook refused (%d %s): %s", status, error, message)
    return HTTPException(status_code=status, detail={"error": error, "message": message})


WebhookEvent = Annotated[_Event, Depends(webhook_event())]
"""An endpoint parameter annotated with this receives the parsed (not verified) webhook.

The same name as the union type :data:`coupontools_async.webhooks.WebhookEvent` on
purpose: imported from here it is the dependency, so a route using it works.
"""

VerifiedWebhookEvent = Annotated[_Event, Depends(webhook_event(verify=True))]
"""An endpoint parameter annotated with this receives the parsed webhook, verified with the API."""

WebhookEventDep = WebhookEvent
"""The first name of :data:`WebhookEvent`, kept so code written with it still runs."""
