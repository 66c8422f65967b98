"""The sandbox checks requests with its own reading of the spec, so a client bug cannot hide.

The proof: with the client's validator switched to let everything through, the sandbox
still refuses each bad value with the code the docs give for it.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import coupontools_async._validation as validation
from codegen import sandbox_rules
from coupontools_async import AsyncClient, InvalidRequestError
from coupontools_async._generated import OPERATIONS
from coupontools_async.sandbox import Sandbox
from coupontools_async.sandbox._checks import Refusal, check_body, check_path
from tests._spec import spec

pytestmark = pytest.mark.anyio

SANDBOX_DIR = Path(validation.__file__).parent / "sandbox"
CAMPAIGN = "cam_1000001"


def _break_the_client_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in every rule of the client's validator: values pass unchecked, Nones dropped.

    Patched inside ``_validation`` itself, so any code sharing it (as the sandbox once
    did) would let the same values through.
    """
    monkeypatch.setattr(validation, "_check_value", lambda param, value, prefix: value)
    monkeypatch.setattr(validation, "_check_presence", lambda rules, body: None)
    monkeypatch.setattr(
        validation,
        "_check_mapping",
        lambda fields, data, prefix: {k: v for k, v in data.items() if v is not None},
    )


@pytest.fixture
def sandbox() -> Sandbox:
    sb = Sandbox()
    sb.state.coupons.add_campaign(CAMPAIGN)
    return sb


@pytest.fixture
async def lax(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncClient]:
    _break_the_client_validator(monkeypatch)
    async with sandbox.client(max_retries=0) as client:
        yield client


Bad = Callable[[AsyncClient], Awaitable[Any]]
V3_CASES: list[tuple[str, Bad, int, str]] = [
    (
        "campaign_pattern",
        lambda ct: ct.coupons.get(campaign="1000001"),
        301,
        "Invalid character in parameter: campaign",
    ),
    (
        "missing_campaign",
        lambda ct: ct.single_use.create(campaign=None),  # type: ignore[arg-type]
        200,
        "Missing parameter: campaign",
    ),
    (
        "enum",
        lambda ct: ct.sessions.update(couponsession="abc123", operation="destroy"),  # type: ignore[arg-type]
        302,
        "Invalid value in parameter: operation",
    ),
    (
        "email",
        lambda ct: ct.distribution.send_email(campaign=CAMPAIGN, email="ann.example.com"),
        305,
        "Email address is not valid",
    ),
    (
        "national_phone",
        lambda ct: ct.distribution.send_sms(campaign=CAMPAIGN, phone="0470 12 34 56"),
        301,
        "Phone number not valid",
    ),
    (
        "date_layout",
        lambda ct: ct.sessions.list(campaign=CAMPAIGN, start_date="01/03/2024"),
        303,
        "Parameter start_date is not a valid date",
    ),
    (
        "no_such_day",
        lambda ct: ct.sessions.list(campaign=CAMPAIGN, end_date="2024-02-30"),
        303,
        "Parameter end_date is not a valid date",
    ),
    (
        "integer_as_text",
        lambda ct: ct.sessions.list(campaign=CAMPAIGN, page="2"),  # type: ignore[arg-type]
        301,
        "Invalid character in parameter: page",
    ),
    (
        "one_of_none",
        lambda ct: ct.distribution.send_email(email="ann@example.com"),
        200,
        "Missing parameter: campaign",
    ),
]


@pytest.mark.parametrize(("name", "bad", "code", "text"), V3_CASES, ids=[c[0] for c in V3_CASES])
async def test_a_bad_value_the_client_let_through_gets_the_documented_v3_code(
    lax: AsyncClient, sandbox: Sandbox, name: str, bad: Bad, code: int, text: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await bad(lax)
    assert caught.value.codes == (code,)
    assert caught.value.messages == (text,)
    assert sandbox.state.coupons.sends == []
    assert sandbox.state.coupons.sessions == {}


async def test_a_bad_v4_value_the_client_let_through_is_a_422(
    lax: AsyncClient, sandbox: Sandbox
) -> None:
    directory = sandbox.state.account.add_directory("City deals")
    with pytest.raises(InvalidRequestError) as caught:
        await lax.directory_users_v4.create(directory.number, email="not-an-email")
    assert caught.value.status_code == 422
    assert directory.users == {}
    with pytest.raises(InvalidRequestError) as bulk:
        await lax.wallet_users.create_many(1, [{"email": "a@example.com", "phone": "0470"}])
    assert bulk.value.status_code == 422


async def test_a_v4_path_id_that_is_not_a_number_is_refused(
    lax: AsyncClient, sandbox: Sandbox
) -> None:
    with pytest.raises(InvalidRequestError):
        await lax.directories_v4.get("twelve")  # type: ignore[arg-type]
    assert sandbox.calls["directories_v4_get"] == 1


def test_the_sandbox_imports_nothing_of_the_client_validator() -> None:
    for source in SANDBOX_DIR.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
                assert not any("_validation" in n for n in names), source.name


def test_the_sandbox_rules_are_in_step_with_the_spec() -> None:
    assert sandbox_rules.differences(spec()) == []
    table = json.loads((SANDBOX_DIR / "spec_rules.json").read_text(encoding="utf-8"))
    assert set(table) == set(OPERATIONS)


def test_unknown_top_level_parameters_are_ignored_and_nulls_are_not_given() -> None:
    body = check_body("coupons_get", {"campaign": CAMPAIGN, "client_id": "x", "page": None})
    assert body == {"campaign": CAMPAIGN}


def test_a_nested_object_is_checked_whole() -> None:
    with pytest.raises(Refusal) as unknown:
        check_body("wallet_users_list", {"pagination": {"page": 1, "size": 5}})
    assert (unknown.value.param, unknown.value.rule) == ("pagination.size", "unknown")
    with pytest.raises(Refusal) as typed:
        check_body("wallet_users_list", {"pagination": {"page": True}})
    assert (typed.value.param, typed.value.rule) == ("pagination.page", "type")


def test_bulk_rows_are_named_by_their_index() -> None:
    with pytest.raises(Refusal) as caught:
        check_body("wallet_users_create_many", [{"email": "a@example.com"}, {"email": "b@"}])
    assert (caught.value.param, caught.value.rule) == ("[1].email", "email")
    with pytest.raises(Refusal):
        check_body("wallet_users_create_many", {"users": []})


def test_exactly_one_of_and_not_both() -> None:
    with pytest.raises(Refusal) as both:
        check_body(
            "distribution_send_email",
            {"campaign": CAMPAIGN, "loyaltycard": "loy_1", "email": "a@example.com"},
        )
    assert both.value.rule == "exclusive"
    with pytest.raises(Refusal) as exclusive:
        check_body(
            "single_use_create",
            {"campaign": CAMPAIGN, "customvalcode": "A1", "autovalcode": "6digits"},
        )
    assert exclusive.value.rule == "exclusive"


def test_path_ids_are_digits_within_their_bounds() -> None:
    check_path("directory_users_v4_get", {"directory_id": "12345", "user_id": "7"})
    for values in ({"directory_id": "0", "user_id": "7"}, {"directory_id": "-3", "user_id": "7"}):
        with pytest.raises(Refusal):
            check_path("directory_users_v4_get", values)


def test_a_spec_change_the_rules_file_does_not_follow_is_reported(tmp_path: Path) -> None:
    changed = copy.deepcopy(spec())
    body = changed["paths"]["/v3/coupon/info"]["post"]["requestBody"]
    body["content"]["application/json"]["schema"]["properties"]["campaign"]["pattern"] = "^x$"
    rules_file = tmp_path / "spec_rules.json"
    sandbox_rules.write(spec(), rules_file)
    assert sandbox_rules.differences(spec(), rules_file) == []
    assert sandbox_rules.differences(changed, rules_file) != []
    sandbox_rules.write(changed, rules_file)
    rules = json.loads(rules_file.read_text(encoding="utf-8"))
    assert rules["coupons_get"]["body"]["properties"]["campaign"]["pattern"] == "^x$"
