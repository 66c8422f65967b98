"""The served sandbox: one log line per injected fault, Retry-After as the RFC writes it."""

from __future__ import annotations

import httpx
import pytest

from coupontools_async import RateLimitError, RetryPolicy
from coupontools_async.sandbox import Sandbox
from tests._served import served
from tests.attacks._hostile import no_sleep


@pytest.mark.anyio
@pytest.mark.parametrize(("seconds", "header"), [(5e6, "5000000"), (2.5, "3"), (60, "60")])
async def test_a_large_retry_after_is_written_in_whole_seconds_and_read_back(
    seconds: float, header: str
) -> None:
    sandbox = Sandbox.seeded(0, sessions=10)
    sandbox.faults.inject(rate=1.0, kinds=["429"], retry_after=seconds)
    async with sandbox.client(max_retries=0, retry=RetryPolicy(sleep=no_sleep)) as ct:
        with pytest.raises(RateLimitError) as info:
            await ct.wallet_cards.list()
    assert info.value.retry_after == float(header)
    async with httpx.AsyncClient(transport=sandbox.transport()) as http:
        answer = await http.get(
            "http://sandbox/v4/loyalty/loyalty-cards",
            headers={"x-api-key": sandbox.client_id, "x-api-secret": sandbox.client_secret},
        )
    assert answer.headers["retry-after"] == header


def test_a_served_sandbox_logs_one_line_per_dropped_connection_not_a_traceback() -> None:
    drops = 40
    output: list[str] = []
    options = ("--fault-rate", "1", "--fault-kinds", "drop", "--sessions", "0")
    headers = {"x-api-key": "sandbox-client-id", "x-api-secret": "sandbox-client-secret"}
    with served(*options, output=output) as base_url, httpx.Client(base_url=base_url) as http:
        for _ in range(drops):
            with pytest.raises(httpx.HTTPError):
                http.get("/v4/loyalty/loyalty-cards", headers=headers)
    (text,) = output
    assert "Traceback" not in text
    fault_lines = [line for line in text.splitlines() if "sandbox fault drop" in line]
    assert len(fault_lines) == drops
    assert len(text.splitlines()) < drops + 5  # the banner and uvicorn's own few lines
