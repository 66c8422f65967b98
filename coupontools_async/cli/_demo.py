"""``coupontools demo``: the whole job against an in-process sandbox, in seconds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import attrs
import typer

from ._common import EXIT_FAILED, ExportFormat, _run, options
from ._output import _Activity, _print_pairs, _stdout

if TYPE_CHECKING:
    from .._generated import models
    from ..bulk import ImportReport

SAMPLE_USERS = "sample_users.csv"
DEMO_PUSH = "Double stamps this weekend!"

# ------------------------------------------------------------------------------ demo


@attrs.frozen
class _DemoResult:
    card: models.WalletCard
    source: models.WalletCard
    report: ImportReport
    stamps: int
    stamped_users: int
    reward: models.WalletReward
    rewarded: models.WalletUser
    pushed: int
    exported: int
    elapsed: float


async def _demo(output: Path | None) -> _DemoResult:
    from importlib.resources import as_file, files

    from ..sandbox import Sandbox
    from ._importing import _import_rows
    from ._records import USER_COLUMNS, _count_rows, _Discard, _export, _user_record

    started = time.monotonic()
    sandbox = Sandbox.seeded(0, sessions=100)
    per_reward = sandbox.state.config.stamps_per_reward
    async with sandbox.client() as ct:
        source = (await ct.wallet_cards.list())[0]
        card = await ct.wallet_cards.copy(source.id, name=f"Demo: {source.name}")

        sample = files("coupontools_async") / "data" / SAMPLE_USERS
        with as_file(sample) as path:
            total = _count_rows(path)
            with _Activity(f"importing {SAMPLE_USERS}", total=total, unit="rows") as a:
                report = await ct.wallet_users.import_users(
                    card.id, _import_rows(path), on_progress=a.on_import
                )

        # A few visits: 1 to 5 stamps each for the first 25 users.
        users = await ct.wallet_users.list(card.id, per_page=25)
        stamps = 0
        for number, user in enumerate(users):
            amount = 1 + number % 5
            await ct.wallet_users.add_stamps(card.id, user.id, amount=amount)
            stamps += amount
        # The first one comes back often enough to earn a reward, and uses it.
        lucky = await ct.wallet_users.get(card.id, users[0].id)
        missing = per_reward - (lucky.stamps or 0) % per_reward
        lucky = await ct.wallet_users.add_stamps(card.id, lucky.id, amount=missing)
        stamps += missing
        reward = next(r for r in lucky.rewards or [] if r.used_at is None)
        lucky = await ct.wallet_users.use_rewards(card.id, lucky.id, reward_ids=[reward.id])
        reward = next(r for r in lucky.rewards or [] if r.id == reward.id)

        push = await ct.wallet_cards.push(card.id, message=DEMO_PUSH)

        exported = await _export(
            ct.wallet_users.iter(card.id).pages(),
            output,
            fmt=ExportFormat.csv,
            columns=USER_COLUMNS,
            record=_user_record,
            what="users",
            sink=_Discard() if output is None else None,
        )

    return _DemoResult(
        card=card,
        source=source,
        report=report,
        stamps=stamps,
        stamped_users=len(users),
        reward=reward,
        rewarded=lucky,
        pushed=push.total_recipients or 0,
        exported=exported,
        elapsed=time.monotonic() - started,
    )


def _print_demo(result: _DemoResult, output: Path | None) -> None:
    report = result.report
    rate = report.total / report.elapsed if report.elapsed > 0 else 0.0
    name = f"{result.rewarded.first_name or ''} {result.rewarded.last_name or ''}".strip()
    card = f"{result.card.name} (id {result.card.id}, copied from card {result.source.id})"
    imported = f"{report.created:,} users from {SAMPLE_USERS}, {len(report.failed)} failed"
    reward = f"{result.reward.name!r} earned and used by {name} (user {result.rewarded.id})"
    where = f" to {output}" if output else " (CSV, discarded; keep it with -o FILE)"
    _print_pairs(
        "coupontools demo: a seeded sandbox, in process (no account, no network)",
        [
            ("card", card),
            ("imported", f"{imported} ({rate:,.0f} rows/s)"),
            ("stamps", f"{result.stamps} stamps added to {result.stamped_users} users"),
            ("reward", reward),
            ("push", f"{DEMO_PUSH!r} sent to {result.pushed:,} users"),
            ("exported", f"{result.exported:,} users{where}"),
            ("time", f"{result.elapsed:.1f} s"),
        ],
    )
    console = _stdout()
    console.print(
        "Same job on your account: set COUPONTOOLS_CLIENT_ID and COUPONTOOLS_CLIENT_SECRET, then "
        "`coupontools wallet-users import CARD users.csv`."
    )


def demo(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Keep the exported CSV here."),
    ] = None,
) -> None:
    """Import, stamp, reward, push and export against an in-process sandbox, in seconds.

    Imports a bundled CSV of 3,000 users into a new card with a progress bar, adds
    stamps, earns and uses a reward, sends a push, exports the card and prints a
    summary. Needs no account and no network.
    """
    opts = options(ctx)
    result = _run(opts, lambda: _demo(output))
    _print_demo(result, output)
    if result.report.failed:
        raise typer.Exit(EXIT_FAILED)
