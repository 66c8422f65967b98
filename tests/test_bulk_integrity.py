"""Bulk imports attacked on purpose: reused and edited journals, two runs at once, lost answers,
checks that fail, duplicate keys, endless 429s, unreadable input (issue 10)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx

from coupontools_async import APIError, AsyncClient, RateLimitError, RetryPolicy, ValidationError
from coupontools_async._journal import Journal
from coupontools_async.bulk import (
    BulkImportError,
    ImportProgress,
    JournalError,
    JournalLockedError,
    import_loyalty_users,
    import_wallet_users,
    read_csv,
)
from coupontools_async.errors import AuthenticationError, CoupontoolsError
from coupontools_async.sandbox import Sandbox
from tests.test_bulk import card_of, client_for, emails_on, journal_of, no_sleep, rows

pytestmark = pytest.mark.anyio

BULK = "/v4/loyalty/loyalty-cards/1/stats/bulk"
LIST = "/v4/loyalty/loyalty-cards/1/stats"


def users(count: int, prefix: str = "u") -> list[dict[str, Any]]:
    return [{"first_name": f"N{n}", "email": f"{prefix}{n}@example.com"} for n in range(count)]


def mocked(**kwargs: Any) -> AsyncClient:
    return AsyncClient(
        "id",
        "secret",
        base_url="https://api.test",
        retry=RetryPolicy(sleep=no_sleep, max_retries=kwargs.pop("max_retries", 2)),
        **kwargs,
    )


class Server:
    """A respx wallet card that creates what it is sent, with faults chosen per call."""

    def __init__(self) -> None:
        self.users: list[str] = []
        self.bulk_fault: Any = None
        self.list_fault: Any = None
        self.list_calls = 0

    def bulk(self, request: httpx.Request) -> httpx.Response:
        sent = [u["email"] for u in json.loads(request.content)]
        fault = self.bulk_fault(sent) if self.bulk_fault else None
        if fault == "lost":  # created, and the answer lost
            self.users.extend(sent)
            return httpx.Response(500, json={"message": "Server Error"})
        if isinstance(fault, httpx.Response):
            return fault
        self.users.extend(sent)
        return httpx.Response(200, json=[{"id": i} for i, _ in enumerate(sent, start=1)])

    def listing(self, request: httpx.Request) -> httpx.Response:
        self.list_calls += 1
        fault = self.list_fault() if self.list_fault else None
        if isinstance(fault, httpx.Response):
            return fault
        keyword = json.loads(request.content)["filter"]["keyword"]
        found = [e for e in self.users if e.casefold() == keyword.casefold()]
        return httpx.Response(200, json=[{"id": n, "email": e} for n, e in enumerate(found, 1)])

    @classmethod
    def refusing(cls, status: int, message: str = "Unauthenticated.") -> Server:
        """A card whose bulk create answers ``status`` every time, creating nothing."""
        server = cls()
        server.bulk_fault = lambda sent: httpx.Response(status, json={"message": message})
        return server

    def mount(self, mock: respx.MockRouter) -> None:
        mock.post(BULK).mock(side_effect=self.bulk)
        mock.get(LIST).mock(side_effect=self.listing)


# ------------------------------------------------------------------ journal reuse


async def test_a_journal_reused_for_other_rows_imports_them_and_counts_none_done(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    journal = tmp_path / "users.journal"
    async with client_for(sandbox) as ct:
        first = await ct.wallet_users.import_users(card_id, users(30, "a"), journal=journal)
        # The "fixed failures" file: other rows on the same lines.
        second = await ct.wallet_users.import_users(card_id, users(30, "b"), journal=journal)
    assert (first.created, second.created, second.skipped) == (30, 30, 0)
    assert sum(emails_on(sandbox, card_id).values()) == 60


async def test_an_edited_file_resumed_loses_no_row_and_duplicates_none(tmp_path: Path) -> None:
    sandbox = Sandbox(seed=2)
    card_id = card_of(sandbox)
    journal = tmp_path / "users.journal"
    data = users(3000)
    with anyio.CancelScope() as scope:

        def stop(progress: ImportProgress) -> None:
            if progress.created >= 1000:
                scope.cancel()

        async with client_for(sandbox) as ct:
            await ct.wallet_users.import_users(
                card_id, data, journal=journal, on_progress=stop, batch_size=50
            )
    assert scope.cancelled_caught
    # The user deletes one early line and adds a row: every later line number shifts.
    edited = data[:10] + data[11:] + [{"first_name": "New", "email": "new@example.com"}]
    async with client_for(sandbox) as ct:
        report = await ct.wallet_users.import_users(card_id, edited, journal=journal)
    emails = emails_on(sandbox, card_id)
    assert max(emails.values()) == 1
    wanted = {r["email"] for r in edited}
    assert wanted <= set(emails)  # nothing lost
    assert set(emails) - wanted <= {data[10]["email"]}  # only the deleted row, if sent before
    assert report.ok
    assert "new@example.com" in emails
    assert report.created + report.skipped == len(edited)


async def test_a_second_run_on_a_journal_in_use_refuses_naming_it(tmp_path: Path) -> None:
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    path = tmp_path / "users.journal"
    holder = journal_of(sandbox, card_id, path)
    holder.open()
    try:
        async with client_for(sandbox) as ct:
            with pytest.raises(JournalLockedError, match="in use") as caught:
                await ct.wallet_users.import_users(card_id, users(5), journal=path)
    finally:
        holder.close()
    assert str(path) in str(caught.value)
    assert sum(emails_on(sandbox, card_id).values()) == 0


@pytest.mark.parametrize(
    "damage",
    ["json lines of an old journal", "garbage", "a record changed by hand"],
)
async def test_a_journal_that_cannot_be_read_is_a_typed_error_naming_it(
    tmp_path: Path, damage: str
) -> None:
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    path = tmp_path / "users.journal"
    if damage == "json lines of an old journal":
        path.write_text('{"scope": "wallet:1", "status": "start"}\n{"status": "crea')
    elif damage == "garbage":
        path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)
    else:
        async with client_for(sandbox) as ct:
            await ct.wallet_users.import_users(card_id, users(3), journal=path)
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("UPDATE rows SET status = 'maybe' WHERE line = 2")
    async with client_for(sandbox) as ct:
        with pytest.raises(JournalError) as caught:
            await ct.wallet_users.import_users(card_id, users(3), journal=path)
    assert str(path) in str(caught.value)
    if damage == "a record changed by hand":
        assert "line 2" in str(caught.value)


# ------------------------------------------------------------- looking, not guessing


async def test_after_the_last_round_rows_the_last_attempt_created_are_found_not_resent() -> None:
    server = Server()
    server.bulk_fault = lambda sent: "lost"  # every attempt creates, every answer is lost
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with mocked() as ct:
            report = await import_wallet_users(ct, 1, users(5), batch_size=5)
    assert report.created == 5
    assert report.ok
    assert Counter(server.users) == Counter(u["email"] for u in users(5))


async def test_rows_whose_fate_cannot_be_seen_fail_as_unknown_and_a_resume_checks_them(
    tmp_path: Path,
) -> None:
    server = Server()
    journal = tmp_path / "j"
    server.bulk_fault = lambda sent: "lost"
    server.list_fault = lambda: httpx.Response(503, json={"message": "down"})
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with mocked() as ct:
            report = await import_wallet_users(ct, 1, users(4), batch_size=4, journal=journal)
        assert report.created == 0
        assert [f.reason.split(":")[0] for f in report.failed] == ["unknown"] * 4
        assert all("does not exist" not in f.reason for f in report.failed)
        # The server is back: the resume looks first, finds them, sends nothing.
        server.bulk_fault = None
        server.list_fault = None
        async with mocked() as ct:
            resumed = await import_wallet_users(ct, 1, users(4), batch_size=4, journal=journal)
    assert resumed.created == 4
    assert len(server.users) == 4  # none twice


@pytest.mark.parametrize("seed", [9, 15, 82])  # 15 and 82 have left "unknown" rows on the card
async def test_an_existence_check_that_fails_now_and_then_never_aborts_the_import(
    seed: int,
) -> None:
    sandbox = Sandbox(seed=seed)
    card_id = card_of(sandbox)
    sandbox.faults.inject(rate=0.4, kinds=["500", "503", "drop", "commit_drop"], retry_after=0.0)
    async with client_for(sandbox, max_retries=1) as ct:
        report = await ct.wallet_users.import_users(
            card_id, rows(600, bad_every=10**9), batch_size=20, concurrency=8
        )
    emails = emails_on(sandbox, card_id)
    assert max(emails.values()) == 1
    assert report.total == 600
    assert report.created + len(report.failed) == 600
    unknown = {f.data["email"] for f in report.failed if f.reason.startswith("unknown:")}
    not_created = {f.data["email"] for f in report.failed if f.reason.startswith("not created:")}
    assert len(unknown) + len(not_created) == len(report.failed)  # each failure says which
    assert not not_created & set(emails)  # "not created" is true
    # every row counted as created is on the card; only an "unknown" one may be there uncounted
    assert report.created == len(set(emails) - unknown)


async def test_resume_checks_rows_in_flight_in_parallel_within_the_bound(tmp_path: Path) -> None:
    server = Server()
    journal = tmp_path / "j"
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        server.bulk_fault = lambda sent: httpx.Response(401, json={"message": "Unauthenticated."})
        async with mocked() as ct:
            with pytest.raises(AuthenticationError):
                await import_wallet_users(ct, 1, users(40), batch_size=40, journal=journal)
        # Make the 40 rows "in flight when the run died".
        with closing(sqlite3.connect(journal)) as db, db:
            db.execute("UPDATE rows SET status = 'sending'")
        in_flight = {"now": 0, "most": 0}

        async def slow_listing(request: httpx.Request) -> httpx.Response:
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])
            await anyio.sleep(0.01)
            in_flight["now"] -= 1
            return server.listing(request)

        mock.get(LIST).mock(side_effect=slow_listing)
        server.bulk_fault = None
        async with mocked() as ct:
            report = await import_wallet_users(
                ct, 1, users(40), batch_size=40, journal=journal, concurrency=8
            )
    assert report.created == 40
    assert server.list_calls == 40
    assert in_flight["most"] == 8


# ---------------------------------------------------------------- duplicate keys


async def test_two_rows_with_one_email_are_one_user_even_through_faults() -> None:
    sandbox = Sandbox(seed=4)
    card_id = card_of(sandbox)
    data = users(200)
    data.insert(100, {"first_name": "Twin", "email": "U7@example.com"})  # u7, another case
    sandbox.faults.inject(rate=0.3, kinds=["500", "commit_drop"], retry_after=0.0)
    async with client_for(sandbox, max_retries=10) as ct:
        report = await ct.wallet_users.import_users(card_id, data, batch_size=10)
    emails = Counter(e.casefold() for e in emails_on(sandbox, card_id).elements())
    assert emails["u7@example.com"] == 1
    assert max(emails.values()) == 1
    (twin,) = [f for f in report.failed if f.line == 101]
    assert twin.reason == "the same email as line 8: not sent twice"
    assert report.created == 200


async def test_an_email_imported_by_an_earlier_run_with_other_fields_is_not_sent_again(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    journal = tmp_path / "j"
    async with client_for(sandbox) as ct:
        await ct.wallet_users.import_users(card_id, users(3), journal=journal)
        edited = [{"first_name": "Renamed", "email": "u1@example.com"}]
        report = await ct.wallet_users.import_users(card_id, edited, journal=journal)
    assert sum(emails_on(sandbox, card_id).values()) == 3
    assert "earlier run" in report.failed[0].reason


# ----------------------------------------------------------------- the v3 path


class LoseFirstCreateAnswer(httpx.AsyncBaseTransport):
    """The sandbox, except that the first v3 create is carried out and its answer lost."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lost = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/loyaltyusers/create") and not self.lost:
            self.lost = True
            await response.aread()
            raise httpx.ReadError("connection reset", request=request)
        return response


async def test_a_v3_create_whose_answer_was_lost_is_never_reported_skipped() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    card = next(iter(sandbox.state.loyalty.cards))
    data = [{"email": "lost@example.com", "password": "s3cret-pass"}]
    transport = LoseFirstCreateAnswer(sandbox.transport())
    async with AsyncClient(
        "sandbox-client-id", "sandbox-client-secret", transport=transport, max_retries=0
    ) as ct:
        task = await import_loyalty_users(ct, card, data)
    assert transport.lost
    assert task.skipped == 0
    (failed,) = task.failed
    # The create landed (the account has the email) but the answer with its id did not;
    # v3 searches users only within a card, so the importer says so instead of guessing.
    assert "answer was lost" in failed.reason
    assert "lost@example.com" in sandbox.state.loyalty.user_by_email


async def test_a_v3_user_already_on_another_card_is_found_and_linked() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    first, second = list(sandbox.state.loyalty.cards)[:2]
    data = [{"email": "moving@example.com", "password": "s3cret-pass"}]
    async with client_for(sandbox) as ct:
        await import_loyalty_users(ct, first, data)
        report = await import_loyalty_users(ct, second, data)
        listing = await ct.loyalty_users.list(loyaltycard=second)
    assert report.created == 1
    assert "moving@example.com" in [u.email for u in listing.users or []]


async def test_a_bad_loyalty_card_id_is_refused_before_anything_is_sent() -> None:
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        async with mocked() as ct:
            with pytest.raises(ValidationError, match="loyaltycard"):
                await import_loyalty_users(ct, "12", users(2))
    assert not mock.calls


# ----------------------------------------------------- bounded waits, typed errors


async def test_a_huge_retry_after_stops_the_import_at_once_with_rows_reported() -> None:
    server = Server()
    server.bulk_fault = lambda sent: httpx.Response(429, headers={"Retry-After": "99999999"})
    started = anyio.current_time()
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with AsyncClient("id", "secret", base_url="https://api.test") as ct:
            with pytest.raises(RateLimitError) as caught:
                await import_wallet_users(ct, 1, users(30), batch_size=10, concurrency=1)
    assert anyio.current_time() - started < 5
    assert caught.value.retry_after == 99999999
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.created == 0
    assert {f.line for f in report.failed} >= {1, 2, 3}
    # The refused request's rows were not created (a 429 is never acted on); the rest were
    # not sent.
    reasons = {f.line: f.reason for f in report.failed}
    assert all(reasons[line].startswith("not created: HTTP 429") for line in range(1, 11))
    assert all(r.startswith(("not created:", "not sent:")) for r in reasons.values())


async def test_a_429_that_never_ends_stops_after_the_overall_bound() -> None:
    server = Server()
    server.bulk_fault = lambda sent: httpx.Response(429, headers={"Retry-After": "2"})
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)
        await anyio.lowlevel.checkpoint()

    policy = RetryPolicy(sleep=fake_sleep, max_retries=2)
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with AsyncClient("id", "secret", base_url="https://api.test", retry=policy) as ct:
            with pytest.raises(RateLimitError):
                await import_wallet_users(ct, 1, users(5), max_wait=30)
    assert server.users == []
    assert 30 - 2 <= sum(waited) <= 30 + 2 * 2  # the bound, plus one call's own retries


async def test_one_worker_error_escapes_as_itself_never_an_exception_group() -> None:
    server = Server.refusing(401)
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with mocked() as ct:
            with pytest.raises(AuthenticationError) as caught:
                await import_wallet_users(ct, 1, users(50), batch_size=5, concurrency=4)
    assert not hasattr(caught.value, "exceptions")  # not an ExceptionGroup
    assert len(caught.value.report.failed) >= 5  # type: ignore[attr-defined]


@pytest.mark.parametrize("workers", [2, 4])
async def test_the_same_error_from_every_worker_in_flight_escapes_as_itself(workers: int) -> None:
    # Every worker's request is on the wire before the first answer comes back (as over
    # a real network): each gets its own 401, and still one AuthenticationError escapes.
    arrived = 0
    all_out = anyio.Event()

    async def bulk(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        arrived += 1
        if arrived == workers:
            all_out.set()
        with anyio.fail_after(5):
            await all_out.wait()
        return httpx.Response(401, json={"message": "Unauthenticated."})

    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        mock.post(BULK).mock(side_effect=bulk)
        async with mocked() as ct:
            with pytest.raises(AuthenticationError) as caught:
                await import_wallet_users(ct, 1, users(50), batch_size=5, concurrency=workers)
    assert arrived == workers  # all of them were out, and none started after the error
    assert not hasattr(caught.value, "exceptions")
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.created == 0
    # A request whose 401 came back: its rows were not created. One still on the wire
    # when the import stopped: unknown, for a resume to check. Read and not sent: "not
    # sent". The rest of the input was never read.
    refused = [f for f in report.failed if f.reason.startswith("not created: HTTP 401")]
    on_wire = [f for f in report.failed if f.reason.startswith("unknown: on the wire")]
    assert len(refused) >= 5
    assert len(refused) % 5 == 0
    assert len(refused) + len(on_wire) == workers * 5
    assert all(
        f.reason.startswith(("not created: HTTP 401", "unknown: on the wire", "not sent"))
        for f in report.failed
    )


async def test_rows_the_server_refused_are_reported_not_created_and_resent_without_a_lookup(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "users.journal"
    server = Server.refusing(401)
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with mocked() as ct:
            with pytest.raises(AuthenticationError) as caught:
                await import_wallet_users(
                    ct, 1, users(30), batch_size=10, concurrency=1, journal=journal
                )
        report = caught.value.report  # type: ignore[attr-defined]
        refused = {f.line: f.reason for f in report.failed if f.reason.startswith("not created")}
        assert set(refused) == set(range(1, 11))
        assert all("401" in reason and "Unauthenticated." in reason for reason in refused.values())

        server.bulk_fault = None  # the credentials are fixed: the same journal, resumed
        async with mocked() as ct:
            done = await import_wallet_users(ct, 1, users(30), batch_size=10, journal=journal)
    assert (done.created, done.failed) == (30, [])
    assert server.list_calls == 0  # nothing was in doubt: no lookups
    assert sorted(server.users) == sorted(u["email"] for u in users(30))


@pytest.mark.parametrize("status", [408, 409])
async def test_a_408_or_409_to_a_create_is_never_called_not_created(status: int) -> None:
    server = Server.refusing(status, "Hmm.")
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with mocked(max_retries=0) as ct:
            with pytest.raises(APIError) as caught:
                await import_wallet_users(ct, 1, users(10), batch_size=10, concurrency=1)
    report = caught.value.report  # type: ignore[attr-defined]
    assert report.failed
    assert all(f.reason.startswith("unknown:") for f in report.failed)


async def test_a_failure_that_is_not_ours_escapes_as_a_bulk_import_error() -> None:
    def broken(progress: ImportProgress) -> None:
        raise KeyError("the user's progress hook is broken")

    server = Server()
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with mocked() as ct:
            with pytest.raises(BulkImportError) as caught:
                await import_wallet_users(ct, 1, users(20), batch_size=5, on_progress=broken)
    assert isinstance(caught.value, CoupontoolsError)
    assert isinstance(caught.value.exceptions[0], KeyError)
    assert caught.value.report.total <= 20


@pytest.mark.parametrize("card_id", [0, -3, "12", True, 1.5])
async def test_a_bad_card_id_is_refused_before_anything_is_sent(card_id: Any) -> None:
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        async with mocked() as ct:
            with pytest.raises(ValidationError, match="card_id"):
                await import_wallet_users(ct, card_id, users(2))
    assert not mock.calls


@pytest.mark.parametrize("concurrency", [0, 65, 10_000])
async def test_concurrency_outside_1_to_64_is_refused(concurrency: int) -> None:
    async with mocked() as ct:
        with pytest.raises(ValidationError, match="concurrency"):
            await import_wallet_users(ct, 1, users(2), concurrency=concurrency)


# ------------------------------------------------------------ input people have


async def test_a_header_the_card_cannot_take_is_one_error_up_front(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "first_name,email,favourite_colour\n"
        + "".join(f"A{n},a{n}@example.com,blue\n" for n in range(500))
    )
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        async with mocked() as ct:
            with pytest.raises(ValidationError, match="favourite_colour"):
                await import_wallet_users(ct, 1, read_csv(source))
    assert not mock.calls


async def test_unreadable_records_fail_with_their_line_and_the_rest_import(
    tmp_path: Path,
) -> None:
    source = tmp_path / "users.csv"
    source.write_bytes(
        b"first_name,email\n"
        b"Ann,ann@example.com\n"
        b"Bad\xff\xfe,bad@example.com\n"
        b'"' + b"x" * 200_000 + b'",huge@example.com\n'
        b"Cid,cid@example.com\n"
    )
    server = Server()
    with respx.mock(base_url="https://api.test", assert_all_called=False) as mock:
        server.mount(mock)
        async with mocked() as ct:
            report = await import_wallet_users(ct, 1, read_csv(source))
    assert sorted(server.users) == ["ann@example.com", "cid@example.com"]
    reasons = {f.line: f.reason for f in report.failed}
    assert sorted(reasons) == [3, 4]
    assert "cp1252" in reasons[3]
    assert "field larger than field limit" in reasons[4]


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("\ufefffirst_name,email\nZoë,zoe@example.com\n".encode(), "utf-8-sig"),
        ("first_name;email\nZoë;zoe@example.com\n".encode(), "utf-8-sig"),
        ("first_name;email\r\nZoë;zoe@example.com\r\n".encode("cp1252"), "cp1252"),
        ("first_name\temail\nZoë\tzoe@example.com\n".encode(), "utf-8-sig"),
    ],
    ids=["bom", "semicolons", "cp1252-excel", "tabs"],
)
async def test_spreadsheet_exports_are_read(tmp_path: Path, content: bytes, encoding: str) -> None:
    source = tmp_path / "users.csv"
    source.write_bytes(content)
    assert next(iter(read_csv(source, encoding=encoding))).data == {
        "first_name": "Zoë",
        "email": "zoe@example.com",
    }


async def test_a_cp1252_file_read_as_utf8_fails_its_rows_saying_which_encoding_to_try(
    tmp_path: Path,
) -> None:
    source = tmp_path / "users.csv"
    source.write_bytes("first_name;email\r\nZoë;zoe@example.com\r\n".encode("cp1252"))
    (row,) = list(read_csv(source))
    assert "cp1252" in row.data["__invalid__"]


def everything_in(folder: Path) -> bytes:
    """The bytes of every file in ``folder`` (the journal and anything beside it)."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()))


async def test_the_journal_holds_no_field_of_a_row_in_the_clear(tmp_path: Path) -> None:
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    journal = tmp_path / "j"
    data = [{"first_name": "Secretive", "email": "private.person@example.com"}]
    async with client_for(sandbox) as ct:
        await ct.wallet_users.import_users(card_id, data, journal=journal)
    written = everything_in(tmp_path)
    assert b"private.person" not in written
    assert b"Secretive" not in written


# ------------------------------------------------------------- durable before reported


@pytest.mark.parametrize("batch_size", [1, 7])
async def test_progress_never_counts_a_row_whose_outcome_is_not_yet_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    # Outcomes are committed with the next batch's "sending" mark: whatever a progress
    # hook (or the report) is told is done must already be durable, never just written.
    written: dict[bytes, str] = {}
    committed: dict[bytes, str] = {}
    real_mark, real_commit = Journal.mark, Journal.commit

    def mark(self: Journal, fps: list[tuple[bytes, int]], status: str, **kw: Any) -> None:
        real_mark(self, fps, status, **kw)
        written.update((fp, status) for fp, _ in fps)

    def commit(self: Journal) -> None:
        real_commit(self)
        committed.update(written)

    monkeypatch.setattr(Journal, "mark", mark)
    monkeypatch.setattr(Journal, "commit", commit)
    seen: list[ImportProgress] = []

    def hook(progress: ImportProgress) -> None:
        durable = sum(1 for status in committed.values() if status == "created")
        assert progress.created <= durable, (progress, durable)
        in_flight = [fp for fp, status in written.items() if status == "sending"]
        assert all(committed.get(fp) == "sending" for fp in in_flight)
        seen.append(progress)

    sandbox = Sandbox()
    card_id = card_of(sandbox)
    data = users(120, "d") + [{"first_name": "Bad", "email": "not-an-email"}] * 3
    async with client_for(sandbox) as ct:
        report = await ct.wallet_users.import_users(
            card_id,
            data,
            concurrency=4,
            batch_size=batch_size,
            journal=tmp_path / "j",
            on_progress=hook,
        )
    assert (report.created, len(report.failed)) == (120, 3)
    assert seen
    assert seen[-1].created == 120
    assert sum(1 for status in committed.values() if status == "created") == 120
