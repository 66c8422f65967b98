"""Proxies: ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` and ``proxy=``.

Each test starts a plain-HTTP forward proxy on 127.0.0.1 (tests/_loopback.py) in front of
the served sandbox and looks at what the proxy saw, on every backend a call can use.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from coupontools_async import APIConnectionError, AsyncClient, ValidationError
from coupontools_async._backends import HttpBackend

from ._loopback import Loopback, forward_proxy, loopback
from ._served import free_port, served
from .test_backends import ID, SECRET, anyio_backend, case, http_backend, stack

__all__ = ["anyio_backend", "case", "http_backend"]  # the backend fixtures, shared

_NOWHERE = httpx.MockTransport(lambda request: httpx.Response(599))
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with served("--sessions", "10") as url:
        yield url


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variable of the machine running the tests leaks into them."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
async def proxy() -> AsyncIterator[Loopback]:
    # The proxy's own client must not itself go through a proxy from the environment.
    async with (
        httpx.AsyncClient(trust_env=False) as upstream,
        loopback(forward_proxy(upstream)) as server,
    ):
        yield server


def client(sandbox_url: str, http_backend: HttpBackend, **kwargs: Any) -> AsyncClient:
    return AsyncClient(ID, SECRET, base_url=sandbox_url, http_backend=http_backend, **kwargs)


@pytest.mark.anyio
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_a_proxy_from_the_environment_carries_every_call(
    sandbox_url: str,
    http_backend: HttpBackend,
    proxy: Loopback,
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, proxy.url)
    async with client(sandbox_url, http_backend) as ct:
        raw = await ct.with_raw_response.wallet_cards.list()
        coupons = await ct.coupons.list()
    assert raw.parsed
    assert coupons.coupon_info
    assert stack(raw.http_response) == http_backend
    assert [(r.method, r.target) for r in proxy.requests] == [
        ("GET", f"{sandbox_url}/v4/loyalty/loyalty-cards"),
        ("POST", f"{sandbox_url}/v3/coupon/list"),
    ]


@pytest.mark.anyio
async def test_an_https_proxy_variable_does_not_carry_plain_http_calls(
    sandbox_url: str, http_backend: HttpBackend, proxy: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    async with client(sandbox_url, http_backend) as ct:
        await ct.wallet_cards.list()
    assert proxy.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
async def test_no_proxy_sends_matching_hosts_directly(
    sandbox_url: str,
    http_backend: HttpBackend,
    proxy: Loopback,
    no_proxy: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    async with client(sandbox_url, http_backend) as ct:
        cards = await ct.wallet_cards.list()
    assert cards
    assert proxy.requests == []


@pytest.mark.anyio
async def test_proxy_argument_wins_over_the_environment_and_no_proxy(
    sandbox_url: str, http_backend: HttpBackend, proxy: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with client(sandbox_url, http_backend, proxy=proxy.url) as ct:
        await ct.wallet_cards.list()
    assert [r.target for r in proxy.requests] == [f"{sandbox_url}/v4/loyalty/loyalty-cards"]


@pytest.mark.anyio
async def test_proxy_credentials_go_to_the_proxy_and_appear_nowhere_else(
    sandbox_url: str, http_backend: HttpBackend, proxy: Loopback
) -> None:
    password = "proxy-pa55word-xyz"
    url = proxy.url.replace("http://", f"http://alice:{password}@")
    ct = client(sandbox_url, http_backend, proxy=url)
    async with ct:
        await ct.wallet_cards.list()
    expected = "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()
    assert proxy.requests[0].headers["proxy-authorization"] == expected
    assert password not in repr(ct)
    # The API's credentials travel to the API through the proxy: plain http lets the
    # proxy read them (README says so); only the proxy's own are for the proxy.
    assert proxy.requests[0].headers["x-client-id"] == ID


@pytest.mark.anyio
async def test_a_proxy_that_is_down_is_a_connection_error_not_a_direct_call(
    sandbox_url: str, http_backend: HttpBackend
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with client(sandbox_url, http_backend, proxy=dead, max_retries=0) as ct:
        with pytest.raises(APIConnectionError):
            await ct.wallet_cards.list()


@pytest.mark.parametrize(
    "bad", ["proxy.example:3128", "ftp://proxy.example", "http://", "http://u:s3cr3t-pw@:99"]
)
def test_a_malformed_proxy_url_is_refused_before_sending_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValidationError, match="not a proxy URL") as info:
        AsyncClient(ID, SECRET, proxy=bad)
    assert info.value.param == "proxy"
    assert "s3cr3t" not in str(info.value)


def test_a_malformed_proxy_in_the_environment_is_refused_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "ftp://u:s3cr3t-pw@proxy.example")
    with pytest.raises(ValidationError, match="HTTP_PROXY, HTTPS_PROXY or ALL_PROXY") as info:
        AsyncClient(ID, SECRET)
    assert "s3cr3t" not in str(info.value)


def test_proxy_with_a_transport_of_yours_is_refused_as_ambiguous() -> None:
    with pytest.raises(ValidationError, match="proxy= configures the client's own transport"):
        AsyncClient(ID, SECRET, proxy="http://proxy.example:3128", transport=_NOWHERE)
