"""Credentials: stray whitespace stripped, what a header cannot carry refused, never shown."""

from __future__ import annotations

import httpx
import pytest

from coupontools_async import AsyncClient, ValidationError
from tests.attacks._hostile import (
    CLIENT_ID,
    CLIENT_SECRET,
    STRAY_AROUND,
    STRAY_INSIDE,
    client,
    mock,
    texts_of,
)


@pytest.mark.anyio
@pytest.mark.parametrize("stray", STRAY_AROUND, ids=repr)
async def test_a_credential_from_a_crlf_env_file_is_sent_stripped(
    stray: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json=[])

    monkeypatch.setenv("COUPONTOOLS_CLIENT_ID", CLIENT_ID + stray)
    monkeypatch.setenv("COUPONTOOLS_CLIENT_SECRET", stray + CLIENT_SECRET + stray)
    async with AsyncClient(base_url="https://api.test", transport=mock(handler)) as ct:
        assert await ct.wallet_cards.list() == []
    (headers,) = seen
    assert headers["x-client-id"] == headers["x-api-key"] == CLIENT_ID
    assert headers["x-client-secret"] == headers["x-api-secret"] == CLIENT_SECRET


@pytest.mark.parametrize("stray", STRAY_INSIDE, ids=repr)
@pytest.mark.parametrize("where", ["end", "middle"])
def test_a_secret_a_header_cannot_carry_is_refused_naming_the_parameter_not_the_value(
    stray: str, where: str
) -> None:
    secret = CLIENT_SECRET + stray if where == "end" else CLIENT_SECRET[:8] + stray + "x" * 8
    with pytest.raises(ValidationError) as info:
        client(client_secret=secret)
    assert info.value.param == "client_secret"
    assert "client_secret" in str(info.value)
    text = texts_of(info.value)
    assert secret not in text
    assert secret.strip() not in text
    assert CLIENT_SECRET[:12] not in text


# (an environment variable cannot hold a NUL: the OS refuses it)
@pytest.mark.parametrize("stray", [s for s in STRAY_INSIDE if s != "\x00"], ids=repr)
def test_a_bad_secret_from_the_environment_names_the_environment_variable(
    stray: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COUPONTOOLS_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("COUPONTOOLS_CLIENT_SECRET", CLIENT_SECRET + stray)
    with pytest.raises(ValidationError, match="COUPONTOOLS_CLIENT_SECRET") as info:
        AsyncClient()
    assert CLIENT_SECRET not in texts_of(info.value)


@pytest.mark.parametrize("value", [123, b"bytes-client-id", ["id"]], ids=repr)
def test_a_client_id_that_is_not_text_is_a_validation_error(value: object) -> None:
    with pytest.raises(ValidationError, match="client_id must be a str") as info:
        AsyncClient(value, CLIENT_SECRET)  # type: ignore[arg-type]
    assert info.value.rule == "type"


def test_a_secret_of_only_whitespace_counts_as_missing() -> None:
    with pytest.raises(ValidationError, match="no client secret") as info:
        AsyncClient(CLIENT_ID, " \r\n")
    assert info.value.rule == "required"
