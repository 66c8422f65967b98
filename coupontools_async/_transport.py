"""Retry middleware (an httpx transport wrapper), request logging and header redaction.

The policy is DESIGN.md's "Retries":

- retried: connection errors, 408, 429, 500, 502, 503, 504; never another 4xx, and never
  a v3 ``failed`` envelope, whatever its HTTP status;
- an operation with ``x-idempotent: false`` (create, send, add stamps, use rewards) is
  retried only when the request cannot have reached the server: a connect error, a 429,
  or a 503 that says Retry-After. Never after a read timeout or a dropped answer;
- backoff is exponential from 0.5 s, capped at 8 s, with jitter; a Retry-After (seconds
  or HTTP date) is obeyed up to ``max_retry_after``, past which the answer is returned
  and the client raises :class:`~coupontools_async.RateLimitError` with ``.retry_after``;
- one overall deadline bounds every attempt and every wait of a call;
- each retry logs one WARNING on the ``coupontools_async`` logger and calls ``on_retry``.

Every answer's body is read here, under the call's cap on decoded bytes
(:func:`read_capped`), before the retry decision and inside the deadline.

Why hand-written rather than stamina or tenacity: whether to retry depends on the
answer (status, Retry-After, a v3 envelope inside a 5xx) and on the operation being
called (its idempotency travels in the request's extensions), and tests drive the waits
through an injected clock. Both libraries retry a *function* on *exceptions*: using them
would mean turning responses into exceptions and back, threading idempotency through a
closure, and still writing the Retry-After and deadline rules by hand — more code than
the bookkeeping below, plus a dependency. stamina's test switch is also process-global,
where ours is per client.
"""

from __future__ import annotations

import inspect
import logging
import random
import time
import zlib
from asyncio import _get_running_loop as _running_asyncio_loop
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import httpx

from ._envelope import is_v3_failure
from ._wire import parse_retry_after

__all__ = [
    "CALL_CONTEXT",
    "SAFE_HEADERS",
    "CallContext",
    "DeadlineExceeded",
    "InFlight",
    "ResponseTooLarge",
    "RetryEvent",
    "RetryPolicy",
    "RetryTransport",
    "read_capped",
    "redact_headers",
]

logger = logging.getLogger("coupontools_async")

CALL_CONTEXT = "coupontools"
"""Key of the :class:`CallContext` in ``httpx.Request.extensions``."""

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# Errors after which the request certainly never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Errors worth another attempt at all (a malformed URL or a proxy refusal are not).
_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

SAFE_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "content-length",
        "content-type",
        "date",
        "host",
        "retry-after",
        "server",
        "user-agent",
        "x-request-id",
        "request-id",
    }
)
"""Headers whose values may be logged. Everything else is logged as ``[redacted]``:
an allowlist, so a credential header added tomorrow is hidden too."""


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers fit for a log line: values outside :data:`SAFE_HEADERS` are redacted."""
    return {
        name: value if name.lower() in SAFE_HEADERS else "[redacted]" for name, value in headers
    }


class DeadlineExceeded(httpx.TimeoutException):
    """The overall deadline of a call ran out (the client raises APITimeoutError)."""


class ResponseTooLarge(httpx.HTTPError):
    """An answer's decoded body passed the cap (the client raises APIError)."""

    def __init__(self, limit: int, status_code: int) -> None:
        super().__init__(f"the answer is larger than {limit:,} bytes")
        self.limit = limit
        self.status_code = status_code


@attrs.frozen(kw_only=True)
class RetryEvent:
    """What ``on_retry`` is told before each retry."""

    operation: str
    """``"POST /v3/coupon/info"``."""
    operation_id: str | None
    """The spec's operationId (``"coupons_get"``), when the call came from the client."""
    attempt: int
    """The attempt that failed, from 1."""
    reason: str
    """``"HTTP 503"``, ``"ConnectError"``, ..."""
    delay: float
    """Seconds waited before the next attempt."""
    status_code: int | None = None


OnRetry = Callable[[RetryEvent], Any]
"""A hook called (or awaited, if it returns an awaitable) before every retry."""


def _default_sleep(seconds: float) -> Awaitable[None]:
    return anyio.sleep(seconds)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how long to retry. Immutable; derive variants with :func:`attrs.evolve`."""

    max_retries: int = 3
    """Retries after the first attempt (0 disables retrying)."""
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.5
    """Each wait is the exponential step times a random factor in ``[1 - jitter, 1]``."""
    max_retry_after: float = 60.0
    """A longer Retry-After is not waited for: the error is raised with ``.retry_after``."""
    deadline: float | None = 120.0
    """Seconds for all attempts and waits of one call together (None: no deadline)."""
    sleep: Callable[[float], Awaitable[None]] = _default_sleep
    """How to wait: ``anyio.sleep``; tests and simulations pass a fake."""
    clock: Callable[[], float] = time.monotonic
    """Seconds from an arbitrary origin, for the deadline; paired with ``sleep``."""
    random: Callable[[], float] = random.random

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1)."""
        step = min(self.backoff_max, self.backoff_initial * (2.0 ** (attempt - 1)))
        factor: float = 1.0 - self.jitter * self.random()
        return step * factor

    @property
    def real_time(self) -> bool:
        """True when the clock is the real one (the deadline can then also cut a hung attempt)."""
        return self.clock is time.monotonic


@attrs.define(kw_only=True)
class CallContext:
    """Per-call facts the client puts in ``request.extensions`` for the retry layer."""

    operation: str
    operation_id: str | None = None
    idempotent: bool = True
    policy: RetryPolicy | None = None
    on_retry: OnRetry | None = None
    attempts: int = 0
    """Filled in by the retry layer: how many attempts the call took."""
    uncertain: bool = False
    """Filled in by the retry layer: an earlier attempt may have reached the server and
    been applied (its answer was lost or was a server error)."""
    max_response_bytes: int | None = None
    """Decoded bytes an answer may hold (None: no cap)."""


def loop_token() -> object:
    """The running event loop, as an object equal to itself for as long as it runs.

    On asyncio the loop itself (one C call); elsewhere (trio) anyio's token of it.
    """
    loop = _running_asyncio_loop()
    return loop if loop is not None else anyio.lowlevel.current_token()


def plain_encoding(header: str) -> bool:
    """A ``Content-Encoding`` that leaves the bytes as they are (none, or identity)."""
    return header.strip().lower() in ("", "identity")


class InFlight:
    """At most ``total`` requests inside the connection pool at once.

    Callers beyond that wait here, in anyio's fair O(1) queue, instead of in httpcore's
    pool, whose wait queue is rescanned on every change: with a thousand requests queued
    on a small pool that rescan costs milliseconds of CPU per request (see the
    reliability suite). One limiter per event loop, created on first use there.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._token: object = None
        self._limiter: anyio.Semaphore | None = None

    def limiter(self) -> anyio.Semaphore:
        """The limiter of the running event loop.

        A semaphore, not a CapacityLimiter: a call may nest inside another in the same
        task (an in-process sandbox delivering a webhook to an app that verifies it with
        the same client), which a CapacityLimiter refuses.
        """
        token = loop_token()
        if self._limiter is None or token != self._token:
            self._limiter = anyio.Semaphore(self.total, fast_acquire=True)
            self._token = token
        return self._limiter


class RetryTransport(httpx.AsyncBaseTransport):
    """An httpx transport that retries through ``inner`` by the policy above.

    Use it like any transport: ``httpx.AsyncClient(transport=RetryTransport(inner))``.
    Per-call settings come from a :class:`CallContext` in ``request.extensions``; a
    request without one (a plain httpx call) is treated as idempotent only for GET,
    HEAD, OPTIONS, PUT and DELETE.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        on_retry: OnRetry | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        self.inner = inner if inner is not None else httpx.AsyncHTTPTransport()
        self.policy = policy or RetryPolicy()
        self.on_retry = on_retry
        self.in_flight = InFlight(max_in_flight) if max_in_flight else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, retrying as the policy allows."""
        send = self.inner.handle_async_request if self.in_flight is None else self._limited
        return await send_with_retries(request, send, policy=self.policy, on_retry=self.on_retry)

    async def _limited(self, request: httpx.Request) -> httpx.Response:
        assert self.in_flight is not None
        async with self.in_flight.limiter():
            response = await self.inner.handle_async_request(request)
            # The connection stays busy until the body is read: read it inside.
            await read_capped(response, request)
            return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


async def send_with_retries(
    request: httpx.Request,
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    *,
    policy: RetryPolicy,
    on_retry: OnRetry | None = None,
) -> httpx.Response:
    """Send through ``send`` until an answer that should not be retried, or give up.

    Returns the last response (the caller turns an error status into an exception) or
    raises the last transport error.
    """
    ctx = request.extensions.get(CALL_CONTEXT)
    if not isinstance(ctx, CallContext):
        ctx = CallContext(
            operation=f"{request.method} {request.url.path}",
            idempotent=request.method in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE"),
        )
    policy = ctx.policy or policy
    on_retry = ctx.on_retry or on_retry
    started = policy.clock()
    attempt = 0
    while True:
        attempt += 1
        ctx.attempts = attempt
        before = policy.clock()
        try:
            response = await _attempt(request, send, policy, started)
        except _RETRYABLE_ERRORS as exc:
            _log_failure(ctx, attempt, exc, policy.clock() - before)
            reached = not isinstance(exc, _NOT_SENT)
            ctx.uncertain = ctx.uncertain or reached
            if isinstance(exc, DeadlineExceeded) or attempt > policy.max_retries:
                raise
            if reached and not ctx.idempotent:
                raise  # the server may have acted on it: never send a write twice
            delay = policy.backoff(attempt)
            if not _fits(policy, started, delay):
                raise
            await _before_retry(ctx, policy, on_retry, attempt, type(exc).__name__, delay, None)
            continue

        status = response.status_code
        _log_response(ctx, attempt, request, response, policy.clock() - before)
        if status not in RETRY_STATUSES or attempt > policy.max_retries:
            return response
        await response.aread()
        if is_v3_failure(response.content):
            return response  # the server decided; asking again changes nothing
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        not_processed = status == 429 or (status == 503 and retry_after is not None)
        ctx.uncertain = ctx.uncertain or not not_processed
        if not ctx.idempotent and not not_processed:
            return response
        if retry_after is not None and retry_after > policy.max_retry_after:
            return response
        delay = retry_after if retry_after is not None else policy.backoff(attempt)
        if not _fits(policy, started, delay):
            return response
        await response.aclose()
        await _before_retry(ctx, policy, on_retry, attempt, f"HTTP {status}", delay, status)


async def _attempt(
    request: httpx.Request,
    send: Callable[[httpx.Request], Awaitable[httpx.Response]],
    policy: RetryPolicy,
    started: float,
) -> httpx.Response:
    if policy.deadline is None or not policy.real_time:
        response = await send(request)
        await read_capped(response, request)
        return response
    remaining = policy.deadline - (policy.clock() - started)
    if remaining <= 0:
        raise DeadlineExceeded(f"deadline of {policy.deadline:g} s exceeded", request=request)
    with anyio.move_on_after(remaining) as scope:
        response = await send(request)
        await read_capped(response, request)  # read inside the deadline too
        return response
    if scope.cancelled_caught:
        raise DeadlineExceeded(f"deadline of {policy.deadline:g} s exceeded", request=request)
    raise AssertionError("unreachable")  # pragma: no cover


_CHUNK = 64 * 1024
"""Most bytes one decompression step may produce: what a bomb's chunk can cost."""


async def read_capped(response: httpx.Response, request: httpx.Request | None = None) -> None:
    """Read ``response``'s body, decoding at most the call's ``max_response_bytes``.

    gzip and deflate are inflated here step by step, so a small compressed body that
    inflates to gigabytes costs no more than the cap; other encodings go through
    httpx's decoder, checked chunk by chunk. Past the cap the connection is closed and
    :class:`ResponseTooLarge` raised. A body already read is only measured.
    """
    ctx = (request or response.request).extensions.get(CALL_CONTEXT)
    limit = ctx.max_response_bytes if isinstance(ctx, CallContext) else None
    if response.is_stream_consumed:
        try:
            size = len(response.content)
        except httpx.ResponseNotRead:  # someone streamed it: nothing left to measure
            return
        if limit is not None and size > limit:
            raise ResponseTooLarge(limit, response.status_code)
        return
    if limit is None:
        await response.aread()
        return
    parts: list[bytes] = []
    total = 0
    coding = response.headers.get("content-encoding", "")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit and plain_encoding(coding):
        # Larger than the cap before a byte is read: refused without starting the stream
        # (whose generators, left unfinished, trio would report when they are collected).
        await response.aclose()
        raise ResponseTooLarge(limit, response.status_code)
    inflater = _Inflater.for_encoding(coding)
    # br, zstd, chains: httpx's own decoder, checked after each chunk.
    decode = inflater.feed if inflater else _HttpxDecoder(response).feed
    # The stream itself, not aiter_raw(): a generator left unfinished at the cap would
    # be finalised by the garbage collector, which trio reports.
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):  # pragma: no cover - a sync transport
        await response.aread()
        return
    chunks = stream.__aiter__()
    response.is_stream_consumed = True
    try:
        async for chunk in chunks:
            for piece in decode(chunk, limit - total + 1):
                total += len(piece)
                if total > limit:
                    raise ResponseTooLarge(limit, response.status_code)
                parts.append(piece)
        if not inflater:
            parts.extend(decode(b"", 0))
    finally:
        closing = getattr(chunks, "aclose", None)
        if closing is not None:
            await closing()
        await response.aclose()
    if total > limit:  # pragma: no cover - the flush of a foreign decoder
        raise ResponseTooLarge(limit, response.status_code)
    # What httpx's own aread() stores: the decoded body, read once.
    response._content = b"".join(parts)


class _HttpxDecoder:
    """httpx's decoder of a response's Content-Encoding (brotli, zstd, chains)."""

    def __init__(self, response: httpx.Response) -> None:
        self._decoder = response._get_content_decoder()

    def feed(self, data: bytes, budget: int) -> list[bytes]:
        return [self._decoder.decode(data) if data else self._decoder.flush()]


class _Inflater:
    """gzip or deflate, inflated in steps of at most :data:`_CHUNK` bytes."""

    def __init__(self, wbits: int, *, deflate: bool) -> None:
        self._wbits = wbits
        self._deflate = deflate
        self._started = False
        # wbits 0 is "no coding": feed() passes the bytes through untouched.
        self._inflate = zlib.decompressobj(wbits) if wbits else None

    @classmethod
    def for_encoding(cls, header: str) -> _Inflater | None:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if not codings:
            return cls(0, deflate=False)  # no coding: a pass-through, see feed()
        if codings == ["gzip"] or codings == ["x-gzip"]:
            return cls(zlib.MAX_WBITS | 16, deflate=False)
        if codings == ["deflate"]:
            return cls(zlib.MAX_WBITS, deflate=True)
        return None  # br, zstd, chains: httpx's decoders

    def feed(self, data: bytes, budget: int) -> list[bytes]:
        if self._inflate is None:
            return [data]
        step = max(1, min(budget, _CHUNK))
        pieces: list[bytes] = []
        try:
            while data and not self._inflate.eof:
                piece = self._inflate.decompress(data, step)
                self._started = True
                data = self._inflate.unconsumed_tail
                pieces.append(piece)
                if sum(map(len, pieces)) >= budget:
                    break  # the caller raises: no need to inflate further
        except zlib.error as exc:
            if self._deflate and not self._started:
                # Servers send raw deflate as often as zlib-wrapped (httpx tries both).
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self._deflate = False
                return self.feed(data, budget)
            raise httpx.DecodingError(str(exc)) from exc
        return pieces


def _fits(policy: RetryPolicy, started: float, delay: float) -> bool:
    if policy.deadline is None:
        return True
    return (policy.clock() - started) + delay < policy.deadline


async def _before_retry(
    ctx: CallContext,
    policy: RetryPolicy,
    on_retry: OnRetry | None,
    attempt: int,
    reason: str,
    delay: float,
    status: int | None,
) -> None:
    logger.warning(
        "Retrying %s after %s (attempt %d of %d) in %.2f s",
        ctx.operation,
        reason,
        attempt,
        policy.max_retries + 1,
        delay,
    )
    if on_retry is not None:
        result = on_retry(
            RetryEvent(
                operation=ctx.operation,
                operation_id=ctx.operation_id,
                attempt=attempt,
                reason=reason,
                delay=delay,
                status_code=status,
            )
        )
        if inspect.isawaitable(result):
            await result
    await policy.sleep(delay)


def _log_response(
    ctx: CallContext,
    attempt: int,
    request: httpx.Request,
    response: httpx.Response,
    elapsed: float,
) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s -> %d (%.1f ms, attempt %d) request headers %s",
            ctx.operation,
            response.status_code,
            elapsed * 1000,
            attempt,
            redact_headers(request.headers.items()),
        )


def _log_failure(ctx: CallContext, attempt: int, exc: Exception, elapsed: float) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s -> %s (%.1f ms, attempt %d)",
            ctx.operation,
            type(exc).__name__,
            elapsed * 1000,
            attempt,
        )
