"""On the wire: credentials stay on the API host, answers are read under a size cap,
and a delete that already happened is not reported as a failure."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from coupontools_async import APIError, NotFoundError, RetryPolicy, models
from tests.attacks._hostile import CLIENT_SECRET, client, mock, no_sleep

pytestmark = pytest.mark.anyio


# ------------------------------------------------------------------ redirects and auth


async def test_a_redirect_to_another_host_through_a_user_client_never_carries_the_secret() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.test":
            return httpx.Response(307, headers={"location": "https://evil.test/steal"})
        return httpx.Response(200, json=[{"id": 1}])

    http = httpx.AsyncClient(
        transport=mock(handler), follow_redirects=True, auth=("user-of-app", "app-password")
    )
    async with client(http_client=http) as ct:
        with pytest.raises(APIError) as info:
            await ct.wallet_cards.list()
    await http.aclose()
    assert info.value.status_code == 307  # the redirect is an answer, not followed
    assert [r.url.host for r in seen] == ["api.test"]
    (sent,) = seen
    assert "authorization" not in sent.headers  # the user client's own auth stays home
    assert sent.headers["x-client-secret"] == CLIENT_SECRET


async def test_a_redirect_through_the_clients_own_pool_is_not_followed_either() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(308, headers={"location": "https://evil.test/"})

    async with client(transport=mock(handler)) as ct:
        with pytest.raises(APIError):
            await ct.wallet_cards.list()
    assert hosts == ["api.test"]


# ----------------------------------------------------------------------- size cap


class _Chunks(httpx.AsyncByteStream):
    """A body served in 64 KB chunks, counting how many bytes were pulled."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pulled = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self.pulled >= len(self.body):
            raise StopAsyncIteration
        chunk = self.body[self.pulled : self.pulled + 65536]
        self.pulled += len(chunk)
        return chunk


def _bomb() -> bytes:
    # 1 GiB of "[" inflates from about 1 MB of gzip: a JSON-looking bomb.
    compressor = gzip.compress(b"[" * (64 * 2**20), compresslevel=9)
    return compressor * 16  # sixteen gzip members: 1 GiB once inflated


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _bomb()


@pytest.mark.parametrize("through", ["own pool", "http_client"])
async def test_a_gzip_bomb_is_refused_at_the_cap_without_inflating(
    bomb: bytes, through: str
) -> None:
    streams: list[_Chunks] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(_Chunks(bomb))
        return httpx.Response(
            200,
            headers={"content-encoding": "gzip", "content-type": "application/json"},
            stream=streams[-1],
        )

    cap = 2**20
    if through == "own pool":
        ct = client(transport=mock(handler), max_response_bytes=cap)
    else:
        ct = client(http_client=httpx.AsyncClient(transport=mock(handler)), max_response_bytes=cap)
    tracemalloc.start()
    try:
        with pytest.raises(APIError, match="larger than 1,048,576 bytes") as info:
            await ct.wallet_cards.list()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await ct.aclose()
    assert info.value.status_code == 200
    assert peak < 8 * 2**20  # the 1 GiB it would inflate to never existed
    assert streams[0].pulled < len(bomb) // 4  # reading stopped early


async def test_a_huge_plain_body_is_refused_at_the_cap_not_with_a_memory_error() -> None:
    stream = _Chunks(b"[" + b"0," * (8 * 2**20))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=stream)

    async with client(transport=mock(handler), max_response_bytes=2**20) as ct:
        with pytest.raises(APIError, match="max_response_bytes"):
            await ct.wallet_cards.list()
    assert stream.pulled <= 2**20 + 65536


async def test_an_answer_under_the_cap_decodes_whatever_its_encoding() -> None:
    cards = [{"id": n, "name": f"card {n}"} for n in range(2000)]
    body = gzip.compress(json.dumps(cards).encode())

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-encoding": "gzip", "content-type": "application/json"},
            stream=_Chunks(body),
        )

    async with client(transport=mock(handler)) as ct:
        listed = await ct.wallet_cards.list()
    assert [c.id for c in listed] == list(range(2000))


def test_the_size_cap_must_be_a_positive_int() -> None:
    from coupontools_async import ValidationError

    with pytest.raises(ValidationError, match="max_response_bytes"):
        client(max_response_bytes=0)


# ------------------------------------------------------------------------ deletes


def _retrying(handler: object) -> object:
    return client(
        transport=mock(handler),  # type: ignore[arg-type]
        max_retries=2,
        retry=RetryPolicy(sleep=no_sleep, deadline=None),
    )


async def test_a_retried_wallet_user_delete_that_already_landed_returns_normally() -> None:
    deleted: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if not deleted:
            deleted.append(request.url.path)  # the server deletes, then the answer is lost
            raise httpx.ReadError("connection reset", request=request)
        return httpx.Response(404, json={"message": "User not found."})

    async with _retrying(handler) as ct:  # type: ignore[attr-defined]
        assert await ct.wallet_users.delete(12, 34) is None
    assert deleted == ["/v4/loyalty/loyalty-cards/12/stats/34"]


async def test_a_delete_answered_not_found_at_once_still_raises_not_found() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "User not found."})

    async with _retrying(handler) as ct:  # type: ignore[attr-defined]
        with pytest.raises(NotFoundError):
            await ct.wallet_users.delete(12, 34)


def _v3_failed(code: int, message: str) -> httpx.Response:
    # The shape FACTS.md quotes for a v3 not-found (error_code as a list).
    return httpx.Response(
        200,
        json={
            "status": {"status": "failed"},
            "errors": {
                "error_message": "HTTP/1.0 422 Unprocessable entity.",
                "error_message_description": [message],
                "error_code": [code],
            },
        },
    )


async def test_a_retried_session_delete_answered_session_not_found_returns_normally() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(502, text="<html>Bad gateway</html>")  # it may have landed
        return _v3_failed(513, "Coupon session not found")

    async with _retrying(handler) as ct:  # type: ignore[attr-defined]
        result = await ct.sessions.delete(campaign="cam_1", couponsession="abc123")
    assert isinstance(result, models.CouponSessionDeleteResponse)
    assert len(calls) == 2


async def test_a_retried_session_delete_whose_campaign_is_unknown_still_raises() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(502, text="<html>Bad gateway</html>")
        return _v3_failed(502, "Campaign ID not found")

    async with _retrying(handler) as ct:  # type: ignore[attr-defined]
        with pytest.raises(NotFoundError, match="Campaign"):
            await ct.sessions.delete(campaign="cam_1", couponsession="abc123")


async def test_a_delete_retried_after_a_429_that_was_not_applied_still_raises_not_found() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "0"})
        return httpx.Response(404, json={"message": "User not found."})

    async with _retrying(handler) as ct:  # type: ignore[attr-defined]
        with pytest.raises(NotFoundError):
            await ct.wallet_users.delete(12, 34)
