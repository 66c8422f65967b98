"""AsyncClient: configuration, authentication, lifecycle and the resource groups."""

from __future__ import annotations

import datetime
import functools
import logging
import math
import os
import re
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote

import attrs
import httpx

from ._backends import HttpBackend, default_transport
from ._envelope import decode, decode_any
from ._generated.groups import GROUPS, Groups, RawGroups
from ._kernel import RAW_SINK, Operation, RawResponse
from ._redact import install_log_filter, printable, register
from ._transport import (
    CALL_CONTEXT,
    CallContext,
    DeadlineExceeded,
    OnRetry,
    ResponseTooLarge,
    RetryPolicy,
    RetryTransport,
    loop_token,
    send_with_retries,
)
from ._version import __version__
from ._wire import json_dumps
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CoupontoolsError,
    NotFoundError,
    ValidationError,
)

if TYPE_CHECKING:
    from ._resources import (
        Distribution,
        DistributionWithRawResponse,
        LoyaltyUsers,
        LoyaltyUsersWithRawResponse,
        Sessions,
        SessionsWithRawResponse,
        WalletUsers,
        WalletUsersWithRawResponse,
    )

__all__ = ["DEFAULT_BASE_URL", "AsyncClient", "AsyncClientWithRawResponse", "RawResponse"]

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.coupontools.com"
DEFAULT_MAX_RESPONSE_BYTES = 8 * 2**20
"""Decoded bytes a JSON answer may hold by default (binary and paged answers: 4x)."""
ENV_CLIENT_ID = "COUPONTOOLS_CLIENT_ID"
ENV_CLIENT_SECRET = "COUPONTOOLS_CLIENT_SECRET"
ENV_BASE_URL = "COUPONTOOLS_BASE_URL"

_UNSET: Any = object()

_CREDENTIAL_HEADERS = frozenset({"x-client-id", "x-client-secret", "x-api-key", "x-api-secret"})
_TRANSPORT_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_METHODS = _IDEMPOTENT_METHODS | {"POST", "PATCH"}
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# One leading "/" (so the base URL's host stays the host), no whitespace, query or fragment.
_PATH = re.compile(r"/(?!/)[^\s?#\x00-\x1f\x7f]*")
_httpx_log = logging.getLogger("httpx")
"""httpx's own logger: our client logs each request there as httpx's client would."""
_PLACEHOLDER = re.compile(r"\{\w+\}")
# Every line the library logs passes the scrubber (retry WARNINGs, DEBUG request lines,
# the FastAPI receiver's WARNING), whatever handler the application attaches.
install_log_filter(
    "coupontools_async",
    "coupontools_async.drift",
    "coupontools_async.backend",
    "coupontools_async.sandbox",
    "httpx",
)


# What "surrounding whitespace" means for a credential: a CRLF .env file, a pasted
# trailing space or tab. Everything else a header cannot carry is refused.
_STRIP = " \t\r\n\x0b\x0c"


def _credential(value: object, *, param: str, env: str, what: str) -> str:
    """A credential as it may travel in a header, or a ValidationError naming its source.

    The message names the parameter or environment variable, never the value.
    """
    source = param
    if value is None:
        value, source = os.environ.get(env), env
    if value is None:
        raise ValidationError(
            f"no {what}: pass {param}= or set the {env} environment variable",
            param=param,
            rule="required",
        )
    if not isinstance(value, str):
        raise ValidationError(
            f"{param} must be a str, got {type(value).__name__}", param=param, rule="type"
        )
    stripped = value.strip(_STRIP)
    if not stripped:
        raise ValidationError(
            f"no {what}: {source} is empty; pass {param}= or set the {env} environment variable",
            param=param,
            rule="required",
        )
    for char in stripped:
        if not " " <= char <= "~":
            kind = "a control character" if char.isascii() else "a non-ASCII character"
            raise ValidationError(
                f"{source} holds {kind}, which an HTTP header cannot carry "
                "(a stray character from copying or from an .env file?)",
                param=param,
                rule="header_value",
            )
    return stripped


_CREDENTIAL_NAMES = frozenset({b"x-client-id", b"x-client-secret", b"x-api-key", b"x-api-secret"})


class _Credentials:
    """Client id and secret; their repr and str never show them.

    They reach a request only through :meth:`sign`, inside its own short-lived frame:
    no plain dict of them sits in a frame a locals-capturing traceback (rich's
    ``show_locals``, Sentry) could show.
    """

    __slots__ = ("__weakref__", "_encoded", "_id", "_secret")

    def __init__(self, client_id: str, client_secret: str, *raw: str) -> None:
        self._id = client_id
        self._secret = client_secret
        # The headers as httpx.Headers holds them (name, lowercased name, value; all
        # printable ASCII, checked above), so that signing a request is one list extend.
        self._encoded = tuple(
            (name.encode("ascii"), name.lower().encode("ascii"), value.encode("ascii"))
            for name, value in self.headers().items()
        )
        register(self, client_id, client_secret, *raw)

    @classmethod
    def read(cls, client_id: object, client_secret: object) -> _Credentials:
        """The credentials given, or from the environment; checked and stripped."""
        raw = [
            value if value is not None else os.environ.get(env)
            for value, env in ((client_id, ENV_CLIENT_ID), (client_secret, ENV_CLIENT_SECRET))
        ]
        clean_id = _credential(client_id, param="client_id", env=ENV_CLIENT_ID, what="client id")
        clean_secret = _credential(
            client_secret, param="client_secret", env=ENV_CLIENT_SECRET, what="client secret"
        )
        return cls(clean_id, clean_secret, *(v for v in raw if isinstance(v, str)))

    def headers(self) -> dict[str, str]:
        """The credential headers (for code that builds its own requests)."""
        # Both pairs on every request: v3 and part of v4 read X-Client-*, the v4
        # loyalty endpoints x-api-* (FACTS.md); sending both avoids guessing per route.
        return {
            "X-Client-Id": self._id,
            "X-Client-Secret": self._secret,
            "x-api-key": self._id,
            "x-api-secret": self._secret,
        }

    def values(self) -> frozenset[str]:
        """Both values, to keep them out of places they must not go."""
        return frozenset((self._id, self._secret))

    def sign(self, request: httpx.Request) -> None:
        """Put the credential headers on ``request`` (replacing any of the same names)."""
        items = getattr(request.headers, "_list", None)
        if not isinstance(items, list):  # pragma: no cover - another httpx's internals
            request.headers.update(self.headers())
            return
        names = _CREDENTIAL_NAMES
        if any(item[1] in names for item in items):
            items[:] = [item for item in items if item[1] not in names]
        items.extend(self._encoded)

    def __repr__(self) -> str:
        return "<credentials redacted>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("credentials cannot be pickled")


class AsyncClientWithRawResponse(RawGroups):
    """``ct.with_raw_response``: every group, each method returning a :class:`RawResponse`."""

    if TYPE_CHECKING:  # the raw classes of the groups in AsyncClient._GROUP_OVERRIDES
        sessions: SessionsWithRawResponse
        distribution: DistributionWithRawResponse
        loyalty_users: LoyaltyUsersWithRawResponse
        wallet_users: WalletUsersWithRawResponse


class AsyncClient(Groups):
    """The Coupontools API client. One instance is safe to share between tasks.

    ::

        async with AsyncClient() as ct:            # COUPONTOOLS_CLIENT_ID / _SECRET
            cards = await ct.wallet_cards.list()

    Args:
        client_id: API client id (default: ``$COUPONTOOLS_CLIENT_ID``).
        client_secret: API client secret (default: ``$COUPONTOOLS_CLIENT_SECRET``).
        base_url: API root (default: ``$COUPONTOOLS_BASE_URL``, else
            ``https://api.coupontools.com``).
        timeout: seconds for each HTTP attempt (connect, read, write, pool).
        max_retries: retries after the first attempt (default 3, or ``retry``'s own).
        transport: an httpx transport to send through (respx, ``httpx.MockTransport``,
            an ASGI app, a proxy); retries wrap it.
        http_client: an ``httpx.AsyncClient`` of yours to send through (its base URL
            and auth are not used, and no redirect is followed: the credentials go to
            ``base_url``'s host only; closing it stays your job).
        retry: the full retry policy (backoff, Retry-After cap, overall deadline).
        on_retry: called (or awaited) with a ``RetryEvent`` before every retry.
        max_connections: the size of the connection pool; more concurrent calls than that
            wait their turn in the client (not in the pool, where waiting is costly).
        default_region: the country of national phone numbers (``"BE"``): with the
            ``phone`` extra, every phone argument is read by ``phonenumbers``,
            ``0470 12 34 56`` sent as ``+32470123456`` and an invalid number refused.
        http_backend: ``"auto"`` (aiohttp on asyncio when the ``aiohttp`` extra is
            installed, else httpx), ``"httpx"`` or ``"aiohttp"``; chosen at the first call.
            Not used with ``transport=`` or ``http_client=``.
        proxy: a proxy URL for every call (``http://user:pass@proxy:3128``); without it
            ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` are honoured.
        max_response_bytes: the most decoded bytes an answer may hold (8 MiB; four times
            that for barcodes and list pages); past it the read stops and an ``APIError``
            is raised, so a compressed bomb costs no more than the cap.

    Credentials are stripped of surrounding whitespace; any other character a header
    cannot carry is a ``ValidationError`` naming the parameter or variable, never the
    value. Every argument is checked here, before anything is sent.

    When the real API knows more than the spec: every method takes ``extra_body``,
    ``extra_query`` and ``extra_headers``; :meth:`request` calls any path;
    ``with_options(validate=False)`` leaves every check to the server; and every model
    keeps the keys it does not know in ``extra_fields``.
    """

    _GROUPS = tuple(GROUPS)  # the spec's tags: every resource group
    # The groups whose hand-written subclass (composite and renamed methods) is built
    # instead of the generated resource; every other group is the spec's, unchanged.
    _GROUP_OVERRIDES: ClassVar[Mapping[str, tuple[str, str]]] = {
        name: ("coupontools_async._resources", cls)
        for name, cls in (
            ("sessions", "Sessions"),
            ("distribution", "Distribution"),
            ("loyalty_users", "LoyaltyUsers"),
            ("wallet_users", "WalletUsers"),
        )
    }

    if TYPE_CHECKING:
        sessions: Sessions
        distribution: Distribution
        loyalty_users: LoyaltyUsers
        wallet_users: WalletUsers

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        on_retry: OnRetry | None = None,
        max_connections: int = 100,
        default_region: str | None = None,
        http_backend: HttpBackend = "auto",
        proxy: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        try:
            credentials = _Credentials.read(client_id, client_secret)
        except ValidationError as exc:
            traceback.clear_frames(exc.__traceback__)  # the frames below, holding the values
            raise
        finally:
            # Not in this frame's locals either, for a traceback that shows them.
            del client_id, client_secret
        if transport is not None and http_client is not None:
            raise ValidationError(
                "pass transport= or http_client=, not both", param="transport", rule="exclusive"
            )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ValidationError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}",
                param="http_client",
                rule="type",
            )
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise ValidationError(
                f"transport must be an httpx.AsyncBaseTransport, got {type(transport).__name__}",
                param="transport",
                rule="type",
            )
        timeout = _seconds(timeout, "timeout")
        max_connections = _count(max_connections, "max_connections", minimum=1)
        max_response_bytes = _count(max_response_bytes, "max_response_bytes", minimum=1)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError(
                f"retry must be a RetryPolicy, got {type(retry).__name__}",
                param="retry",
                rule="type",
            )
        if on_retry is not None and not callable(on_retry):
            raise ValidationError("on_retry must be callable", param="on_retry", rule="type")
        yours = transport if transport is not None else http_client
        self._backend = default_transport(
            http_backend, proxy, yours=yours, max_connections=max_connections
        )
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=_count(max_retries, "max_retries"))
        elif policy.max_retries < 0:
            raise ValidationError(
                "max_retries must be 0 or more", param="max_retries", rule="minimum"
            )
        self.default_region = None
        if default_region is not None:
            from ._validation import check_region

            self.default_region = check_region(default_region)
        """The region of national phone numbers (``"BE"``), or None: E.164 only."""
        self._credentials = credentials
        self.max_response_bytes = max_response_bytes
        """Decoded bytes an answer may hold (binary answers: four times as many)."""
        self.base_url = _base_url(base_url)
        """The API root every path is joined to."""
        self.retry_policy = policy
        """The retry policy of this client (per call: :meth:`with_options`)."""
        self.timeout = timeout
        self.on_retry = on_retry
        self._user_agent = f"coupontools-async/{__version__} httpx/{httpx.__version__}"
        if http_client is not None:
            self._http = http_client
            self._owns_http = False
            self._retry_outside = True
        else:
            inner = transport if transport is not None else self._backend
            retrying = RetryTransport(
                inner, policy=self.retry_policy, on_retry=on_retry, max_in_flight=max_connections
            )
            self._http = httpx.AsyncClient(
                transport=retrying, timeout=timeout, follow_redirects=False
            )
            self._owns_http = True
            self._retry_outside = False
            self._transport = retrying
        self._timeout_ext = httpx.Timeout(timeout).as_dict()
        # Built once per client, not per call: the headers every request starts from.
        # Our own client's requests skip httpx.AsyncClient.build_request, so they take its
        # defaults (Accept-Encoding, Connection) here; a client you pass merges its own.
        start = httpx.Headers({} if http_client is not None else self._http.headers)
        start.update({"User-Agent": self._user_agent, "Accept": "application/json"})
        self._headers: dict[str, str] = dict(start.items())
        # The same as httpx.Headers, which a request copies as a list instead of
        # normalising every name and value again: without a body, and with a JSON one.
        self._plain_headers = httpx.Headers(self._headers)
        self._json_headers = httpx.Headers({**self._headers, "content-type": "application/json"})
        self._validate = True
        # Shared with every with_options view: closing the client closes them too.
        self._life = _Lifecycle(loop_bound=transport is None)

    @classmethod
    def sandbox(cls, seed: int = 0, *, sessions: int = 2000, **kwargs: Any) -> AsyncClient:
        """A client talking, in process, to a new seeded sandbox (no account, no network).

        ``async with AsyncClient.sandbox() as ct: ...``. To inspect the sandbox's state or
        inject faults, create it yourself: ``sb = Sandbox.seeded(); ct = sb.client()``.
        """
        from .sandbox import Sandbox

        return Sandbox.seeded(seed, sessions=sessions).client(**kwargs)

    # ------------------------------------------------------------------ variants

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        timeout: float | None = None,
        deadline: float | None = _UNSET,
        on_retry: OnRetry | None = _UNSET,
        validate: bool | None = None,
    ) -> AsyncClient:
        """A view of this client with other per-call settings, sharing its connections.

        ``ct.with_options(max_retries=0).wallet_users.create(...)``. Closing the view
        does nothing; close the original client.

        ``validate=False`` leaves every check to the server: arguments still take their
        wire form (dates in the API's layouts, enums as values, models as wire-named
        dicts), but nothing is refused locally, so the server's own error comes back.
        """
        if self._closed:
            raise self._closed_error()
        clone = object.__new__(AsyncClient)
        # The groups are cached per client: the view builds its own, bound to itself.
        clone.__dict__.update(
            (k, v) for k, v in self.__dict__.items() if k not in GROUPS and k != "with_raw_response"
        )
        policy = self.retry_policy
        if max_retries is not None:
            policy = attrs.evolve(policy, max_retries=_count(max_retries, "max_retries"))
        if deadline is not _UNSET:
            if deadline is not None:
                deadline = _seconds(deadline, "deadline")
            policy = attrs.evolve(policy, deadline=deadline)
        if timeout is not None:
            timeout = _seconds(timeout, "timeout")
        if on_retry is not _UNSET and on_retry is not None and not callable(on_retry):
            raise ValidationError("on_retry must be callable", param="on_retry", rule="type")
        clone.retry_policy = policy
        if timeout is not None:
            clone.timeout = timeout
            clone._timeout_ext = httpx.Timeout(timeout).as_dict()
        if on_retry is not _UNSET:
            clone.on_retry = on_retry
        if validate is not None:
            clone._validate = validate
        clone._owns_http = False
        clone.__dict__["_view"] = True
        return clone

    @functools.cached_property
    def with_raw_response(self) -> AsyncClientWithRawResponse:
        """The same groups and methods, returning :class:`RawResponse` (parsed + httpx response).

        ``raw = await ct.with_raw_response.wallet_users.get(1, 2)``, then
        ``raw.parsed``, ``raw.status_code``, ``raw.headers``. Pagers (``iter``) have no
        raw form.
        """
        return AsyncClientWithRawResponse(self)

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections this client opened (not an ``http_client`` you passed).

        The client, and every :meth:`with_options` view of it, refuses calls afterwards.
        Closing a view does nothing.
        """
        if "_view" in self.__dict__ or self._closed:
            return
        self._life.closed = True
        if self._owns_http:
            await self._http.aclose()

    @property
    def http_backend(self) -> str:
        """``"aiohttp"`` or ``"httpx"`` once the first call chose it (``"auto"`` before);
        ``"custom"`` when you passed ``transport=`` or ``http_client=``."""
        if self._backend is None:
            return "custom"
        return self._backend.chosen or self._backend.requested

    @property
    def _closed(self) -> bool:
        return self._life.closed

    @property
    def is_closed(self) -> bool:
        """True once :meth:`aclose` ran (on this client or the one it is a view of)."""
        return self._life.closed

    def _closed_error(self, operation: str | None = None) -> APIConnectionError:
        return APIConnectionError(
            f"{self!r} is closed: create a new client (with_options views close with theirs)",
            operation=operation,
        )

    def __repr__(self) -> str:
        # Also shown for a half-built client, by tracebacks that print frame locals.
        return f"AsyncClient(base_url={getattr(self, 'base_url', None)!r})"

    def __reduce__(self) -> Any:
        raise TypeError("AsyncClient cannot be pickled (it holds credentials and connections)")

    # ------------------------------------------------------------------- calling

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call any path of the API, for what the spec (and so no method) has yet.

        ``await ct.request("POST", "/v3/coupon/info", json={"campaign": "cam_1"})``.
        Sent with the credentials (both header pairs, which ``headers`` cannot change),
        retried as the operation at that path is in the spec (``x-idempotent``), else
        by the method (GET, HEAD, OPTIONS, PUT and DELETE are retried after a timeout;
        POST and PATCH only when the request cannot have reached the server). Under
        ``/v3`` the envelope is unwrapped (a v3 POST with no ``json`` sends ``{}``, as
        v3 wants); a ``failed`` envelope raises its typed :class:`~.errors.APIError`
        anywhere, as does an HTTP error status.

        Returns:
            The decoded JSON payload (a dict, list, ...), or the body's bytes when a
            successful answer is not JSON.

        Raises:
            ValidationError: a method or path that cannot be sent (the path must start
                with one ``/``; the query goes in ``params``); a credential (or ``Host``)
                header, or a credential value in ``json`` or ``params``.
        """
        verb = method.upper() if isinstance(method, str) else method
        if verb not in _METHODS:
            raise ValidationError(
                f"method: one of {', '.join(sorted(_METHODS))}, got {_shown_text(method)}",
                param="method",
                rule="enum",
            )
        if not isinstance(path, str) or _PATH.fullmatch(path) is None:
            raise ValidationError(
                "path: an API path starting with one '/' (no host, no whitespace, no '?' "
                f"or '#': the query goes in params=), got {_shown_text(path)}",
                param="path",
                rule="pattern",
            )
        operation = _operation_at(verb, path)
        if self._closed:
            raise self._closed_error(f"{verb} {path}")
        self._refuse_credentials(json, "json")
        response = await self._call(operation, path, json, params, headers)
        return decode_any(operation, response)

    async def _request(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        body: Any = None,
        validated: bool = False,
        extra_body: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> T:
        """Validate, send and decode one call of ``operation`` (what every method uses).

        ``validated=True`` sends ``body`` as given: for callers that already checked it
        (the bulk importer validates each row on the way in). The ``extra_*`` mappings
        are merged in after validation: ``extra_body`` into the JSON body (its keys win),
        ``extra_query`` into the URL, ``extra_headers`` into the headers (never the
        credential ones).
        """
        if self._closed:
            raise self._closed_error(operation.id)
        # Imported here, not with the package: cattrs and the models load at the first call.
        from ._convert import structure
        from ._validation import encode, prepare

        if validated:
            path_values = {k: str(v) for k, v in (path or {}).items()}
            wire_body = body
        elif self._validate:
            path_values, wire_body = prepare(
                operation, path=path, body=body, default_region=self.default_region
            )
        else:
            path_values, wire_body = encode(operation, path=path, body=body)
        url_path = operation.path
        if path_values or "{" in url_path:
            try:
                url_path = url_path.format_map(
                    {k: quote(v, safe="") for k, v in path_values.items()}
                )
            except KeyError as exc:
                raise ValidationError(
                    f"{exc.args[0]}: required, but not given",
                    param=str(exc.args[0]),
                    rule="required",
                ) from None
        if extra_body is not None:
            wire_body = _merge_body(operation, wire_body, extra_body)
            self._refuse_credentials(extra_body, "extra_body")
        response = await self._call(operation, url_path, wire_body, extra_query, extra_headers)
        label = f"{operation.method} {url_path}"
        try:
            payload = decode(operation, response)
        except CoupontoolsError as exc:
            _forget_locals(exc)  # the envelope's frames hold the answer, which may echo headers
            context = response.request.extensions.get(CALL_CONTEXT)
            if not (
                isinstance(exc, NotFoundError)
                and isinstance(context, CallContext)
                and _already_deleted(operation, context, exc)
            ):
                raise
            # An earlier attempt may have deleted it and lost the answer: done as asked.
            gone: Any = None
            if operation.response_type is not None:
                gone = structure({}, operation.response_type)
            return gone  # type: ignore[no-any-return]
        if operation.response_kind != "json":
            result: T = payload
            return result
        try:
            decoded: T = structure(payload, operation.response_type)
        except Exception as exc:  # a decode bug must surface as an API problem, typed
            _forget_locals(exc)  # half-built models and the raw answer: not for a traceback
            raise APIError(
                f"unexpected answer: {type(exc).__name__}: {_short(exc)} ({label})",
                status_code=response.status_code,
                operation=label,
            ) from exc
        if decoded is None:  # PHP's [] (or "") where the answer's object should be
            raise APIError(
                f"the answer holds no {_type_name(operation.response_type)} ({label})",
                status_code=response.status_code,
                operation=label,
                body=response.text[:200],
            )
        return decoded

    async def _call(
        self,
        operation: Operation[Any],
        url_path: str,
        wire_body: Any,
        query: Mapping[str, Any] | None,
        extra_headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        """Send one request (credentials, retries by idempotency) and read its answer."""
        label = f"{operation.method} {url_path}"
        # The credentials are put on the request in _send, so no frame holds them here.
        headers: httpx.Headers = self._plain_headers  # never changed in place: copied below
        content: bytes | None = None
        if wire_body is not None or (operation.api_version == "v3" and operation.method != "GET"):
            # v3 always takes a JSON body, even an empty one.
            content = _json_bytes(wire_body if wire_body is not None else {})
            headers = self._json_headers
        if extra_headers is not None:
            merged = httpx.Headers(headers)  # case-insensitive: an extra Accept replaces ours
            merged.update(_checked_headers(extra_headers))
            headers = merged
        params = self._checked_query(query) if query is not None else None
        context = CallContext(
            operation=label,
            operation_id=operation.id or None,
            idempotent=operation.idempotent,
            policy=self.retry_policy,
            on_retry=self.on_retry,
        )
        extensions = {"timeout": self._timeout_ext, CALL_CONTEXT: context}
        url = _parsed_url(self.base_url + url_path)
        # The client you passed adds its own defaults; ours are in the headers already.
        build = self._http.build_request if self._retry_outside else httpx.Request
        request = build(
            operation.method,
            url,
            content=content,
            headers=headers,
            params=params,
            extensions=extensions,
        )
        response = await self._send(request, label)
        sink = RAW_SINK.get()
        if sink is not None:
            sink.append(response)
        return response

    def _refuse_credentials(self, value: Any, param: str) -> None:
        """Credentials travel in their headers only, never in a body we send."""
        if _holds_any(value, self._credentials.values()):
            raise ValidationError(
                f"{param}: credentials are never sent in a body (the client sends them "
                "in its headers)",
                param=param,
                rule="credentials",
            )

    def _checked_query(
        self, query: Mapping[str, Any]
    ) -> list[tuple[str, str | int | float | bool | None]]:
        """``extra_query`` / ``params`` as httpx takes them; None drops a key."""
        if not isinstance(query, Mapping):
            raise _wrong_type("the query must be a mapping", query, "extra_query")
        secrets = self._credentials.values()
        out: list[tuple[str, str | int | float | bool | None]] = []
        for key, value in query.items():
            if not isinstance(key, str):
                raise _wrong_type("query parameter names are strings", key, "extra_query")
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if item is None:
                    continue
                if isinstance(item, bool):
                    item = "true" if item else "false"
                if not isinstance(item, (str, int, float)):
                    raise ValidationError(
                        f"{_shown_text(key)}: a query value is text or a number, got "
                        f"{type(item).__name__}",
                        param=key,
                        rule="type",
                    )
                if isinstance(item, str) and item.strip() in secrets:
                    # A URL ends up in proxies' and servers' logs: credentials never go there.
                    raise ValidationError(
                        f"{_shown_text(key)}: credentials are never sent in a URL",
                        param=key,
                        rule="credentials",
                    )
                out.append((key, item))
        return out

    async def _send(self, request: httpx.Request, label: str) -> httpx.Response:
        self._check_usable(label)
        self._credentials.sign(request)
        context = request.extensions.get(CALL_CONTEXT)
        if isinstance(context, CallContext) and context.max_response_bytes is None:
            context.max_response_bytes = self._response_cap(context.operation_id)
        try:
            if self._retry_outside:
                return await send_with_retries(
                    request,
                    self._send_through_user_client,
                    policy=self.retry_policy,
                    on_retry=self.on_retry,
                )
            return await self._send_owned(request)
        except ResponseTooLarge as exc:
            raise APIError(
                f"the answer is larger than {exc.limit:,} bytes and was not read "
                f"(max_response_bytes= raises the cap) ({label})",
                status_code=exc.status_code,
                operation=label,
            ) from None
        except DeadlineExceeded as exc:
            raise APITimeoutError(str(exc), operation=label) from exc
        except httpx.TimeoutException as exc:
            _forget_locals(exc)
            raise APITimeoutError(f"timed out ({type(exc).__name__})", operation=label) from exc
        except httpx.DecodingError as exc:  # e.g. a body that lies about its Content-Encoding
            raise APIError(
                f"the answer could not be read: {_short(exc)} ({label})", operation=label
            ) from exc
        except httpx.HTTPError as exc:  # transport errors, and anything else httpx raises
            _forget_locals(exc)
            raise APIConnectionError(
                f"connection failed ({type(exc).__name__}: {_short(exc)})", operation=label
            ) from exc

    async def _send_owned(self, request: httpx.Request) -> httpx.Response:
        """What ``httpx.AsyncClient.send`` does for our own client, less what it never
        needs there: auth, redirects (never followed) and cookies (the API signs each
        request by header); its per-call cost is a fifth of the client's own."""
        started = time.perf_counter()
        try:
            response = await self._transport.handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        response.request = request
        try:
            await response.aread()  # read under the size cap already: this returns it
        except BaseException:
            await response.aclose()
            raise
        response.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
        if _httpx_log.isEnabledFor(logging.INFO):  # the line httpx's client would log
            _httpx_log.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        return response

    async def _send_through_user_client(self, request: httpx.Request) -> httpx.Response:
        # The user's client may follow redirects or carry its own auth: neither may
        # take our credentials anywhere but the configured host, nor add its own.
        # Streamed, so the retry layer reads the body under the size cap.
        return await self._http.send(request, stream=True, auth=None, follow_redirects=False)

    def _response_cap(self, operation_id: str | None) -> int:
        from ._generated import OPERATIONS

        operation = OPERATIONS.get(operation_id or "")
        if operation is not None and (
            operation.response_kind != "json" or operation.pagination is not None
        ):
            return self.max_response_bytes * 4  # barcodes, and the pages an export reads
        return self.max_response_bytes

    def _check_usable(self, label: str) -> None:
        if self._closed:
            raise self._closed_error(label)
        life = self._life
        if not life.loop_bound:
            return
        token = loop_token()
        if life.token is None:
            life.token = token
        elif token != life.token:
            raise APIConnectionError(
                f"{self!r} was first used in another event loop, whose connections it "
                "holds: create one client per event loop (per anyio.run / asyncio.run)",
                operation=label,
            )


class _Lifecycle:
    """What a client and its views share: closed or not, and the event loop it runs on."""

    __slots__ = ("closed", "loop_bound", "token")

    def __init__(self, *, loop_bound: bool) -> None:
        self.closed = False
        self.loop_bound = loop_bound
        """Its connections belong to one event loop (the default pool, or a user's client)."""
        self.token: object = None
        """The event loop it was first used in (:func:`._transport.loop_token`)."""


def _forget_locals(exc: BaseException) -> None:
    """Clear the local variables of the finished frames of ``exc`` and its causes.

    httpcore's and h11's frames hold the request's headers (the credentials); a
    traceback formatter that shows locals would print them.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _count(value: object, param: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{param} must be an int, got {type(value).__name__}", param=param, rule="type"
        )
    if value < minimum:
        raise ValidationError(
            f"{param} must be {minimum} or more, got {value}", param=param, rule="minimum"
        )
    return value


def _seconds(value: Any, param: str) -> Any:
    if value is None or isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(
            f"{param} must be a number of seconds, got {type(value).__name__}",
            param=param,
            rule="type",
        )
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(
            f"{param} must be a positive number of seconds, got {value}",
            param=param,
            rule="minimum",
        )
    return float(value)


def _base_url(value: object) -> str:
    source = "base_url"
    if value is None or value == "":
        value, source = os.environ.get(ENV_BASE_URL) or None, ENV_BASE_URL
    if value is None:
        return DEFAULT_BASE_URL
    if not isinstance(value, str):
        raise ValidationError(
            f"base_url must be a str, got {type(value).__name__}", param="base_url", rule="type"
        )
    text = value.strip(_STRIP).rstrip("/")
    problem = None
    if any(not " " < c <= "~" for c in text):
        problem = "holds a character a URL cannot carry"
    else:
        try:
            url = httpx.URL(text)
        except (httpx.InvalidURL, ValueError, TypeError):
            problem = "is not a URL"
        else:
            if url.scheme not in ("http", "https") or not url.host:
                problem = "is not an http(s) URL with a host"
            elif url.userinfo or url.query or url.fragment:
                problem = "must not carry a user, a password, a query or a fragment"
    if problem:
        raise ValidationError(
            f"{source} {problem}: {printable(text[:80], newlines=False)!r} "
            "(expected e.g. https://api.coupontools.com)",
            param="base_url",
            rule="url",
        )
    return text


# v3 deletes answer with their own "not found" code; another not-found code names
# something else missing (the campaign), which a landed delete does not explain.
_GONE_CODES: dict[str, frozenset[int]] = {"sessions_delete": frozenset({513})}


def _already_deleted(operation: Operation[Any], context: CallContext, exc: NotFoundError) -> bool:
    """A not-found answer to a retried delete whose earlier attempt may have landed."""
    if not context.uncertain:
        return False
    if operation.api_version == "v3":
        gone = _GONE_CODES.get(operation.id)
        return gone is not None and bool(exc.codes) and set(exc.codes) <= gone
    return operation.method == "DELETE" and exc.status_code == 404


def _operation_at(method: str, path: str) -> Operation[Any]:
    """The spec's operation at ``method path`` (for its idempotency, version and error
    codes, answering plain JSON), else one made from the method and path."""
    for verb, pattern, operation in _route_table():
        if verb == method and pattern.fullmatch(path):
            return attrs.evolve(operation, response_kind="json", response_type=None)
    return Operation(
        id="",
        group="",
        method=method,
        path=path,
        api_version="v3" if path == "/v3" or path.startswith("/v3/") else "v4",
        idempotent=method in _IDEMPOTENT_METHODS,
        summary="",
        response_kind="json",
        response_type=None,
    )


@functools.cache
def _route_table() -> tuple[tuple[str, re.Pattern[str], Operation[Any]], ...]:
    from ._generated import OPERATIONS

    return tuple(
        (
            op.method,
            re.compile("[^/]+".join(re.escape(part) for part in _PLACEHOLDER.split(op.path))),
            op,
        )
        for op in OPERATIONS.values()
    )


@functools.lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx.URL:
    """httpx's parse of a URL (about 20 µs each, in Python): the same paths recur."""
    return httpx.URL(url)


def _wrong_type(rule: str, value: Any, param: str) -> ValidationError:
    """The error for a value of the wrong type: the rule, then what was given."""
    return ValidationError(f"{rule}, got {type(value).__name__}", param=param, rule="type")


def _merge_body(operation: Operation[Any], wire_body: Any, extra_body: Mapping[str, Any]) -> Any:
    if not isinstance(extra_body, Mapping):
        raise _wrong_type("extra_body must be a mapping", extra_body, "extra_body")
    if wire_body is not None and not isinstance(wire_body, dict):
        raise ValidationError(
            f"{operation.id} sends a {type(wire_body).__name__}, which extra_body cannot be "
            "merged into (ct.request sends any body)",
            param="extra_body",
            rule="type",
        )
    merged = dict(wire_body or {})
    for key, value in extra_body.items():
        if not isinstance(key, str):
            raise _wrong_type("extra_body keys are strings", key, "extra_body")
        merged[key] = value
    return merged


def _checked_headers(extra: Mapping[str, str]) -> dict[str, str]:
    """Extra headers as given, refusing credential headers and what a header cannot carry."""
    if not isinstance(extra, Mapping):
        raise _wrong_type("extra headers must be a mapping", extra, "extra_headers")
    out: dict[str, str] = {}
    for name, value in extra.items():
        if not isinstance(name, str) or _HEADER_NAME.fullmatch(name) is None:
            raise ValidationError(
                f"{_shown_text(name)} is not a header name", param="extra_headers", rule="pattern"
            )
        if name.lower() in _CREDENTIAL_HEADERS:
            raise ValidationError(
                f"{name}: the credential headers come from the client and cannot be changed "
                "per call (use another AsyncClient)",
                param=name,
                rule="credentials",
            )
        if name.lower() in _TRANSPORT_HEADERS:
            # Host could route the credentials to another site behind the same proxy or
            # CDN; the framing headers could split one request into two.
            raise ValidationError(
                f"{name}: set by the HTTP layer, not per call", param=name, rule="reserved"
            )
        if not isinstance(value, str) or _HEADER_VALUE.fullmatch(value) is None:
            # A CR or LF would let one header forge another (a credential one included).
            raise ValidationError(
                f"{name}: a header value is printable ASCII text",
                param=name,
                rule="pattern",
            )
        out[name] = value
    return out


def _holds_any(value: Any, texts: frozenset[str], depth: int = 0) -> bool:
    if isinstance(value, str):
        return value.strip() in texts
    if depth > 20:  # deeper than any body of this API; json.dumps judges the rest
        return False
    if isinstance(value, Mapping):
        return any(_holds_any(v, texts, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_any(v, texts, depth + 1) for v in value)
    return False


def _json_bytes(body: Any) -> bytes:
    try:
        return json_dumps(body)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"the body cannot be sent as JSON: {_short(exc)}", param="body", rule="json"
        ) from None


def _shown_text(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp)


def _short(exc: BaseException, limit: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
