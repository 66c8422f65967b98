"""No credential reaches an exception, a log line or a locals-capturing traceback,
even when the server echoes the request headers back."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from coupontools_async import APIConnectionError, APIError, CoupontoolsError, ServerError
from coupontools_async.fastapi import VerifiedWebhookEvent, coupontools_lifespan
from tests.attacks._hostile import (
    CLIENT_ID,
    CLIENT_SECRET,
    client,
    echo_headers_json,
    echo_headers_page,
    hang_up_server,
    mock,
    texts_of,
    with_locals,
)
from tests.test_fastapi import DOCUMENTED, running

pytestmark = pytest.mark.anyio

SECRETS = (CLIENT_ID, CLIENT_SECRET, CLIENT_SECRET.replace("/", "\\/"))


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def test_an_error_page_that_echoes_the_headers_shows_them_redacted() -> None:
    async with client(transport=mock(echo_headers_page)) as ct:
        with pytest.raises(ServerError) as info:
            await ct.wallet_cards.list()
    exc = info.value
    assert exc.status_code == 502
    assert exc.body is not None
    assert "x-client-secret" in exc.body.lower()
    assert "[redacted]" in exc.body
    assert_clean(texts_of(exc))


async def test_a_json_error_that_quotes_the_headers_php_escaped_shows_them_redacted() -> None:
    async with client(transport=mock(echo_headers_json)) as ct:
        with pytest.raises(APIError) as info:
            await ct.wallet_cards.list()
    exc = info.value
    assert any("[redacted]" in m for m in exc.messages)
    assert_clean(texts_of(exc) + "\n".join(exc.messages))


async def test_retry_warnings_and_debug_lines_of_an_echoing_server_hold_no_credential(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with client(transport=mock(echo_headers_page), max_retries=2) as ct:
        with pytest.raises(ServerError):
            await ct.wallet_cards.list()
        # What an application logs of the error (the FastAPI receiver does this).
        try:
            await ct.wallet_cards.list()
        except ServerError as exc:
            logging.getLogger("coupontools_async").warning("could not verify: %s", exc.body)
    lines = caplog.text
    assert "Retrying" in lines
    assert "[redacted]" in lines
    assert_clean(lines)


async def test_a_dropped_connection_on_loopback_leaks_nothing_into_a_locals_traceback() -> None:
    async with hang_up_server() as base_url, client(base_url=base_url) as ct:
        with pytest.raises(APIConnectionError) as info:
            await ct.wallet_cards.list()
    exc = info.value
    frames = with_locals(exc)
    assert "_send" in frames  # the library's frames are there, with their locals
    assert_clean(texts_of(exc))


async def test_a_decoding_failure_leaks_nothing_into_a_locals_traceback() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"not": "a list of cards"})

    async with client(transport=mock(handler)) as ct:
        with pytest.raises(CoupontoolsError) as info:
            await ct.wallet_cards.copy(1, name="Copy")
    assert_clean(texts_of(info.value))


async def test_a_request_error_raised_in_the_library_frames_holds_no_header_dict() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset by peer", request=request)

    async with client(transport=mock(handler)) as ct:
        with pytest.raises(APIConnectionError) as info:
            await ct.wallet_users.get(1, 2)
    frames = with_locals(info.value)
    assert "request = <Request(" in frames
    assert_clean(frames)


async def test_the_fastapi_receivers_warning_about_an_echoing_server_holds_no_credential(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI(lifespan=coupontools_lifespan(lambda: client(transport=mock(echo_headers_json))))

    @app.post("/verified")
    async def verified(event: VerifiedWebhookEvent) -> str:
        return event.id

    caplog.set_level(logging.WARNING, logger="coupontools_async")
    async with running(app) as http:
        answer = await http.post("/verified", json=next(iter(DOCUMENTED.values())))
    assert answer.status_code == 502
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("could not be verified" in w and "[redacted]" in w for w in warnings)
    assert_clean("\n".join(warnings) + answer.text)


async def test_any_line_on_the_librarys_loggers_is_scrubbed_whatever_its_arguments(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Raw text of an echoing page, as a transport or a hook might log it one day.
    async with client(transport=mock(echo_headers_page)) as ct:
        request = httpx.Request("GET", "https://api.test/", headers=ct._credentials.headers())
    page = echo_headers_page(request).text
    caplog.set_level(logging.DEBUG)
    names = (
        "coupontools_async",
        "coupontools_async.drift",
        "coupontools_async.backend",
        "coupontools_async.sandbox",
        "httpx",
    )
    for name in names:
        logging.getLogger(name).warning("answer: %s", page)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("answer: ")]
    assert len(lines) == len(names)
    assert all("[redacted]" in line for line in lines)
    assert_clean("\n".join(lines))
