"""The session's leak check (tests/_leakcheck.py) finds what it is there to find."""

from __future__ import annotations

import logging
import traceback

import anyio
import httpx
import pytest

from coupontools_async import (
    APIError,
    AsyncClient,
    CoupontoolsError,
    RetryPolicy,
    ValidationError,
)
from tests import _leakcheck
from tests._leakcheck import MIN_LENGTH, Captured, Collector, scan

SECRET = "csecret-PLANTED-77e1c0"
CLIENT_ID = "cid-PLANTED-31ab9f"


def test_a_planted_credential_is_found_with_its_place_and_masked() -> None:
    captured = [
        Captured("log coupontools_async", "tests/a.py::one", "GET /v4/loyalty -> 200"),
        Captured(
            "exception APIError",
            "tests/b.py::two",
            f"HTTP 401: bad key {SECRET} given (GET /v4/loyalty/loyalty-cards)",
        ),
        Captured("repr AsyncClient", "tests/c.py::three", "AsyncClient(base_url='x')"),
    ]
    (leak,) = scan(captured, [SECRET, CLIENT_ID])
    assert leak.source == "exception APIError"
    assert leak.where == "tests/b.py::two"
    assert leak.length == len(SECRET)
    assert "bad key" in leak.snippet
    assert SECRET not in leak.snippet  # the report does not leak it again
    assert SECRET not in leak.describe()
    assert f"<CREDENTIAL:{len(SECRET)}>" in leak.snippet


def test_every_occurrence_of_every_credential_is_reported() -> None:
    captured = [
        Captured("log httpx", "t1", f"{CLIENT_ID}:{SECRET}"),
        Captured("log httpx", "t2", "clean"),
        Captured("failure report (call)", "t3", f"x{SECRET}x and again {SECRET}"),
    ]
    leaks = scan(captured, [SECRET, CLIENT_ID])
    assert sorted((leak.where, leak.length) for leak in leaks) == sorted(
        [("t1", len(SECRET)), ("t1", len(CLIENT_ID)), ("t3", len(SECRET)), ("t3", len(SECRET))]
    )
    assert all(SECRET not in leak.snippet and CLIENT_ID not in leak.snippet for leak in leaks)


def test_clean_texts_and_hits_across_text_boundaries_are_not_leaks() -> None:
    half = len(SECRET) // 2
    captured = [
        Captured("log", "t", "csecret-PLANTED redacted"),  # a prefix is not the credential
        Captured("log", "t", SECRET[:half]),  # a credential split over two texts is not one
        Captured("log", "t", SECRET[half:]),
        Captured("log", "t", "request headers {'X-Client-Secret': '[redacted]'}"),
    ]
    assert scan(captured, [SECRET]) == []


def test_credentials_too_short_to_mean_anything_are_not_searched_for() -> None:
    # "secret" is a word of the library's own messages ("no client secret: ...").
    captured = [Captured("exception ValidationError", "t", "no client secret: pass client_secret=")]
    assert len("secret") < MIN_LENGTH
    assert scan(captured, ["secret", "id"]) == []


def test_the_collector_finds_a_leak_added_after_its_credential() -> None:
    collector = Collector()
    collector.credential(SECRET)
    collector.credential(None)  # absent values are ignored
    collector.where = "tests/x.py::leaky"
    collector.add("log coupontools_async", f"sending {SECRET}")
    assert [leak.where for leak in collector.scan()] == ["tests/x.py::leaky"]
    assert collector.checked == 1


def test_the_session_collector_sees_clients_errors_and_log_lines(
    request: pytest.FixtureRequest,
) -> None:
    live = request.config.stash[_leakcheck._KEY]
    before = len(live.captured)
    client = AsyncClient(CLIENT_ID, SECRET, base_url="https://api.test")
    APIError("HTTP 500 probe-error-5d1 (GET /v4/x)", status_code=500)
    logging.getLogger("coupontools_async").debug("probe-log-line-8e2")
    logging.getLogger("httpx").debug("probe-httpx-line-3c9")
    new = live.captured[before:]
    sources = {c.source for c in new}
    assert {"repr AsyncClient", "vars AsyncClient", "exception APIError"} <= sources
    texts = "\n".join(c.text for c in new)
    assert "probe-error-5d1" in texts
    assert "probe-log-line-8e2" in texts  # DEBUG lines of both loggers are collected
    assert "probe-httpx-line-3c9" in texts
    assert all(c.where == request.node.nodeid for c in new)
    assert {CLIENT_ID, SECRET} <= live.credentials  # searched for at the end of the session
    assert scan(new, [CLIENT_ID, SECRET]) == []  # and the client's repr does not hold them
    anyio.run(client.aclose)


# ------------------------------------------------------- the hostile run, scanned


STRAYS = ("\r", "\n", "\r\n", " ", "\t", "\x00", "\x1b", "é")


def _echo_page(request: httpx.Request) -> httpx.Response:
    rows = "".join(f"<p>{k}: {v}</p>" for k, v in request.headers.items())
    return httpx.Response(502, html=f"<html><h1>Bad gateway</h1>{rows}</html>")


def _locals_traceback(exc: BaseException) -> str:
    """The library's frames with their locals (the test's own frames hold the values)."""
    text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    return "\n".join(b for b in text.split("\n  File ") if "/coupontools_async/" in b[:200])


def test_credentials_with_stray_characters_an_echoing_server_and_locals_tracebacks_leak_nothing(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    live = request.config.stash[_leakcheck._KEY]
    before = len(live.captured)
    caplog.set_level(logging.DEBUG)
    used: list[str] = []

    async def no_sleep(_: float) -> None:
        return None

    async def run(client_id: str, secret: str) -> list[str]:
        texts: list[str] = []
        try:
            ct = AsyncClient(
                client_id,
                secret,
                base_url="https://api.test",
                transport=httpx.MockTransport(_echo_page),
                max_retries=1,
                retry=RetryPolicy(sleep=no_sleep),
            )
        except ValidationError as refused:  # what a header cannot carry
            return [str(refused), repr(refused), _locals_traceback(refused)]
        async with ct:
            for call in (ct.wallet_cards.list, lambda: ct.coupons.get(campaign="cam_1")):
                try:
                    await call()
                except CoupontoolsError as exc:
                    texts += [str(exc), repr(exc), repr(vars(exc)), _locals_traceback(exc)]
        return texts

    for n, stray in enumerate(STRAYS):
        client_id = f"cid-HOSTILE-{n}-4e1b9c"
        secret = f"csecret-HOSTILE-{n}-a7f30d"
        for where in ("around", "inside"):
            given_id = client_id + stray if where == "around" else client_id
            given = stray + secret + stray if where == "around" else secret[:9] + stray + secret[9:]
            used += [client_id, secret, secret[:9] + secret[9:]]
            live.credential(given_id)
            live.credential(given)
            for text in anyio.run(run, given_id, given):
                live.add("hostile run", text)
    for record in caplog.records:
        live.add("hostile run log", record.getMessage())
    new = live.captured[before:]
    assert any("[redacted]" in c.text for c in new)  # the echoed headers were there
    assert any("header cannot carry" in c.text for c in new)  # and refusals too
    assert scan(new, used) == []
