"""``coupontools wallet-users import`` as users run it: the README's recipe, kills, resumes,
two runs at once, spreadsheet exports (issue 10). Each command is a real subprocess."""

from __future__ import annotations

import csv
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._served import served as serve_sandbox
from tests._spec import ROOT
from tests.test_cli import SANDBOX_ID, SANDBOX_SECRET, _env, run, run_all

ENV = _env(COUPONTOOLS_CLIENT_ID=SANDBOX_ID, COUPONTOOLS_CLIENT_SECRET=SANDBOX_SECRET)


@pytest.fixture(scope="module")
def slow() -> Iterator[list[str]]:
    """A served sandbox slow enough (latency per answer) for a kill to land mid-import."""
    with serve_sandbox("--sessions", "10", "--latency", "0.1") as base_url:
        yield ["--base-url", base_url]


def users_csv(path: Path, count: int, prefix: str) -> Path:
    path.write_text(
        "first_name,email\n" + "".join(f"N{n},{prefix}{n}@example.com\n" for n in range(count)),
        encoding="utf-8",
    )
    return path


def emails_on(served: list[str], card: str, prefix: str) -> Counter[str]:
    export = run(*served, "wallet-users", "export", card, "--include-voided", env=ENV)
    assert export.returncode == 0, export.stderr
    emails = (r["email"] for r in csv.DictReader(export.stdout.splitlines()))
    return Counter(e for e in emails if e and e.startswith(prefix))


def users_on(served: list[str], card: str) -> int:
    """Users on the served card right now (one quick request, no subprocess)."""
    answer = httpx.request(
        "GET",
        f"{served[1]}/v4/loyalty/loyalty-cards/{card}/stats",
        headers={"X-Client-Id": SANDBOX_ID, "X-Client-Secret": SANDBOX_SECRET},
        json={"pagination": {"per_page": 100_000}, "include_voided": True},
    )
    return len(answer.json())


def summary(stdout: str) -> dict[str, int]:
    found = dict(re.findall(r"^\s*(created|skipped|failed)\s+([\d,]+)", stdout, re.M))
    return {k: int(v.replace(",", "")) for k, v in found.items()}


def readme_import_commands() -> list[list[str]]:
    """The README's import commands of users.csv (not the dry run), as argument lists."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^coupontools (wallet-users import .*?)(?:\s+#.*)?$", text, re.M)
    return [line.split() for line in lines if "--dry-run" not in line and "users.csv" in line]


def test_the_readme_recipe_resumes_after_a_kill_with_every_row_once(
    tmp_path: Path, slow: list[str]
) -> None:
    first, resume = readme_import_commands()
    assert "--resume" not in first
    assert resume[-1] == "--resume"
    users_csv(tmp_path / "users.csv", 8000, "kill")
    card = "2"

    def as_run(args: list[str]) -> list[str]:
        return [a if a != "12" else card for a in args]

    proc = subprocess.Popen(
        [sys.executable, "-m", "coupontools_async", *slow, *as_run(first)],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while users_on(slow, card) < 1000 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # mid-import: batches on the wire, journal open
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    killed_at = sum(emails_on(slow, card, "kill").values())
    assert 0 < killed_at < 8000

    resumed = subprocess.run(
        [sys.executable, "-m", "coupontools_async", *slow, *as_run(resume)],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    counts = summary(resumed.stdout)
    assert counts["skipped"] > 0
    assert counts["created"] + counts["skipped"] == 8000
    emails = emails_on(slow, card, "kill")
    assert len(emails) == 8000
    assert max(emails.values()) == 1


def test_a_plain_import_then_resume_skips_everything(tmp_path: Path, slow: list[str]) -> None:
    source = users_csv(tmp_path / "plain.csv", 50, "plain")
    first = run(*slow, "wallet-users", "import", "3", source, env=ENV)
    assert first.returncode == 0, first.stderr
    again = run(*slow, "wallet-users", "import", "3", source, "--resume", env=ENV)
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout) == {"created": 0, "skipped": 50, "failed": 0}
    rerun = run(*slow, "wallet-users", "import", "3", source, env=ENV)
    assert rerun.returncode == 2
    assert "--resume" in rerun.stderr
    assert "--restart" in rerun.stderr
    assert max(emails_on(slow, "3", "plain").values()) == 1


def test_resume_without_a_journal_refuses_and_names_where_it_looked(tmp_path: Path) -> None:
    source = users_csv(tmp_path / "users.csv", 3, "nojournal")
    result = run("--sandbox", "wallet-users", "import", "1", source, "--resume")
    assert result.returncode == 2
    assert f"no journal at {source}.journal" in " ".join(result.stderr.split())
    assert "--journal" in result.stderr


def test_resume_with_a_journal_option_finds_that_journal(tmp_path: Path, slow: list[str]) -> None:
    source = users_csv(tmp_path / "users.csv", 20, "named")
    journal = tmp_path / "users.journal"
    first = run(*slow, "wallet-users", "import", "3", source, "--journal", journal, env=ENV)
    assert first.returncode == 0, first.stderr
    again = run(
        *slow, "wallet-users", "import", "3", source, "--resume", "--journal", journal, env=ENV
    )
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout)["skipped"] == 20
    assert not (tmp_path / "users.csv.journal").exists()


def test_two_resumes_at_once_the_second_refuses_and_no_row_is_doubled(
    tmp_path: Path, slow: list[str]
) -> None:
    source = users_csv(tmp_path / "users.csv", 3000, "twice")
    journal = tmp_path / "users.csv.journal"
    started = run(*slow, "wallet-users", "import", "3", source, "--restart", "--batch-size", "3000", "--concurrency", "1", env=ENV)  # fmt: skip
    assert started.returncode == 0
    source.write_text(
        source.read_text() + "".join(f"M{n},twice-more{n}@example.com\n" for n in range(3000))
    )
    # Another import holding the journal (as a running process does): always refused.
    holder = sqlite3.connect(journal, timeout=0, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        held = run(*slow, "wallet-users", "import", "3", source, "--resume", env=ENV)
    finally:
        holder.close()
    assert held.returncode == 1, held.stderr
    assert "in use by another import" in " ".join(held.stderr.split())
    # Two resumes racing: the second refuses while the first holds the journal, or (when
    # the first is already done) skips every row; either way no row is sent twice.
    both = run_all(
        (*slow, "wallet-users", "import", "3", source, "--resume"),
        (*slow, "wallet-users", "import", "3", source, "--resume"),
        env=ENV,
    )
    codes = sorted(r.returncode for r in both)
    assert journal.exists()
    assert codes in ([0, 0], [0, 1]), [r.stderr for r in both]
    for refused in (r for r in both if r.returncode != 0):
        assert "in use by another import" in " ".join(refused.stderr.split())
    more = emails_on(slow, "3", "twice-more")
    assert len(more) == 3000
    assert max(more.values()) == 1


def test_a_bad_header_is_one_error_naming_the_column_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "first_name,email,favourite_colour\n"
        + "".join(f"A{n},a{n}@example.com,blue\n" for n in range(2000))
    )
    result = run("--sandbox", "wallet-users", "import", "1", source)
    assert result.returncode == 2
    assert "favourite_colour" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "users.csv.journal").exists()


def test_concurrency_over_64_is_a_usage_error(tmp_path: Path) -> None:
    source = users_csv(tmp_path / "users.csv", 2, "c")
    result = run("--sandbox", "wallet-users", "import", "1", source, "--concurrency", "65")
    assert result.returncode == 2
    assert "concurrency" in result.stderr


def test_an_excel_export_in_cp1252_with_semicolons_imports(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes("first_name;email\r\nZoë;zoe@example.com\r\nJosé;jose@example.com\r\n".encode("cp1252"))  # fmt: skip
    as_utf8 = run("--sandbox", "wallet-users", "import", "1", source)
    assert as_utf8.returncode == 1
    failed = (tmp_path / "export.csv.failed.csv").read_bytes()
    assert b"cp1252" in failed
    assert "Zoë".encode("cp1252") in failed  # the row as it was, to fix and import again
    fixed = run("--sandbox", "wallet-users", "import", "1", source, "--encoding", "cp1252", "--restart")  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert summary(fixed.stdout)["created"] == 2


def test_an_import_stopped_by_an_error_reports_the_rows_it_did_not_do(
    tmp_path: Path, slow: list[str]
) -> None:
    source = users_csv(tmp_path / "users.csv", 500, "stopped")
    wrong = _env(COUPONTOOLS_CLIENT_ID="wrong-client-id", COUPONTOOLS_CLIENT_SECRET="wrong-secret")
    result = run(*slow, "wallet-users", "import", "3", source, env=wrong)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "(stopped)" in result.stdout
    assert "--resume" in result.stderr
    with open(tmp_path / "users.csv.failed.csv", encoding="utf-8") as handle:
        reasons = [r["reason"] for r in csv.DictReader(handle)]
    assert reasons
    assert all(r.startswith(("not created: HTTP 401", "not sent:", "unknown:")) for r in reasons)
    assert any(r.startswith("not created: HTTP 401") for r in reasons)  # the refused request's
    assert "wrong-secret" not in result.stdout + result.stderr
    assert "wrong-secret" not in (tmp_path / "users.csv.failed.csv").read_text(encoding="utf-8")


def test_unreadable_records_fail_with_their_line_and_are_copied_to_the_failed_file(
    tmp_path: Path,
) -> None:
    source = tmp_path / "users.csv"
    huge = b"x" * 200_000
    source.write_bytes(
        b"first_name,email\nAnn,ann@example.com\n"
        b'"' + huge + b'",huge@example.com\nBad\xff,bad@example.com\nCid,cid@example.com\n'
    )
    result = run("--sandbox", "wallet-users", "import", "1", source)
    assert result.returncode == 1, result.stderr
    assert summary(result.stdout) == {"created": 2, "skipped": 0, "failed": 2}
    copied = (tmp_path / "users.csv.failed.csv").read_bytes()
    assert huge in copied  # the record as it was, to fix in place
    assert b"Bad\xff,bad@example.com" in copied
    assert b"field larger than field limit" in copied


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_national_phone_number_is_refused_with_this_commands_option_to_fix_it(
    tmp_path: Path, dry_run: bool
) -> None:
    source = tmp_path / "phones.csv"
    source.write_text("first_name,email,phone\nAn,an@example.com,0470 12 34 56\n", "utf-8")
    flags = ["--dry-run"] if dry_run else []
    refused = run("--sandbox", "wallet-users", "import", "1", source, *flags)
    assert refused.returncode == 1
    with open(tmp_path / "phones.csv.failed.csv", encoding="utf-8") as handle:
        (reason,) = [r["reason"] for r in csv.DictReader(handle)]
    assert "add --default-region BE (your country)" in reason  # what to type here...
    assert "default_region=" not in reason  # ...not the Python argument's spelling
    fixed = run("--sandbox", "wallet-users", "import", "1", source, *flags, "--default-region", "BE", "--restart")  # fmt: skip
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
