"""The HTTP backends: aiohttp on asyncio by default, httpx's transport elsewhere.

The wire tests run once per backend a call can use: httpx on asyncio and trio, aiohttp on
asyncio (aiohttp has no trio support). They talk to real loopback ports: the served
sandbox (``coupontools sandbox serve``) for the API's own shapes, and a scripted server
(tests/_loopback.py) where a test needs to hold or fail an answer at a chosen moment.
"""

from __future__ import annotations

import gc
import gzip
import json
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from coupontools_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncClient,
    RetryPolicy,
    ValidationError,
)
from coupontools_async._backends import HttpBackend

from ._loopback import Answer, Loopback, Request, json_answer, loopback
from ._served import served

ID, SECRET = "sandbox-client-id", "sandbox-client-secret"
CASES: list[tuple[str, HttpBackend]] = [
    ("asyncio", "httpx"),
    ("asyncio", "aiohttp"),
    ("trio", "httpx"),
]


async def no_sleep(_: float) -> None:
    """Retries without waiting."""


@pytest.fixture(params=CASES, ids=[f"{loop}-{backend}" for loop, backend in CASES])
def case(request: pytest.FixtureRequest) -> tuple[str, HttpBackend]:
    loop, backend = request.param
    return loop, backend


@pytest.fixture
def anyio_backend(case: tuple[str, HttpBackend]) -> str:
    """This module's event loops come with the backend each can use."""
    return case[0]


@pytest.fixture
def http_backend(case: tuple[str, HttpBackend]) -> HttpBackend:
    return case[1]


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with served("--sessions", "3000", "--session-page-size", "5000") as url:
        yield url


def client_on(server: Loopback, http_backend: HttpBackend, **options: Any) -> AsyncClient:
    """A client of the scripted loopback server, through ``http_backend``."""
    return AsyncClient(ID, SECRET, base_url=server.url, http_backend=http_backend, **options)


def stack(response: httpx.Response) -> str:
    """Which stack carried ``response``: httpcore leaves its network stream behind."""
    return "httpx" if "network_stream" in response.extensions else "aiohttp"


# ----------------------------------------------------------------- the choice


@pytest.mark.anyio
async def test_the_default_client_sends_through_aiohttp_on_asyncio_and_httpx_on_trio(
    sandbox_url: str, anyio_backend: str
) -> None:
    async with AsyncClient(ID, SECRET, base_url=sandbox_url) as ct:
        assert ct.http_backend == "auto"  # nothing is chosen before the first call
        raw = await ct.with_raw_response.wallet_cards.list()
    expected = "aiohttp" if anyio_backend == "asyncio" else "httpx"
    assert ct.http_backend == expected
    assert stack(raw.http_response) == expected


@pytest.mark.anyio
async def test_http_backend_httpx_keeps_httpx_transport_on_asyncio(sandbox_url: str) -> None:
    async with AsyncClient(ID, SECRET, base_url=sandbox_url, http_backend="httpx") as ct:
        raw = await ct.with_raw_response.wallet_cards.list()
    assert (ct.http_backend, stack(raw.http_response)) == ("httpx", "httpx")


@pytest.mark.anyio
async def test_a_transport_or_http_client_of_yours_is_used_as_given(
    sandbox_url: str,
) -> None:
    seen: list[str] = []

    class Counting(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return await super().handle_async_request(request)

    async with AsyncClient(ID, SECRET, base_url=sandbox_url, transport=Counting()) as ct:
        raw = await ct.with_raw_response.wallet_cards.list()
    assert (ct.http_backend, stack(raw.http_response)) == ("custom", "httpx")
    async with httpx.AsyncClient() as http:
        ct = AsyncClient(ID, SECRET, base_url=sandbox_url, http_client=http)
        raw = await ct.with_raw_response.wallet_cards.list()
    assert (ct.http_backend, stack(raw.http_response)) == ("custom", "httpx")
    assert seen == ["/v4/loyalty/loyalty-cards"]


def test_an_unknown_http_backend_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValidationError, match="'auto', 'httpx', 'aiohttp'") as info:
        AsyncClient(ID, SECRET, http_backend="curl")  # type: ignore[arg-type]
    assert info.value.param == "http_backend"


def test_aiohttp_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx_aiohttp", None)  # as if not installed
    with pytest.raises(ValidationError, match=r"pip install 'coupontools-async\[aiohttp\]'"):
        AsyncClient(ID, SECRET, http_backend="aiohttp")


@pytest.mark.anyio
async def test_auto_without_the_extra_falls_back_to_httpx_on_asyncio(
    sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "httpx_aiohttp", None)
    async with AsyncClient(ID, SECRET, base_url=sandbox_url) as ct:
        raw = await ct.with_raw_response.wallet_cards.list()
    assert (ct.http_backend, stack(raw.http_response)) == ("httpx", "httpx")


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_aiohttp_asked_for_on_trio_is_a_clear_error_at_the_first_call(
    sandbox_url: str,
) -> None:
    # Construction may happen outside any event loop; the first call knows it is trio.
    ct = AsyncClient(ID, SECRET, base_url=sandbox_url, http_backend="aiohttp", max_retries=0)
    async with ct:
        with pytest.raises(ValidationError, match=r"asyncio only.*trio") as info:
            await ct.wallet_cards.list()
    assert info.value.param == "http_backend"


def test_a_client_built_outside_any_event_loop_chooses_aiohttp_inside_asyncio_run(
    sandbox_url: str,
) -> None:
    import asyncio

    ct = AsyncClient(ID, SECRET, base_url=sandbox_url)  # no loop is running here

    async def use() -> str:
        async with ct:
            raw = await ct.with_raw_response.wallet_cards.list()
        return stack(raw.http_response)

    assert asyncio.run(use()) == "aiohttp"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_closing_the_client_leaves_no_unclosed_aiohttp_session_or_connection(
    sandbox_url: str,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with AsyncClient(ID, SECRET, base_url=sandbox_url) as ct:
            await anyio.lowlevel.checkpoint()
        async with (
            AsyncClient(ID, SECRET, base_url=sandbox_url) as ct,
            anyio.create_task_group() as tg,
        ):
            for _ in range(8):
                tg.start_soon(ct.wallet_cards.list)
        del ct
        gc.collect()
    assert [str(w.message) for w in caught if "nclosed" in str(w.message)] == []


# ----------------------------------------------------------- wire, both backends


@pytest.mark.anyio
async def test_a_v3_call_decodes_on_every_backend(
    sandbox_url: str, http_backend: HttpBackend
) -> None:
    async with AsyncClient(ID, SECRET, base_url=sandbox_url, http_backend=http_backend) as ct:
        raw = await ct.with_raw_response.coupons.list()
    assert stack(raw.http_response) == http_backend
    assert raw.parsed.coupon_info
    assert raw.parsed.coupon_info[0].id


@pytest.mark.anyio
async def test_a_v4_write_then_read_round_trips_on_every_backend(
    sandbox_url: str, http_backend: HttpBackend
) -> None:
    async with AsyncClient(ID, SECRET, base_url=sandbox_url, http_backend=http_backend) as ct:
        cards = await ct.wallet_cards.list()
        user = await ct.wallet_users.create(cards[0].id, first_name="Zoë", email="zoe@example.com")
        again = await ct.wallet_users.get(cards[0].id, user.id)
    assert (again.first_name, again.email) == ("Zoë", "zoe@example.com")


@pytest.mark.anyio
async def test_a_large_answer_arrives_whole_on_every_backend(
    sandbox_url: str, http_backend: HttpBackend
) -> None:
    async with AsyncClient(ID, SECRET, base_url=sandbox_url, http_backend=http_backend) as ct:
        coupons = await ct.coupons.list()
        assert coupons.coupon_info
        raw = await ct.with_raw_response.sessions.list(
            campaign=coupons.coupon_info[0].id, state="all"
        )
    assert len(raw.http_response.content) > 500_000
    assert len(raw.parsed.data) == len(raw.http_response.json()["data"])


@pytest.mark.anyio
async def test_a_503_is_retried_on_every_backend(http_backend: HttpBackend) -> None:
    async def handler(request: Request) -> Answer:
        if len(server.requests) == 1:
            return Answer(503, b"busy")
        return json_answer([{"id": 5, "name": "Card"}])

    async with (
        loopback(handler) as server,
        client_on(server, http_backend, retry=RetryPolicy(sleep=no_sleep)) as ct,
    ):
        cards = await ct.wallet_cards.list()
    assert [card.name for card in cards] == ["Card"]
    assert len(server.requests) == 2


@pytest.mark.anyio
async def test_a_server_that_never_answers_times_out_on_every_backend(
    http_backend: HttpBackend,
) -> None:
    async def handler(request: Request) -> Answer:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async with (
        loopback(handler) as server,
        client_on(server, http_backend, timeout=0.2, max_retries=0) as ct,
    ):
        with anyio.fail_after(10), pytest.raises(APITimeoutError):
            await ct.wallet_cards.list()


@pytest.mark.anyio
async def test_a_create_whose_connection_drops_after_sending_is_not_sent_twice(
    http_backend: HttpBackend,
) -> None:
    # The server read the request and hung up: it may have acted, so a write is not
    # retried (aiohttp's own mapping calls this a connect timeout, i.e. "never sent").
    async def handler(request: Request) -> Answer:
        return Answer(hang_up=True)

    async with (
        loopback(handler) as server,
        client_on(server, http_backend, retry=RetryPolicy(sleep=no_sleep)) as ct,
    ):
        with pytest.raises(APIConnectionError):
            await ct.wallet_users.create(1, first_name="Ann")
    assert len(server.requests) == 1


@pytest.mark.anyio
async def test_a_call_cancelled_mid_request_leaves_the_pool_usable_on_every_backend(
    http_backend: HttpBackend,
) -> None:
    arrived = anyio.Event()

    async def handler(request: Request) -> Answer:
        if request.target.endswith("/stats/2"):
            arrived.set()
            await anyio.sleep_forever()
        return json_answer([{"id": 5, "name": "Card"}])

    # One connection and one slot: a connection or slot kept by the cancelled call would
    # leave the second call waiting forever.
    async with (
        loopback(handler) as server,
        client_on(server, http_backend, max_connections=1, max_retries=0) as ct,
    ):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ct.wallet_users.get, 1, 2)
            await arrived.wait()
            tg.cancel_scope.cancel()
        with anyio.fail_after(5):
            cards = await ct.wallet_cards.list()
    assert [card.id for card in cards] == [5]


@pytest.mark.anyio
async def test_concurrent_calls_stay_within_max_connections_on_every_backend(
    http_backend: HttpBackend,
) -> None:
    bound = 4
    full = anyio.Event()

    async def handler(request: Request) -> Answer:
        # Hold every answer until the bound is reached: an unbounded client would have
        # all twelve requests in flight (and twelve connections) by then.
        if server.in_flight >= bound:
            full.set()
        await full.wait()
        return json_answer([{"id": 5, "name": "Card"}])

    async with (
        loopback(handler) as server,
        client_on(server, http_backend, max_connections=bound) as ct,
    ):
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(ct.wallet_cards.list)
    assert len(server.requests) == 12
    assert server.max_in_flight == bound
    assert server.connections <= bound


def test_choosing_a_backend_and_passing_your_own_transport_is_refused() -> None:
    with pytest.raises(ValidationError, match="yours is used as given") as info:
        AsyncClient(ID, SECRET, http_backend="aiohttp", transport=httpx.AsyncHTTPTransport())
    assert info.value.param == "http_backend"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_the_debug_log_names_the_backend_once_chosen(
    sandbox_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="coupontools_async")
    async with AsyncClient(ID, SECRET, base_url=sandbox_url) as ct:
        await ct.wallet_cards.list()
        await ct.wallet_cards.list()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("HTTP backend")]
    assert len(lines) == 1
    assert lines[0].startswith("HTTP backend: aiohttp 3.")


def test_the_cli_with_debug_prints_the_backend_it_sends_through(sandbox_url: str) -> None:
    import os
    import subprocess

    env = {**os.environ, "COUPONTOOLS_CLIENT_ID": ID, "COUPONTOOLS_CLIENT_SECRET": SECRET}
    command = [sys.executable, "-m", "coupontools_async", "--debug", "--base-url", sandbox_url]
    done = subprocess.run(
        [*command, "coupons", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "HTTP backend:" in line]
    assert len(lines) == 1
    assert "HTTP backend: aiohttp 3." in lines[0]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_a_respx_mock_still_sees_the_calls_when_aiohttp_is_installed() -> None:
    # respx's default mocker patches httpcore's pool; "auto" must not go around it.
    import respx

    with respx.mock(base_url="https://api.example.test") as mock:
        route = mock.get("/v4/loyalty/loyalty-cards").respond(200, json=[{"id": 1}])
        async with AsyncClient(ID, SECRET, base_url="https://api.example.test") as ct:
            cards = await ct.wallet_cards.list()
    assert [card.id for card in cards] == [1]
    assert route.call_count == 1
    assert ct.http_backend == "httpx"


@pytest.mark.anyio
async def test_an_answer_cut_mid_body_fails_and_leaves_the_pool_usable_on_every_backend(
    http_backend: HttpBackend,
) -> None:
    async def handler(request: Request) -> Answer:
        if request.target.endswith("/stats/2"):  # promises 1,000 bytes, sends 1, hangs up
            return Answer(200, b"[", {"content-length": "1000", "connection": "close"})
        return json_answer([{"id": 5, "name": "Card"}])

    async with (
        loopback(handler) as server,
        client_on(server, http_backend, max_connections=1, max_retries=0) as ct,
    ):
        with pytest.raises(APIConnectionError):
            await ct.wallet_users.get(1, 2)
        with anyio.fail_after(5):
            cards = await ct.wallet_cards.list()
    gc.collect()  # an aiohttp connection never released warns here (an error under -W error)
    assert [card.id for card in cards] == [5]


@pytest.mark.anyio
@pytest.mark.parametrize("size", [40, 60_000, 70_000, 300_000])
async def test_an_answer_over_the_size_cap_is_refused_and_leaves_the_pool_usable_on_every_backend(
    http_backend: HttpBackend, size: int
) -> None:
    # Sizes on both sides of the one-call read of small, plain answers (64 KiB on aiohttp):
    # the cap is the caller's, whichever way the body was read.
    cap = size - 10
    big = json.dumps([{"id": 1, "name": "x" * (size - 23)}]).encode()
    assert len(big) == size

    async def handler(request: Request) -> Answer:
        if request.target.endswith("/stats/2"):
            return Answer(200, big, {"content-type": "application/json"})
        return json_answer([{"id": 5, "name": "Card"}])

    async with (
        loopback(handler) as server,
        client_on(server, http_backend, max_connections=1, max_response_bytes=cap) as ct,
    ):
        with pytest.raises(APIError, match="max_response_bytes"):
            await ct.wallet_users.get(1, 2)
        with anyio.fail_after(5):
            cards = await ct.wallet_cards.list()
    gc.collect()
    assert [card.id for card in cards] == [5]


@pytest.mark.anyio
@pytest.mark.parametrize("coding", ["gzip", "identity"])
async def test_a_small_encoded_answer_is_decoded_on_every_backend(
    http_backend: HttpBackend, coding: str
) -> None:
    payload = json.dumps([{"id": 5, "name": "Café ☕"}]).encode()
    body = gzip.compress(payload) if coding == "gzip" else payload

    async def handler(request: Request) -> Answer:
        return Answer(200, body, {"content-type": "application/json", "content-encoding": coding})

    async with loopback(handler) as server, client_on(server, http_backend) as ct:
        raw = await ct.with_raw_response.wallet_cards.list()
    assert [(card.id, card.name) for card in raw.parsed] == [(5, "Café ☕")]
    assert raw.http_response.content == payload


@pytest.mark.anyio
# On trio, httpx's transport: reading stops mid-stream, and httpcore's nested response
# generators, abandoned half-way, are reported by trio when collected (a ResourceWarning,
# hidden by default). The refusal is what this test is about.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_bomb_in_a_small_gzip_answer_is_stopped_at_the_cap_on_every_backend(
    http_backend: HttpBackend,
) -> None:
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")
    assert len(bomb) < 64 * 1024  # small on the wire: the size alone would let it through

    async def handler(request: Request) -> Answer:
        return Answer(200, bomb, {"content-type": "application/json", "content-encoding": "gzip"})

    async with (
        loopback(handler) as server,
        client_on(server, http_backend, max_response_bytes=1_000_000) as ct,
    ):
        with pytest.raises(APIError, match="max_response_bytes"):
            await ct.wallet_cards.list()


def _aiohttp_errors() -> list[tuple[BaseException, type[httpx.TransportError]]]:
    import aiohttp

    return [
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ConnectionTimeoutError(), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError(), httpx.ReadTimeout),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.ReadError),
        (aiohttp.ClientPayloadError("cut"), httpx.ReadError),
        (aiohttp.ClientConnectionError("gone"), httpx.ReadError),
    ]


@pytest.mark.parametrize(("error", "expected"), _aiohttp_errors())
def test_aiohttp_errors_after_sending_never_read_as_never_sent(
    error: BaseException, expected: type[httpx.TransportError]
) -> None:
    # httpx-aiohttp maps every ClientConnectionError to ConnectTimeout ("never sent"),
    # under which the retry layer would repeat a create the server may have done.
    from coupontools_async._aiohttp import map_error

    mapped = map_error(error)
    assert type(mapped) is expected


# Our own client builds its requests without httpx.AsyncClient.build_request/send (the
# per-call cost they add): what those gave a request and an answer must still be there.


def recording_client(seen: list[httpx.Request], **options: Any) -> AsyncClient:
    """A client whose transport records each request and answers a wallet user."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 2, "email": "a@example.com"})

    return AsyncClient(
        ID, SECRET, base_url="https://api.test", transport=httpx.MockTransport(handler), **options
    )


@pytest.mark.anyio
async def test_an_extra_accept_header_replaces_the_clients_own_instead_of_doubling_it() -> None:
    seen: list[httpx.Request] = []
    async with recording_client(seen) as ct:
        await ct.request("GET", "/v4/loyalty/loyalty-cards/1/stats/2", headers={"aCCept": "x/y"})
        await ct.wallet_users.get(1, 2)
    first, second = seen
    assert first.headers.get_list("accept") == ["x/y"]
    assert second.headers.get_list("accept") == ["application/json"]  # the next call: ours


@pytest.mark.anyio
async def test_each_request_carries_one_user_agent_and_httpxs_compression_offer() -> None:
    seen: list[httpx.Request] = []
    async with recording_client(seen) as ct:
        await ct.wallet_users.get(1, 2)
        await ct.request("POST", "/v3/coupon/info", json={"campaign": "cam_1"})
    for request in seen:
        assert len(request.headers.get_list("user-agent")) == 1
        assert request.headers["user-agent"].startswith("coupontools-async/")
        assert "gzip" in request.headers["accept-encoding"]
        assert request.headers["x-client-secret"] == SECRET
    assert "content-type" not in seen[0].headers
    assert seen[1].headers.get_list("content-type") == ["application/json"]


@pytest.mark.anyio
async def test_a_raw_answer_keeps_its_request_and_elapsed_time() -> None:
    seen: list[httpx.Request] = []
    async with recording_client(seen) as ct:
        raw = await ct.with_raw_response.wallet_users.get(1, 2)
    response = raw.http_response
    assert response.request is seen[0]
    assert response.elapsed.total_seconds() >= 0
    assert response.json()["id"] == 2


@pytest.mark.anyio
async def test_a_per_call_timeout_reaches_the_transport() -> None:
    seen: list[httpx.Request] = []
    async with recording_client(seen, timeout=7.0) as ct:
        await ct.wallet_users.get(1, 2)
        await ct.with_options(timeout=2.5).wallet_users.get(1, 2)
    assert [r.extensions["timeout"]["read"] for r in seen] == [7.0, 2.5]


@pytest.mark.anyio
async def test_each_request_is_logged_on_httpxs_logger_without_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[httpx.Request] = []
    with caplog.at_level("INFO", logger="httpx"):
        async with recording_client(seen) as ct:
            await ct.wallet_users.get(1, 2)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines == [
        'HTTP Request: GET https://api.test/v4/loyalty/loyalty-cards/1/stats/2 "HTTP/1.1 200 OK"'
    ]
    assert SECRET not in caplog.text


@pytest.mark.anyio
async def test_a_transport_error_names_the_request_it_failed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with AsyncClient(
        ID,
        SECRET,
        base_url="https://api.test",
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_retries=0),
    ) as ct:
        with pytest.raises(APIConnectionError) as caught:
            await ct.wallet_users.get(1, 2)
    cause = caught.value.__cause__
    assert isinstance(cause, httpx.ConnectError)
    assert cause.request.url.path == "/v4/loyalty/loyalty-cards/1/stats/2"


@pytest.mark.anyio
async def test_every_backend_sends_the_body_and_headers_the_call_built(
    http_backend: HttpBackend,
) -> None:
    async def handler(request: Request) -> Answer:
        return json_answer({"status": "ok"})

    async with loopback(handler) as server, client_on(server, http_backend) as ct:
        await ct.request(
            "POST", "/v3/coupon/info", json={"campaign": "cam_1"}, headers={"X-Trace": "t-1"}
        )
    (seen,) = server.requests
    assert seen.body == b'{"campaign":"cam_1"}'
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["content-length"] == str(len(seen.body))
    assert seen.headers["accept"] == "application/json"
    assert seen.headers["user-agent"].startswith("coupontools-async/")
    assert (seen.headers["x-client-id"], seen.headers["x-api-secret"]) == (ID, SECRET)
    assert seen.headers["x-trace"] == "t-1"
