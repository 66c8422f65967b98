"""Phone numbers: national numbers read for a default region (the ``phone`` extra), invalid
ones refused with the reason before sending, and today's E.164 rule without a region."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import anyio
import pytest

from coupontools_async import AsyncClient, ValidationError
from coupontools_async._validation import normalize_e164
from coupontools_async.sandbox import Sandbox

CARD = 1  # a card of every seeded sandbox

# (written as a marketing list has it, its country, E.164 as phonenumbers reads it)
NATIONAL = [
    ("0470 12 34 56", "BE", "+32470123456"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("030 123456", "DE", "+4930123456"),
    ("(201) 555-0123", "US", "+12015550123"),
    ("07911 123456", "GB", "+447911123456"),
    ("0412 345 678", "AU", "+61412345678"),
]


def sandbox() -> Sandbox:
    return Sandbox.seeded(seed=3, sessions=10)


def phones_of(box: Sandbox) -> list[str | None]:
    return [user.phone for user in box.state.wallet.cards[CARD].users.values()]


@pytest.fixture
def without_phonenumbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the ``phone`` extra were not installed: ``import phonenumbers`` fails."""
    monkeypatch.setitem(sys.modules, "phonenumbers", None)


# ------------------------------------------------------------ with a default region


@pytest.mark.parametrize(("written", "region", "e164"), NATIONAL)
def test_a_national_number_becomes_e164_with_its_default_region(
    written: str, region: str, e164: str
) -> None:
    assert normalize_e164(written, default_region=region) == e164


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+44 (0)7911 123456", "+447911123456"),
    ],
)
def test_an_international_number_keeps_its_own_country_whatever_the_region(
    written: str, e164: str
) -> None:
    assert normalize_e164(written, default_region="BE") == e164


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("+1 555 0100", "a local number of US (+1), without its area code"),
        ("+32 400 00 00 00", "no number of BE (+32) has this form"),
        ("0470 12", "is not a valid phone number"),
        ("+999 123456", "is not a phone number (Could not interpret numbers after plus-sign)"),
        ("0470 12 34 56 ext 5", "only digits, + and separators"),
        ("1-800-FLOWERS", "only digits, + and separators"),
        ("", "is not a phone number"),
        ("4" * 300, "is not a phone number"),
    ],
)
def test_an_invalid_number_is_refused_with_the_reason(written: str, reason: str) -> None:
    with pytest.raises(ValidationError, match="phone") as caught:
        normalize_e164(written, param="phone", default_region="BE")
    assert reason in str(caught.value)
    assert caught.value.param == "phone"
    assert caught.value.rule == "e164"


def test_the_same_national_number_means_another_country_under_another_region() -> None:
    assert normalize_e164("06 12 34 56 78", default_region="FR") == "+33612345678"
    with pytest.raises(ValidationError, match="not a valid phone number"):
        normalize_e164("06 12 34 56 78", default_region="US")


def test_the_region_is_case_insensitive_and_an_unknown_one_is_refused() -> None:
    assert normalize_e164("0470 12 34 56", default_region=" be ") == "+32470123456"
    with pytest.raises(ValidationError, match="'XX' is not a region code") as caught:
        AsyncClient("id-123456789", "secret-123456789", default_region="XX")
    assert caught.value.param == "default_region"


@pytest.mark.anyio
async def test_a_client_wide_region_sends_national_numbers_as_e164() -> None:
    box = sandbox()
    async with box.client(default_region="BE") as ct:
        user = await ct.wallet_users.create(CARD, first_name="Ann", phone="0470 12 34 56")
    assert user.phone == "+32470123456"
    assert phones_of(box)[-1] == "+32470123456"


@pytest.mark.anyio
async def test_a_client_wide_region_refuses_an_invalid_number_before_sending() -> None:
    box = sandbox()
    before = phones_of(box)
    async with box.client(default_region="BE") as ct:
        with pytest.raises(ValidationError, match="a local number of US"):
            await ct.wallet_users.create(CARD, first_name="Bob", phone="+1 555 0100")
    assert phones_of(box) == before


@pytest.mark.anyio
async def test_a_view_of_the_client_keeps_its_region() -> None:
    box = sandbox()
    async with box.client(default_region="FR") as ct:
        view = ct.with_options(max_retries=0)
        user = await view.wallet_users.create(CARD, first_name="Chloé", phone="06 12 34 56 78")
    assert user.phone == "+33612345678"


@pytest.mark.anyio
async def test_two_clients_with_other_regions_at_once_each_use_their_own() -> None:
    box = sandbox()
    got: dict[str, str | None] = {}

    async def create(region: str, written: str) -> None:
        async with box.client(default_region=region) as ct:
            for _ in range(5):
                user = await ct.wallet_users.create(CARD, first_name=region, phone=written)
                got[region] = user.phone
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(create, "BE", "0470 12 34 56")
        tg.start_soon(create, "GB", "07911 123456")
    assert got == {"BE": "+32470123456", "GB": "+447911123456"}


@pytest.mark.anyio
async def test_an_import_reads_its_rows_national_numbers_for_its_region() -> None:
    box = sandbox()
    rows = [
        {"first_name": "Ann", "email": "ann@example.com", "phone": "0470 12 34 56"},
        {"first_name": "Bob", "email": "bob@example.com", "phone": "+1 555 0100"},
        {"first_name": "Cas", "email": "cas@example.com", "phone": "+33 6 12 34 56 78"},
    ]
    async with box.client() as ct:  # no client-wide region: the import's own
        report = await ct.wallet_users.import_users(CARD, rows, default_region="BE")
    assert report.created == 2
    assert [(f.line, "a local number of US" in f.reason) for f in report.failed] == [(2, True)]
    assert phones_of(box)[-2:] == ["+32470123456", "+33612345678"]


@pytest.mark.anyio
async def test_an_import_region_wins_over_the_clients() -> None:
    box = sandbox()
    rows = [{"first_name": "Ann", "email": "ann@example.com", "phone": "0470 12 34 56"}]
    async with box.client(default_region="FR") as ct:
        report = await ct.wallet_users.import_users(CARD, rows, default_region="BE")
    assert report.created == 1
    assert phones_of(box)[-1] == "+32470123456"


@pytest.mark.anyio
async def test_a_loyalty_import_reads_national_numbers_for_the_clients_region() -> None:
    box = sandbox()
    async with box.client(default_region="BE") as ct:
        cards = await ct.loyalty_cards.list()
        loyaltycard = cards.loyaltycard[0].id
        assert loyaltycard is not None
        rows = [
            {
                "first_name": "Ann",
                "email": "ann.l@example.com",
                "password": "pw-0470-ann",
                "phone": "0470 12 34 56",
            }
        ]
        report = await ct.loyalty_users.import_users(loyaltycard=loyaltycard, rows=rows)
        assert report.failed == []
        found = await ct.loyalty_users.search(loyaltycard=loyaltycard, search="ann.l@example.com")
    assert [user.phone for user in found.users] == ["+32470123456"]


@pytest.mark.anyio
async def test_an_import_with_an_unknown_region_fails_before_reading_a_row() -> None:
    read: list[int] = []

    def rows() -> Iterator[dict[str, str]]:
        read.append(1)
        yield {"first_name": "Ann"}

    async with sandbox().client() as ct:
        with pytest.raises(ValidationError, match="default_region"):
            await ct.wallet_users.import_users(CARD, rows(), default_region="Belgium")
    assert read == []


# --------------------------------------------------------- without a default region


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+32 470 12 34 56", "+32470123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+1 (201) 555-0123", "+12015550123"),
        ("+81 3-1234-5678", "+81312345678"),
    ],
)
def test_without_a_region_international_numbers_follow_todays_rule(written: str, e164: str) -> None:
    assert normalize_e164(written) == e164


def test_without_a_region_a_national_number_is_refused_saying_what_would_read_it() -> None:
    with pytest.raises(ValidationError, match="international form") as caught:
        normalize_e164("0470 12 34 56", param="phone")
    assert "default_region='BE'" in str(caught.value)
    assert "pip install" not in str(caught.value)  # the extra is installed here


@pytest.mark.anyio
async def test_without_a_region_the_client_refuses_a_national_number_before_sending() -> None:
    box = sandbox()
    before = phones_of(box)
    async with box.client() as ct:
        with pytest.raises(ValidationError, match="international form"):
            await ct.wallet_users.create(CARD, first_name="Ann", phone="0470 12 34 56")
    assert phones_of(box) == before


# ----------------------------------------------------------------- without the extra


@pytest.mark.usefixtures("without_phonenumbers")
def test_without_the_extra_a_national_number_error_says_what_to_install() -> None:
    with pytest.raises(ValidationError) as caught:
        normalize_e164("0470 12 34 56", param="phone")
    message = str(caught.value)
    assert "pip install 'coupontools-async[phone]'" in message
    assert "default_region='BE'" in message


@pytest.mark.usefixtures("without_phonenumbers")
def test_without_the_extra_international_numbers_still_follow_todays_rule() -> None:
    assert normalize_e164("+44 7911 123456") == "+447911123456"
    assert normalize_e164("+1 555 0100") == "+15550100"  # what the extra would refuse


@pytest.mark.usefixtures("without_phonenumbers")
def test_without_the_extra_a_client_region_is_refused_at_once_saying_what_to_install() -> None:
    with pytest.raises(ValidationError, match=r"pip install 'coupontools-async\[phone\]'") as c:
        AsyncClient("id-123456789", "secret-123456789", default_region="BE")
    assert c.value.param == "default_region"


@pytest.mark.usefixtures("without_phonenumbers")
def test_without_the_extra_an_import_region_is_refused_saying_what_to_install() -> None:
    with pytest.raises(ValidationError, match=r"coupontools-async\[phone\]"):
        normalize_e164("0470 12 34 56", default_region="BE")


@pytest.mark.anyio
async def test_a_refused_number_leaves_no_region_behind_for_the_next_call() -> None:
    box = sandbox()
    async with box.client(default_region="BE") as with_region, box.client() as without:
        with pytest.raises(ValidationError, match="a local number of US"):
            await with_region.wallet_users.create(CARD, first_name="Bob", phone="+1 555 0100")
        with pytest.raises(ValidationError, match="international form"):
            await without.wallet_users.create(CARD, first_name="Ann", phone="0470 12 34 56")
    with pytest.raises(ValidationError, match="international form"):
        normalize_e164("0470 12 34 56")


def test_a_region_on_a_number_that_is_not_text_is_a_type_error() -> None:
    with pytest.raises(ValidationError, match="expected a phone number string") as caught:
        normalize_e164(470123456, default_region="BE")  # type: ignore[arg-type]
    assert caught.value.rule == "type"
