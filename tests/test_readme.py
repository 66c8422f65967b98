"""The README's examples run as written (against a mocked API), on asyncio and trio."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import respx

from coupontools_async.sandbox._sandbox import find_operation
from tests._samples import minimal_answer
from tests._spec import ROOT

BLOCK = re.compile(r"<!-- readme-test: ([\w-]+) -->\n```python\n(.*?)```", re.S)
EXAMPLES = dict(BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8")))

Handler = Callable[[httpx.Request], httpx.Response | None]


def documented_answer(request: httpx.Request) -> httpx.Response:
    """The documented (or minimal) answer of whichever operation the request calls."""
    found = find_operation(request.method, request.url.path)
    if found is None:
        return httpx.Response(404, json={"message": f"no route {request.url.path}"})
    return httpx.Response(200, **minimal_answer(found[0]))


def failure(code: int, text: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "status": {"status": "failed"},
            "errors": {"error_code": [code], "error_message_description": [text]},
        },
    )


def special_answers(name: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response | None:
        path = request.url.path
        if name == "errors":
            if path == "/v3/coupon/info":
                return failure(502, "Campaign ID not found")
            if path == "/v3/couponsession/update":
                return failure(358, "This session was already validated")
            if path == "/v4/loyalty/loyalty-cards":
                raise httpx.ConnectError("connection refused")
        if name == "extra-fields" and path == "/v4/loyalty/loyalty-cards/1/stats/2":
            rewards = [{"id": 1, "name": "Free coffee", "sponsor_2027": "ACME"}]
            user = {"id": 2, "first_name": "Ann", "tier_2027": "gold", "rewards": rewards}
            return httpx.Response(200, json=user)
        if name == "escape-hatches":
            if path == "/v4/directory":
                return httpx.Response(200, json=[{"id": 12, "name": "City guide"}])
            if path == "/v3/send/sms":
                return failure(301, "Phone number not valid")
        return None

    return handler


EXPECTED_OUTPUT = {
    "shared-client": ["has", "stamps"],
    "pagination": ["claimed sessions:", "page 1 has", "directory users"],
    "errors": [
        "(502,) ('Campaign ID not found',)",
        "502 Campaign ID not found (POST /v3/coupon/info)",
        "already done: 358",
        "phone e164",
        "unreachable:",
    ],
    "retries": [],
    "raw": ["200 application/json"],
    "extra-fields": [
        "known: Ann",
        "new in the API: {'tier_2027': 'gold'}",
        "Free coffee {'sponsor_2027': 'ACME'}",
    ],
    "escape-hatches": [
        "copied:",
        "directories: ['City guide']",
        "the server says: (301,)",
        "refused: credentials",
    ],
    "bulk": ["1000 created, 0 skipped, 1 failed", "line 1001 :"],
    "sandbox": ["second void: 355", "answer lost; users added: 1"],
    "fastapi": [
        "['Coffee club', 'Membership card', 'VIP']",
        "{'received': 'loyalty_v3_created'}",
        "401",
        "400",
    ],
}


def test_every_readme_example_is_tested() -> None:
    assert set(EXAMPLES) == set(EXPECTED_OUTPUT)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("name", sorted(EXPECTED_OUTPUT))
def test_readme_example_runs(
    name: str,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("COUPONTOOLS_CLIENT_ID", "readme-id")
    monkeypatch.setenv("COUPONTOOLS_CLIENT_SECRET", "readme-secret")
    monkeypatch.delenv("COUPONTOOLS_BASE_URL", raising=False)

    async def instant(_: float) -> None:
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(anyio, "sleep", instant)  # retry waits in the examples
    special = special_answers(name)

    def answer(request: httpx.Request) -> httpx.Response:
        return special(request) or documented_answer(request)

    source = EXAMPLES[name]
    body, run_line = source.rstrip().rsplit("\n", 1)
    assert run_line.startswith("anyio.run(main")
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    monkeypatch.chdir(tmp_path)  # examples may write files (a journal)
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="api.coupontools.com").mock(side_effect=answer)
        exec(compile(body, f"README.md:{name}", "exec"), namespace)
        anyio.run(namespace["main"], backend=backend)
    out = capsys.readouterr().out
    for text in EXPECTED_OUTPUT[name]:
        assert text in out, f"{name}: {text!r} not in output:\n{out}"
