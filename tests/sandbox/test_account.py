"""The sandbox's subaccounts and directories, as a client sees them."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from functools import partial
from typing import Any

import anyio
import pytest

from coupontools_async import (
    AsyncClient,
    IntegrationError,
    InvalidRequestError,
    NotFoundError,
    models,
)
from coupontools_async._convert import structure
from coupontools_async._generated import OPERATIONS
from coupontools_async.sandbox import Sandbox, SandboxConfig, SandboxState
from coupontools_async.sandbox._account import Directory, DirectoryUser, seed
from coupontools_async.sandbox._core import HANDLERS, Call, V3Failure

pytestmark = pytest.mark.anyio

EPOCH = datetime(2024, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=0, config=SandboxConfig(directory_page_size=5))


@pytest.fixture
async def ct(sandbox: Sandbox) -> AsyncIterator[AsyncClient]:
    async with sandbox.client(max_retries=0) as client:
        yield client


def _directory(sandbox: Sandbox, users: int) -> Directory:
    """Directories have no create endpoint: one is put into the state directly."""
    account = sandbox.state.account
    directory = account.add_directory("City deals")
    for n in range(users):
        user_id = account.new_user()
        directory.register(
            DirectoryUser(
                id=user_id,
                first_name=f"User{n}",
                email=f"user{n}@example.com",
                created_at=EPOCH + timedelta(minutes=n),
            )
        )
    return directory


def _call(state: SandboxState, op_id: str, body: dict[str, Any]) -> Any:
    call = Call(
        op=OPERATIONS[op_id],
        path={},
        body=body,
        state=state,
        emit=lambda t, p: {**p, "id": "evt_x", "type": t},
    )
    return HANDLERS[op_id](call)


# --------------------------------------------------------------------------- subaccounts


async def test_create_get_list_and_webhook(ct: AsyncClient, sandbox: Sandbox) -> None:
    created = await ct.subaccounts.create(
        email="john@doe.com",
        password="s3cret",
        package="pac_123",
        status="trial",
        first_name="John",
        last_name="Doe",
        country="US",
        company_name="Company name",
        expiry_date=date(2026, 1, 31),
    )
    assert created.result == "saved_successfully"
    assert created.subaccount is not None
    new_id = created.subaccount.id
    assert new_id.startswith("sub_")
    assert created.subaccount.email == "john@doe.com"

    got = (await ct.subaccounts.get(subaccount=new_id)).subaccount
    assert got is not None
    assert got.id == new_id
    assert (got.email, got.first_name, got.last_name) == ("john@doe.com", "John", "Doe")
    assert (got.company_name, got.country, got.status, got.package) == (
        "Company name",
        "US",
        "trial",
        "pac_123",
    )
    assert got.expiry_date == date(2026, 1, 31)
    assert got.has_campaigns == 0
    assert got.lastlogin is None
    assert got.api_key
    assert got.api_secret

    listed = await ct.subaccounts.list()
    assert listed.amount_of_subaccounts == 1
    assert [s.id for s in listed.subaccounts or []] == [new_id]

    (event,) = sandbox.state.events
    parsed = structure(event, models.SubaccountCreatedEvent)
    assert parsed.type == "subaccount_created"
    assert parsed.subaccount == new_id
    assert parsed.data is not None
    assert (parsed.data.email, parsed.data.company_name, parsed.data.country) == (
        "john@doe.com",
        "Company name",
        "US",
    )


async def test_create_rejects_a_taken_email(ct: AsyncClient, sandbox: Sandbox) -> None:
    await ct.subaccounts.create(email="ann@example.com")
    with pytest.raises(InvalidRequestError) as info:
        await ct.subaccounts.create(email="Ann@Example.com")
    assert info.value.codes == (304,)
    assert info.value.messages == ("Email already exists",)
    assert len(sandbox.state.events) == 1


async def test_unknown_subaccount_is_510(ct: AsyncClient) -> None:
    for attempt in (
        partial(ct.subaccounts.get, subaccount="sub_1"),
        partial(ct.subaccounts.reset_password_url, subaccount="sub_1"),
        partial(ct.subaccounts.sso, subaccount="sub_1"),
    ):
        with pytest.raises(NotFoundError) as info:
            await attempt()
        assert info.value.codes == (510,)


async def test_reset_url_and_sso_are_fresh_each_time(ct: AsyncClient, sandbox: Sandbox) -> None:
    created = (await ct.subaccounts.create(email="ann@example.com")).subaccount
    assert created is not None
    sub = created.id

    one = (await ct.subaccounts.reset_password_url(subaccount=sub)).subaccount
    two = (await ct.subaccounts.reset_password_url(subaccount=sub)).subaccount
    assert one is not None
    assert two is not None
    assert one.id == two.id == sub
    assert one.url
    assert two.url
    assert one.url != two.url
    assert set(sandbox.state.account.reset_urls.values()) == {sub}

    first = (await ct.subaccounts.sso(subaccount=sub, page="statistics")).subaccount
    second = (await ct.subaccounts.sso(subaccount=sub)).subaccount
    assert first is not None
    assert second is not None
    assert first.token
    assert second.token
    assert first.token != second.token
    assert first.url is not None
    assert first.token in first.url
    assert "page=statistics" in first.url
    assert first.url_whitelabel is not None
    assert first.token in first.url_whitelabel

    opened = (
        await ct.subaccounts.sso(subaccount=sub, page="update_campaign", campaign="cam_123")
    ).subaccount
    assert opened is not None
    assert opened.url is not None
    assert "campaign=cam_123" in opened.url
    with pytest.raises(InvalidRequestError) as info:
        await ct.subaccounts.sso(subaccount=sub, page="update_campaign")
    assert info.value.codes == (200,)
    assert info.value.messages == ("Missing parameter: campaign",)


def test_create_checks_the_email_below_the_core() -> None:
    with pytest.raises(V3Failure) as info:
        _call(SandboxState(), "subaccounts_create", {"email": "not-an-address"})
    assert (info.value.code, info.value.message) == (305, "Email address is not valid")


# --------------------------------------------------------------------------- directories


async def test_directories_list_and_get(ct: AsyncClient, sandbox: Sandbox) -> None:
    directory = _directory(sandbox, users=0)

    listed = await ct.directories.list()
    assert listed.amount_of_directories == 1
    assert [(d.id, d.name) for d in listed.directory or []] == [(directory.id, "City deals")]

    (got,) = (await ct.directories.get(directory=directory.id)).directory or []
    assert (got.id, got.code, got.status) == (directory.id, directory.code, "active")
    assert got.url == directory.url


async def test_unknown_directory_is_507(ct: AsyncClient) -> None:
    for attempt in (
        partial(ct.directories.get, directory="dir_1"),
        partial(ct.directories.users, directory="dir_1"),
        partial(ct.directories.update_user, directory="dir_1", user="reg_1", payment_status="paid"),
    ):
        with pytest.raises(NotFoundError) as info:
            await attempt()
        assert info.value.codes == (507,)
        assert info.value.messages == ("Directory ID not found",)


async def test_users_pages_newest_first(ct: AsyncClient, sandbox: Sandbox) -> None:
    directory = _directory(sandbox, users=12)
    newest_first = list(reversed(directory.order))

    page1 = await ct.directories.users(directory=directory.id)
    assert (page1.directory, page1.amount_of_users) == (directory.id, 5)
    assert [u.id for u in page1.users or []] == newest_first[:5]
    page3 = await ct.directories.users(directory=directory.id, page=3)
    assert [u.id for u in page3.users or []] == newest_first[10:]
    past = await ct.directories.users(directory=directory.id, page=4)
    assert (past.amount_of_users, past.users) == (0, [])

    (first,) = (page1.users or [])[:1]
    assert first.first_name == "User11"
    assert first.created_at == EPOCH + timedelta(minutes=11)


@pytest.mark.parametrize("users", [0, 5, 12])
async def test_iter_users_yields_every_user_once(
    ct: AsyncClient, sandbox: Sandbox, users: int
) -> None:
    directory = _directory(sandbox, users=users)
    seen = [u.id async for u in ct.directories.iter_users(directory=directory.id)]
    assert seen == list(reversed(directory.order))


async def test_update_user_payment_status(ct: AsyncClient, sandbox: Sandbox) -> None:
    directory = _directory(sandbox, users=2)
    user = directory.order[0]

    updated = await ct.directories.update_user(
        directory=directory.id, user=user, payment_status="paid"
    )
    assert (updated.result, updated.directory, updated.user, updated.payment_status) == (
        "updated_successfully",
        directory.id,
        user,
        "paid",
    )
    page = await ct.directories.users(directory=directory.id)
    assert {u.id: u.payment_status for u in page.users or []}[user] == "paid"

    with pytest.raises(NotFoundError) as info:
        await ct.directories.update_user(
            directory=directory.id, user="reg_999999", payment_status="paid"
        )
    assert info.value.codes == (505,)


async def test_categories(ct: AsyncClient, sandbox: Sandbox) -> None:
    account = sandbox.state.account
    food = account.add_category("Food")
    restaurants = account.add_category("Restaurants", food)
    pizza = account.add_category("Pizza", restaurants)

    every = await ct.directories.categories()
    assert every.amount_of_categories == 3
    assert [(c.id, c.name, c.parent) for c in every.category or []] == [
        (food.id, "Food", None),
        (restaurants.id, "Restaurants", food.id),
        (pizza.id, "Pizza", restaurants.id),
    ]
    third = await ct.directories.main_categories()
    assert third.amount_of_categories == 1
    assert [c.id for c in third.category or []] == [pizza.id]


# ------------------------------------------------------------------------------------ seed


async def test_seeded_data_is_usable_and_deterministic() -> None:
    async def snapshot(sandbox: Sandbox) -> tuple[Any, ...]:
        async with sandbox.client(max_retries=0) as ct:
            subs = await ct.subaccounts.list()
            directories = (await ct.directories.list()).directory or []
            users: dict[str, list[models.DirectoryUser]] = {}
            for d in directories:
                users[d.id] = [u async for u in ct.directories.iter_users(directory=d.id)]
            categories = await ct.directories.categories()
            third = await ct.directories.main_categories()
        return subs, directories, users, categories, third

    config = SandboxConfig(directory_page_size=40)
    first = await snapshot(Sandbox.seeded(seed=7, sessions=50, config=config))
    assert first == await snapshot(Sandbox.seeded(seed=7, sessions=50, config=config))
    assert first != await snapshot(Sandbox.seeded(seed=8, sessions=50, config=config))

    subs, directories, users, categories, third = first
    assert subs.amount_of_subaccounts >= 3
    assert all(s.id.startswith("sub_") for s in subs.subaccounts or [])
    assert all(d.id.startswith("dir_") for d in directories)
    every_user = [u.id for listing in users.values() for u in listing]
    assert len(every_user) >= 200
    assert len(set(every_user)) == len(every_user)
    assert all(u.startswith("reg_") for u in every_user)
    assert all(c.id.startswith("cat_") for c in categories.category or [])
    assert third.amount_of_categories
    assert third.amount_of_categories < (categories.amount_of_categories or 0)


def test_seed_alone_fills_the_state() -> None:
    state = SandboxState()
    seed(state, random.Random(1), sessions=0)
    assert len(state.account.subaccounts) == 5
    assert sum(len(d.users) for d in state.account.directories.values()) == 301
    assert any(c.level == 3 for c in state.account.categories.values())


# ---------------------------------------------------------------------------- account sso


async def test_account_sso_is_a_fresh_token_each_time(ct: AsyncClient, sandbox: Sandbox) -> None:
    first = (await ct.account.sso()).account
    second = (await ct.account.sso()).account
    assert first is not None
    assert second is not None
    assert first.token
    assert second.token
    assert first.token != second.token
    assert first.url is not None
    assert first.token in first.url
    assert first.url_whitelabel is not None
    assert first.token in first.url_whitelabel
    assert sandbox.state.account.account_sso_tokens == [first.token, second.token]


async def test_teammate_sso_opens_a_campaign_when_asked(ct: AsyncClient, sandbox: Sandbox) -> None:
    sandbox.state.account.teammates[7] = "anna@agency.example.com"
    sandbox.state.coupons.add_campaign("cam_123")
    plain = (await ct.account.teammate_sso(teammate=7)).teammate
    assert plain is not None
    assert plain.id == 7
    assert plain.token
    assert plain.url
    assert plain.token in plain.url
    opened = (await ct.account.teammate_sso(teammate=7, campaign="cam_123")).teammate
    assert opened is not None
    assert opened.url is not None
    assert "campaign=cam_123" in opened.url
    assert opened.token != plain.token
    assert sandbox.state.account.teammate_sso_tokens == {plain.token: 7, opened.token: 7}


async def test_teammate_sso_errors_are_the_documented_codes(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.state.account.teammates[7] = "anna@agency.example.com"
    with pytest.raises(NotFoundError) as unknown_teammate:
        await ct.account.teammate_sso(teammate=8)
    assert unknown_teammate.value.codes == (503,)
    assert unknown_teammate.value.messages == ("Teammate ID not found",)
    with pytest.raises(NotFoundError) as unknown_campaign:
        await ct.account.teammate_sso(teammate=7, campaign="cam_404")
    assert unknown_campaign.value.codes == (502,)
    assert unknown_campaign.value.messages == ("Campaign ID not found",)
    assert sandbox.state.account.teammate_sso_tokens == {}


def test_teammate_sso_without_a_teammate_is_200_below_the_client() -> None:
    sandbox = Sandbox()
    response = _served(sandbox, "/v3/teammate/sso", {})
    assert (response["code"], response["message"]) == (200, "Missing parameter: teammate")
    response = _served(sandbox, "/v3/teammate/sso", {"teammate": "7a"})
    assert (response["code"], response["message"]) == (
        301,
        "Invalid character in parameter: teammate",
    )


def test_seeded_teammates_can_sign_on() -> None:
    state = SandboxState()
    seed(state, random.Random(1), sessions=0)
    assert sorted(state.account.teammates) == [101, 102, 103]


def _served(sandbox: Sandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Send a raw request to the sandbox, past the client's own checks."""
    headers = {"x-client-id": sandbox.client_id, "x-client-secret": sandbox.client_secret}
    raw = json.dumps(body).encode()
    response = anyio.run(sandbox.handle, "POST", path, headers, raw)
    payload = json.loads(response.content)
    errors = payload.get("errors") or payload["status"].get("errors")
    return {"code": errors["error_code"][0], "message": errors["error_message_description"][0]}


# ---------------------------------------------------------------------- directory sends


async def test_a_directory_goes_out_by_email_and_by_sms(ct: AsyncClient, sandbox: Sandbox) -> None:
    directory = _directory(sandbox, users=0)
    emailed = await ct.distribution.send_directory_email(
        campaign=directory.id, email="ann@example.com", subject="Our deals"
    )
    assert (emailed.campaign, emailed.action) == (directory.id, "email_sent")
    texted = await ct.distribution.send_directory_sms(
        campaign=directory.id, phone="+32 470 12 34 56", body="See our deals"
    )
    assert (texted.campaign, texted.phone, texted.action) == (
        directory.id,
        "32470123456",
        "sms_sent",
    )
    assert texted.message == f"See our deals {directory.url}"
    sends = [(s.channel, s.to, s.campaign) for s in sandbox.state.coupons.sends]
    assert sends == [
        ("email", "ann@example.com", directory.id),
        ("sms", "+32470123456", directory.id),
    ]
    assert sandbox.state.coupons.sessions == {}  # a directory send makes no coupon session


async def test_an_unknown_directory_send_is_502_directory_id_not_found(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    for send in (
        ct.distribution.send_directory_email(campaign="dir_404", email="ann@example.com"),
        ct.distribution.send_directory_sms(campaign="dir_404", phone="+32470123456"),
    ):
        with pytest.raises(NotFoundError) as caught:
            await send
        assert caught.value.codes == (502,)
        assert caught.value.messages == ("Directory ID not found",)
    assert sandbox.state.coupons.sends == []


async def test_a_directory_send_without_the_integration_is_refused(
    ct: AsyncClient, sandbox: Sandbox
) -> None:
    directory = _directory(sandbox, users=0)
    sandbox.state.coupons.email_connected = False
    sandbox.state.coupons.sms_connected = False
    with pytest.raises(IntegrationError) as email:
        await ct.distribution.send_directory_email(campaign=directory.id, email="ann@example.com")
    assert email.value.codes == (104,)
    with pytest.raises(IntegrationError) as sms:
        await ct.distribution.send_directory_sms(campaign=directory.id, phone="+32470123456")
    assert sms.value.codes == (103,)
