"""Nothing the server sends is lost: unknown keys land in ``model.extra_fields``.

Payload shapes follow FACTS.md ("Evidence from outside the docs"): couponsession/data
nests the status under ``data.status``; v4 wallet answers are plain JSON arrays. The
unknown keys added to them are invented ("the API grew"), so no spec correction can
make them known.
"""

from __future__ import annotations

import logging
import pickle
import uuid
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import attrs
import httpx
import pytest
import respx

from coupontools_async import APIError, AsyncClient, models
from coupontools_async._convert import build_converter, converter, structure, unstructure
from coupontools_async._envelope import decode
from coupontools_async._generated import OPERATIONS
from coupontools_async._kernel import _scalars
from tests._spec import documented_examples

BASE = "https://api.test"
DRIFT = "coupontools_async.drift"
CUSTOMER_VALUE = "ann.peeters@example.com"


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def make_client() -> AsyncClient:
    return AsyncClient("client-id-x1", "client-secret-y2", base_url=BASE, max_retries=0)


def session_answer(**unknown: Any) -> dict[str, Any]:
    """A couponsession/data answer (FACTS.md: status under data.status), v3 envelope."""
    return {
        "status": {"status": "OK"},
        "campaign": "cam_1",
        "action": "couponsession_data",
        "session": "SES1abc",
        "sequenceid": "8",
        "customid": "",
        "data": {
            "status": {
                "opened": "1",
                "open_date_utc": "2024-02-12 12:31:06",
                "claimed": "1",
                "claim_date_utc": "2024-02-12 12:35:00",
                "loyalty_tier_2027": "gold",
            },
            "geo_2027": {"country": "BE"},
        },
        "brand_new_2027": [1, 2],
        **unknown,
    }


@pytest.mark.anyio
async def test_unknown_keys_are_kept_on_the_model_its_nested_model_and_theirs(
    mock: respx.MockRouter,
) -> None:
    mock.post("/v3/couponsession/data").respond(200, json=session_answer())
    async with make_client() as ct:
        got = await ct.sessions.get(couponsession="SES1abc")
    assert got.sequenceid == 8
    assert got.data is not None
    assert got.data.status is not None
    assert got.data.status.claimed is True
    assert dict(got.extra_fields) == {"brand_new_2027": [1, 2]}
    assert dict(got.data.extra_fields) == {"geo_2027": {"country": "BE"}}
    assert dict(got.data.status.extra_fields) == {"loyalty_tier_2027": "gold"}


@pytest.mark.anyio
async def test_unknown_keys_are_kept_on_models_inside_lists(mock: respx.MockRouter) -> None:
    mock.get("/v4/loyalty/loyalty-cards/7/stats").respond(
        200,
        json=[
            {
                "id": 1,
                "email": CUSTOMER_VALUE,
                "stamps": 3,
                "tier_2027": {"level": 2},
                "rewards": [{"id": 9, "name": "Free coffee", "sponsor_2027": "ACME"}],
            },
            {"id": 2, "stamps": 0},
        ],
    )
    async with make_client() as ct:
        users = await ct.wallet_users.list(7)
    assert [u.id for u in users] == [1, 2]
    assert dict(users[0].extra_fields) == {"tier_2027": {"level": 2}}
    assert users[0].rewards is not None
    assert dict(users[0].rewards[0].extra_fields) == {"sponsor_2027": "ACME"}
    assert users[1].extra_fields == {}


def test_known_fields_never_appear_in_extra_fields_and_order_is_kept() -> None:
    payload = {"zz_new": 1, "id": 5, "email": CUSTOMER_VALUE, "aa_new": 2, "name": "Ann"}
    user = structure(payload, models.WalletUser)
    assert list(user.extra_fields) == ["zz_new", "aa_new"]
    assert user.id == 5
    assert user.email == CUSTOMER_VALUE


def test_a_field_known_by_a_wire_name_keeps_the_python_spelling_as_unknown() -> None:
    # Category's id is "ID" on the wire: "ID" is known, a lower-case "id" is not.
    category = structure({"ID": "cat_1", "id": "other", "name": "Food"}, models.Category)
    assert category.id == "cat_1"
    assert dict(category.extra_fields) == {"id": "other"}


def test_extra_fields_is_a_read_only_mapping_and_empty_without_unknown_keys() -> None:
    decoded = structure({"id": 1, "new_2027": "x"}, models.WalletUser)
    assert isinstance(decoded.extra_fields, MappingProxyType)
    with pytest.raises(TypeError):
        decoded.extra_fields["new_2027"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError):
        decoded.extra_fields = {}  # type: ignore[misc]
    assert structure({"id": 1}, models.WalletUser).extra_fields == {}
    assert models.WalletUser(id=1).extra_fields == {}


def test_extra_fields_is_not_a_constructor_argument() -> None:
    with pytest.raises(TypeError):
        models.WalletUser(id=1, extra_fields={"a": 1})  # type: ignore[call-arg]


def test_extra_fields_take_no_part_in_equality_hash_or_repr() -> None:
    plain = structure({"id": 1, "name": "Ann"}, models.WalletUser)
    richer = structure({"id": 1, "name": "Ann", "api_secret_2027": "s3cr3t"}, models.WalletUser)
    assert plain == richer
    assert "s3cr3t" not in repr(richer)
    assert "api_secret_2027" not in repr(richer)


def test_encoding_a_decoded_model_never_sends_its_extra_fields_back() -> None:
    user = structure({"id": 1, "name": "Ann", "new_2027": "x"}, models.WalletUser)
    assert unstructure(user) == {"id": 1, "name": "Ann"}


@pytest.mark.anyio
async def test_a_decoded_model_passed_back_to_a_method_sends_only_its_known_fields(
    mock: respx.MockRouter,
) -> None:
    route = mock.get("/v4/loyalty/loyalty-cards/7/stats").respond(200, json=[])
    pagination = structure({"page": 2, "cursor_2027": "abc"}, models.WalletUserPagination)
    assert dict(pagination.extra_fields) == {"cursor_2027": "abc"}
    async with make_client() as ct:
        await ct.wallet_users.list(7, pagination=pagination)
    assert route.calls.last.request.content == b'{"pagination":{"page":2}}'


def test_copies_made_by_hand_or_by_pickle_start_without_extra_fields() -> None:
    user = structure({"id": 1, "new_2027": "x"}, models.WalletUser)
    assert attrs.evolve(user, name="Bo").extra_fields == {}
    assert pickle.loads(pickle.dumps(user)).extra_fields == {}


@pytest.fixture
def fresh_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty drift memory: other tests' decodes may have filled the process's."""
    monkeypatch.setattr(_scalars, "_drift_seen", set())
    monkeypatch.setattr(_scalars, "_drift_keys", {})


def drift_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == DRIFT]


def test_each_unknown_key_is_logged_once_per_model_across_repeated_decodes(
    caplog: pytest.LogCaptureFixture, fresh_drift: None
) -> None:
    key = f"grew_{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.INFO, logger=DRIFT)
    generic = build_converter(generated_decoders=False)
    for _ in range(3):
        structure([{"id": 1, key: CUSTOMER_VALUE}, {"id": 2, key: "x"}], list[models.WalletUser])
        generic.structure({"id": 3, key: CUSTOMER_VALUE}, models.WalletUser)
    structure({"id": 9, "name": "coffee", key: CUSTOMER_VALUE}, models.WalletReward)
    lines = [r for r in drift_lines(caplog) if key in r.getMessage()]
    assert [(r.levelno, r.getMessage().split(":")[0]) for r in lines] == [
        (logging.INFO, "WalletUser"),
        (logging.INFO, "WalletReward"),
    ]
    assert all(CUSTOMER_VALUE not in r.getMessage() for r in drift_lines(caplog))


def test_a_hostile_key_cannot_forge_a_log_line(
    caplog: pytest.LogCaptureFixture, fresh_drift: None
) -> None:
    caplog.set_level(logging.INFO, logger=DRIFT)
    key = f"x_{uuid.uuid4().hex[:6]}\nCRITICAL forged line" + "y" * 200
    user = structure({"id": 1, key: "v"}, models.WalletUser)
    assert list(user.extra_fields) == [key]  # kept whole
    (line,) = [r.getMessage() for r in drift_lines(caplog) if "forged" in r.getMessage()]
    assert "\n" not in line
    assert len(line) < 200


def test_a_server_inventing_keys_cannot_grow_the_drift_memory_or_flood_the_log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, fresh_drift: None
) -> None:
    monkeypatch.setattr(_scalars, "DRIFT_MEMORY", 3)
    caplog.set_level(logging.INFO, logger=DRIFT)
    for batch in range(4):
        payload = {"id": 1, **{f"k{batch}_{i}": i for i in range(5)}}
        user = structure(payload, models.WalletUser)
        assert len(user.extra_fields) == 5  # always kept, even when no longer logged
    lines = [r.getMessage() for r in drift_lines(caplog)]
    assert len(lines) == 4
    assert "not logged" in lines[-1]
    assert len(_scalars._drift_seen) == 4  # three pairs and the "said so" mark


@pytest.mark.anyio
@pytest.mark.parametrize("hole", [[], "", 5], ids=["php-empty-array", "empty-string", "number"])
async def test_a_non_object_in_a_list_of_models_refuses_the_answer(
    mock: respx.MockRouter, hole: Any
) -> None:
    mock.get("/v4/loyalty/loyalty-cards/7/stats").respond(200, json=[{"id": 1}, hole, {"id": 3}])
    async with make_client() as ct:
        with pytest.raises(APIError) as info:
            await ct.wallet_users.list(7)
    assert "item 1 of a list of WalletUser is not an object" in str(info.value)
    assert info.value.status_code == 200


@pytest.mark.anyio
async def test_a_non_object_in_a_nested_list_refuses_the_answer_too(
    mock: respx.MockRouter,
) -> None:
    mock.get("/v4/loyalty/loyalty-cards/7/stats/2").respond(
        200, json={"id": 2, "rewards": [{"id": 1}, []]}
    )
    async with make_client() as ct:
        with pytest.raises(APIError, match="item 1 of a list of WalletReward"):
            await ct.wallet_users.get(7, 2)


def test_both_decoding_paths_refuse_a_non_object_list_item_alike() -> None:
    for conv in (build_converter(generated_decoders=False), converter):
        with pytest.raises(ValueError, match="item 0 of a list of WalletUser"):
            conv.structure([[]], list[models.WalletUser])


def test_an_empty_object_where_an_object_belongs_is_still_absent() -> None:
    # PHP's [] for a whole (single) object stays "absent": only list items are refused.
    user = structure({"id": 1, "rewards": {}}, models.WalletUser)
    assert user.rewards == []
    got = structure({"session": "SES1abc", "data": []}, models.CouponSessionResponse)
    assert got.data is None


def unknown_keys(value: Any, where: str) -> list[str]:
    """Every unknown key of a decoded value, at every level, as ``where.key``."""
    found: list[str] = []
    if attrs.has(type(value)):
        found += [f"{where}:{type(value).__name__}.{key}" for key in value.extra_fields]
        for field in attrs.fields(type(value)):
            found += unknown_keys(getattr(value, field.name), f"{where}.{field.name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unknown_keys(item, f"{where}[{index}]")
    return found


def test_the_spec_knows_every_key_of_its_own_documented_examples() -> None:
    # Decoded as the client decodes them (envelope stripped by the envelope code), the
    # docs' own examples must leave nothing in extra_fields: a key there is a field the
    # spec forgot to model.
    found: list[str] = []
    for key, owner, payload in documented_examples():
        if owner in OPERATIONS:
            op = OPERATIONS[owner]
            response = httpx.Response(
                200, json=payload, request=httpx.Request(op.method, BASE + op.path)
            )
            value = structure(decode(op, response), op.response_type)
        else:
            value = structure(payload, getattr(models, owner))
        found += unknown_keys(value, key)
    assert found == []
