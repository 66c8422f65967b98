"""A v3 import cancelled while a create is on the wire loses no user (the worst moment).

v3 creates a user on the account, then links it to the card, and finds users only on a
card: a user whose create answer is lost before it is linked is on no card, so no search
finds it and a resume can only report "link it by hand". The importer therefore lets a
create already under way finish (up to ``bulk.CANCEL_GRACE`` seconds) and journals its id
before the cancel goes through; a resume then links it. These tests cancel at exactly
that moment: after the sandbox applied the create, before its answer reaches the importer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from coupontools_async import AsyncClient, bulk
from coupontools_async.sandbox import Sandbox
from tests.reliability.test_exactly_once import client_through, journal_outcomes

pytestmark = pytest.mark.anyio

CREATE = "/v3/loyaltyusers/create"
LINK = "/v3/loyaltyusers/link"


def users(count: int) -> list[dict[str, Any]]:
    return [
        {"first_name": f"U{n}", "email": f"cancel{n}@example.com", "password": "s3cret-pass"}
        for n in range(count)
    ]


class CancelAfterCommit(httpx.AsyncBaseTransport):
    """Passes requests to the sandbox; on the ``trip_at``-th create, once the sandbox has
    applied it, cancels the run (``cancel``) and then waits ``hang`` seconds before
    answering (the answer is still travelling)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.creates = 0
        self.trip_at: int | None = None
        self.cancel: Any = None
        self.hang = 0.0
        self.after_cancel: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        tripped = self.trip_at is not None and self.creates >= self.trip_at
        if tripped:
            self.after_cancel.append(request.url.path)
        response = await self.inner.handle_async_request(request)
        if request.url.path == CREATE and not tripped:
            self.creates += 1
            if self.creates == self.trip_at:
                self.cancel()
                await anyio.sleep(self.hang)  # the cancel lands here unless the create is shielded
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def setup() -> tuple[Sandbox, str, CancelAfterCommit]:
    sandbox = Sandbox.seeded(3, sessions=0)
    loyaltycard = next(iter(sandbox.state.loyalty.cards))
    return sandbox, loyaltycard, CancelAfterCommit(sandbox.transport())


def client(sandbox: Sandbox, transport: httpx.AsyncBaseTransport) -> AsyncClient:
    return client_through(sandbox, transport, max_retries=2)


def on_card(sandbox: Sandbox, loyaltycard: str) -> Counter[str]:
    state = sandbox.state.loyalty
    return Counter(state.users[uid].email.casefold() for uid in state.cards[loyaltycard].members)


def on_account(sandbox: Sandbox) -> set[str]:
    return {u.email.casefold() for u in sandbox.state.loyalty.users.values()}


def assert_orphans_journalled(
    sandbox: Sandbox, loyaltycard: str, journal: Path, data: list[dict[str, Any]]
) -> None:
    """Every user created but not yet linked has its server id in the journal."""
    with closing(sqlite3.connect(journal)) as db:
        ids = {int(line): sid for line, sid in db.execute("SELECT line, id FROM rows")}
    orphans = on_account(sandbox) - set(on_card(sandbox, loyaltycard))
    lines = {str(row["email"]): n for n, row in enumerate(data, start=1)}
    mine = orphans & set(lines)
    assert mine, "the trap never cancelled a create the server had applied"
    for email in mine:
        assert ids.get(lines[email]), f"{email} was created but its id was not journalled"


async def resume_and_check(
    sandbox: Sandbox, loyaltycard: str, journal: Path, data: list[dict[str, Any]]
) -> None:
    async with client(sandbox, sandbox.transport()) as ct:
        with anyio.fail_after(30):
            report = await ct.loyalty_users.import_users(
                loyaltycard=loyaltycard, rows=data, journal=journal, concurrency=4
            )
    assert report.failed == []  # before the grace: "... could not be linked: link it by hand"
    emails = on_card(sandbox, loyaltycard)
    wanted = {str(r["email"]).casefold() for r in data}
    assert wanted <= set(emails)
    assert max(emails.values()) == 1
    assert on_account(sandbox) & wanted == wanted  # nobody orphaned off every card


@pytest.mark.parametrize("trip_at", [1, 7, 20])
@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_cancel_after_the_server_created_a_v3_user_resumes_with_nobody_lost(
    trip_at: int, concurrency: int, tmp_path: Path
) -> None:
    sandbox, loyaltycard, trap = setup()
    journal = tmp_path / "j"
    data = users(30)
    with anyio.CancelScope() as scope:
        trap.trip_at, trap.cancel = trip_at, scope.cancel
        async with client(sandbox, trap) as ct:
            await ct.loyalty_users.import_users(
                loyaltycard=loyaltycard, rows=data, journal=journal, concurrency=concurrency
            )
    assert scope.cancelled_caught
    # The create that was answered after the cancel is journalled with its id...
    if concurrency == 1:
        tripped = str(data[trip_at - 1]["email"])
        assert tripped in on_account(sandbox)
        assert tripped not in on_card(sandbox, loyaltycard)  # cancelled before its link
    assert_orphans_journalled(sandbox, loyaltycard, journal, data)
    # ...and nothing new started once the run was cancelled (creates handed to the client
    # before it, by the other workers, may still reach the wire: they are shielded too).
    assert LINK not in trap.after_cancel
    assert trap.after_cancel.count(CREATE) <= concurrency - 1
    await resume_and_check(sandbox, loyaltycard, journal, data)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_native_asyncio_cancel_mid_create_loses_no_v3_user(tmp_path: Path) -> None:
    """``task.cancel()`` (``asyncio.wait_for``, a server shutting a request down, Ctrl-C
    under ``asyncio.run``) is not an anyio cancel scope: the grace holds for it too."""
    sandbox, loyaltycard, trap = setup()
    journal = tmp_path / "j"
    data = users(12)

    async def run() -> None:
        async with client(sandbox, trap) as ct:
            await ct.loyalty_users.import_users(
                loyaltycard=loyaltycard, rows=data, journal=journal, concurrency=2
            )

    task = asyncio.get_running_loop().create_task(run())
    trap.trip_at, trap.cancel = 5, task.cancel
    with pytest.raises(asyncio.CancelledError):
        await task
    assert_orphans_journalled(sandbox, loyaltycard, journal, data)
    await resume_and_check(sandbox, loyaltycard, journal, data)


async def test_a_create_that_outlasts_the_grace_is_cut_and_its_row_checked_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grace is a bound, not a promise to wait forever: a hung create is cut after it,
    the row stays "in flight" in the journal, and the resume settles it."""
    monkeypatch.setattr(bulk, "CANCEL_GRACE", 0.2)
    sandbox, loyaltycard, trap = setup()
    journal = tmp_path / "j"
    data = users(6)
    trap.hang = 3600.0
    start = anyio.current_time()
    with anyio.CancelScope() as scope:
        trap.trip_at, trap.cancel = 3, scope.cancel
        async with client(sandbox, trap) as ct:
            await ct.loyalty_users.import_users(
                loyaltycard=loyaltycard, rows=data, journal=journal, concurrency=1
            )
    assert scope.cancelled_caught
    assert anyio.current_time() - start < 10  # cut after 0.2 s, not after the hour
    assert journal_outcomes(journal)[3] == "sending"  # its answer never came: in flight
    async with client(sandbox, sandbox.transport()) as ct:
        report = await ct.loyalty_users.import_users(
            loyaltycard=loyaltycard, rows=data, journal=journal
        )
    # The lost answer is the case v3 cannot settle: said, with a reason, never silently.
    assert [f.data["email"] for f in report.failed] == [data[2]["email"]]
    assert "could not be linked" in report.failed[0].reason
    assert report.created == 3


async def test_the_wait_after_a_cancel_is_said_once_and_a_plain_run_says_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox, loyaltycard, trap = setup()
    with caplog.at_level(logging.WARNING, logger="coupontools_async.bulk"):
        async with client(sandbox, sandbox.transport()) as ct:
            await ct.loyalty_users.import_users(
                loyaltycard=loyaltycard, rows=users(8), journal=tmp_path / "plain"
            )
        assert not [r for r in caplog.records if r.name == "coupontools_async.bulk"]
        trap.hang = 0.05  # the answer still on its way when the cancel lands
        with anyio.CancelScope() as scope:
            trap.trip_at, trap.cancel = 2, scope.cancel
            async with client(sandbox, trap) as ct:
                await ct.loyalty_users.import_users(
                    loyaltycard=loyaltycard, rows=users(30), journal=tmp_path / "j", concurrency=4
                )
    said = [r.getMessage() for r in caplog.records if r.name == "coupontools_async.bulk"]
    assert said == [
        f"Import cancelled: waiting up to {bulk.CANCEL_GRACE:g} s for the creates already "
        "sent, so that their users are journalled and a resume links them"
    ]
