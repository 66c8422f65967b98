"""The converter survives the real API's loose encodings without losing data."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from coupontools_async._convert import (
    DecodeError,
    converter,
    parse_datetime,
    structure,
    unstructure,
)
from coupontools_async._generated import models

UTC = timezone.utc


def test_v3_numbers_and_flags_sent_as_strings_become_ints_and_bools() -> None:
    contact = structure(
        {
            "ID": "con_1",
            "phone": "123",
            "unsubscribed": "1",
            "unsubscribedate": "13/07/2018 19:47 UTC",
        },
        models.SmsContact,
    )
    assert contact.id == "con_1"
    assert contact.unsubscribed is True
    assert contact.unsubscribedate == datetime(2018, 7, 13, 19, 47, tzinfo=UTC)
    listing = structure(
        {"group_id": "gro_1", "amount_of_contacts": "2", "contact": []},
        models.SmsContactListResponse,
    )
    assert listing.amount_of_contacts == 2
    assert listing.contact == []


def test_empty_strings_become_none() -> None:
    user = structure(
        {"ID": "lus_1", "stamps": "", "subscribed_for_marketing": ""}, models.LoyaltyUser
    )
    assert user.stamps is None
    assert user.subscribed_for_marketing is None


def test_a_fraction_for_a_whole_number_is_an_error_not_truncated() -> None:
    with pytest.raises(DecodeError, match="whole number"):
        structure({"id": 1, "stamps": "1.9"}, models.WalletUser)
    with pytest.raises(DecodeError, match="whole number"):
        structure({"id": 1.9}, models.WalletUser)
    assert structure({"id": "2.0"}, models.WalletUser).id == 2


def test_garbage_for_a_flag_or_number_is_an_error() -> None:
    with pytest.raises(DecodeError):
        structure({"ID": "lus_1", "subscribed_for_marketing": "maybe"}, models.LoyaltyUser)
    with pytest.raises(DecodeError):
        structure({"id": "abc"}, models.WalletUser)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-12 12:31:06", datetime(2024, 2, 12, 12, 31, 6, tzinfo=UTC)),
        ("2023-10-10T12:00:00Z", datetime(2023, 10, 10, 12, 0, tzinfo=UTC)),
        ("13/07/2018 19:47 UTC", datetime(2018, 7, 13, 19, 47, tzinfo=UTC)),
        ("2024-02-12T12:31:06+02:00", datetime.fromisoformat("2024-02-12T12:31:06+02:00")),
        ("", None),
        ("0000-00-00 00:00:00", None),
    ],
)
def test_every_documented_timestamp_layout_parses(text: str, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def test_unknown_timestamp_layout_is_an_error() -> None:
    with pytest.raises(DecodeError):
        parse_datetime("next tuesday")


def test_unknown_keys_are_ignored() -> None:
    card = structure({"id": 1, "name": "A", "brand_new_field": {"x": 1}}, models.WalletCard)
    assert card.id == 1
    assert card.name == "A"


def test_php_empty_array_for_an_object_or_list_decodes_as_absent() -> None:
    user = structure({"id": 1, "rewards": {}}, models.WalletUser)
    assert user.rewards == []
    event = structure(
        {
            "id": "evt_1",
            "datetime": "2022-01-14 10:40:38",
            "type": "coupon_claimed",
            "customer": [],
        },
        models.CouponEvent,
    )
    assert event.customer is None


def test_dates_parse_and_empty_dates_are_none() -> None:
    customer = structure({"birthday": "1980-01-01"}, models.CouponEventCustomer)
    assert customer.birthday == date(1980, 1, 1)
    assert structure({"birthday": "0000-00-00"}, models.CouponEventCustomer).birthday is None


def test_unstructure_uses_wire_names_and_drops_unset_fields() -> None:
    data = unstructure(models.WalletUserInput(first_name="Ann", email="ann@example.com"))
    assert data == {"first_name": "Ann", "email": "ann@example.com"}
    user = structure({"ID": "lus_1", "first_name": "A"}, models.LoyaltyUser)
    assert unstructure(user) == {"ID": "lus_1", "first_name": "A"}


def test_the_converter_is_built_once_and_shared() -> None:
    from coupontools_async import _convert

    assert _convert.converter is converter
    hook = converter.get_structure_hook(models.WalletUser)
    assert converter.get_structure_hook(models.WalletUser) is hook
