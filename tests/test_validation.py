"""Arguments that break a documented rule are refused before sending, naming the rule."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from coupontools_async._generated import OPERATIONS, models
from coupontools_async._validation import normalize_e164, prepare, prepare_item
from coupontools_async.errors import ValidationError


def body_of(op_id: str, body: Any, path: Mapping[str, Any] | None = None) -> Any:
    """The wire body ``prepare`` returns for a call of ``op_id``."""
    return prepare(OPERATIONS[op_id], path=path, body=body)[1]


def refusal(op_id: str, body: Any, path: Mapping[str, Any] | None = None) -> ValidationError:
    """The ValidationError ``prepare`` raises for a call of ``op_id``."""
    with pytest.raises(ValidationError) as info:
        prepare(OPERATIONS[op_id], path=path, body=body)
    return info.value


# ------------------------------------------------------------------ body basics


def test_none_values_are_not_sent() -> None:
    assert body_of("sessions_update", {"couponsession": "abc123", "customfield1": None}) == {
        "couponsession": "abc123"
    }


def test_a_call_with_nothing_to_send_has_no_body() -> None:
    assert body_of("sms_list_groups", None) is None
    assert body_of("coupons_list", {"only_active": None}) is None


def test_a_missing_required_parameter_is_refused() -> None:
    error = refusal("sessions_update", {"operation": "claim"})
    assert (error.param, error.rule) == ("couponsession", "required")
    error = refusal("coupons_get", None)
    assert (error.param, error.rule) == ("campaign", "required")


def test_an_unknown_parameter_is_refused_with_a_suggestion() -> None:
    error = refusal("sessions_update", {"couponsession": "abc123", "customfeild1": "x"})
    assert (error.param, error.rule) == ("customfeild1", "unknown")
    assert "customfield1" in str(error)


def test_a_bool_for_an_integer_is_refused() -> None:
    error = refusal(
        "loyalty_users_update", {"loyaltycard": "loy_1", "user": "lus_1", "amount": True}
    )
    assert (error.param, error.rule) == ("amount", "type")


def test_a_string_for_an_integer_is_refused() -> None:
    error = refusal(
        "loyalty_users_update", {"loyaltycard": "loy_1", "user": "lus_1", "amount": "5"}
    )
    assert (error.param, error.rule) == ("amount", "type")
    assert "integer" in str(error)


def test_a_number_takes_ints_and_floats_but_not_bools_or_nan() -> None:
    assert body_of("sessions_update", {"couponsession": "abc", "money_spent": 12.5}) == {
        "couponsession": "abc",
        "money_spent": 12.5,
    }
    assert (
        body_of("sessions_update", {"couponsession": "abc", "money_spent": 3})["money_spent"] == 3
    )
    for bad in (False, float("nan"), "12.5"):
        error = refusal("sessions_update", {"couponsession": "abc", "money_spent": bad})
        assert (error.param, error.rule) == ("money_spent", "type")


def test_a_body_that_is_not_a_mapping_is_refused() -> None:
    error = refusal("coupons_get", ["cam_1"])
    assert error.rule == "type"


# ------------------------------------------------------------- value constraints


def test_a_value_outside_the_enum_is_refused_listing_the_allowed_ones() -> None:
    error = refusal("sessions_update", {"couponsession": "abc123", "operation": "destroy"})
    assert (error.param, error.rule) == ("operation", "enum")
    assert "'void'" in str(error)
    assert "'activate'" in str(error)


def test_an_enum_member_is_sent_as_its_value() -> None:
    class SessionOperation(str, enum.Enum):
        CLAIM = "claim"

    body = body_of("sessions_update", {"couponsession": "abc", "operation": SessionOperation.CLAIM})
    assert body["operation"] == "claim"
    assert type(body["operation"]) is str


def test_custom_fields_hold_at_most_50_characters() -> None:
    ok = body_of("single_use_create", {"campaign": "cam_1", "customfield1": "x" * 50})
    assert ok["customfield1"] == "x" * 50
    error = refusal("single_use_create", {"campaign": "cam_1", "customfield1": "x" * 51})
    assert (error.param, error.rule) == ("customfield1", "max_length")
    assert "customfield1: at most 50 characters, got 51" in str(error)


def test_a_custom_validation_code_holds_at_most_100_characters() -> None:
    assert body_of("single_use_create", {"campaign": "cam_1", "customvalcode": "A" * 100})
    error = refusal("single_use_create", {"campaign": "cam_1", "customvalcode": "A" * 101})
    assert (error.param, error.rule) == ("customvalcode", "max_length")


def test_a_campaign_id_must_look_like_cam_something() -> None:
    assert body_of("coupons_get", {"campaign": "cam_1"}) == {"campaign": "cam_1"}
    error = refusal("coupons_get", {"campaign": "1234"})
    assert (error.param, error.rule) == ("campaign", "pattern")
    assert "'1234'" in str(error)


def test_session_search_filters_need_at_least_5_characters() -> None:
    assert body_of("sessions_search", {"code": "abcde"}) == {"code": "abcde"}
    error = refusal("sessions_search", {"code": "abcd"})
    assert (error.param, error.rule) == ("code", "min_length")
    assert "at least 5 characters, got 4" in str(error)


def test_minimum_and_maximum_are_enforced() -> None:
    error = refusal("single_use_create_many", {"campaign": "cam_1", "amount": 0})
    assert (error.param, error.rule) == ("amount", "minimum")
    error = refusal("single_use_create_many", {"campaign": "cam_1", "amount": 100_001})
    assert (error.param, error.rule) == ("amount", "maximum")
    assert "at most 100000" in str(error)
    assert body_of("single_use_create_many", {"campaign": "cam_1", "amount": 100_000})


def test_array_items_are_type_checked_and_min_items_enforced() -> None:
    path = {"card_id": 1, "user_id": 2}
    assert body_of("wallet_users_use_rewards", {"reward_ids": (3, 4)}, path) == {
        "reward_ids": [3, 4]
    }
    error = refusal("wallet_users_use_rewards", {"reward_ids": [3, "4"]}, path)
    assert (error.param, error.rule) == ("reward_ids[1]", "type")
    error = refusal("wallet_users_use_rewards", {"reward_ids": []}, path)
    assert (error.param, error.rule) == ("reward_ids", "min_items")
    error = refusal("wallet_users_use_rewards", {"reward_ids": 3}, path)
    assert (error.param, error.rule) == ("reward_ids", "type")


# ------------------------------------------------------------------------ E.164


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("+44 7911 123456", "+447911123456"),
        ("0044 (0)7911-123456", "+447911123456"),
        ("+44 (0) 7911.123.456", "+447911123456"),
        ("+32 (470) 12-34-56", "+32470123456"),
        ("+447911123456", "+447911123456"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(given: str, sent: str) -> None:
    assert normalize_e164(given) == sent
    assert body_of("distribution_send_sms", {"phone": given, "campaign": "cam_1"})["phone"] == sent


def test_a_national_phone_number_is_refused_asking_for_the_international_form() -> None:
    error = refusal("distribution_send_sms", {"phone": "07911 123456", "campaign": "cam_1"})
    assert (error.param, error.rule) == ("phone", "e164")
    assert "international" in str(error)
    assert "+447911123456" in str(error)


@pytest.mark.parametrize(
    "bad", ["+0123456789", "+44 12", "+44 7911 123456 789 0", "+44 7911 CALLME"]
)
def test_a_number_that_is_not_e164_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_e164(bad, param="phone")
    assert (info.value.param, info.value.rule) == ("phone", "e164")
    assert "E.164" in str(info.value)


def test_normalize_e164_refuses_a_non_string() -> None:
    with pytest.raises(ValidationError) as info:
        normalize_e164(447911123456)  # type: ignore[arg-type]
    assert info.value.rule == "type"


# ------------------------------------------------------------------------ email


@pytest.mark.parametrize(
    "bad",
    ["jane", "jane@example", "jane@@example.com", "ja ne@example.com", "@example.com", "jane@.com"],
)
def test_a_malformed_email_is_refused(bad: str) -> None:
    error = refusal("distribution_send_email", {"email": bad, "campaign": "cam_1"})
    assert (error.param, error.rule) == ("email", "email")


def test_a_plain_email_is_accepted() -> None:
    body = body_of(
        "distribution_send_email", {"email": "jane.doe+x@mail.example.co.uk", "campaign": "cam_1"}
    )
    assert body["email"] == "jane.doe+x@mail.example.co.uk"


# ------------------------------------------------------------------------ dates


def test_a_date_parameter_takes_dates_datetimes_and_iso_strings() -> None:
    base = {"email": "jane@example.com", "password": "hunter22"}
    for given in (date(1990, 5, 7), datetime(1990, 5, 7, 23, 30), "1990-05-07"):
        assert (
            body_of("loyalty_users_create", {**base, "birthday": given})["birthday"] == "1990-05-07"
        )
    for bad in ("1990-02-30", "07/05/1990", "1990-5-7"):
        error = refusal("loyalty_users_create", {**base, "birthday": bad})
        assert (error.param, error.rule) == ("birthday", "date")
    error = refusal("loyalty_users_create", {**base, "birthday": 19900507})
    assert (error.param, error.rule) == ("birthday", "type")


def test_session_list_bounds_take_a_day_or_a_minute_in_utc() -> None:
    def sent(value: Any) -> Any:
        return body_of("sessions_list_all", {"campaign": "cam_1", "start_date": value})[
            "start_date"
        ]

    assert sent(date(2024, 1, 2)) == "2024-01-02"
    assert sent(datetime(2024, 1, 2, 9, 5, 59)) == "2024-01-02 09:05"
    brussels_summer = timezone(timedelta(hours=2))
    assert sent(datetime(2024, 7, 1, 1, 30, tzinfo=brussels_summer)) == "2024-06-30 23:30"
    assert sent("2024-01-02") == "2024-01-02"
    assert sent("2024-01-02 23:59") == "2024-01-02 23:59"
    for bad in ("2024-01-02T10:30", "2024-01-02 24:00", "2024-13-01", "2024-01-02 10:30:00"):
        error = refusal("sessions_list_all", {"campaign": "cam_1", "start_date": bad})
        assert (error.param, error.rule) == ("start_date", "ct-date-or-minute")


def test_a_single_use_expiry_is_sent_as_the_wall_clock_time_given() -> None:
    def sent(value: Any) -> Any:
        return body_of("single_use_create", {"campaign": "cam_1", "expiry_date": value})[
            "expiry_date"
        ]

    assert sent(datetime(2024, 12, 31, 23, 59, 58, 999)) == "2024-12-31 23:59:58"
    tokyo = timezone(timedelta(hours=9))
    assert sent(datetime(2024, 12, 31, 8, 0, tzinfo=tokyo)) == "2024-12-31 08:00:00"
    assert sent("2024-12-31 23:59:59") == "2024-12-31 23:59:59"
    error = refusal("single_use_create", {"campaign": "cam_1", "expiry_date": "2024-12-31"})
    assert (error.param, error.rule) == ("expiry_date", "ct-datetime")
    error = refusal("single_use_create", {"campaign": "cam_1", "expiry_date": date(2024, 12, 31)})
    assert (error.param, error.rule) == ("expiry_date", "type")


# ------------------------------------------------------------- groups of params


def test_a_batch_update_needs_a_start_or_an_end_sequence() -> None:
    error = refusal("sessions_update_batch", {"campaign": "cam_1", "operation": "void"})
    assert (error.param, error.rule) == ("startsequence, endsequence", "require_any_of")
    assert body_of("sessions_update_batch", {"campaign": "cam_1", "endsequence": 9})


def test_an_email_send_needs_exactly_one_of_campaign_and_loyaltycard() -> None:
    error = refusal("distribution_send_email", {"email": "jane@example.com"})
    assert (error.param, error.rule) == ("campaign, loyaltycard", "require_one_of")
    error = refusal(
        "distribution_send_email",
        {"email": "jane@example.com", "campaign": "cam_1", "loyaltycard": "loy_1"},
    )
    assert (error.param, error.rule) == ("campaign, loyaltycard", "require_one_of")
    assert body_of("distribution_send_email", {"email": "jane@example.com", "loyaltycard": "loy_1"})


def test_custom_and_automatic_validation_codes_exclude_each_other() -> None:
    error = refusal(
        "single_use_create",
        {"campaign": "cam_1", "customvalcode": "ABC123", "autovalcode": "6digits"},
    )
    assert (error.param, error.rule) == ("customvalcode, autovalcode", "mutually_exclusive")
    assert body_of("single_use_create", {"campaign": "cam_1", "autovalcode": "6digits"})


# ---------------------------------------------------------------- nested models


def test_wallet_user_list_takes_pagination_and_filter_as_models() -> None:
    body = body_of(
        "wallet_users_list",
        {
            "pagination": models.WalletUserPagination(page=2, per_page=50),
            "filter": models.WalletUserFilter(keyword="Doe"),
            "include_voided": True,
        },
        {"card_id": 7},
    )
    assert body == {
        "pagination": {"page": 2, "per_page": 50},
        "filter": {"keyword": "Doe"},
        "include_voided": True,
    }


def test_wallet_user_list_takes_pagination_and_filter_as_mappings() -> None:
    body = body_of(
        "wallet_users_list",
        {
            "pagination": {"page": 1, "per_page": None},
            "filter": {"keyword": "Doe", "strict": False},
        },
        {"card_id": 7},
    )
    assert body == {"pagination": {"page": 1}, "filter": {"keyword": "Doe", "strict": False}}


def test_a_nested_error_names_the_dotted_path() -> None:
    path = {"card_id": 7}
    error = refusal("wallet_users_list", {"pagination": {"page": 1, "size": 10}}, path)
    assert (error.param, error.rule) == ("pagination.size", "unknown")
    assert "per_page" in str(error)
    error = refusal("wallet_users_list", {"pagination": models.WalletUserPagination(page=0)}, path)
    assert (error.param, error.rule) == ("pagination.page", "minimum")
    error = refusal("wallet_users_list", {"filter": {"strict": "yes"}}, path)
    assert (error.param, error.rule) == ("filter.strict", "type")


def test_a_model_of_the_wrong_kind_is_refused() -> None:
    error = refusal(
        "wallet_users_list", {"pagination": models.WalletUserFilter(keyword="x")}, {"card_id": 7}
    )
    assert (error.param, error.rule) == ("pagination", "type")
    assert "WalletUserPagination" in str(error)


# -------------------------------------------------------------------------- bulk


def test_a_bulk_body_is_checked_row_by_row_with_formats_applied() -> None:
    users: list[Any] = [
        models.WalletUserInput(first_name="Jane", phone="+44 7911 123456"),
        {"email": "john@example.com", "city": None},
    ]
    path = {"card_id": 3, "users": users}  # the generated call passes the list here too
    paths, body = prepare(OPERATIONS["wallet_users_create_many"], path=path, body=users)
    assert paths == {"card_id": "3"}
    assert body == [
        {"first_name": "Jane", "phone": "+447911123456"},
        {"email": "john@example.com"},
    ]


def test_a_bad_bulk_row_is_named_by_its_index() -> None:
    users: list[Any] = [{"email": f"user{i}@example.com"} for i in range(3)]
    users.append(models.WalletUserInput(email="not an email"))
    error = refusal("wallet_users_create_many", users, {"card_id": 3})
    assert (error.param, error.rule) == ("users[3].email", "email")
    assert str(error).startswith("users[3].email: ")
    error = refusal("wallet_users_create_many", [{"email": "a@b.co"}, "jane"], {"card_id": 3})
    assert (error.param, error.rule) == ("users[1]", "type")


def test_a_bulk_call_needs_a_list() -> None:
    error = refusal("wallet_users_create_many", None, {"card_id": 3})
    assert (error.param, error.rule) == ("users", "required")
    error = refusal("wallet_users_create_many", {"email": "a@b.co"}, {"card_id": 3})
    assert (error.param, error.rule) == ("users", "type")


def test_prepare_item_converts_one_row_and_refuses_an_unknown_column() -> None:
    row = {"first_name": "Jane", "phone": "0044 7911 123456", "custom_1": None}
    assert prepare_item("WalletUserInput", row) == {"first_name": "Jane", "phone": "+447911123456"}
    with pytest.raises(ValidationError) as info:
        prepare_item("WalletUserInput", {"first_name": "Jane", "favourite_colour": "blue"})
    assert (info.value.param, info.value.rule) == ("favourite_colour", "unknown")


def test_prepare_item_refuses_an_unknown_model_name() -> None:
    with pytest.raises(ValueError, match="NoSuchModel"):
        prepare_item("NoSuchModel", {})


# ------------------------------------------------------------------------ paths


def test_path_ids_come_back_as_strings() -> None:
    paths, body = prepare(OPERATIONS["wallet_users_get"], path={"card_id": 5, "user_id": 12})
    assert paths == {"card_id": "5", "user_id": "12"}
    assert body is None


def test_a_bad_path_id_is_refused() -> None:
    op = OPERATIONS["wallet_cards_copy"]
    for given, rule in (
        ({"card_id": True}, "type"),
        ({"card_id": "5"}, "type"),
        ({}, "required"),
        ({"card_id": 0}, "minimum"),
    ):
        with pytest.raises(ValidationError) as info:
            prepare(op, path=given)
        assert (info.value.param, info.value.rule) == ("card_id", rule)
    with pytest.raises(ValidationError) as info:
        prepare(op, path={"card_id": 1, "cardid": 2})
    assert (info.value.param, info.value.rule) == ("cardid", "unknown")


# ---------------------------------------------------------------------- secrets


def test_a_password_is_never_quoted_in_a_message() -> None:
    error = refusal("subaccounts_create", {"email": "jane@example.com", "password": 987654321})
    assert (error.param, error.rule) == ("password", "type")
    assert "987654321" not in str(error)


def test_a_long_value_is_truncated_in_a_message() -> None:
    long_value = "cam_" + "x" * 200 + "!"
    error = refusal("coupons_get", {"campaign": long_value})
    assert (error.param, error.rule) == ("campaign", "pattern")
    assert long_value not in str(error)
    assert "x" * 61 not in str(error)
    assert "205 characters" in str(error)
