"""Decoding answers: the v3 envelope, v4 JSON, binary and empty answers, and every error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coupontools_async import _envelope
from coupontools_async._envelope import (
    decode,
    error_from_status,
    is_v3_failure,
    parse_retry_after,
)
from coupontools_async._generated import OPERATIONS
from coupontools_async.errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    DeliveryError,
    IntegrationError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

BASE = "https://api.coupontools.com"
CLIENT_ID = "cid-LEAKCHECK-5e2a"
SECRET = "s3cr3t-LEAKCHECK-91fc"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"

SHAPE_1 = {
    "status": {
        "status": "failed",
        "errors": {
            "error_code": 1000,
            "error_message": "HTTP/1.0 401 Unauthorized. Client ID or Secret not correct.",
        },
    }
}
SHAPE_2 = {
    "status": {
        "status": "failed",
        "errors": {
            "error_message": "HTTP/1.0 422 Unprocessable entity.",
            "error_message_description": ["Webhook not found."],
            "error_code": [509],
        },
    }
}
SHAPE_3 = {
    "status": {"status": "failed"},
    "errors": {
        "error_message": "HTTP/1.0 422 Unprocessable entity.",
        "error_message_description": ["Couponsession not found."],
        "error_code": [505],
    },
}


def answer(
    op_id: str,
    status: int = 200,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    with_request: bool = True,
) -> httpx.Response:
    """An already read response to ``op_id``, sent with credentials in its headers."""
    op = OPERATIONS[op_id]
    path = op.path.replace("{card_id}", "1").replace("{user_id}", "2")
    request = httpx.Request(
        op.method,
        BASE + path,
        headers={"X-Client-Id": CLIENT_ID, "X-Client-Secret": SECRET},
    )
    kwargs: dict[str, Any] = {"headers": headers}
    if with_request:
        kwargs["request"] = request
    if content is not None:
        return httpx.Response(status, content=content, **kwargs)
    return httpx.Response(status, json=json, **kwargs)


def failed(
    code: Any, description: Any = None, message: str = "HTTP/1.0 422 Unprocessable entity."
) -> dict[str, Any]:
    errors: dict[str, Any] = {"error_code": code, "error_message": message}
    if description is not None:
        errors["error_message_description"] = description
    return {"status": {"status": "failed"}, "errors": errors}


def raised(op_id: str, response: httpx.Response) -> APIError:
    with pytest.raises(APIError) as info:
        decode(OPERATIONS[op_id], response)
    return info.value


# ------------------------------------------------------------------------------ v3 OK


def test_ok_envelope_returns_the_payload_without_status() -> None:
    body = {"status": {"status": "OK"}, "campaign": "cam_1", "data": [{"id": "1"}]}
    assert decode(OPERATIONS["coupons_get"], answer("coupons_get", json=body)) == {
        "campaign": "cam_1",
        "data": [{"id": "1"}],
    }


@pytest.mark.parametrize("word", ["ok", "Ok", "OK"])
def test_ok_is_recognised_whatever_its_case(word: str) -> None:
    body = {"status": {"status": word}, "coupon_info": []}
    assert decode(OPERATIONS["coupons_list"], answer("coupons_list", json=body)) == {
        "coupon_info": []
    }


def test_v3_json_object_without_status_on_2xx_is_accepted_as_payload() -> None:
    body = {"campaign": "cam_1"}
    assert decode(OPERATIONS["coupons_get"], answer("coupons_get", json=body)) == body


def test_ok_path_parses_the_body_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = _envelope._json_loads

    def counting(content: Any, **kwargs: Any) -> Any:
        calls.append(content)
        return real(content, **kwargs)

    response = answer("coupons_get", json={"status": {"status": "OK"}, "campaign": "c"})
    monkeypatch.setattr(_envelope, "_json_loads", counting)
    decode(OPERATIONS["coupons_get"], response)
    assert len(calls) == 1


# --------------------------------------------------------------------- v3 failures


@pytest.mark.parametrize("http_status", [200, 422])
@pytest.mark.parametrize(
    ("body", "cls", "codes", "messages"),
    [
        (
            SHAPE_1,
            AuthenticationError,
            (1000,),
            ("HTTP/1.0 401 Unauthorized. Client ID or Secret not correct.",),
        ),
        (SHAPE_2, NotFoundError, (509,), ("Webhook not found.",)),
        (SHAPE_3, NotFoundError, (505,), ("Couponsession not found.",)),
    ],
    ids=["errors-inside-status-scalar", "errors-inside-status-lists", "errors-beside-status"],
)
def test_failed_envelope_is_an_error_whatever_the_http_status(
    http_status: int,
    body: dict[str, Any],
    cls: type[APIError],
    codes: tuple[int, ...],
    messages: tuple[str, ...],
) -> None:
    exc = raised("coupons_get", answer("coupons_get", http_status, json=body))
    assert type(exc) is cls
    assert exc.codes == codes
    assert exc.code == codes[0]
    assert exc.messages == messages
    assert exc.status_code == http_status
    assert exc.operation == "POST /v3/coupon/info"
    assert str(exc).endswith("(POST /v3/coupon/info)")


def test_failed_envelope_on_http_200_is_an_error() -> None:
    body = failed([502], ["Campaign ID not found"])
    exc = raised("coupons_get", answer("coupons_get", 200, json=body))
    assert isinstance(exc, NotFoundError)
    assert str(exc) == "502 Campaign ID not found (POST /v3/coupon/info)"


def test_message_drops_the_status_line_of_error_message() -> None:
    exc = raised("coupons_list", answer("coupons_list", json=SHAPE_1))
    assert str(exc) == "1000 Client ID or Secret not correct (POST /v3/coupon/list)"


def test_scalar_and_list_codes_give_the_same_error() -> None:
    scalar = raised("coupons_get", answer("coupons_get", json=failed(502, "Campaign ID not found")))
    listed = raised(
        "coupons_get", answer("coupons_get", json=failed([502], ["Campaign ID not found"]))
    )
    assert type(scalar) is type(listed) is NotFoundError
    assert scalar.codes == listed.codes == (502,)
    assert scalar.messages == listed.messages == ("Campaign ID not found",)
    assert str(scalar) == str(listed)


def test_several_errors_give_every_code_and_message() -> None:
    body = failed([505, 509], ["Couponsession not found.", "Webhook not found."])
    exc = raised("coupons_get", answer("coupons_get", 422, json=body))
    assert exc.codes == (505, 509)
    assert exc.messages == ("Couponsession not found.", "Webhook not found.")
    assert str(exc) == "505 Couponsession not found; 509 Webhook not found (POST /v3/coupon/info)"


def test_codes_given_as_strings_are_read_as_ints() -> None:
    exc = raised("coupons_get", answer("coupons_get", json=failed(["502", " 505 "], ["a", "b"])))
    assert exc.codes == (502, 505)
    assert isinstance(exc, NotFoundError)
    single = raised("coupons_get", answer("coupons_get", json=failed("352", "Session locked")))
    assert single.codes == (352,)
    assert isinstance(single, ConflictError)


def test_several_codes_without_descriptions_share_error_message() -> None:
    body = failed([301, 303], message="Bad values.")
    exc = raised("coupons_get", answer("coupons_get", json=body))
    assert exc.codes == (301, 303)
    assert exc.messages == ("Bad values.",)
    assert str(exc) == "301, 303 Bad values (POST /v3/coupon/info)"


def test_a_long_list_of_errors_is_shortened_in_the_message_but_kept_in_codes() -> None:
    codes = list(range(300, 312))
    body = failed(codes, [f"bad value {c}" for c in codes])
    exc = raised("coupons_get", answer("coupons_get", json=body))
    assert exc.codes == tuple(codes)
    assert len(exc.messages) == 12
    assert "and 7 more" in str(exc)


@pytest.mark.parametrize(
    ("code", "op_id", "cls"),
    [
        (1000, "coupons_get", AuthenticationError),
        (101, "coupons_get", AuthenticationError),
        (102, "subaccounts_list", AuthenticationError),
        (200, "coupons_get", InvalidRequestError),
        (301, "coupons_get", InvalidRequestError),
        (349, "coupons_get", InvalidRequestError),
        (352, "sessions_update", ConflictError),
        (360, "sessions_update", ConflictError),
        (103, "distribution_send_sms", IntegrationError),
        (104, "distribution_send_email", IntegrationError),
        (601, "single_use_create", DeliveryError),
        (605, "distribution_send_sms", DeliveryError),
        (507, "coupons_push_all", DeliveryError),
        (507, "coupons_push_one", DeliveryError),
        (507, "directories_get", NotFoundError),
        (502, "coupons_get", NotFoundError),
        (515, "coupons_get", NotFoundError),
        (400, "sessions_barcode", InvalidRequestError),
        (401, "sessions_barcode", AuthenticationError),
    ],
)
def test_v3_code_picks_the_error_class(code: int, op_id: str, cls: type[APIError]) -> None:
    exc = raised(op_id, answer(op_id, 200, json=failed(code, "text")))
    assert type(exc) is cls
    assert exc.codes == (code,)


def test_the_first_known_code_decides_with_several_codes() -> None:
    exc = raised("sessions_update", answer("sessions_update", json=failed([352, 502], ["x", "y"])))
    assert type(exc) is ConflictError


@pytest.mark.parametrize(
    ("http_status", "message", "cls"),
    [
        (409, "Whatever.", ConflictError),
        (503, "Whatever.", ServerError),
        (200, "HTTP/1.0 401 Unauthorized. Nope.", AuthenticationError),
        (200, "Something odd.", APIError),
    ],
)
def test_an_unknown_code_falls_back_to_the_http_status(
    http_status: int, message: str, cls: type[APIError]
) -> None:
    exc = raised(
        "coupons_get", answer("coupons_get", http_status, json=failed(999, message=message))
    )
    assert type(exc) is cls
    assert exc.codes == (999,)


def test_a_failed_envelope_without_details_is_still_an_error() -> None:
    exc = raised("coupons_get", answer("coupons_get", json={"status": {"status": "failed"}}))
    assert type(exc) is APIError
    assert exc.codes == ()
    assert "failed" in str(exc)


def test_v3_json_without_status_on_http_500_maps_by_http_status() -> None:
    exc = raised("coupons_get", answer("coupons_get", 500, json={"message": "Server Error"}))
    assert type(exc) is ServerError
    assert str(exc) == "HTTP 500 Internal Server Error: Server Error (POST /v3/coupon/info)"
    assert exc.messages == ("Server Error",)


def test_operation_label_uses_the_operation_path_without_a_request() -> None:
    response = answer("wallet_users_get", 404, json={"message": "x"}, with_request=False)
    exc = raised("wallet_users_get", response)
    assert exc.operation == "GET /v4/loyalty/loyalty-cards/{card_id}/stats/{user_id}"


# --------------------------------------------------------------------------------- v4


def test_v4_list_is_returned_as_is() -> None:
    body = [{"id": 1, "name": "Card"}, {"id": 2, "name": "Other"}]
    assert decode(OPERATIONS["wallet_cards_list"], answer("wallet_cards_list", json=body)) == body


def test_v4_dict_is_returned_as_is_even_with_its_own_status_field() -> None:
    body = {"id": 2, "first_name": "Ann", "status": "failed"}
    assert decode(OPERATIONS["wallet_users_get"], answer("wallet_users_get", json=body)) == body


@pytest.mark.parametrize(
    ("status", "body", "cls", "text", "messages"),
    [
        (
            404,
            {"message": "User not found"},
            NotFoundError,
            "HTTP 404 Not Found: User not found (GET /v4/loyalty/loyalty-cards/1/stats/2)",
            ("User not found",),
        ),
        (
            409,
            {"error": "User already voided"},
            ConflictError,
            "HTTP 409 Conflict: User already voided (GET /v4/loyalty/loyalty-cards/1/stats/2)",
            ("User already voided",),
        ),
        (
            422,
            {
                "message": "The given data was invalid.",
                "errors": {"email": ["The email field is required.", "Bad."], "phone": ["Bad."]},
            },
            InvalidRequestError,
            "HTTP 422 Unprocessable Entity: The given data was invalid.; email: The email field"
            " is required.; email: Bad.; phone: Bad. (GET /v4/loyalty/loyalty-cards/1/stats/2)",
            (
                "The given data was invalid.",
                "email: The email field is required.",
                "email: Bad.",
                "phone: Bad.",
            ),
        ),
        (
            500,
            {"detail": [{"loc": ["body"], "msg": "boom"}]},
            ServerError,
            "HTTP 500 Internal Server Error: boom (GET /v4/loyalty/loyalty-cards/1/stats/2)",
            ("boom",),
        ),
        (
            403,
            {"errors": ["Forbidden for this key"]},
            AuthenticationError,
            "HTTP 403 Forbidden: Forbidden for this key (GET /v4/loyalty/loyalty-cards/1/stats/2)",
            ("Forbidden for this key",),
        ),
        (
            418,
            {"other": 1},
            APIError,
            "HTTP 418 I'm a teapot (GET /v4/loyalty/loyalty-cards/1/stats/2)",
            (),
        ),
    ],
)
def test_v4_error_status_maps_to_its_class_with_the_json_messages(
    status: int, body: Any, cls: type[APIError], text: str, messages: tuple[str, ...]
) -> None:
    exc = raised("wallet_users_get", answer("wallet_users_get", status, json=body))
    assert type(exc) is cls
    assert str(exc) == text
    assert exc.messages == messages
    assert exc.status_code == status
    assert exc.codes == ()


def test_v4_answer_holding_a_v3_failed_envelope_is_parsed_like_v3() -> None:
    exc = raised("wallet_cards_list", answer("wallet_cards_list", 200, json=SHAPE_1))
    assert type(exc) is AuthenticationError
    assert exc.codes == (1000,)


def test_v4_empty_2xx_body_where_json_was_expected_is_an_api_error() -> None:
    exc = raised("wallet_users_get", answer("wallet_users_get", 200, content=b""))
    assert type(exc) is APIError
    assert "empty answer" in str(exc)


# -------------------------------------------------------------------------- rate limit


def test_429_gives_rate_limit_error_with_retry_after_seconds() -> None:
    response = answer(
        "wallet_cards_list", 429, json={"message": "Slow down"}, headers={"Retry-After": "120"}
    )
    exc = raised("wallet_cards_list", response)
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after == 120.0
    assert "Slow down" in str(exc)


def test_429_gives_rate_limit_error_with_retry_after_as_http_date() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=60)
    response = answer(
        "coupons_get", 429, content=b"", headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    exc = raised("coupons_get", response)
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after is not None
    assert 55 <= exc.retry_after <= 61


def test_429_without_retry_after_has_none() -> None:
    exc = raised("wallet_cards_list", answer("wallet_cards_list", 429, json={}))
    assert isinstance(exc, RateLimitError)
    assert exc.retry_after is None


# --------------------------------------------------------------------- non-JSON bodies

HTML_502 = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
    b"<style>body { color: red; }</style><script>var secretish = 1;</script></head>"
    b"<body><h1>502   Bad\n\n Gateway</h1><p>The upstream &amp; server failed.</p>"
    + b"<p>"
    + b"filler text " * 40
    + b"</p></body></html>"
)


@pytest.mark.parametrize("op_id", ["wallet_users_get", "coupons_get"])
def test_html_502_page_gives_server_error_with_a_short_tagless_excerpt(op_id: str) -> None:
    response = answer(op_id, 502, content=HTML_502, headers={"Content-Type": "text/html"})
    exc = raised(op_id, response)
    assert type(exc) is ServerError
    assert exc.body is not None
    assert len(exc.body) <= 200
    assert "<" not in exc.body
    assert ">" not in exc.body
    assert "  " not in exc.body
    assert "color" not in exc.body
    assert "secretish" not in exc.body
    assert exc.body.startswith("502 Bad Gateway 502 Bad Gateway The upstream & server failed.")
    assert "not JSON (text/html)" in str(exc)
    assert "HTTP 502 Bad Gateway" in str(exc)


def test_truncated_json_on_2xx_gives_api_error_with_an_excerpt() -> None:
    content = b'{"status": {"status": "OK"}, "coupon_info": [{"ID": "1", "na'
    exc = raised("coupons_list", answer("coupons_list", 200, content=content))
    assert type(exc) is APIError
    assert exc.status_code == 200
    assert exc.body == content.decode()


def test_truncated_json_on_5xx_gives_server_error() -> None:
    exc = raised("wallet_cards_list", answer("wallet_cards_list", 503, content=b'{"message": "Ser'))
    assert type(exc) is ServerError
    assert exc.body == '{"message": "Ser'


def test_an_unterminated_script_in_a_cut_page_leaves_no_code_in_the_excerpt() -> None:
    page = b"<html><body><p>Oops</p><script>" + b"var x = 1; " * 5000
    exc = raised("coupons_get", answer("coupons_get", 500, content=page))
    assert exc.body == "Oops"


# ------------------------------------------------------------------------------ binary


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", "text/html"])
def test_barcode_bytes_are_returned(content_type: str) -> None:
    response = answer("sessions_barcode", content=PNG, headers={"Content-Type": content_type})
    assert decode(OPERATIONS["sessions_barcode"], response) == PNG


def test_failed_envelope_on_the_barcode_operation_is_an_error() -> None:
    body = {
        "status": {
            "status": "failed",
            "errors": {"error_code": 400, "error_message": "Unsupported type: foo"},
        }
    }
    for status in (200, 400):
        exc = raised("sessions_barcode", answer("sessions_barcode", status, json=body))
        assert type(exc) is InvalidRequestError
        assert exc.codes == (400,)
        assert str(exc) == "400 Unsupported type: foo (POST /v3/couponsession/barcode)"


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"status": {"status": "OK"}}', {"Content-Type": "application/json"}),
        (b'{"status": {"status": "OK"}}', {"Content-Type": "text/html"}),
        (b"", {"Content-Type": "image/png"}),
        (b"<html><body>Please log in</body></html>", {"Content-Type": "text/html"}),
    ],
    ids=["ok-envelope", "ok-envelope-as-html", "empty", "html-page"],
)
def test_barcode_answer_without_an_image_is_an_api_error(
    content: bytes, headers: dict[str, str]
) -> None:
    exc = raised("sessions_barcode", answer("sessions_barcode", content=content, headers=headers))
    assert type(exc) is APIError
    assert "no image" in str(exc)


def test_barcode_http_error_without_json_maps_by_status() -> None:
    response = answer(
        "sessions_barcode", 404, content=b"Not here", headers={"Content-Type": "text/plain"}
    )
    exc = raised("sessions_barcode", response)
    assert type(exc) is NotFoundError
    assert exc.body == "Not here"


# ------------------------------------------------------------------------------- empty


@pytest.mark.parametrize(
    ("status", "content"),
    [(204, b""), (200, b"{}"), (200, b'{"deleted": true}'), (200, b"OK"), (202, b"<html/>")],
)
def test_empty_kind_returns_none_whatever_the_body(status: int, content: bytes) -> None:
    response = answer("wallet_users_delete", status, content=content)
    assert decode(OPERATIONS["wallet_users_delete"], response) is None


def test_empty_kind_still_raises_on_a_failed_envelope() -> None:
    exc = raised("wallet_users_delete", answer("wallet_users_delete", 200, json=SHAPE_3))
    assert type(exc) is NotFoundError
    assert exc.codes == (505,)


def test_empty_kind_raises_on_an_error_status() -> None:
    response = answer("wallet_users_delete", 404, json={"message": "User not found"})
    exc = raised("wallet_users_delete", response)
    assert type(exc) is NotFoundError
    assert str(exc) == (
        "HTTP 404 Not Found: User not found (DELETE /v4/loyalty/loyalty-cards/1/stats/2)"
    )


# ------------------------------------------------------------------------- request id


@pytest.mark.parametrize("header", ["x-request-id", "Request-Id", "x-amzn-RequestId", "CF-RAY"])
def test_request_id_comes_from_the_first_known_header(header: str) -> None:
    response = answer("wallet_users_get", 404, json={}, headers={header: "rid-42"})
    assert raised("wallet_users_get", response).request_id == "rid-42"


def test_x_request_id_wins_over_cf_ray() -> None:
    headers = {"cf-ray": "ray-1", "x-request-id": "rid-1"}
    response = answer("coupons_get", json=SHAPE_2, headers=headers)
    assert raised("coupons_get", response).request_id == "rid-1"


def test_request_id_is_none_without_such_header() -> None:
    assert raised("coupons_get", answer("coupons_get", json=SHAPE_2)).request_id is None


# ------------------------------------------------------------------------ is_v3_failure


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(SHAPE_1).encode(),
        json.dumps(SHAPE_2).encode(),
        json.dumps(SHAPE_3).encode(),
        b'{"status": {"status": "FAILED"}}',
        b'{"status": "failed", "errors": {"error_code": 502}}',
    ],
)
def test_is_v3_failure_recognises_failed_envelopes(body: bytes) -> None:
    assert is_v3_failure(body) is True


@pytest.mark.parametrize(
    "body",
    [
        b'{"status": {"status": "OK"}}',
        b'{"id": 1, "status": "failed"}',
        b'{"message": "Server Error"}',
        b"<html>failed</html>",
        b'{"status": {"status": "fail',
        b"",
        b"\xff\xfe\x00failed",
        b"[" * 100_000 + b"failed",
        b"null",
        b'["failed"]',
    ],
)
def test_is_v3_failure_rejects_everything_else(body: bytes) -> None:
    assert is_v3_failure(body) is False


@given(st.binary(max_size=300))
def test_is_v3_failure_never_raises_on_random_bytes(body: bytes) -> None:
    assert isinstance(is_v3_failure(body), bool)


# -------------------------------------------------------------------- parse_retry_after

NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 -0000", 90.0),
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
        ("1e3", None),
        ("9" * 400, None),
        ("Wed, 99 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_takes_a_naive_now_as_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=naive) == 60.0


def test_parse_retry_after_dates_default_to_the_current_time() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds is not None
    assert 25 <= seconds <= 31


@given(st.text(max_size=60))
def test_parse_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or result >= 0.0


# ------------------------------------------------------------------- error_from_status


def test_error_from_status_builds_the_status_class() -> None:
    op = OPERATIONS["wallet_cards_list"]
    exc = error_from_status(op, answer("wallet_cards_list", 503, content=b""))
    assert type(exc) is ServerError
    assert str(exc) == "HTTP 503 Service Unavailable: empty answer (GET /v4/loyalty/loyalty-cards)"
    limited = error_from_status(
        op,
        answer("wallet_cards_list", 429, json={}, headers={"Retry-After": "600"}),
        "gave up after 3 attempts",
    )
    assert isinstance(limited, RateLimitError)
    assert limited.retry_after == 600.0
    assert str(limited) == (
        "HTTP 429 Too Many Requests: gave up after 3 attempts (GET /v4/loyalty/loyalty-cards)"
    )


def test_error_from_status_on_an_unread_response_does_not_raise() -> None:
    response = httpx.Response(
        502,
        stream=httpx.ByteStream(b"<html>x</html>"),
        request=httpx.Request("GET", BASE + "/v4/loyalty/loyalty-cards"),
    )
    exc = error_from_status(OPERATIONS["wallet_cards_list"], response)
    assert type(exc) is ServerError
    assert "answer not read" in str(exc)
    assert exc.body is None


# ---------------------------------------------------------------------------- secrets


def test_credentials_in_the_request_never_reach_the_error() -> None:
    op = OPERATIONS["coupons_get"]
    request = httpx.Request(
        "POST",
        f"{BASE}/v3/coupon/info?client_id={CLIENT_ID}&client_secret={SECRET}",
        headers={"X-Client-Id": CLIENT_ID, "X-Client-Secret": SECRET, "x-api-secret": SECRET},
        json={"campaign": "cam_1", "client_secret": SECRET},
    )
    answers = [
        httpx.Response(200, json=SHAPE_1, request=request),
        httpx.Response(422, json=SHAPE_3, request=request),
        httpx.Response(500, json={"message": "Server Error"}, request=request),
        httpx.Response(502, content=HTML_502, request=request),
        httpx.Response(200, content=b'{"status": {"sta', request=request),
        httpx.Response(429, headers={"Retry-After": "5"}, request=request),
    ]
    for response in answers:
        with pytest.raises(APIError) as info:
            decode(op, response)
        exc = info.value
        texts = [str(exc), repr(exc), repr(vars(exc)), repr(exc.args)]
        joined = "\n".join(texts)
        assert SECRET not in joined
        assert CLIENT_ID not in joined
        assert "client_secret" not in joined
        assert exc.operation == "POST /v3/coupon/info"
