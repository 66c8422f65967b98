"""The client id and secret never appear in logs, reprs, exception texts or URLs."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import httpx
import pytest
import respx

from coupontools_async import AsyncClient, CoupontoolsError, RetryPolicy

pytestmark = pytest.mark.anyio

CLIENT_ID = "cid-LEAKCHECK-7d1f"
CLIENT_SECRET = "csecret-LEAKCHECK-93ab"
BASE = "https://api.test"


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


async def test_a_failing_retried_run_leaks_no_credential(
    mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get("/v4/loyalty/loyalty-cards").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(500)]
    )
    mock.post("/v3/coupon/info").respond(
        200,
        json={
            "status": {
                "status": "failed",
                "errors": {"error_code": 1000, "error_message": "Client ID or Secret not correct."},
            }
        },
    )
    mock.post("/v4/loyalty/loyalty-cards/1/stats").mock(side_effect=httpx.ReadTimeout("slow"))
    mock.get("/v4/loyalty/loyalty-cards/1/stats/2").respond(502, text="<html><b>Bad</b></html>")

    async def no_sleep(_: float) -> None:
        return None

    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    ct = AsyncClient(
        CLIENT_ID,
        CLIENT_SECRET,
        base_url=BASE,
        max_retries=2,
        retry=RetryPolicy(sleep=no_sleep),
        on_retry=lambda event: texts.append(repr(event)),
    )
    texts += [repr(ct), str(ct), repr(ct.retry_policy), repr(ct._credentials)]
    calls = [
        ct.wallet_cards.list(),
        ct.coupons.get(campaign="cam_1"),
        ct.wallet_users.create(1, first_name="Ann"),
        ct.wallet_users.get(1, 2),
    ]
    for call in calls:
        with pytest.raises(CoupontoolsError) as info:
            await call
        exc = info.value
        texts += [str(exc), repr(exc), repr(vars(exc))]
        texts += traceback.format_exception(type(exc), exc, exc.__traceback__)
    await ct.aclose()
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    for request, _ in mock.calls:
        texts.append(str(request.url))
    joined = "\n".join(texts)
    assert "Retrying" in joined  # the run did retry and log
    assert "[redacted]" in joined  # the DEBUG lines did show headers, redacted
    assert CLIENT_ID not in joined
    assert CLIENT_SECRET not in joined
