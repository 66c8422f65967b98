"""Bulk imports against the sandbox lose nothing and duplicate nothing, whatever happens.

- 10,000 users through 10% mixed faults (5xx, 429 and 503 with Retry-After, refused and
  dropped connections, commit-then-drop, answers slower than the client's timeout):
  exactly 10,000 users afterwards, each email once, and a report with 0 failed.
- Ten imports, each cancelled at one to three random points (seeded, different for
  each import) and resumed from its journal: exactly once every time. Cancellation
  lands between batches (from ``on_progress``), on a request before it reaches the
  server, and after the server applied a batch but before its answer came back.

The sandbox runs in process; retry waits are an instant checkpoint; the only real
waits are the client's read timeout on "slow" answers and the shared 429 pause.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from coupontools_async import AsyncClient, RetryPolicy
from coupontools_async.bulk import ImportProgress, ImportReport
from coupontools_async.sandbox import SANDBOX_BASE_URL, Sandbox

pytestmark = pytest.mark.anyio

ALL_FAULTS = (
    "500",
    "502",
    "503",
    "504",
    "429",
    "503-retry-after",
    "refuse",
    "drop",
    "commit_drop",
    "slow",
)


async def no_sleep(_: float) -> None:
    await anyio.lowlevel.checkpoint()


def rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "first_name": f"User{n}",
            "last_name": "Reliability",
            "email": f"user{n}@example.com",
            "phone": f"+3247{n:07d}",
        }
        for n in range(1, count + 1)
    ]


def new_card(sandbox: Sandbox) -> int:
    card = sandbox.state.wallet.new_card(name="Reliability", type="stamp", reward_name="Coffee")
    return int(card.id)


def emails_on(sandbox: Sandbox, card_id: int) -> Counter[str]:
    return Counter(str(u.email) for u in sandbox.state.wallet.cards[card_id].users.values())


def assert_exactly_once(sandbox: Sandbox, card_id: int, count: int) -> None:
    emails = emails_on(sandbox, card_id)
    duplicated = {email: n for email, n in emails.items() if n > 1}
    assert duplicated == {}
    assert set(emails) == {f"user{n}@example.com" for n in range(1, count + 1)}


# ------------------------------------------------------------------ 10,000 under faults


class Witness(httpx.AsyncBaseTransport):
    """Passes requests to the sandbox and counts what came back: statuses and errors."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            self.seen[type(exc).__name__] += 1
            raise
        self.seen[str(response.status_code)] += 1
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_10000_users_through_10_percent_mixed_faults_are_exactly_10000() -> None:
    sandbox = Sandbox(seed=10_000)
    card_id = new_card(sandbox)
    sandbox.faults.inject(rate=0.10, kinds=ALL_FAULTS, retry_after=0.002, slow_seconds=5.0)
    witness = Witness(sandbox.transport())
    async with AsyncClient(
        sandbox.client_id,
        sandbox.client_secret,
        base_url=SANDBOX_BASE_URL,
        transport=witness,
        timeout=0.02,  # shorter than slow_seconds: a "slow" answer is a read timeout
        max_retries=12,
        retry=RetryPolicy(sleep=no_sleep),
    ) as ct:
        with anyio.fail_after(90):
            report = await ct.wallet_users.import_users(
                card_id, rows(10_000), concurrency=16, batch_size=25
            )

    assert report.failed == []
    assert report.ok
    assert report.created == 10_000
    assert report.skipped == 0
    assert_exactly_once(sandbox, card_id, 10_000)

    # The faults did happen, and reached the client as the network would show them.
    injected = sandbox.faults.injected
    assert injected.keys() == set(ALL_FAULTS)
    assert sum(injected.values()) >= 50
    seen = witness.seen
    assert seen["ReadTimeout"] == injected["slow"]  # every slow answer timed the client out
    assert seen["ConnectError"] == injected["refuse"]
    assert seen["RemoteProtocolError"] == injected["drop"] + injected["commit_drop"]
    assert seen["429"] == injected["429"]
    assert seen["503"] == injected["503"] + injected["503-retry-after"]


# ------------------------------------------------------------ cancelled, then resumed


class Tripwire(httpx.AsyncBaseTransport):
    """Passes requests to the sandbox; cancels the run on the ``trip_at``-th one, unsent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests = 0
        self.trip_at: int | None = None
        self.scope: anyio.CancelScope | None = None
        self.bulk_in_flight = False

    def arm(self, scope: anyio.CancelScope, trip_at: int | None) -> None:
        self.scope, self.trip_at, self.requests = scope, trip_at, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests == self.trip_at and self.scope is not None:
            self.scope.cancel()
            await anyio.lowlevel.checkpoint()  # raises: this request never leaves
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class CommitTrap:
    """A sandbox webhook hook: cancels the run once ``trip_at`` users were created.

    The sandbox emits one webhook per created user after applying the whole batch and
    before answering, so the cancellation lands on a batch the server has applied but
    whose answer never reaches the importer.
    """

    def __init__(self) -> None:
        self.created = 0
        self.trip_at: int | None = None
        self.scope: anyio.CancelScope | None = None

    def arm(self, scope: anyio.CancelScope, trip_at: int | None) -> None:
        self.scope, self.trip_at, self.created = scope, trip_at, 0

    async def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") != "loyalty_v3_created" or self.scope is None:
            return
        self.created += 1
        if self.created == self.trip_at:
            self.scope.cancel()
            await anyio.lowlevel.checkpoint()  # raises inside the sandbox's handling


MODES = ("progress", "request", "commit")
ROWS = 2000


def progress_trap(
    scope: anyio.CancelScope, trip_at: int | None
) -> Callable[[ImportProgress], None]:
    def check(progress: ImportProgress) -> None:
        if trip_at is not None and progress.created >= trip_at:
            scope.cancel()

    return check


def journal_outcomes(path: Path) -> dict[int, str]:
    """The last recorded outcome of every line (every record must be whole)."""
    outcomes: dict[int, str] = {}
    for text in path.read_text().splitlines():
        record = json.loads(text)
        for line in record.get("lines") or []:
            outcomes[int(line)] = record["status"]
    return outcomes


@pytest.mark.parametrize("seed", range(10))
async def test_an_import_cancelled_at_random_points_resumes_from_its_journal_exactly_once(
    seed: int, tmp_path: Path
) -> None:
    rng = random.Random(f"cancel-{seed}")
    sandbox = Sandbox(seed=seed)
    card_id = new_card(sandbox)
    trap = CommitTrap()
    sandbox.on_webhook = trap
    if seed % 2:  # half of them also meet faults, so ambiguous batches get cancelled too
        sandbox.faults.inject(
            rate=0.05, kinds=["500", "429", "drop", "commit_drop", "refuse"], retry_after=0.001
        )
    tripwire = Tripwire(sandbox.transport())
    journal = tmp_path / "import.journal"
    data = rows(ROWS)

    def client() -> AsyncClient:
        return AsyncClient(
            sandbox.client_id,
            sandbox.client_secret,
            base_url=SANDBOX_BASE_URL,
            transport=tripwire,
            max_retries=10,
            retry=RetryPolicy(sleep=no_sleep),
        )

    interruptions = rng.randint(1, 3)
    for number in range(interruptions):
        mode = MODES[(seed + number) % len(MODES)]
        remaining = ROWS - sum(emails_on(sandbox, card_id).values())
        batch_size = rng.choice([10, 25, 50, 100])
        batches = max(1, remaining // batch_size)
        trip_at = {
            "progress": rng.randint(1, max(1, remaining * 9 // 10)),
            "request": rng.randint(1, batches),
            "commit": rng.randint(1, max(1, remaining - 1)),
        }[mode]
        with anyio.CancelScope() as scope:
            trap.arm(scope, trip_at if mode == "commit" else None)
            tripwire.arm(scope, trip_at if mode == "request" else None)
            async with client() as ct:
                await ct.wallet_users.import_users(
                    card_id,
                    data,
                    concurrency=rng.choice([2, 4, 8, 16]),
                    batch_size=batch_size,
                    journal=journal,
                    on_progress=progress_trap(scope, trip_at if mode == "progress" else None),
                )
        assert scope.cancelled_caught, f"run {number} ({mode} at {trip_at}) was not cancelled"
        emails = emails_on(sandbox, card_id)
        assert max(emails.values(), default=1) == 1  # never a duplicate, even half-way

    done_before = {
        line for line, status in journal_outcomes(journal).items() if status == "created"
    }
    trap.arm(anyio.CancelScope(), None)
    tripwire.arm(anyio.CancelScope(), None)
    async with client() as ct:
        with anyio.fail_after(60):
            report: ImportReport = await ct.wallet_users.import_users(
                card_id, data, concurrency=8, batch_size=rng.choice([25, 50, 100]), journal=journal
            )

    assert report.failed == []
    assert report.created + report.skipped == ROWS
    assert report.skipped == len(done_before)  # what the journal says is done is not redone
    assert_exactly_once(sandbox, card_id, ROWS)
    outcomes = journal_outcomes(journal)
    assert set(outcomes) == set(range(1, ROWS + 1))
    assert set(outcomes.values()) <= {"created", "skipped"}
