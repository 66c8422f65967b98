"""The HTTP transport a client builds for itself: httpx's own or aiohttp's, and proxies.

``AsyncClient(http_backend=)`` chooses:

- ``"auto"`` (the default): aiohttp (through httpx-aiohttp) when the ``aiohttp`` extra is
  installed and the call runs on asyncio, httpx's ``AsyncHTTPTransport`` otherwise (trio);
- ``"httpx"``: always httpx's own transport;
- ``"aiohttp"``: always aiohttp; without the extra a ``ValidationError`` at construction,
  on trio one at the first call.

The choice is made at the first request, because only then is the event loop known: a
client may be built outside any loop. The retry layer wraps whatever is chosen, so
retries, the deadline and the in-flight bound are the same on both.

Proxies: ``proxy=`` (a URL) carries every call; without it ``HTTP_PROXY``, ``HTTPS_PROXY``,
``ALL_PROXY`` and ``NO_PROXY`` are read with httpx's own helper, as a plain
``httpx.AsyncClient`` would, and mounted per URL pattern on either backend.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from base64 import b64encode
from collections.abc import Mapping
from importlib.metadata import version
from typing import Literal, cast, get_args

import httpx
from httpx._utils import URLPattern, get_environment_proxies

from .errors import ValidationError

__all__ = [
    "INSTALL_AIOHTTP",
    "DefaultTransport",
    "HttpBackend",
    "aiohttp_installed",
    "check_backend",
    "default_transport",
    "proxy_routes",
]

logger = logging.getLogger("coupontools_async.backend")
"""One DEBUG line per client: the backend it sends through (beside, not among, the
per-request lines of ``coupontools_async``)."""

HttpBackend = Literal["auto", "httpx", "aiohttp"]
"""What ``AsyncClient(http_backend=)`` accepts."""
INSTALL_AIOHTTP = "pip install 'coupontools-async[aiohttp]'"
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
# aiohttp speaks to http(s) proxies only; a SOCKS proxy mount uses httpx's transport.
_AIOHTTP_PROXY_SCHEMES = ("http", "https")


def aiohttp_installed() -> bool:
    """True when the ``aiohttp`` extra (httpx-aiohttp and aiohttp) is importable."""
    return all(importlib.util.find_spec(name) is not None for name in ("httpx_aiohttp", "aiohttp"))


def check_backend(value: object) -> HttpBackend:
    """``value`` as an :data:`HttpBackend`, or a ``ValidationError`` saying what is wrong."""
    if value not in get_args(HttpBackend):
        raise ValidationError(
            f"http_backend must be one of {', '.join(map(repr, get_args(HttpBackend)))}, "
            f"not {value!r}",
            param="http_backend",
            rule="enum",
        )
    if value == "aiohttp" and not aiohttp_installed():
        raise ValidationError(
            f"http_backend='aiohttp' needs the aiohttp extra: {INSTALL_AIOHTTP}",
            param="http_backend",
            rule="extra",
        )
    return cast(HttpBackend, value)


def proxy_routes(proxy: str | None) -> dict[str, str | None]:
    """URL pattern -> proxy URL (None: no proxy), from ``proxy`` or else the environment.

    ``proxy`` wins over the environment entirely, as httpx's ``proxy=`` does. Neither a
    bad URL nor its userinfo reaches the error message: a proxy URL may carry a password.
    """
    if proxy is not None:
        if not isinstance(proxy, str):
            raise ValidationError("proxy must be a URL string", param="proxy", rule="type")
        _check_proxy_url(proxy, "proxy=")
        return {"all://": proxy}
    routes = get_environment_proxies()
    for url in routes.values():
        if url is not None:
            _check_proxy_url(url, "the proxy in HTTP_PROXY, HTTPS_PROXY or ALL_PROXY")
    return routes


def _check_proxy_url(url: str, where: str) -> None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in _PROXY_SCHEMES or not parsed.host:
        raise ValidationError(
            f"{where} is not a proxy URL: it needs a scheme ({', '.join(_PROXY_SCHEMES)}) "
            "and a host, such as http://proxy.example:3128",
            param="proxy",
            rule="format",
        )
    if parsed.scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
        raise ValidationError(
            f"{where} is a SOCKS proxy, which needs httpx's socks extra: "
            "pip install 'httpx[socks]'",
            param="proxy",
            rule="extra",
        )


class DefaultTransport(httpx.AsyncBaseTransport):
    """httpx's or aiohttp's transport, chosen at the first request, with proxy mounts.

    Built by :class:`~coupontools_async.AsyncClient` when neither ``transport=`` nor
    ``http_client=`` is given; the retry layer wraps it.
    """

    def __init__(
        self,
        backend: HttpBackend = "auto",
        *,
        limits: httpx.Limits,
        proxies: Mapping[str, str | None] | None = None,
    ) -> None:
        self.requested: HttpBackend = backend
        self.chosen: Literal["httpx", "aiohttp"] | None = None
        """The backend in use, once the first request chose it."""
        self._limits = limits
        self._proxies = dict(proxies if proxies is not None else {})
        self._default: httpx.AsyncBaseTransport | None = None
        self._mounts: dict[URLPattern, httpx.AsyncBaseTransport | None] = {}

    def choose(self, library: str) -> Literal["httpx", "aiohttp"]:
        """The backend for an event loop of ``library`` ("asyncio", "trio")."""
        if self.requested == "httpx":
            return "httpx"
        if library != "asyncio":
            if self.requested == "aiohttp":
                raise ValidationError(
                    f"http_backend='aiohttp' runs on asyncio only, and this call runs on "
                    f"{library}: use http_backend='auto' (httpx's transport there) or 'httpx'",
                    param="http_backend",
                    rule="event_loop",
                )
            return "httpx"
        if self.requested == "aiohttp":
            return "aiohttp"
        return "aiohttp" if aiohttp_installed() and not _httpcore_patched() else "httpx"

    def describe(self) -> str:
        """One line for a debug log: the backend (chosen or requested) and its versions."""
        backend = self.chosen or self.requested
        if backend == "aiohttp":
            text = f"aiohttp {version('aiohttp')} (httpx-aiohttp {version('httpx-aiohttp')})"
        elif backend == "httpx":
            text = f"httpx {httpx.__version__} (httpcore {version('httpcore')})"
        else:
            text = "auto (aiohttp on asyncio when installed, else httpx; chosen at the first call)"
        proxied = sorted(pattern for pattern, url in self._proxies.items() if url is not None)
        return text + (f", proxy for {', '.join(proxied)}" if proxied else "")

    def _build(self) -> httpx.AsyncBaseTransport:
        backend = self.choose(_running_library())
        patterns: dict[URLPattern, httpx.AsyncBaseTransport | None] = {}
        for pattern, url in self._proxies.items():
            patterns[URLPattern(pattern)] = None if url is None else self._make(backend, url)
        self._mounts = dict(sorted(patterns.items()))
        self._default = self._make(backend, None)
        self.chosen = backend
        logger.debug("HTTP backend: %s", self.describe())
        return self._default

    def _make(self, backend: str, proxy: str | None) -> httpx.AsyncBaseTransport:
        proxy_obj = httpx.Proxy(proxy) if proxy is not None else None
        if backend == "aiohttp" and (
            proxy_obj is None or proxy_obj.url.scheme in _AIOHTTP_PROXY_SCHEMES
        ):
            from ._aiohttp import MappedAiohttpTransport

            if proxy_obj is not None and proxy_obj.auth is not None:
                # httpx-aiohttp would pass aiohttp a BasicAuth, which aiohttp deprecates.
                # aiohttp moves an Authorization among the proxy headers to the
                # Proxy-Authorization of a plain-http request, or of the CONNECT for https:
                # the proxy gets it, the API never does.
                token = b64encode(":".join(proxy_obj.auth).encode()).decode()
                headers = {**proxy_obj.headers, "Authorization": f"Basic {token}"}
                proxy_obj = httpx.Proxy(proxy_obj.url, headers=headers)
            return MappedAiohttpTransport(limits=self._limits, proxy=proxy_obj)
        return httpx.AsyncHTTPTransport(limits=self._limits, proxy=proxy_obj)

    def _route(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        default = self._default or self._build()
        for pattern, transport in self._mounts.items():
            if pattern.matches(url):
                return default if transport is None else transport
        return default

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the transport its URL is mounted on."""
        return await self._route(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        """Close every transport built (aiohttp's sessions included)."""
        transports = [self._default, *self._mounts.values()]
        self._default, self._mounts = None, {}
        for transport in transports:
            if transport is not None:
                await transport.aclose()


def default_transport(
    http_backend: object, proxy: str | None, *, yours: object, max_connections: int
) -> DefaultTransport | None:
    """What ``AsyncClient.__init__`` sends through, after checking its arguments.

    None when ``yours`` (a ``transport=`` or ``http_client=``) is given: it is used as
    given, so choosing a backend or a proxy beside it is refused as ambiguous.
    """
    backend = check_backend(http_backend)
    if yours is not None:
        if proxy is not None:
            raise ValidationError(
                "proxy= configures the client's own transport: set the proxy on your "
                "transport= or http_client= instead",
                param="proxy",
                rule="exclusive",
            )
        if backend != "auto":
            raise ValidationError(
                f"http_backend={backend!r} chooses the client's own transport: with "
                "transport= or http_client=, yours is used as given",
                param="http_backend",
                rule="exclusive",
            )
        logger.debug("HTTP backend: the transport passed in (%s)", type(yours).__name__)
        return None
    # httpx's own keep-alive default (20): httpcore scans every pooled connection
    # whenever the pool changes, so a larger idle pool costs more CPU per call than the
    # reconnects it saves (bench/RESULTS.md). aiohttp has no separate keep-alive cap.
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=min(20, max_connections)
    )
    return DefaultTransport(backend, limits=limits, proxies=proxy_routes(proxy))


def _httpcore_patched() -> bool:
    """True while something (respx's default mocker, a test's patch) replaces httpcore's pool.

    Then "auto" keeps httpx's transport, so the mock sees the calls it expects: a user's
    test suite written with respx keeps working when the aiohttp extra gets installed.
    """
    import httpcore

    send = httpcore.AsyncConnectionPool.handle_async_request
    return not getattr(send, "__module__", "").startswith("httpcore.")


def _running_library() -> str:
    """ "asyncio" or "trio": the event loop running this call (anyio runs on one of both)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return "trio"
    return "asyncio"
