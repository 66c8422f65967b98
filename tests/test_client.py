"""AsyncClient on the wire (respx): methods, auth, errors, configuration, lifecycle."""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Iterator, MutableMapping
from typing import Any

import anyio
import httpx
import pytest
import respx

from coupontools_async import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RawResponse,
    ValidationError,
    models,
)
from coupontools_async._generated import OPERATIONS
from tests._samples import call_arguments, minimal_answer

pytestmark = pytest.mark.anyio

BASE = "https://api.test"
CLIENT_ID = "client-id-8f3k2"
CLIENT_SECRET = "client-secret-q9w7e"


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def make_client(**kwargs: Any) -> AsyncClient:
    kwargs.setdefault("max_retries", 0)
    return AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=BASE, **kwargs)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


OPERATION_IDS = sorted(OPERATIONS)


@pytest.mark.parametrize("op_id", OPERATION_IDS)
async def test_every_method_sends_the_documented_request_and_returns_a_model(
    mock: respx.MockRouter, op_id: str
) -> None:
    op = OPERATIONS[op_id]
    positional, kwargs, expected_body = call_arguments(op)
    url = op.path.format(**{p.wire: v for p, v in zip(op.params, positional, strict=False)})
    route = mock.route(method=op.method, path=url).mock(
        return_value=httpx.Response(200, **minimal_answer(op))
    )
    async with make_client() as ct:
        resource = getattr(ct, op.group)
        method = getattr(resource, op.id[len(op.group) + 1 :])
        result = await method(*positional, **kwargs)

    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == op.method
    assert request.url.path == url
    if op.api_version == "v3" or expected_body:
        assert body_of(request) == expected_body
    if op.response_kind == "binary":
        assert result == b"\x89PNG fake"
    elif op.response_kind == "empty":
        assert result is None
    elif isinstance(result, list):
        assert all(type(item).__module__ == models.__name__ for item in result)
    else:
        assert isinstance(result, op.response_type)


async def test_both_credential_header_pairs_go_on_every_request_and_nowhere_else(
    mock: respx.MockRouter,
) -> None:
    route = mock.get("/v4/loyalty/loyalty-cards").respond(200, json=[{"id": 1}])
    async with make_client() as ct:
        await ct.wallet_cards.list()
    request = route.calls.last.request
    assert request.headers["X-Client-Id"] == CLIENT_ID
    assert request.headers["X-Client-Secret"] == CLIENT_SECRET
    assert request.headers["x-api-key"] == CLIENT_ID
    assert request.headers["x-api-secret"] == CLIENT_SECRET
    assert CLIENT_SECRET not in str(request.url)
    assert CLIENT_SECRET.encode() not in request.content


async def test_v3_calls_without_parameters_still_send_an_empty_json_object(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/smstool/grouplist").respond(
        200, json={"status": {"status": "OK"}, "amount_of_groups": 0, "group": []}
    )
    async with make_client() as ct:
        groups = await ct.sms.list_groups()
    assert groups.amount_of_groups == 0
    assert route.calls.last.request.content == b"{}"
    assert route.calls.last.request.headers["content-type"] == "application/json"


async def test_sessions_list_picks_the_endpoint_of_the_state(mock: respx.MockRouter) -> None:
    answer = {"status": {"status": "OK"}, "campaign": "cam_1", "data": []}
    routes = {
        state: mock.post(f"/v3/campaign/{path}").respond(200, json=answer)
        for state, path in (
            ("all", "data"),
            ("opened", "opens"),
            ("claimed", "claims"),
            ("validated", "validations"),
        )
    }
    async with make_client() as ct:
        for state in routes:
            await ct.sessions.list(campaign="cam_1", state=state)  # type: ignore[arg-type]
        with pytest.raises(ValidationError) as info:
            await ct.sessions.list(campaign="cam_1", state="used")  # type: ignore[arg-type]
    assert info.value.param == "state"
    assert all(route.call_count == 1 for route in routes.values())


async def test_sessions_search_uses_the_campaign_endpoint_only_with_a_campaign(
    mock: respx.MockRouter,
) -> None:
    answer = {"status": {"status": "OK"}, "data": []}
    everywhere = mock.post("/v3/couponsession/search").respond(200, json=answer)
    in_campaign = mock.post("/v3/campaignsession/search").respond(200, json=answer)
    async with make_client() as ct:
        await ct.sessions.search(email="ann@example.com")
        await ct.sessions.search(campaign="cam_9", code="ABCDE")
    assert body_of(everywhere.calls.last.request) == {"email": "ann@example.com"}
    assert body_of(in_campaign.calls.last.request) == {"campaign": "cam_9", "code": "ABCDE"}


async def test_distribution_sends_coupons_and_loyalty_cards_through_one_endpoint(
    mock: respx.MockRouter,
) -> None:
    email = mock.post("/v3/send/email").respond(200, json={"status": {"status": "OK"}})
    sms = mock.post("/v3/send/sms").respond(200, json={"status": {"status": "OK"}})
    async with make_client() as ct:
        await ct.distribution.send_coupon_email(campaign="cam_1", email="a@b.co", subject="Hi")
        await ct.distribution.send_loyalty_email(loyaltycard="loy_1", email="a@b.co")
        await ct.distribution.send_coupon_sms(campaign="cam_1", phone="+32 470 12 34 56")
        await ct.distribution.send_loyalty_sms(loyaltycard="loy_1", phone="+32470123456")
    assert [body_of(c.request) for c in email.calls] == [
        {"campaign": "cam_1", "email": "a@b.co", "subject": "Hi"},
        {"loyaltycard": "loy_1", "email": "a@b.co"},
    ]
    assert [body_of(c.request) for c in sms.calls] == [
        {"campaign": "cam_1", "phone": "+32470123456"},
        {"loyaltycard": "loy_1", "phone": "+32470123456"},
    ]


async def test_wallet_users_list_builds_pagination_and_filter_from_flat_arguments(
    mock: respx.MockRouter,
) -> None:
    route = mock.get("/v4/loyalty/loyalty-cards/7/stats").respond(200, json=[{"id": 1}])
    async with make_client() as ct:
        users = await ct.wallet_users.list(7, page=2, per_page=50, keyword="Doe", strict=False)
    assert users[0].id == 1
    assert body_of(route.calls.last.request) == {
        "pagination": {"page": 2, "per_page": 50},
        "filter": {"keyword": "Doe", "strict": False},
    }


async def test_design_example_create_stamp_and_iterate(mock: respx.MockRouter) -> None:
    mock.get("/v4/loyalty/loyalty-cards").respond(200, json=[{"id": 5, "name": "Card"}])
    create = mock.post("/v4/loyalty/loyalty-cards/5/stats").respond(
        200, json={"id": 42, "first_name": "Ann", "email": "ann@example.com"}
    )
    stamps = mock.post("/v4/loyalty/loyalty-cards/5/stats/42").respond(
        200, json={"id": 42, "stamps": 2}
    )
    async with make_client() as ct:
        cards = await ct.wallet_cards.list()
        user = await ct.wallet_users.create(cards[0].id, first_name="Ann", email="ann@example.com")
        after = await ct.wallet_users.add_stamps(cards[0].id, user.id, amount=2)
    assert body_of(create.calls.last.request) == {"first_name": "Ann", "email": "ann@example.com"}
    assert body_of(stamps.calls.last.request) == {"amount": 2}
    assert after.stamps == 2


async def test_a_bad_phone_raises_validation_error_and_sends_nothing(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/send/sms")
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.distribution.send_coupon_sms(campaign="cam_1", phone="0470 12 34 56")
    assert info.value.param == "phone"
    assert isinstance(info.value, ValueError)
    assert not route.called


async def test_an_over_long_field_raises_validation_error_and_sends_nothing(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/couponsession/update")
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.sessions.update(couponsession="abc123", customfield1="x" * 51)
    assert info.value.param == "customfield1"
    assert info.value.rule == "max_length"
    assert not route.called


async def test_failed_envelope_on_http_200_raises_with_codes(mock: respx.MockRouter) -> None:
    mock.post("/v3/coupon/info").respond(
        200,
        json={
            "status": {"status": "failed"},
            "errors": {
                "error_message": "HTTP/1.0 422 Unprocessable entity.",
                "error_message_description": ["Campaign ID not found"],
                "error_code": [502],
            },
        },
    )
    async with make_client() as ct:
        with pytest.raises(NotFoundError) as info:
            await ct.coupons.get(campaign="cam_404")
    assert info.value.codes == (502,)
    assert "502 Campaign ID not found" in str(info.value)
    assert "POST /v3/coupon/info" in str(info.value)


async def test_wrong_credentials_raise_authentication_error(mock: respx.MockRouter) -> None:
    mock.post("/v3/coupon/list").respond(
        401,
        json={
            "status": {
                "status": "failed",
                "errors": {
                    "error_code": 1000,
                    "error_message": "HTTP/1.0 401 Unauthorized. Client ID or Secret not correct.",
                },
            }
        },
    )
    async with make_client() as ct:
        with pytest.raises(AuthenticationError) as info:
            await ct.coupons.list()
    assert info.value.codes == (1000,)


async def test_session_state_conflicts_raise_conflict_error(mock: respx.MockRouter) -> None:
    mock.post("/v3/couponsession/update").respond(
        200,
        json={
            "status": {
                "status": "failed",
                "errors": {
                    "error_code": 358,
                    "error_message": "This session was already validated",
                },
            }
        },
    )
    async with make_client() as ct:
        with pytest.raises(ConflictError) as info:
            await ct.sessions.update(couponsession="abc123", operation="validate")
    assert info.value.code == 358


async def test_with_raw_response_gives_the_http_response_beside_the_model(
    mock: respx.MockRouter,
) -> None:
    mock.get("/v4/loyalty/loyalty-cards/1/stats/2").respond(
        200, json={"id": 2, "first_name": "Ann"}, headers={"x-request-id": "req-1"}
    )
    async with make_client() as ct:
        raw = await ct.with_raw_response.wallet_users.get(1, 2)
    assert isinstance(raw, RawResponse)
    assert raw.parsed.first_name == "Ann"
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == "req-1"
    assert raw.http_response.json()["id"] == 2


async def test_raw_responses_of_concurrent_calls_never_mix(mock: respx.MockRouter) -> None:
    for n in range(20):
        mock.get(f"/v4/loyalty/loyalty-cards/1/stats/{n + 1}").respond(
            200, json={"id": n + 1}, headers={"x-n": str(n + 1)}
        )
    seen: dict[int, str] = {}
    async with make_client() as ct:

        async def one(n: int) -> None:
            raw = await ct.with_raw_response.wallet_users.get(1, n)
            seen[raw.parsed.id] = raw.headers["x-n"]

        async with anyio.create_task_group() as tg:
            for n in range(1, 21):
                tg.start_soon(one, n)
    assert seen == {n: str(n) for n in range(1, 21)}


async def test_one_client_serves_many_concurrent_tasks(mock: respx.MockRouter) -> None:
    mock.get(path__regex=r"/v4/loyalty/loyalty-cards/1/stats/\d+").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"id": int(request.url.path.rsplit("/", 1)[1])}
        )
    )
    results: list[int] = []
    async with make_client() as ct:

        async def one(n: int) -> None:
            user = await ct.wallet_users.get(1, n)
            results.append(user.id)

        async with anyio.create_task_group() as tg:
            for n in range(1, 201):
                tg.start_soon(one, n)
    assert sorted(results) == list(range(1, 201))


async def test_an_injected_mock_transport_is_used_and_wrapped_by_retries() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(503)
        return httpx.Response(200, json=[{"id": 9}])

    from coupontools_async import RetryPolicy

    async def no_sleep(_: float) -> None:
        return None

    async with AsyncClient(
        CLIENT_ID,
        CLIENT_SECRET,
        base_url=BASE,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(sleep=no_sleep),
    ) as ct:
        cards = await ct.wallet_cards.list()
    assert cards[0].id == 9
    assert calls == ["/v4/loyalty/loyalty-cards", "/v4/loyalty/loyalty-cards"]


async def test_an_injected_http_client_is_used_and_left_open() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": 3}])

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with AsyncClient(CLIENT_ID, CLIENT_SECRET, http_client=http) as ct:
        cards = await ct.wallet_cards.list()
    assert cards[0].id == 3
    assert not http.is_closed
    await http.aclose()


async def test_an_asgi_app_can_be_the_transport() -> None:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'[{"id": 77}]'})

    async with make_client(transport=httpx.ASGITransport(app=app)) as ct:
        cards = await ct.wallet_cards.list()
    assert cards[0].id == 77


async def test_a_closed_client_refuses_calls(mock: respx.MockRouter) -> None:
    ct = make_client()
    await ct.aclose()
    assert ct.is_closed
    with pytest.raises(APIConnectionError, match="closed"):
        await ct.wallet_cards.list()


async def test_creating_and_closing_many_clients_leaks_nothing(mock: respx.MockRouter) -> None:
    mock.get("/v4/loyalty/loyalty-cards").respond(200, json=[])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(50):
            async with make_client() as ct:
                await ct.wallet_cards.list()
        for _ in range(20):
            ct = make_client()
            await ct.aclose()
        gc.collect()


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUPONTOOLS_CLIENT_ID", "env-id")
    monkeypatch.setenv("COUPONTOOLS_CLIENT_SECRET", "env-secret")
    monkeypatch.setenv("COUPONTOOLS_BASE_URL", "https://example.test/")
    ct = AsyncClient()
    assert ct.base_url == "https://example.test"
    assert ct._credentials.headers()["X-Client-Secret"] == "env-secret"


def test_a_missing_credential_names_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COUPONTOOLS_CLIENT_ID", raising=False)
    monkeypatch.delenv("COUPONTOOLS_CLIENT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="COUPONTOOLS_CLIENT_ID"):
        AsyncClient()
    with pytest.raises(ValidationError, match="COUPONTOOLS_CLIENT_SECRET"):
        AsyncClient(client_id="x")


def test_repr_shows_the_base_url_and_never_a_secret() -> None:
    ct = make_client()
    assert repr(ct) == f"AsyncClient(base_url={BASE!r})"
    assert CLIENT_SECRET not in repr(vars(ct))
    assert CLIENT_ID not in repr(vars(ct))


def test_every_resource_group_of_the_spec_is_on_the_client() -> None:
    from coupontools_async._generated import api

    ct = make_client()
    for group in api.__all__:
        resource = getattr(ct, group)
        assert resource.__class__.__doc__, group
    for name in ("sessions.iter", "wallet_users.iter", "directories.iter_users"):
        group, method = name.split(".")
        assert callable(getattr(getattr(ct, group), method)), name


async def test_debug_logging_shows_one_line_per_request_with_headers_allowlisted(
    mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get("/v4/loyalty/loyalty-cards").respond(200, json=[])
    with caplog.at_level("DEBUG", logger="coupontools_async"):
        async with make_client() as ct:
            await ct.wallet_cards.list()
    lines = [r.getMessage() for r in caplog.records if r.name == "coupontools_async"]
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("GET /v4/loyalty/loyalty-cards -> 200 (")
    assert "attempt 1" in line
    assert "'x-api-secret': '[redacted]'" in line
    assert "'accept': 'application/json'" in line
    assert CLIENT_SECRET not in line


class _Counting(httpx.AsyncBaseTransport):
    """Counts how many requests are inside the transport at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.peak = max(self.peak, self.now)
        await anyio.sleep(0.001)
        self.now -= 1
        return httpx.Response(200, json=[{"id": 1}])


async def test_more_concurrent_calls_than_connections_wait_in_the_client() -> None:
    inner = _Counting()
    async with (
        make_client(transport=inner, max_connections=3) as ct,
        anyio.create_task_group() as tg,
    ):
        for _ in range(60):
            tg.start_soon(ct.wallet_cards.list)
    assert inner.peak == 3


def test_one_client_can_serve_successive_event_loops() -> None:
    inner = _Counting()
    ct = make_client(transport=inner, max_connections=2)

    async def burst() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(ct.wallet_cards.list)

    anyio.run(burst)
    anyio.run(burst, backend="trio")
    assert inner.peak == 2
