"""The ``coupontools`` command, run as users run it: a subprocess of the real entry point."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests._served import served as serve_sandbox

TIMEOUT = 60
SANDBOX_ID = "sandbox-client-id"
SANDBOX_SECRET = "sandbox-client-secret"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUPONTOOLS_")}
    env.update(COLUMNS="200", PYTHONIOENCODING="utf-8", **extra)
    return env


def run(
    *args: str | Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    script: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the command (``python -m coupontools_async``, or the installed script)."""
    if script:
        command = [str(Path(sys.executable).with_name("coupontools"))]
    else:
        command = [sys.executable, "-m", "coupontools_async"]
    return subprocess.run(
        [*command, *map(str, args)],
        env=env or _env(),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )


def run_all(
    *commands: tuple[str | Path, ...], env: dict[str, str] | None = None, stdin: str | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands at the same time (keeps the file fast); ``stdin`` to each."""
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        futures = [pool.submit(run, *command, env=env, stdin=stdin) for command in commands]
        return [future.result() for future in futures]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def people(rows: list[dict[str, str]]) -> set[tuple[str, ...]]:
    return {(r["first_name"], r["last_name"], r["email"], r["phone"]) for r in rows}


# --------------------------------------------------------------------------- served sandbox


@pytest.fixture(scope="module")
def served() -> Iterator[list[str]]:
    """A sandbox served on a port (state persists across commands): the global options."""
    with serve_sandbox("--sessions", "50") as base_url:
        yield ["--base-url", base_url]


@pytest.fixture
def served_env() -> dict[str, str]:
    return _env(COUPONTOOLS_CLIENT_ID=SANDBOX_ID, COUPONTOOLS_CLIENT_SECRET=SANDBOX_SECRET)


# ------------------------------------------------------------------------------------ tests


def test_demo_runs_the_whole_job_through_the_installed_script(tmp_path: Path) -> None:
    # How fast is bench/'s question (a wall-clock bound here only flakes under load).
    target = tmp_path / "demo.csv"
    result = run("demo", "-o", target, script=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "3,000 users from sample_users.csv, 0 failed" in out
    assert "stamps added to 25 users" in out
    assert "earned and used by" in out
    assert "sent to 3,000 users" in out
    assert f"3,000 users to {target}" in " ".join(out.split())
    rows = read_csv(target)
    assert len(rows) == 3000
    assert list(rows[0])[:7] == ["first_name", "last_name", "address", "zip", "city", "phone", "email"]  # fmt: skip
    assert sum(int(r["stamps"]) for r in rows) > 0
    assert not target.with_name("demo.csv.partial").exists()


def test_import_with_a_bad_row_fails_that_row_only(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "first_name,last_name,email,phone\n"
        "Ann,Lee,ann@example.com,+32470000001\n"
        "Bob,Bad,not-an-email,+32470000002\n"
        "Cy,Ok,cy@example.com,\n",
        encoding="utf-8",
    )
    result = run("--sandbox", "wallet-users", "import", "1", source)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    summary = dict(line.split(None, 1) for line in result.stdout.splitlines()[2:6])
    assert summary["created"].strip() == "2"
    assert summary["failed"].split()[0] == "1"
    failed = tmp_path / "users.csv.failed.csv"
    rows = read_csv(failed)
    assert len(rows) == 1
    assert list(rows[0]) == ["first_name", "last_name", "email", "phone", "reason"]
    assert rows[0]["email"] == "not-an-email"
    assert "email" in rows[0]["reason"]

    # Fixed, the failed file imports as it is (its `reason` column is ignored).
    failed.write_text(failed.read_text().replace("not-an-email", "bob@example.com"))
    again = run("--sandbox", "wallet-users", "import", "1", failed)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not (tmp_path / "users.csv.failed.csv.failed.csv").exists()


def test_export_import_round_trip_with_state_across_commands(
    tmp_path: Path, served: list[str], served_env: dict[str, str]
) -> None:
    original = tmp_path / "card1.csv"
    result, copied = run_all(
        (*served, "wallet-users", "export", "1", "-o", original),
        (*served, "wallet-cards", "copy", "1", "--name", "Round trip"),
        env=served_env,
    )
    assert result.returncode == 0, result.stderr
    exported = read_csv(original)
    assert len(exported) > 10
    assert list(exported[0]) == [
        "first_name", "last_name", "address", "zip", "city", "phone", "email",
        *(f"custom_{n}" for n in range(1, 9)),
        "id", "code", "stamps", "created_at", "voided_at", "download_url",
    ]  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    new_card = copied.stdout.strip()
    assert new_card.isdigit()
    assert new_card != "1"

    imported = run(*served, "wallet-users", "import", new_card, original, env=served_env)
    assert imported.returncode == 0, imported.stdout + imported.stderr

    again = run(*served, "wallet-users", "export", new_card, "--format", "jsonl", env=served_env)
    assert again.returncode == 0, again.stderr
    lines = [json.loads(line) for line in again.stdout.splitlines()]
    assert list(lines[0]) == list(exported[0])
    copy = [{k: "" if v is None else str(v) for k, v in line.items()} for line in lines]
    assert people(copy) == people(exported)
    assert f"exported {len(exported):,} users" in again.stderr


def test_dry_run_sends_nothing(
    tmp_path: Path, served: list[str], served_env: dict[str, str]
) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "first_name,email,phone\nDry,dry.run@example.com,+32470000001\nBob,bob@,0470\n",
        encoding="utf-8",
    )
    result = run(*served, "wallet-users", "import", "2", source, "--dry-run", env=served_env)
    assert result.returncode == 1
    assert "would fail" in result.stdout
    assert read_csv(tmp_path / "users.csv.failed.csv")[0]["first_name"] == "Bob"

    export = run(*served, "wallet-users", "export", "2", "--include-voided", env=served_env)
    assert export.returncode == 0, export.stderr
    assert "dry.run@example.com" not in export.stdout
    assert len(export.stdout.splitlines()) > 10


def test_resume_skips_rows_done(
    tmp_path: Path, served: list[str], served_env: dict[str, str]
) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "email\n" + "".join(f"resume{n}@example.com\n" for n in range(30)), encoding="utf-8"
    )
    journal = tmp_path / "users.csv.journal"
    first = run(*served, "wallet-users", "import", "3", source, env=served_env)
    assert first.returncode == 0, first.stderr
    assert journal.exists()
    second, refused = run_all(
        (*served, "wallet-users", "import", "3", source, "--resume"),
        # A journal given without --resume is not continued by surprise.
        (*served, "wallet-users", "import", "3", source, "--journal", journal),
        env=served_env,
    )
    assert second.returncode == 0, second.stderr
    assert "skipped" in second.stdout
    assert refused.returncode == 2
    assert "--resume" in refused.stderr
    export = run(*served, "wallet-users", "export", "3", env=served_env)
    emails = [r["email"] for r in csv.DictReader(export.stdout.splitlines())]
    assert sorted(e for e in emails if e.startswith("resume")) == sorted(
        f"resume{n}@example.com" for n in range(30)
    )


def test_errors_are_one_line_with_exit_codes() -> None:
    no_id, not_found, debug, bad_state, bad_date = run_all(
        ("coupons", "list"),
        ("--sandbox", "sessions", "export", "cam_999"),
        ("--debug", "--sandbox", "sessions", "export", "cam_999"),
        ("--sandbox", "sessions", "export", "cam_1", "--state", "lost"),
        ("--sandbox", "sessions", "export", "cam_1000001", "--start-date", "soon"),
    )
    assert no_id.returncode == 2
    assert no_id.stderr.count("\n") == 1
    assert "COUPONTOOLS_CLIENT_ID" in no_id.stderr

    assert not_found.returncode == 1
    assert not_found.stderr == "error: 502 Campaign ID not found (POST /v3/campaign/data)\n"
    assert not_found.stdout == ""

    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    assert "NotFoundError" in debug.stderr
    assert "DEBUG" in debug.stderr  # the client's request log
    assert debug.stderr.endswith("error: 502 Campaign ID not found (POST /v3/campaign/data)\n")

    assert bad_state.returncode == 2
    assert bad_date.returncode == 2
    assert bad_date.stderr.startswith("error: ")
    assert bad_date.stderr.count("\n") == 1

    secret_only = run("coupons", "list", env=_env(COUPONTOOLS_CLIENT_ID="x"))
    assert secret_only.returncode == 2
    assert "COUPONTOOLS_CLIENT_SECRET" in secret_only.stderr
    assert "Traceback" not in no_id.stderr + secret_only.stderr + bad_date.stderr


def test_lists_json_sessions_and_webhooks(tmp_path: Path) -> None:
    payload = {
        "id": "evt_abc123",
        "datetime": "2025-01-06 09:00:00",
        "type": "loyalty_v3_created",
        "loyalty_id": 1,
        "user": {"id": 7, "first_name": "Ann", "email": "ann@example.com"},
    }
    body = tmp_path / "event.json"
    body.write_text(json.dumps(payload))
    bad_body = tmp_path / "bad.json"
    bad_body.write_text("[1, 2]")
    target = tmp_path / "claimed.jsonl"
    cards, coupons, sessions, parsed, verify, as_json, bad = run_all(
        ("--sandbox", "wallet-cards", "list", "--json"),
        ("--sandbox", "coupons", "list"),
        ("--sandbox", "sessions", "export", "cam_1000001", "--state", "claimed",
         "--format", "jsonl", "-o", target),
        ("webhooks", "parse", body),
        ("--sandbox", "webhooks", "verify", "evt_abc123"),
        ("webhooks", "parse", "-", "--json"),
        ("webhooks", "parse", bad_body),
        stdin=json.dumps(payload),
    )  # fmt: skip
    assert [c["name"] for c in json.loads(cards.stdout)] == ["Coffee club", "Membership card", "VIP"]  # fmt: skip
    assert coupons.returncode == 0
    assert "cam_1000001" in coupons.stdout

    assert sessions.returncode == 0, sessions.stderr
    found = [json.loads(line) for line in target.read_text().splitlines()]
    assert found
    assert all(s["claimed"] for s in found)
    assert f"exported {len(found):,} sessions to {target}" in sessions.stderr

    assert parsed.returncode == 0, parsed.stderr
    assert "WalletUserCreatedEvent" in parsed.stdout
    assert "ann@example.com" in parsed.stdout
    assert json.loads(as_json.stdout)["user"]["email"] == "ann@example.com"
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: invalid webhook")

    assert verify.returncode == 1  # the sandbox never sent it
    assert "509" in verify.stderr
    assert verify.stderr.count("\n") == 1


def test_webhooks_verify_prints_a_genuine_event(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In process: the event must exist in the sandbox the command talks to.
    import anyio

    from coupontools_async import cli
    from coupontools_async.cli import _common as cli_common
    from coupontools_async.sandbox import Sandbox

    sandbox = Sandbox.seeded(0, sessions=10)

    async def create() -> None:
        async with sandbox.client() as ct:
            await ct.wallet_users.create(1, email="ann@example.com")

    anyio.run(create)
    event_id = sandbox.state.events[-1]["id"]
    monkeypatch.setattr(cli_common, "_client", lambda opts: sandbox.client())
    assert cli.main(["webhooks", "verify", event_id]) == 0
    out = capsys.readouterr().out
    assert event_id in out
    assert "loyalty_v3_created" in out
    assert cli.main(["webhooks", "verify", event_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["type"] == "loyalty_v3_created"
