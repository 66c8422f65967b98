"""Bulk imports against the sandbox: nothing lost, nothing duplicated, resumable."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
import respx

from coupontools_async import AsyncClient, RetryEvent, RetryPolicy, models
from coupontools_async._journal import Journal, fingerprint
from coupontools_async.bulk import (
    ImportProgress,
    JournalError,
    Row,
    read_csv,
    read_jsonl,
    validate_wallet_row,
)
from coupontools_async.sandbox import Sandbox

pytestmark = pytest.mark.anyio

BAD_KINDS = ("bad email", "bad phone", "unknown column")


async def no_sleep(_: float) -> None:
    await anyio.lowlevel.checkpoint()


def rows(count: int, *, bad_every: int = 100) -> list[dict[str, Any]]:
    """``count`` users; every ``bad_every``-th one breaks a documented rule."""
    result: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        row: dict[str, Any] = {
            "first_name": f"User{n}",
            "last_name": "Import",
            "email": f"user{n}@example.com",
            "phone": f"+3247{n:07d}",
        }
        if n % bad_every == 0:
            kind = BAD_KINDS[(n // bad_every) % len(BAD_KINDS)]
            if kind == "bad email":
                row["email"] = f"user{n}-at-example.com"
            elif kind == "bad phone":
                row["phone"] = "0470 12 34"
            else:
                row["favourite_colour"] = "blue"
        result.append(row)
    return result


def card_of(sandbox: Sandbox) -> int:
    card = sandbox.state.wallet.new_card(
        name="Import target", type="stamp", reward_name="Free coffee"
    )
    return int(card.id)


def emails_on(sandbox: Sandbox, card_id: int) -> Counter[str]:
    card = sandbox.state.wallet.cards[card_id]
    return Counter(str(u.email) for u in card.users.values())


def client_for(sandbox: Sandbox, **kwargs: Any) -> AsyncClient:
    return sandbox.client(
        max_retries=kwargs.pop("max_retries", 10), retry=RetryPolicy(sleep=no_sleep), **kwargs
    )


async def test_5000_rows_with_50_bad_ones_import_4950_and_report_the_50() -> None:
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    async with client_for(sandbox) as ct:
        report = await ct.wallet_users.import_users(card_id, rows(5000), concurrency=16)
    emails = emails_on(sandbox, card_id)
    assert sum(emails.values()) == 4950
    assert report.created == 4950
    assert len(report.failed) == 50
    assert {f.line for f in report.failed} == set(range(100, 5001, 100))
    reasons = {f.line: f.reason for f in report.failed}
    assert "email" in reasons[100] or "phone" in reasons[100] or "favourite_colour" in reasons[100]
    assert all(f.reason for f in report.failed)
    assert report.failed[0].data["first_name"].startswith("User")


async def test_with_faults_including_commit_then_drop_still_exactly_4950_no_duplicates() -> None:
    sandbox = Sandbox(seed=11)
    card_id = card_of(sandbox)
    sandbox.faults.inject(
        rate=0.15,
        kinds=["500", "503", "429", "drop", "commit_drop", "refuse"],
        retry_after=0.01,
    )
    async with client_for(sandbox, max_retries=20) as ct:
        report = await ct.wallet_users.import_users(card_id, rows(5000), concurrency=16)
    emails = emails_on(sandbox, card_id)
    assert sandbox.faults.injected["commit_drop"] > 0
    assert sum(emails.values()) == 4950
    assert max(emails.values()) == 1  # no duplicate
    assert report.created == 4950
    assert len(report.failed) == 50


async def test_1000_users_through_20_percent_faults_are_exactly_1000() -> None:
    sandbox = Sandbox(seed=5)
    card_id = card_of(sandbox)
    sandbox.faults.inject(
        rate=0.2,
        kinds=["500", "502", "503", "504", "429", "drop", "commit_drop"],
        retry_after=0.01,
    )
    async with client_for(sandbox, max_retries=30) as ct:
        report = await ct.wallet_users.import_users(
            card_id, rows(1000, bad_every=10**9), batch_size=20, concurrency=8
        )
    emails = emails_on(sandbox, card_id)
    assert report.ok
    assert sum(emails.values()) == 1000
    assert max(emails.values()) == 1


async def test_a_run_cancelled_half_way_resumes_from_its_journal_exactly_once(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(seed=3)
    card_id = card_of(sandbox)
    journal = tmp_path / "import.journal"
    data = rows(5000)
    with anyio.CancelScope() as scope:

        def stop_half_way(progress: ImportProgress) -> None:
            if progress.created >= 2400:
                scope.cancel()

        async with client_for(sandbox) as ct:
            await ct.wallet_users.import_users(
                card_id, data, concurrency=16, journal=journal, on_progress=stop_half_way
            )
    assert scope.cancelled_caught
    half = sum(emails_on(sandbox, card_id).values())
    assert 2400 <= half < 4950

    async with client_for(sandbox) as ct:
        report = await ct.wallet_users.import_users(card_id, data, concurrency=16, journal=journal)
    emails = emails_on(sandbox, card_id)
    assert sum(emails.values()) == 4950
    assert max(emails.values()) == 1
    assert report.skipped > 0
    assert report.created + report.skipped == 4950
    assert len(report.failed) == 50


def journal_of(sandbox: Sandbox, card_id: int, path: Path) -> Journal:
    return Journal(path, target=f"{urlsplit(sandbox.client().base_url).netloc}/wallet/{card_id}")


async def test_a_batch_in_flight_when_the_run_died_is_checked_not_resent(tmp_path: Path) -> None:
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    path = tmp_path / "j"
    data = rows(10, bad_every=10**9)
    # The run died after sending lines 1-10 and the server created them.
    async with client_for(sandbox) as ct:
        await ct.wallet_users.create_many(card_id, data)
    journal = journal_of(sandbox, card_id, path)
    journal.open()
    wires = [validate_wallet_row(Row(n, d)) for n, d in enumerate(data, start=1)]
    journal.mark([(fingerprint(w), n) for n, w in enumerate(wires, start=1)], "sending")
    journal.close()
    async with client_for(sandbox) as ct:
        report = await ct.wallet_users.import_users(card_id, data, journal=path)
    assert sum(emails_on(sandbox, card_id).values()) == 10
    assert report.created == 10  # found on the server, not sent again


async def test_a_journal_of_another_card_is_refused_naming_it(tmp_path: Path) -> None:
    sandbox = Sandbox()
    card_id, other = card_of(sandbox), card_of(sandbox)
    path = tmp_path / "j"
    async with client_for(sandbox) as ct:
        await ct.wallet_users.import_users(card_id, rows(3), journal=path)
        with pytest.raises(JournalError, match="another import") as caught:
            await ct.wallet_users.import_users(other, rows(3), journal=path)
    assert str(path) in str(caught.value)
    assert sum(emails_on(sandbox, other).values()) == 0  # refused before anything was sent


async def test_rows_stream_from_csv_and_jsonl_files_with_their_line_numbers(tmp_path: Path) -> None:
    csv_path = tmp_path / "users.csv"
    csv_path.write_text(
        "first_name,last_name,email,phone\n"
        "Ann,Lee,ann@example.com,+32470000001\n"
        "\n"
        "Bob,Lee,not-an-email,+32470000002\n"
        "Cid,Lee,cid@example.com,\n"
    )
    jsonl_path = tmp_path / "users.jsonl"
    jsonl_path.write_text(
        '{"first_name": "Dee", "email": "dee@example.com"}\n'
        "[1, 2]\n"
        '{"first_name": "Eve", "email": "eve@example.com", "custom_1": "vip"}\n'
    )
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    async with client_for(sandbox) as ct:
        from_csv = await ct.wallet_users.import_users(card_id, read_csv(csv_path))
        from_jsonl = await ct.wallet_users.import_users(card_id, read_jsonl(jsonl_path))
    assert from_csv.created == 2
    assert [(f.line, "email" in f.reason) for f in from_csv.failed] == [(4, True)]
    assert from_jsonl.created == 2
    assert [f.line for f in from_jsonl.failed] == [2]
    assert sum(emails_on(sandbox, card_id).values()) == 4


async def test_rows_can_be_an_async_iterable_of_models() -> None:
    async def source() -> AsyncIterator[models.WalletUserInput]:
        for n in range(5):
            yield models.WalletUserInput(first_name=f"M{n}", email=f"m{n}@example.com")

    sandbox = Sandbox()
    card_id = card_of(sandbox)
    async with client_for(sandbox) as ct:
        report = await ct.wallet_users.import_users(card_id, source(), batch_size=2)
    assert report.created == 5


async def test_progress_is_reported_with_counts_and_rate() -> None:
    seen: list[ImportProgress] = []
    sandbox = Sandbox()
    card_id = card_of(sandbox)
    async with client_for(sandbox) as ct:
        await ct.wallet_users.import_users(
            card_id, rows(300), batch_size=50, on_progress=seen.append
        )
    last = seen[-1]
    assert last.done == 300
    assert last.created == 297
    assert last.failed == 3
    assert last.rate > 0
    assert [p.done for p in seen] == sorted(p.done for p in seen)


async def test_a_batch_refused_for_one_row_is_split_so_the_good_rows_go_in() -> None:
    created: list[str] = []

    def bulk(request: httpx.Request) -> httpx.Response:
        users = json.loads(request.content)
        if any(u["email"].startswith("refused") for u in users):
            return httpx.Response(422, json={"message": "The given data was invalid."})
        created.extend(u["email"] for u in users)
        return httpx.Response(200, json=[{"id": i} for i, _ in enumerate(users, start=1)])

    data = [{"email": f"u{n}@example.com"} for n in range(10)]
    data[6]["email"] = "refused@example.com"
    with respx.mock(base_url="https://api.test") as mock:
        mock.post("/v4/loyalty/loyalty-cards/1/stats/bulk").mock(side_effect=bulk)
        async with AsyncClient("id", "secret", base_url="https://api.test") as ct:
            report = await ct.wallet_users.import_users(1, data, batch_size=10)
    assert report.created == 9
    assert [(f.line, f.reason) for f in report.failed] == [(7, "The given data was invalid.")]
    assert sorted(created) == sorted(
        d["email"] for d in data if d["email"] != "refused@example.com"
    )


async def test_a_429_pauses_every_worker_together() -> None:
    sent_at: list[float] = []
    seen_429: list[float] = []
    state = {"calls": 0}

    def bulk(request: httpx.Request) -> httpx.Response:
        state["calls"] += 1
        if state["calls"] == 6:
            return httpx.Response(429, headers={"Retry-After": "0.4"})
        sent_at.append(anyio.current_time())
        users = json.loads(request.content)
        return httpx.Response(200, json=[{"id": 1} for _ in users])

    def observed(event: RetryEvent) -> None:
        if event.status_code == 429:
            seen_429.append(anyio.current_time())

    with respx.mock(base_url="https://api.test") as mock:
        mock.post("/v4/loyalty/loyalty-cards/1/stats/bulk").mock(side_effect=bulk)
        async with AsyncClient(
            "id", "secret", base_url="https://api.test", on_retry=observed
        ) as ct:
            report = await ct.wallet_users.import_users(
                1, [{"email": f"u{n}@example.com"} for n in range(60)], batch_size=3, concurrency=4
            )
    assert report.created == 60
    (t429,) = seen_429
    # Requests already past the gate when the 429 came may still land right after it;
    # after that nobody sends until the Retry-After is over.
    during = [t for t in sent_at if t429 + 0.05 < t < t429 + 0.35]
    assert during == []
    assert any(t >= t429 + 0.35 for t in sent_at)


async def test_v3_loyalty_users_import_creates_and_links_each_row() -> None:
    sandbox = Sandbox.seeded(sessions=10)
    card = next(iter(sandbox.state.loyalty.cards))
    data = [
        {"email": f"web{n}@example.com", "password": "s3cret-pass", "first_name": f"W{n}"}
        for n in range(20)
    ]
    data.append({"email": "broken", "password": "x"})
    async with client_for(sandbox) as ct:
        report = await ct.loyalty_users.import_users(loyaltycard=card, rows=data, concurrency=4)
        listing = await ct.loyalty_users.list(loyaltycard=card)
    assert report.created == 20
    assert [f.line for f in report.failed] == [21]
    emails = [u.email for u in listing.users or []]
    assert sum(1 for e in emails if e and e.startswith("web")) == 20
