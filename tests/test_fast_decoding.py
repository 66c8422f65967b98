"""The fast path (msgspec, the ``speed`` extra) decodes exactly as the plain one.

Answers are parsed with msgspec when it is installed, json otherwise, and then go through
the same generated decoders. "Exactly" is checked on the decoded models, their
``extra_fields`` included, on arbitrary wire bytes (unknown keys, stringly numbers,
nulls, PHP's ``[]``), and on what msgspec refuses, which json then decides.
"""

from __future__ import annotations

import gc
import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coupontools_async import AsyncClient, _envelope, _fast
from coupontools_async._convert import converter
from coupontools_async._generated import models
from coupontools_async._generated.decoders import _KNOWN_WalletUser as KNOWN_USER_KEYS
from coupontools_async._kernel._scalars import PAUSE_GC_FROM, DecodeError, model_seq
from tests.test_decoders import MODELS, deep, outcome, payloads

msgspec = pytest.importorskip("msgspec", reason="the speed extra is part of dev")


def decoded_both_ways(body: bytes, cls: Any) -> tuple[Any, Any]:
    fast = outcome(converter, _envelope._json_loads(body), cls)
    plain = outcome(converter, json.loads(body), cls)
    return fast, plain


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@settings(max_examples=15, deadline=None, derandomize=True)
@given(data=st.data())
def test_msgspec_and_json_decode_arbitrary_wire_bytes_into_the_same_models(
    cls: type[Any], data: st.DataObject
) -> None:
    body = json.dumps(data.draw(payloads(cls))).encode()
    fast, plain = decoded_both_ways(body, cls)
    assert fast == plain


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    page=st.lists(
        st.fixed_dictionaries(
            {"id": st.one_of(st.integers(0, 2**31), st.sampled_from(["7", "42"]))},
            optional={
                "stamps": st.one_of(st.none(), st.integers(0, 9), st.sampled_from(["3", ""])),
                "created_at": st.sampled_from(
                    ["2024-02-12 12:31:06", "0000-00-00 00:00:00", "", None, "2024-02-30 10:00:00"]
                ),
                "rewards": st.one_of(
                    st.just([]),
                    st.just({}),
                    st.lists(st.fixed_dictionaries({"id": st.integers(1, 9)}), max_size=2),
                ),
                "tier_2027": st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2)),
            },
        ),
        max_size=5,
    )
)
def test_a_page_with_unknown_keys_decodes_the_same_on_both_parsers(
    page: list[dict[str, Any]],
) -> None:
    body = json.dumps(page, ensure_ascii=False).encode()
    fast, plain = decoded_both_ways(body, list[models.WalletUser])
    assert fast == plain
    if fast[0] == "ok":
        kept = [dict(user[2]) for user in fast[1]]
        assert kept == [{k: v for k, v in u.items() if k == "tier_2027"} for u in page]


@pytest.mark.parametrize(
    ("body", "check"),
    [
        (b'{"id": 1, "score": 2.5e400}', lambda u: math.isinf(u.extra_fields["score"])),
        (b'{"id": 1, "new_score": NaN}', lambda u: math.isnan(u.extra_fields["new_score"])),
        (b'{"id": 1, "name": "\\ud800"}', lambda u: u.name == "\ud800"),
        (b'\xef\xbb\xbf{"id": 4}', lambda u: u.id == 4),
    ],
    ids=["a float past double range", "NaN", "a lone surrogate", "a byte-order mark"],
)
def test_what_msgspec_refuses_json_decides(body: bytes, check: Any) -> None:
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(body)
    user = converter.structure(_envelope._json_loads(body), models.WalletUser)
    assert check(user)
    assert deep(user) == deep(converter.structure(json.loads(body), models.WalletUser))


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 123456789012345678901234567890])
def test_an_integer_past_64_bits_keeps_every_digit(number: int) -> None:
    # orjson reads these as floats: an id would silently change.
    user = converter.structure(_envelope._json_loads(b'{"id": %d}' % number), models.WalletUser)
    assert user.id == number
    assert type(user.id) is int


def test_answers_are_parsed_by_msgspec_when_it_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []

    def spy(content: bytes) -> Any:
        seen.append(content)
        return msgspec.json.decode(content)

    monkeypatch.setattr(_fast, "_decode", spy)
    assert _envelope._json_loads(b'[{"id": 1}]') == [{"id": 1}]
    assert seen == [b'[{"id": 1}]']
    assert _fast.PARSER == "msgspec"


def test_without_the_speed_extra_answers_go_through_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fast, "_decode", None)
    assert _envelope._json_loads(b'{"id": 1, "x": NaN}')["id"] == 1


@pytest.mark.anyio
async def test_a_client_answer_msgspec_refuses_decodes_with_every_digit_and_unknown_key() -> None:
    body = b'[{"id": 123456789012345678901234567890, "stamps": "3", "tier_2027": NaN}]'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    async with AsyncClient(
        "id-" + "x" * 20,
        "secret-" + "y" * 20,
        base_url="https://api.example.test",
        transport=httpx.MockTransport(handler),
    ) as ct:
        cards = await ct.wallet_cards.list()
    assert cards[0].id == 123456789012345678901234567890
    assert math.isnan(cards[0].extra_fields["tier_2027"])


@pytest.mark.parametrize("parser", ["msgspec", "json"])
def test_an_answer_nested_too_deep_is_not_json_on_either_parser(
    monkeypatch: pytest.MonkeyPatch, parser: str
) -> None:
    if parser == "json":
        monkeypatch.setattr(_fast, "_decode", None)
    hostile = b"[" * 200_000 + b"]" * 200_000
    assert _envelope._loads(hostile) is _envelope._NOT_JSON


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8).filter(lambda k: k not in KNOWN_USER_KEYS),
            st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers())),
        ),
        max_size=5,
    ),
    st.randoms(use_true_random=False),
)
@settings(max_examples=60, deadline=None)
def test_unknown_keys_land_in_extra_fields_in_the_answers_order_with_their_values(
    unknown: list[tuple[str, Any]], shuffle: Any
) -> None:
    known = [("id", 7), ("email", "a@example.com"), ("first_name", "Ann"), ("city", "Ghent")]
    items = known + unknown
    shuffle.shuffle(items)
    wire = dict(items)
    user = converter.structure(_fast.loads(json.dumps(wire).encode()), models.WalletUser)
    expected = {k: v for k, v in wire.items() if k not in KNOWN_USER_KEYS}
    assert list(user.extra_fields.items()) == list(expected.items())
    assert (user.id, user.email, user.city) == (7, "a@example.com", "Ghent")
    with pytest.raises(TypeError):
        user.extra_fields["x"] = 1  # type: ignore[index]  # a read-only view


# ------------------------------------------------ the collector paused on a large page


def spy(seen: list[bool]) -> Any:
    def decode(item: dict[str, Any]) -> Any:
        seen.append(gc.isenabled())
        return models.WalletReward(id=item["id"])

    return decode


def test_a_large_list_of_models_is_decoded_with_the_collector_paused_then_running() -> None:
    big: list[bool] = []
    small: list[bool] = []
    model_seq([{"id": n} for n in range(PAUSE_GC_FROM)], spy(big), "WalletReward")
    model_seq([{"id": n} for n in range(PAUSE_GC_FROM - 1)], spy(small), "WalletReward")
    assert set(big) == {False}  # paused for the whole page...
    assert set(small) == {True}  # ...only for a large one
    assert gc.isenabled()  # and running again afterwards


def test_a_page_that_fails_mid_way_leaves_the_collector_running() -> None:
    page: list[Any] = [{"id": n} for n in range(PAUSE_GC_FROM * 2)]
    page[700] = []  # PHP's empty array where a model should be
    with pytest.raises(DecodeError, match="700"):
        model_seq(page, spy([]), "WalletReward")
    assert gc.isenabled()


def test_a_collector_the_user_disabled_stays_disabled() -> None:
    gc.disable()
    try:
        model_seq([{"id": n} for n in range(PAUSE_GC_FROM)], spy([]), "WalletReward")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_large_page_decodes_to_the_same_models_paused_or_not() -> None:
    users = [{"id": n, "email": f"u{n}@example.com", "tier_2027": "gold"} for n in range(600)]
    paused = converter.structure(users, list[models.WalletUser])
    plain = [converter.structure(u, models.WalletUser) for u in users]  # one at a time
    assert paused == plain
    assert [u.extra_fields for u in paused] == [u.extra_fields for u in plain]
