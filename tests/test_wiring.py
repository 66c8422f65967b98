"""The client's groups, pagers and raw responses come from the spec, typed for a user."""

from __future__ import annotations

import copy
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from codegen.generate import load_spec, render
from coupontools_async import AsyncClient, RawResponse
from coupontools_async._generated import OPERATIONS, Operation
from coupontools_async._generated.groups import GROUPS
from tests._spec import SPEC_PATH
from tests.test_typing_users import run_mypy

BASE = "https://api.test"

# A tag the spec does not have, with one v4 operation answering a model it already has.
NEW_TAG = {"name": "gift_cards", "description": "v4 gift cards (a tag added by a test)."}
NEW_PATH = {
    "/v4/gift-cards/{card_id}": {
        "get": {
            "operationId": "gift_cards_get",
            "tags": ["gift_cards"],
            "summary": "Get gift card",
            "x-api-version": "v4",
            "x-idempotent": True,
            "parameters": [
                {
                    "name": "card_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                }
            ],
            "responses": {
                "200": {
                    "description": "The card.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/WalletCard"}}
                    },
                }
            },
        }
    }
}


@pytest.fixture(scope="module")
def grown_package(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The generated package of the spec plus NEW_TAG, importable as ``grown._generated``."""
    spec = copy.deepcopy(load_spec(SPEC_PATH))
    spec["tags"].append(NEW_TAG)
    spec["paths"].update(NEW_PATH)
    root = tmp_path_factory.mktemp("grown")
    (root / "grown").mkdir()
    (root / "grown" / "__init__.py").write_text("", encoding="utf-8")
    render(spec, root / "grown" / "_generated", package="grown._generated")
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("grown._generated.groups")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "grown" or m.startswith("grown.")]:
            del sys.modules[name]


@pytest.mark.anyio
async def test_a_new_spec_tag_becomes_a_client_group_with_no_hand_edit(grown_package: Any) -> None:
    calls: list[tuple[str, Any]] = []

    class Client(grown_package.Groups):  # type: ignore[misc]
        async def _request(self, operation: Operation[Any], **kwargs: Any) -> Any:
            calls.append((operation.id, kwargs["path"]))
            return "sent"

    assert "gift_cards" in grown_package.GROUPS
    client = Client()
    assert await client.gift_cards.get(5) == "sent"
    assert calls == [("gift_cards_get", {"card_id": 5})]
    assert type(client.gift_cards).__name__ == "GiftCardsResource"
    doc = type(client.gift_cards).get.__doc__ or ""
    assert "GET /v4/gift-cards/{card_id} · gift_cards_get · idempotent" in doc


@pytest.mark.anyio
async def test_the_new_group_has_raw_responses_too(grown_package: Any) -> None:
    class Client(grown_package.Groups):  # type: ignore[misc]
        async def _request(self, operation: Operation[Any], **kwargs: Any) -> Any:
            return None

    raw = grown_package.RawGroups(Client()).gift_cards
    assert type(raw).__name__ == "GiftCardsResourceWithRawResponse"
    result = await raw.get(5)
    assert result.parsed is None
    assert result.responses == ()  # nothing was sent...
    with pytest.raises(LookupError, match="get sent no request"):
        result.http_response  # noqa: B018 - ...so there is no response to show


def test_every_spec_tag_is_a_group_of_the_client() -> None:
    tags = [t["name"] for t in load_spec(SPEC_PATH)["tags"]]
    used = {op.group for op in OPERATIONS.values()}
    assert list(GROUPS) == [t for t in tags if t in used]
    ct = AsyncClient("id", "secret", base_url=BASE)
    for group in GROUPS:
        assert getattr(ct, group) is getattr(ct, group)  # built once, then cached
        assert getattr(ct, group)._client is ct


def test_a_with_options_view_builds_groups_bound_to_itself_not_the_original() -> None:
    ct = AsyncClient("id", "secret", base_url=BASE)
    assert ct.coupons._client is ct  # cached on the original before the view exists
    _ = ct.with_raw_response.coupons
    view = ct.with_options(validate=False)
    assert view.coupons._client is view
    assert view.coupons is not ct.coupons
    assert view.with_raw_response.coupons._resource is view.coupons


def test_hand_written_subclasses_win_for_their_groups_only() -> None:
    from coupontools_async import _resources

    ct = AsyncClient("id", "secret", base_url=BASE)
    assert type(ct.sessions) is _resources.Sessions
    assert type(ct.wallet_users) is _resources.WalletUsers
    assert type(ct.coupons).__module__ == "coupontools_async._generated.api.coupons"


@pytest.mark.anyio
async def test_a_generated_pager_asks_each_page_where_x_pagination_says() -> None:
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        body = json.loads(request.content)
        seen.append(body)
        page = body["page"]
        users = [
            {"id": page * 10 + i, "email": f"u{page}{i}@x.be"} for i in range(2 if page < 3 else 1)
        ]
        return httpx.Response(200, json=users)

    filters = {"keep": "me"}
    async with AsyncClient(
        "id", "secret", base_url=BASE, transport=httpx.MockTransport(handler)
    ) as ct:
        users = [u async for u in ct.directory_users_v4.iter(7, extra_body=filters)]
    assert [u.id for u in users] == [10, 11, 20, 21, 30]
    assert [b["page"] for b in seen] == [1, 2, 3]
    assert all(b["keep"] == "me" for b in seen)
    assert filters == {"keep": "me"}  # the caller's mapping is never written into


@pytest.mark.anyio
async def test_a_pager_with_a_page_size_sends_it_nested_beside_the_page() -> None:
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        import json

        seen.append(json.loads(request.content))
        return httpx.Response(200, json=[])

    async with AsyncClient(
        "id", "secret", base_url=BASE, transport=httpx.MockTransport(handler)
    ) as ct:
        assert [u async for u in ct.wallet_users.iter(3, per_page=25, keyword="ann")] == []
    assert seen == [{"pagination": {"page": 1, "per_page": 25}, "filter": {"keyword": "ann"}}]


def _expected(op: Operation[Any]) -> str:
    """How mypy spells an operation's return type."""
    tp = op.response_type
    if tp is None:
        return "None"
    if tp is bytes:
        return "builtins.bytes"
    if getattr(tp, "__origin__", None) is list:
        return f"list[coupontools_async._generated.models.{tp.__args__[0].__name__}]"
    return f"coupontools_async._generated.models.{tp.__name__}"


M = "coupontools_async._generated.models."
# The hand-written composites (``_resources.py``): a call, and how mypy spells its answer.
COMPOSITE_CALLS = {
    'sessions.list(campaign="cam_1", state="claimed")': f"{M}CouponSessionListResponse",
    'sessions.search(email="ann@example.com", campaign="cam_1")': f"{M}CouponSessionSearchResponse",
    'distribution.send_coupon_email(campaign="cam_1", email="a@b.be")': f"{M}SendResponse",
    'distribution.send_loyalty_email(loyaltycard="loy_1", email="a@b.be")': f"{M}SendResponse",
    'distribution.send_directory_email(campaign="dir_1", email="a@b.be")': f"{M}SendResponse",
    'distribution.send_coupon_sms(campaign="cam_1", phone="+32470000001")': f"{M}SendResponse",
    'distribution.send_loyalty_sms(loyaltycard="loy_1", phone="+32470000001")': f"{M}SendResponse",
    'distribution.send_directory_sms(campaign="dir_1", phone="+32470000001")': f"{M}SendResponse",
    'wallet_users.list(1, page=2, per_page=50, keyword="ann")': f"list[{M}WalletUser]",
    "wallet_users.import_users(1, [])": "coupontools_async.bulk.ImportReport",
    'loyalty_users.import_users(loyaltycard="loy_1", rows=[])': "coupontools_async.bulk.ImportReport",
}
# What has no raw form: mypy says so, as the runtime does.
NO_RAW_FORM = ["sessions.iter", "wallet_users.iter", "sessions.iter_all"]


def test_mypy_sees_the_parsed_type_of_every_groups_raw_methods(tmp_path: Path) -> None:
    lines = [
        "from coupontools_async import AsyncClient",
        "",
        "async def main(ct: AsyncClient) -> None:",
        "    raw = await ct.with_raw_response.wallet_users.get(1, 2)",
        "    reveal_type(raw)",
        "    reveal_type(raw.parsed)",
    ]
    wanted: dict[int, str] = {
        5: "coupontools_async._kernel._raw.RawResponse["
        "coupontools_async._generated.models.WalletUser]",
        6: "coupontools_async._generated.models.WalletUser",
    }
    for group in GROUPS:
        op = next(op for op in OPERATIONS.values() if op.group == group)
        name = op.id[len(group) + 1 :]
        lines.append(f"    reveal_type(ct.with_raw_response.{group}.{name})")
        wanted[len(lines)] = f"RawResponse[{_expected(op)}]"
    for call, parsed in COMPOSITE_CALLS.items():
        lines.append(f"    reveal_type(await ct.with_raw_response.{call})")
        wanted[len(lines)] = f"coupontools_async._kernel._raw.RawResponse[{parsed}]"
    refused: dict[int, str] = {}
    for name in NO_RAW_FORM:
        lines.append(f"    ct.with_raw_response.{name}")
        refused[len(lines)] = f'has no attribute "{name.split(".")[1]}"'
    (tmp_path / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    (tmp_path / "raw_program.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_mypy(tmp_path).stdout
    revealed = {
        int(line.split(":")[1]): line for line in report.splitlines() if "Revealed type" in line
    }
    errors = {int(line.split(":")[1]): line for line in report.splitlines() if ": error:" in line}
    for number, text in wanted.items():
        assert text in revealed.get(number, ""), (number, text, report)
    assert sorted(errors) == sorted(refused), report
    for number, text in refused.items():
        assert text in errors[number], (number, text, report)


def _modules_after(statement: str) -> set[str]:
    program = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_import_of_the_package_pulls_no_group_module_models_cattrs_cli_or_sandbox() -> None:
    # What httpx imports by itself (its own CLI pulls click and rich when installed) is
    # no cost of ours; everything else the package imports is.
    ours = _modules_after("import coupontools_async") - _modules_after("import httpx")
    heavy = sorted(
        m
        for m in ours
        if m.split(".")[0] in {"cattrs", "typer", "rich", "click", "phonenumbers"}
        or (
            m.startswith(("coupontools_async.sandbox", "coupontools_async._generated."))
            and m != "coupontools_async._generated.groups"
        )
    )
    assert heavy == []


def test_using_a_group_imports_its_module_only() -> None:
    program = (
        "import sys\n"
        "from coupontools_async import AsyncClient\n"
        "AsyncClient('id', 'secret').coupons\n"
        "print('\\n'.join(m for m in sys.modules if '_generated.api.' in m))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["coupontools_async._generated.api.coupons"]


def test_raw_response_is_the_kernels_one_type() -> None:
    from coupontools_async._kernel import RawResponse as KernelRaw

    assert RawResponse is KernelRaw
