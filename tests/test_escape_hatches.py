"""Escape hatches, so the real API can always win over our spec.

``extra_body`` / ``extra_query`` / ``extra_headers`` on every method, ``ct.request`` for
any path, ``ct.with_options(validate=False)``. On the wire through respx; retries with a
fake clock (nothing really sleeps).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
import respx

from coupontools_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    InvalidRequestError,
    NotFoundError,
    ValidationError,
    models,
)
from coupontools_async._generated import OPERATIONS
from coupontools_async._transport import RetryPolicy
from tests._samples import minimal_answer

pytestmark = pytest.mark.anyio

BASE = "https://api.test"
CLIENT_ID = "client-id-8f3k2"
CLIENT_SECRET = "client-secret-q9w7e"
CREDENTIALS = {
    "x-client-id": CLIENT_ID,
    "x-client-secret": CLIENT_SECRET,
    "x-api-key": CLIENT_ID,
    "x-api-secret": CLIENT_SECRET,
}
OK = {"status": {"status": "OK"}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def make_client(**kwargs: Any) -> AsyncClient:
    kwargs.setdefault("max_retries", 0)
    return AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=BASE, **kwargs)


def retrying_client(clock: FakeClock) -> AsyncClient:
    policy = RetryPolicy(sleep=clock.sleep, clock=clock.time, random=lambda: 0.0)
    return AsyncClient(CLIENT_ID, CLIENT_SECRET, base_url=BASE, retry=policy, max_retries=2)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


def assert_credentials_intact(request: httpx.Request) -> None:
    for name, value in CREDENTIALS.items():
        assert request.headers.get_list(name) == [value]


def answer(op_id: str) -> dict[str, Any]:
    return minimal_answer(OPERATIONS[op_id])


# ------------------------------------------------------------------ extra_* on methods


async def test_extras_reach_the_wire_on_a_v3_method(mock: respx.MockRouter) -> None:
    route = mock.post("/v3/coupon/info").respond(200, **answer("coupons_get"))
    async with make_client() as ct:
        await ct.coupons.get(
            campaign="cam_1",
            extra_body={"language": "nl", "new_flag": True},
            extra_query={"trace": "abc", "n": 2},
            extra_headers={"X-Trace-Id": "t-1"},
        )
    request = route.calls.last.request
    assert body_of(request) == {"campaign": "cam_1", "language": "nl", "new_flag": True}
    assert dict(request.url.params) == {"trace": "abc", "n": "2"}
    assert request.headers["x-trace-id"] == "t-1"
    assert_credentials_intact(request)


async def test_extras_reach_the_wire_on_a_v4_method(mock: respx.MockRouter) -> None:
    route = mock.post("/v4/loyalty/loyalty-cards/1/stats/2").respond(
        200, **answer("wallet_users_add_stamps")
    )
    async with make_client() as ct:
        await ct.wallet_users.add_stamps(
            1,
            2,
            amount=3,
            extra_body={"reason": "birthday"},
            extra_query={"notify": False},
            extra_headers={"Accept-Language": "fr"},
        )
    request = route.calls.last.request
    assert body_of(request) == {"amount": 3, "reason": "birthday"}
    assert request.url.params["notify"] == "false"
    assert request.headers["accept-language"] == "fr"
    assert_credentials_intact(request)


async def test_extras_are_merged_after_validation(mock: respx.MockRouter) -> None:
    route = mock.post("/v4/loyalty/loyalty-cards/1/stats/2").respond(
        200, **answer("wallet_users_add_stamps")
    )
    async with make_client() as ct:
        # The named argument is still checked (amount has a documented minimum) ...
        with pytest.raises(ValidationError) as info:
            await ct.wallet_users.add_stamps(1, 2, amount=0, extra_body={"reason": "x"})
        assert info.value.param == "amount"
        assert not route.called
        # ... while extra_body is not: it may even replace a checked value.
        await ct.wallet_users.add_stamps(1, 2, amount=1, extra_body={"amount": -5})
    assert body_of(route.calls.last.request) == {"amount": -5}


async def test_a_get_method_carries_extra_query_without_growing_a_body(
    mock: respx.MockRouter,
) -> None:
    route = mock.get("/v4/loyalty/loyalty-cards/1/stats/2").respond(200, json={"id": 2})
    async with make_client() as ct:
        user = await ct.wallet_users.get(1, 2, extra_query={"expand": ["rewards", "card"]})
    request = route.calls.last.request
    assert user.id == 2
    assert request.url.params.get_list("expand") == ["rewards", "card"]
    assert request.content == b""


@pytest.mark.parametrize(
    "name", ["X-Client-Id", "x-client-secret", "X-API-KEY", "x-Api-Secret", "X-CLIENT-SECRET"]
)
async def test_extra_headers_cannot_change_the_credentials(
    mock: respx.MockRouter, name: str
) -> None:
    route = mock.post("/v3/coupon/info").respond(200, **answer("coupons_get"))
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.coupons.get(campaign="cam_1", extra_headers={name: "attacker"})
    assert info.value.rule == "credentials"
    assert "attacker" not in str(info.value)
    assert not route.called


@pytest.mark.parametrize(
    "value",
    ["x\r\nX-Client-Secret: attacker", "x\nX-Api-Key: attacker", "nul\x00", "caf\u00e9"],
    ids=["crlf", "lf", "nul", "non-ascii"],
)
async def test_an_extra_header_cannot_smuggle_another_header(
    mock: respx.MockRouter, value: str
) -> None:
    route = mock.post("/v3/coupon/info").respond(200, **answer("coupons_get"))
    async with make_client() as ct:
        with pytest.raises(ValidationError):
            await ct.coupons.get(campaign="cam_1", extra_headers={"X-Note": value})
        with pytest.raises(ValidationError):
            await ct.coupons.get(campaign="cam_1", extra_headers={"X-Note\r\nX-Api-Key": "v"})
    assert not route.called


@pytest.mark.parametrize("name", ["Host", "content-length", "Transfer-Encoding", "Connection"])
async def test_extra_headers_cannot_redirect_or_reframe_the_request(
    mock: respx.MockRouter, name: str
) -> None:
    # A Host of the caller's choosing could take the credentials to another site
    # behind the same proxy or CDN.
    route = mock.route().respond(200, json={})
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.coupons.get(campaign="cam_1", extra_headers={name: "evil.example"})
        assert info.value.rule == "reserved"
        with pytest.raises(ValidationError):
            await ct.request("GET", "/v4/x", headers={name: "evil.example"})
    assert not route.called


async def test_extras_can_replace_the_ordinary_headers(mock: respx.MockRouter) -> None:
    route = mock.post("/v3/coupon/info").respond(200, **answer("coupons_get"))
    async with make_client() as ct:
        await ct.coupons.get(campaign="cam_1", extra_headers={"user-agent": "my-app/2"})
    assert route.calls.last.request.headers.get_list("user-agent") == ["my-app/2"]


@pytest.mark.parametrize("secret", [CLIENT_SECRET, CLIENT_ID, f" {CLIENT_SECRET} "])
async def test_credentials_never_travel_in_the_query(mock: respx.MockRouter, secret: str) -> None:
    route = mock.post("/v3/coupon/info").respond(200, **answer("coupons_get"))
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.coupons.get(campaign="cam_1", extra_query={"key": secret})
    assert info.value.rule == "credentials"
    assert CLIENT_SECRET not in str(info.value)
    assert CLIENT_ID not in str(info.value)
    assert not route.called


async def test_credentials_never_travel_in_a_body(mock: respx.MockRouter) -> None:
    route = mock.route().respond(200, json={})
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.coupons.get(campaign="cam_1", extra_body={"auth": {"s": [CLIENT_SECRET]}})
        assert info.value.param == "extra_body"
        with pytest.raises(ValidationError) as info:
            await ct.request("POST", "/v3/anything", json={"client_id": f"{CLIENT_ID}\n"})
        assert info.value.param == "json"
    assert info.value.rule == "credentials"
    assert CLIENT_SECRET not in str(info.value)
    assert not route.called


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"extra_body": ["not", "a", "mapping"]}, "extra_body"),
        ({"extra_body": {1: "x"}}, "extra_body"),
        ({"extra_body": {"when": object()}}, "body"),
        ({"extra_body": {"n": float("nan")}}, "body"),
        ({"extra_query": {"x": {"nested": 1}}}, "x"),
        ({"extra_query": "a=1"}, "extra_query"),
        ({"extra_headers": {"X-N": 5}}, "X-N"),
    ],
    ids=[
        "body-list",
        "body-int-key",
        "body-object",
        "body-nan",
        "query-dict",
        "query-str",
        "header-int",
    ],
)
async def test_extras_that_cannot_be_sent_are_refused_before_sending(
    mock: respx.MockRouter, kwargs: dict[str, Any], param: str
) -> None:
    route = mock.post("/v3/coupon/info").respond(200, **answer("coupons_get"))
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.coupons.get(campaign="cam_1", **kwargs)
    assert info.value.param == param
    assert not route.called


async def test_extra_body_values_are_sent_as_json_dates_enums_and_models_included(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/coupon/info").respond(200, **answer("coupons_get"))
    async with make_client() as ct:
        await ct.coupons.get(
            campaign="cam_1",
            extra_body={"day": date(2024, 2, 12), "page": models.WalletUserPagination(page=2)},
        )
    assert body_of(route.calls.last.request) == {
        "campaign": "cam_1",
        "day": "2024-02-12",
        "page": {"page": 2},
    }


async def test_extra_body_cannot_be_merged_into_a_bulk_list(mock: respx.MockRouter) -> None:
    route = mock.post("/v4/loyalty/loyalty-cards/1/stats/bulk").respond(200, json=[])
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.wallet_users.create_many(1, [{"email": "a@example.com"}], extra_body={"x": 1})
    assert info.value.param == "extra_body"
    assert not route.called


async def test_composite_methods_pass_the_extras_on(mock: respx.MockRouter) -> None:
    search = mock.post("/v3/campaignsession/search").respond(
        200, **answer("sessions_search_in_campaign")
    )
    sms = mock.post("/v3/send/sms").respond(200, **answer("distribution_send_sms"))
    users = mock.get("/v4/loyalty/loyalty-cards/1/stats").respond(200, json=[])
    sessions = mock.post("/v3/campaign/claims").respond(200, **answer("sessions_list_claimed"))
    async with make_client() as ct:
        await ct.sessions.search(campaign="cam_1", code="ABCDE", extra_body={"scope": "all"})
        await ct.distribution.send_coupon_sms(
            campaign="cam_1", phone="+447911123456", extra_headers={"X-Trace-Id": "t-2"}
        )
        await ct.wallet_users.list(1, page=2, extra_query={"sort": "name"})
        await ct.sessions.list(campaign="cam_1", state="claimed", extra_body={"tz": "UTC"})
    assert body_of(search.calls.last.request)["scope"] == "all"
    assert sms.calls.last.request.headers["x-trace-id"] == "t-2"
    assert users.calls.last.request.url.params["sort"] == "name"
    assert body_of(users.calls.last.request)["pagination"] == {"page": 2}
    assert body_of(sessions.calls.last.request)["tz"] == "UTC"


async def test_iterators_send_the_extras_with_every_page(mock: respx.MockRouter) -> None:
    route = mock.get("/v4/loyalty/loyalty-cards/1/stats").mock(
        side_effect=[
            httpx.Response(200, json=[{"id": 1}, {"id": 2}]),
            httpx.Response(200, json=[{"id": 3}]),
        ]
    )
    async with make_client() as ct:
        pager = ct.wallet_users.iter(1, per_page=2, extra_headers={"X-Trace-Id": "t-3"})
        ids = [u.id async for u in pager]
    assert ids == [1, 2, 3]
    assert [c.request.headers["x-trace-id"] for c in route.calls] == ["t-3", "t-3"]


async def test_raw_responses_take_the_extras_too(mock: respx.MockRouter) -> None:
    route = mock.post("/v3/coupon/info").respond(200, **answer("coupons_get"))
    async with make_client() as ct:
        raw = await ct.with_raw_response.coupons.get(campaign="cam_1", extra_body={"x": 1})
    assert raw.status_code == 200
    assert body_of(route.calls.last.request)["x"] == 1


# ------------------------------------------------------------------------- ct.request


async def test_request_reaches_a_v3_path_the_spec_lacks_and_unwraps_the_envelope(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/directory/campaign/create").respond(
        200, json={**OK, "campaign": "cam_9", "action": "created"}
    )
    async with make_client() as ct:
        got = await ct.request("post", "/v3/directory/campaign/create", json={"template": "tpl_1"})
    assert got == {"campaign": "cam_9", "action": "created"}
    request = route.calls.last.request
    assert request.method == "POST"
    assert body_of(request) == {"template": "tpl_1"}
    assert request.headers["content-type"] == "application/json"
    assert_credentials_intact(request)


async def test_request_sends_v3_an_empty_json_object_when_no_body_is_given(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/account/sso").respond(200, json={**OK, "token": "t"})
    async with make_client() as ct:
        assert await ct.request("POST", "/v3/account/sso") == {"token": "t"}
    assert route.calls.last.request.content == b"{}"


async def test_request_returns_a_v4_payload_as_it_came(mock: respx.MockRouter) -> None:
    route = mock.get("/v4/directory/12/users").respond(
        200, json=[{"id": 1, "created_at": "2024-02-12 12:31:06"}]
    )
    async with make_client() as ct:
        got = await ct.request(
            "GET", "/v4/directory/12/users", params={"page": 2}, headers={"X-Trace-Id": "t"}
        )
    assert got == [{"id": 1, "created_at": "2024-02-12 12:31:06"}]
    request = route.calls.last.request
    assert request.url.params["page"] == "2"
    assert request.headers["x-trace-id"] == "t"
    assert request.content == b""
    assert_credentials_intact(request)


async def test_request_returns_bytes_for_an_answer_that_is_not_json(
    mock: respx.MockRouter,
) -> None:
    mock.get("/v4/export.csv").respond(200, content=b"id;name\n1;Ann\n")
    mock.delete("/v4/thing/1").respond(204)
    async with make_client() as ct:
        assert await ct.request("GET", "/v4/export.csv") == b"id;name\n1;Ann\n"
        assert await ct.request("DELETE", "/v4/thing/1") == b""


@pytest.mark.parametrize("path", ["/v3/campaign/template", "/v4/directory/1/templates"])
async def test_request_raises_the_typed_error_of_a_failed_envelope_anywhere(
    mock: respx.MockRouter, path: str
) -> None:
    mock.post(path).respond(
        200,
        json={
            "status": {"status": "failed"},
            "errors": {
                "error_message": "HTTP/1.0 422 Unprocessable entity.",
                "error_message_description": ["Directory ID not found"],
                "error_code": [502],
            },
        },
    )
    async with make_client() as ct:
        with pytest.raises(NotFoundError) as info:
            await ct.request("POST", path, json={"campaign": "dir_1"})
    assert info.value.codes == (502,)
    assert path in str(info.value)


async def test_request_raises_the_typed_error_of_an_http_status(mock: respx.MockRouter) -> None:
    mock.post("/v4/directory/1/users").respond(422, json={"message": "email is required"})
    mock.get("/v4/nothing-here").respond(404, text="<html>Not Found</html>")
    async with make_client() as ct:
        with pytest.raises(InvalidRequestError, match="email is required"):
            await ct.request("POST", "/v4/directory/1/users", json={})
        with pytest.raises(NotFoundError):
            await ct.request("GET", "/v4/nothing-here")


async def test_request_does_not_retry_a_post_after_a_read_timeout(
    mock: respx.MockRouter,
) -> None:
    clock = FakeClock()
    route = mock.post("/v4/directory/1/users").mock(side_effect=httpx.ReadTimeout("slow"))
    async with retrying_client(clock) as ct:
        with pytest.raises(APITimeoutError):
            await ct.request("POST", "/v4/directory/1/users", json={"email": "a@example.com"})
    assert route.call_count == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_request_retries_an_idempotent_method_after_a_read_timeout(
    mock: respx.MockRouter, method: str
) -> None:
    clock = FakeClock()
    route = mock.route(method=method, path="/v4/directory/1/users/2").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={"id": 2})]
    )
    async with retrying_client(clock) as ct:
        assert await ct.request(method, "/v4/directory/1/users/2") == {"id": 2}
    assert route.call_count == 2
    assert clock.sleeps == [0.5]


async def test_request_follows_the_spec_idempotency_of_a_known_path(
    mock: respx.MockRouter,
) -> None:
    clock = FakeClock()
    # coupon/info is a POST the spec marks idempotent: retried. send/sms is not.
    info = mock.post("/v3/coupon/info").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={**OK, "x": 1})]
    )
    sms = mock.post("/v3/send/sms").mock(side_effect=httpx.ReadTimeout("slow"))
    stamps = mock.post("/v4/loyalty/loyalty-cards/5/stats/9").mock(
        side_effect=httpx.ReadTimeout("slow")
    )
    async with retrying_client(clock) as ct:
        assert await ct.request("POST", "/v3/coupon/info", json={"campaign": "c"}) == {"x": 1}
        with pytest.raises(APITimeoutError):
            await ct.request("POST", "/v3/send/sms", json={"campaign": "c", "phone": "+3247"})
        with pytest.raises(APITimeoutError):
            await ct.request("POST", "/v4/loyalty/loyalty-cards/5/stats/9", json={"amount": 1})
    assert (info.call_count, sms.call_count, stamps.call_count) == (2, 1, 1)


async def test_request_retries_a_post_that_cannot_have_reached_the_server(
    mock: respx.MockRouter,
) -> None:
    clock = FakeClock()
    route = mock.post("/v4/directory/1/users").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"id": 3})]
    )
    async with retrying_client(clock) as ct:
        assert await ct.request("POST", "/v4/directory/1/users", json={"email": "a@b.co"}) == {
            "id": 3
        }
    assert route.call_count == 2


@pytest.mark.parametrize(
    "path",
    [
        "https://evil.example/v3/coupon/list",
        "//evil.example/v3/coupon/list",
        "@evil.example/v3",
        "v3/coupon/list",
        "/v3/coupon/list?client_secret=x",
        "/v3/coupon list",
        "/v3/coupon/list#frag",
        "/v3/\r\nX-Api-Key: x",
        "",
    ],
)
async def test_request_refuses_a_path_that_could_leave_the_api_host(
    mock: respx.MockRouter, path: str
) -> None:
    route = mock.route().respond(200, json={})
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.request("POST", path)
    assert info.value.param == "path"
    assert not route.called


async def test_request_refuses_an_unknown_method_and_credential_headers(
    mock: respx.MockRouter,
) -> None:
    route = mock.route().respond(200, json={})
    async with make_client() as ct:
        with pytest.raises(ValidationError) as info:
            await ct.request("FETCH", "/v4/x")
        assert info.value.param == "method"
        with pytest.raises(ValidationError) as info:
            await ct.request("GET", "/v4/x", headers={"X-Client-Secret": "other"})
        assert info.value.rule == "credentials"
        with pytest.raises(ValidationError):
            await ct.request("GET", "/v4/x", params={"s": CLIENT_SECRET})
    assert not route.called


async def test_request_on_a_closed_client_is_a_connection_error(mock: respx.MockRouter) -> None:
    ct = make_client()
    await ct.aclose()
    with pytest.raises(APIConnectionError, match="closed"):
        await ct.request("GET", "/v4/x")


# --------------------------------------------------------------- validate=False


async def test_without_validation_an_invalid_value_reaches_the_server_and_its_error_returns(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/send/sms").respond(
        200,
        json={
            "status": {"status": "failed"},
            "errors": {
                "error_message": "HTTP/1.0 422 Unprocessable entity.",
                "error_message_description": ["Phone number not valid"],
                "error_code": [301],
            },
        },
    )
    async with make_client() as ct:
        with pytest.raises(ValidationError):  # the client's own check, by default
            await ct.distribution.send_coupon_sms(campaign="cam_1", phone="0791 123")
        assert not route.called
        loose = ct.with_options(validate=False)
        with pytest.raises(InvalidRequestError) as info:
            await loose.distribution.send_coupon_sms(campaign="cam_1", phone="0791 123")
    assert body_of(route.calls.last.request) == {"campaign": "cam_1", "phone": "0791 123"}
    assert info.value.codes == (301,)


async def test_without_validation_unknown_types_and_missing_fields_are_sent_as_given(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v4/loyalty/loyalty-cards/1/stats/2").respond(
        422, json={"message": "amount must be positive"}
    )
    async with make_client() as ct:
        loose = ct.with_options(validate=False)
        with pytest.raises(InvalidRequestError, match="amount must be positive"):
            await loose.wallet_users.add_stamps(1, 2, amount=-4)
        with pytest.raises(InvalidRequestError):
            await loose.wallet_users.add_stamps(1, 2, amount="many")  # type: ignore[arg-type]
    assert [body_of(c.request) for c in route.calls] == [{"amount": -4}, {"amount": "many"}]


async def test_without_validation_values_still_take_their_wire_form(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/campaign/data").respond(200, **answer("sessions_list_all"))
    users = mock.get("/v4/loyalty/loyalty-cards/1/stats").respond(200, json=[])
    async with make_client() as ct:
        loose = ct.with_options(validate=False)
        await loose.sessions.list(campaign="cam_1", start_date=date(2024, 2, 1), end_date="soon")
        await loose.wallet_users.list(1, page=0, keyword="ann")
    assert body_of(route.calls.last.request) == {
        "campaign": "cam_1",
        "start_date": "2024-02-01",
        "end_date": "soon",
    }
    assert body_of(users.calls.last.request) == {
        "pagination": {"page": 0},
        "filter": {"keyword": "ann"},
    }


async def test_without_validation_a_bulk_list_of_models_is_still_encoded_by_wire_name(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v4/loyalty/loyalty-cards/1/stats/bulk").respond(200, json=[{"id": 1}])
    rows: list[models.WalletUserInput | dict[str, Any]] = [
        models.WalletUserInput(email="not-an-email", phone="0791 123"),
        {"x": 1},
    ]
    async with make_client() as ct:
        with pytest.raises(ValidationError):
            await ct.wallet_users.create_many(1, rows)
        await ct.with_options(validate=False).wallet_users.create_many(1, rows)
    assert body_of(route.calls.last.request) == [
        {"phone": "0791 123", "email": "not-an-email"},
        {"x": 1},
    ]


async def test_validate_false_is_a_view_the_original_client_keeps_validating(
    mock: respx.MockRouter,
) -> None:
    route = mock.post("/v3/send/sms").respond(200, **answer("distribution_send_sms"))
    async with make_client() as ct:
        await ct.with_options(validate=False).distribution.send_coupon_sms(
            campaign="cam_1", phone="12"
        )
        with pytest.raises(ValidationError):
            await ct.distribution.send_coupon_sms(campaign="cam_1", phone="12")
        again = ct.with_options(validate=False).with_options(max_retries=1)
        await again.distribution.send_coupon_sms(campaign="cam_1", phone="12")
    assert route.call_count == 2
