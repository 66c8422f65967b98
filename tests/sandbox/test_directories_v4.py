"""The v4 Directory API end to end against the sandbox: plain JSON, numeric ids, HTTP errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from coupontools_async import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    RetryPolicy,
    ValidationError,
)
from coupontools_async.sandbox import Sandbox, SandboxConfig
from coupontools_async.sandbox._account import Directory, DirectoryUser

pytestmark = pytest.mark.anyio

EPOCH = datetime(2024, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=0, config=SandboxConfig(directory_page_size=5))


@pytest.fixture
async def ct(sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    async with sandbox.client(max_retries=0) as client:
        yield client


def _directory(sandbox: Sandbox, users: int, name: str = "City deals") -> Directory:
    account = sandbox.state.account
    directory = account.add_directory(name)
    for n in range(users):
        directory.register(
            DirectoryUser(
                id=account.new_user(),
                email=f"user{n}@example.com",
                created_at=EPOCH + timedelta(minutes=n),
            )
        )
    return directory


async def test_directories_list_and_get_answer_numeric_ids(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    first = _directory(sandbox, 0)
    second = _directory(sandbox, 0, "Student perks")
    listed = await ct.directories_v4.list()
    assert [(d.id, d.name) for d in listed] == [
        (first.number, "City deals"),
        (second.number, "Student perks"),
    ]
    got = await ct.directories_v4.get(second.number)
    assert (got.id, got.name, got.url) == (second.number, "Student perks", second.url)
    # The same directory the v3 endpoints call dir_...
    v3 = (await ct.directories.get(directory=f"dir_{got.id}")).directory or []
    assert [d.name for d in v3] == ["Student perks"]


async def test_users_iter_reads_every_page_without_trusting_the_page_size(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, 12)  # pages of 5, 5, 2 (the spec assumes 100)
    pages = [len(p.items) async for p in ct.directory_users_v4.iter(directory.number).pages()]
    assert pages == [5, 5, 2]
    users = [u async for u in ct.directory_users_v4.iter(directory.number)]
    assert [u.email for u in users] == [f"user{n}@example.com" for n in range(12)]
    assert len({u.id for u in users}) == 12
    assert all(isinstance(u.id, int) for u in users)


async def test_users_iter_of_an_empty_directory_makes_one_call(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, 0)
    assert [u async for u in ct.directory_users_v4.iter(directory.number)] == []
    assert sandbox.calls["directory_users_v4_list"] == 1


async def test_users_list_page_past_the_end_is_empty(ct: AsyncClient, sandbox: Sandbox) -> None:
    directory = _directory(sandbox, 3)
    assert await ct.directory_users_v4.list(directory.number, page=2) == []


async def test_create_then_get_a_user(ct: AsyncClient, sandbox: Sandbox) -> None:
    directory = _directory(sandbox, 0)
    created = await ct.directory_users_v4.create(
        directory.number,
        email="ann@example.com",
        first_name="Ann",
        birth_date=date(1990, 5, 17),
        city="Ghent",
        custom_2="vip",
    )
    assert isinstance(created.id, int)
    got = await ct.directory_users_v4.get(directory.number, created.id)
    assert (got.email, got.first_name, got.city, got.custom_2) == (
        "ann@example.com",
        "Ann",
        "Ghent",
        "vip",
    )
    assert got.birth_date == date(1990, 5, 17)
    assert (got.blocked, got.paid_access) == (False, False)
    # Without a password one is generated; the sandbox keeps only its digest.
    (user,) = directory.users.values()
    assert len(user.password_sha256) == 64


async def test_create_refuses_an_email_already_in_the_directory(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, 1)
    with pytest.raises(InvalidRequestError) as caught:
        await ct.directory_users_v4.create(directory.number, email="USER0@example.com")
    assert caught.value.status_code == 422
    assert len(directory.users) == 1
    # Another directory is another list of users.
    other = _directory(sandbox, 0, "Other")
    await ct.directory_users_v4.create(other.number, email="user0@example.com")


async def test_block_then_unblock_and_a_blocked_user_gets_no_sign_on(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, 1)
    user_id = next(iter(directory.users.values())).number
    blocked = await ct.directory_users_v4.update(directory.number, user_id, block=True)
    assert blocked.blocked is True
    with pytest.raises(AuthenticationError) as caught:
        await ct.directory_users_v4.sso(directory.number, user_id)
    assert caught.value.status_code == 403
    unblocked = await ct.directory_users_v4.update(directory.number, user_id, block=False)
    assert unblocked.blocked is False
    first = await ct.directory_users_v4.sso(directory.number, user_id)
    second = await ct.directory_users_v4.sso(directory.number, user_id)
    assert first.token
    assert second.token
    assert first.token != second.token
    assert first.url is not None
    assert first.token in first.url


async def test_grant_access_until_a_moment_then_revoke_it(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, 1)
    user = next(iter(directory.users.values()))
    granted = await ct.directory_users_v4.grant_access(
        directory.number, user.number, expires_at=datetime(2025, 12, 31, 23, 59, 59)
    )
    assert granted.paid_access is True
    assert granted.access_expires_at is not None
    assert granted.access_expires_at.replace(tzinfo=None) == datetime(2025, 12, 31, 23, 59, 59)
    assert user.access_expires_at == "2025-12-31 23:59:59"
    # The v3 view of the same user agrees.
    (v3_user,) = (await ct.directories.users(directory=directory.id)).users or []
    assert v3_user.payment_status == "paid"

    await ct.directory_users_v4.revoke_access(directory.number, user.number)
    got = await ct.directory_users_v4.get(directory.number, user.number)
    assert (got.paid_access, got.access_expires_at) == (False, None)
    # Revoking twice is no error: the state asked for holds.
    await ct.directory_users_v4.revoke_access(directory.number, user.number)


async def test_grant_access_for_good_has_no_end(ct: AsyncClient, sandbox: Sandbox) -> None:
    directory = _directory(sandbox, 1)
    user = next(iter(directory.users.values()))
    granted = await ct.directory_users_v4.grant_access(directory.number, user.number)
    assert (granted.paid_access, granted.access_expires_at) == (True, None)


Attempt = Callable[[AsyncClient, int, int], Awaitable[Any]]
USER_CALLS: dict[str, Attempt] = {
    "get": lambda ct, d, u: ct.directory_users_v4.get(d, u),
    "update": lambda ct, d, u: ct.directory_users_v4.update(d, u, block=True),
    "grant_access": lambda ct, d, u: ct.directory_users_v4.grant_access(d, u),
    "revoke_access": lambda ct, d, u: ct.directory_users_v4.revoke_access(d, u),
    "sso": lambda ct, d, u: ct.directory_users_v4.sso(d, u),
}


@pytest.mark.parametrize("name", sorted(USER_CALLS))
async def test_an_unknown_user_or_directory_is_a_404(
    ct: AsyncClient, sandbox: Sandbox, name: str
) -> None:
    directory = _directory(sandbox, 1)
    user_id = next(iter(directory.users.values())).number
    for directory_id, missing_user in ((directory.number, user_id + 999), (999, user_id)):
        with pytest.raises(NotFoundError) as caught:
            await USER_CALLS[name](ct, directory_id, missing_user)
        assert caught.value.status_code == 404


async def test_directory_level_calls_of_an_unknown_directory_are_a_404(ct: AsyncClient) -> None:
    for attempt in (
        ct.directories_v4.get(999),
        ct.directory_users_v4.list(999),
        ct.directory_users_v4.create(999, email="ann@example.com"),
    ):
        with pytest.raises(NotFoundError) as caught:
            await attempt
        assert caught.value.status_code == 404


async def test_bad_input_is_refused_before_anything_is_sent(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, 1)
    for attempt, param in (
        (lambda: ct.directory_users_v4.create(directory.number, email="not-an-email"), "email"),
        (lambda: ct.directory_users_v4.get(0, 1), "directory_id"),
        (lambda: ct.directory_users_v4.list(directory.number, page=0), "page"),
        (
            lambda: ct.directory_users_v4.update(directory.number, 1, block="yes"),  # type: ignore[arg-type]
            "block",
        ),
        (
            lambda: ct.directory_users_v4.grant_access(
                directory.number, 1, expires_at="31/12/2025"
            ),
            "expires_at",
        ),
    ):
        with pytest.raises(ValidationError) as caught:
            await attempt()
        assert caught.value.param == param
    assert "directory_users_v4_create" not in sandbox.calls
    assert "directory_users_v4_update" not in sandbox.calls


async def test_v4_directory_calls_send_both_header_pairs(sandbox: Sandbox) -> None:
    seen: list[dict[str, str]] = []
    directory = _directory(sandbox, 0)
    transport = sandbox.transport()
    original = transport.handle_async_request

    async def spy(request: Any) -> Any:
        seen.append({k.lower(): v for k, v in request.headers.items()})
        return await original(request)

    transport.handle_async_request = spy  # type: ignore[method-assign]
    async with AsyncClient(
        sandbox.client_id,
        sandbox.client_secret,
        base_url="https://sandbox.coupontools.invalid",
        transport=transport,
        max_retries=0,
    ) as ct:
        await ct.directories_v4.get(directory.number)
    (headers,) = seen
    assert headers["x-client-id"] == headers["x-api-key"] == sandbox.client_id
    assert headers["x-client-secret"] == headers["x-api-secret"] == sandbox.client_secret


async def test_wrong_credentials_are_a_401_in_plain_json(sandbox: Sandbox) -> None:
    async with AsyncClient(
        "someone-else",
        "not-the-secret",
        base_url="https://sandbox.coupontools.invalid",
        transport=sandbox.transport(),
        max_retries=0,
    ) as ct:
        with pytest.raises(AuthenticationError) as caught:
            await ct.directories_v4.list()
    assert caught.value.status_code == 401


async def _no_sleep(_: float) -> None:
    return None


async def test_a_create_whose_answer_is_lost_is_not_repeated(sandbox: Sandbox) -> None:
    directory = _directory(sandbox, 0)
    sandbox.faults.inject(rate=1.0, kinds=["commit_drop"], routes=["directory_users_v4_create"])
    async with sandbox.client(retry=RetryPolicy(sleep=_no_sleep)) as ct:
        with pytest.raises(APIConnectionError):
            await ct.directory_users_v4.create(directory.number, email="ann@example.com")
    assert [u.email for u in directory.users.values()] == ["ann@example.com"]
    assert sandbox.calls["directory_users_v4_create"] == 1


async def test_a_grant_whose_answer_is_lost_is_retried_and_granted_once(
    sandbox: Sandbox,
) -> None:
    directory = _directory(sandbox, 1)
    user = next(iter(directory.users.values()))
    rule = sandbox.faults.inject(
        rate=1.0, kinds=["commit_drop"], routes=["directory_users_v4_grant_access"]
    )

    async def heal(_: Any) -> None:
        sandbox.faults.remove(rule)

    async with sandbox.client(retry=RetryPolicy(sleep=_no_sleep), on_retry=heal) as ct:
        granted = await ct.directory_users_v4.grant_access(directory.number, user.number)
    assert granted.paid_access is True
    assert sandbox.calls["directory_users_v4_grant_access"] == 2
    assert user.payment_status == "paid"


async def test_users_iter_asks_once_more_after_full_pages_and_stops_on_the_empty_one(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, 10)  # exactly two full pages of 5
    users = [u async for u in ct.directory_users_v4.iter(directory.number)]
    assert len(users) == 10
    assert sandbox.calls["directory_users_v4_list"] == 3


async def test_a_user_created_while_iterating_is_not_lost_or_doubled(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, 7)
    seen = []
    async for user in ct.directory_users_v4.iter(directory.number):
        seen.append(user.email)
        if len(seen) == 1:  # the user doing the second thing: adding while listing
            await ct.directory_users_v4.create(directory.number, email="late@example.com")
    assert seen == [f"user{n}@example.com" for n in range(7)] + ["late@example.com"]
