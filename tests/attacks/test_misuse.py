"""Arguments that can be wrong are refused before sending, with one typed error."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from coupontools_async import APIConnectionError, ValidationError
from tests.attacks._hostile import client, mock


def _answering(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=[])


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"max_retries": "3"}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_connections": -5}, "max_connections"),
        ({"max_connections": 0}, "max_connections"),
        ({"timeout": "30"}, "timeout"),
        ({"timeout": -1.0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"base_url": "not a url"}, "base_url"),
        ({"base_url": "ftp://api.test"}, "base_url"),
        ({"base_url": "https://user:pw@api.test"}, "base_url"),
        ({"base_url": "https://api.test/\x1b[2J"}, "base_url"),
        ({"base_url": 42}, "base_url"),
        ({"http_client": object()}, "http_client"),
        ({"transport": "httpx"}, "transport"),
        ({"on_retry": "print"}, "on_retry"),
        ({"retry": {"max_retries": 1}}, "retry"),
    ],
    ids=repr,
)
def test_a_constructor_argument_that_cannot_work_is_a_validation_error(
    kwargs: dict[str, Any], param: str
) -> None:
    with pytest.raises(ValidationError) as info:
        client(**kwargs)
    assert info.value.param == param
    assert param in str(info.value)
    assert "\x1b" not in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_retries": "3"}, {"timeout": 0}, {"deadline": "soon"}, {"on_retry": 5}],
    ids=repr,
)
def test_a_with_options_argument_that_cannot_work_is_a_validation_error(
    kwargs: dict[str, Any],
) -> None:
    ct = client(transport=mock(_answering))
    with pytest.raises(ValidationError):
        ct.with_options(**kwargs)
    anyio.run(ct.aclose)


@pytest.mark.anyio
@pytest.mark.parametrize("state", [["all"], {"all"}, None, 3, 10**5000], ids=type)
async def test_a_session_state_that_is_not_one_of_the_names_is_a_validation_error(
    state: Any,
) -> None:
    async with client(transport=mock(_answering)) as ct:
        with pytest.raises(ValidationError, match="state: must be one of"):
            await ct.sessions.list(campaign="cam_1", state=state)


@pytest.mark.anyio
async def test_an_int_of_5000_digits_is_a_validation_error_not_pythons_value_error() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    huge = 10**5000
    async with client(transport=mock(handler)) as ct:
        with pytest.raises(ValidationError, match="64 bits") as path_info:
            await ct.wallet_users.get(huge, 1)
        with pytest.raises(ValidationError, match="amount") as body_info:
            await ct.wallet_users.add_stamps(1, 2, amount=huge)
    assert path_info.value.param == "card_id"
    assert body_info.value.rule == "maximum"
    assert sent == []


@pytest.mark.anyio
async def test_a_view_used_after_its_client_closed_says_the_client_is_closed() -> None:
    ct = client(transport=mock(_answering))
    view = ct.with_options(max_retries=0)
    await ct.aclose()
    assert view.is_closed
    with pytest.raises(
        APIConnectionError, match=r"AsyncClient\(base_url='https://api.test'\) is closed"
    ):
        await view.wallet_cards.list()
    with pytest.raises(APIConnectionError, match="is closed"):
        ct.with_options(timeout=5)


@pytest.mark.anyio
async def test_a_client_built_on_a_users_http_client_refuses_calls_once_closed() -> None:
    http = httpx.AsyncClient(transport=mock(_answering))
    ct = client(http_client=http)
    await ct.aclose()
    with pytest.raises(APIConnectionError, match="is closed"):
        await ct.wallet_cards.list()
    assert not http.is_closed  # still the user's to close
    await http.aclose()


def test_a_client_reused_on_another_event_loop_says_so_in_one_typed_error() -> None:
    # Nothing listens on port 9 of the loopback: the first call fails to connect, but it
    # binds the client's pool to the first loop all the same.
    ct = client(base_url="http://127.0.0.1:9")

    async def call() -> BaseException:
        try:
            await ct.wallet_cards.list()
        except Exception as exc:
            return exc
        raise AssertionError("no error")

    first = anyio.run(call)
    assert isinstance(first, APIConnectionError)
    assert "event loop" not in str(first)
    second = anyio.run(call, backend="trio")
    assert isinstance(second, APIConnectionError)
    assert "first used in another event loop" in str(second)
    anyio.run(ct.aclose)
