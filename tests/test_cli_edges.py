"""The command line's rough edges, through the installed ``coupontools`` entry point:
readable help, one-line usage errors, a progress bar that fits 80 columns, a closed
pipe, missing extras, ``sandbox serve`` on a taken port; and the FastAPI dependency
whose name users reach for."""

from __future__ import annotations

import csv
import fcntl
import os
import pty
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import anyio
import httpx
import pytest
from fastapi import FastAPI

from coupontools_async import models
from coupontools_async.fastapi import WebhookEvent, coupontools_lifespan
from coupontools_async.sandbox import Sandbox
from tests._spec import documented_examples

COUPONTOOLS = str(Path(sys.executable).with_name("coupontools"))
COMMANDS = [
    [],
    ["demo"],
    ["wallet-users"],
    ["wallet-users", "import"],
    ["wallet-users", "export"],
    ["wallet-cards", "list"],
    ["wallet-cards", "copy"],
    ["coupons", "list"],
    ["sessions", "export"],
    ["webhooks", "parse"],
    ["webhooks", "verify"],
    ["sandbox", "serve"],
]
CAMPAIGN = "cam_1000001"  # the first coupon of the seeded sandbox


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUPONTOOLS_")}
    return {**env, "COLUMNS": "100", "NO_COLOR": "1", **extra}


def run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COUPONTOOLS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(**env),
        check=False,
    )


def shadowed(tmp_path: Path, *packages: str) -> str:
    """A PYTHONPATH on which ``import <package>`` fails, as if it were not installed."""
    for package in packages:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(
            f"raise ImportError({'No module named ' + repr(package)!r})\n", encoding="utf-8"
        )
    return str(tmp_path)


def test_the_installed_entry_point_is_the_one_tested() -> None:
    assert Path(COUPONTOOLS).is_file()
    assert run("--help").returncode == 0


# ------------------------------------------------------------------------- help


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    """Every command's --help, drawn wide so that no line wraps (one run each)."""
    shown = {}
    for command in COMMANDS:
        result = run(*command, "--help", COLUMNS="400")
        assert result.returncode == 0, result.stderr
        shown[" ".join(command) or "top"] = result.stdout
    return shown


NAMES = [" ".join(command) or "top" for command in COMMANDS]


@pytest.mark.parametrize("name", NAMES)
def test_help_shows_no_bool_label_on_flags(helps: dict[str, str], name: str) -> None:
    assert "--help" in helps[name]
    assert "<bool>" not in helps[name]


@pytest.mark.parametrize("name", NAMES)
def test_usage_lines_name_arguments_plainly(helps: dict[str, str], name: str) -> None:
    usage = next(line for line in helps[name].splitlines() if "Usage:" in line)
    assert "{" not in usage
    assert "}" not in usage


@pytest.mark.parametrize("name", NAMES)
def test_no_help_text_states_two_defaults_for_one_option(helps: dict[str, str], name: str) -> None:
    for line in helps[name].splitlines():
        said = re.search(r"\(default:? ([^),]+)", line)
        shown = re.search(r"\[default: ([^\]]+)\]", line)
        if said and shown:
            assert said.group(1).strip() == shown.group(1).strip(), line


def test_session_page_size_help_shows_only_the_documented_default(
    helps: dict[str, str],
) -> None:
    (line,) = [
        line for line in helps["sandbox serve"].splitlines() if "--session-page-size" in line
    ]
    assert "(default: 100, as the live API pages)" in line
    assert "[default:" not in line


def test_usage_line_of_import_reads_card_and_file(helps: dict[str, str]) -> None:
    assert (
        "Usage: coupontools wallet-users import [OPTIONS] CARD FILE" in helps["wallet-users import"]
    )
    assert "Usage: coupontools webhooks parse [OPTIONS] FILE|-" in helps["webhooks parse"]


def test_flags_with_a_value_keep_their_label(helps: dict[str, str]) -> None:
    # only flags lose the type: an option taking a value still says what it takes
    line = next(line for line in helps["sandbox serve"].splitlines() if "--port" in line)
    assert "<int" in line


# ----------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["wallet-users", "import"], "Missing argument 'CARD'"),
        (["wallet-users", "import", "twelve", "users.csv"], "Invalid value for 'CARD'"),
        (["wallet-users", "import", "12", "no-such-file.csv"], "FILE"),
        (["coupons", "list", "--colour"], "No such option: --colour"),
        (["no-such-command"], "No such command 'no-such-command'"),
        (["--sandbox", "--base-url", "http://x", "coupons", "list"], "not both"),
        (["sandbox", "serve", "--port", "70000"], "--port"),
        (["sessions", "export", CAMPAIGN, "--format", "xml"], "--format"),
    ],
)
def test_a_usage_error_is_one_line_on_stderr_with_exit_2(args: list[str], says: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "╭" not in result.stderr
    assert "│" not in result.stderr


def test_a_usage_error_points_at_the_commands_help() -> None:
    result = run("wallet-users", "import")
    assert "(see 'coupontools wallet-users import --help')" in result.stderr


def test_a_group_without_a_command_still_shows_its_commands() -> None:
    result = run("wallet-users")
    assert result.returncode == 2
    shown = result.stdout + result.stderr
    assert "import" in shown
    assert "export" in shown
    assert "error" not in shown


# --------------------------------------------------------------- progress bar


def run_in_terminal(args: list[str], *, columns: int, cwd: Path) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal ``columns`` wide: what it drew."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(
        [COUPONTOOLS, *args],
        stdin=follower,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        cwd=cwd,
        env=environment(COLUMNS=str(columns), TERM="xterm"),
    )
    os.close(follower)
    drawn = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the command ended and closed the terminal
                    break
                if not chunk:
                    break
                drawn += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=30)
    finally:
        os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.decode("utf-8", "replace"))
    return code, text


def test_at_80_columns_the_progress_bar_never_cuts_the_count(tmp_path: Path) -> None:
    rows = 8710
    source = tmp_path / "users_of_the_spring_campaign_2026.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "email"])
        writer.writerows([f"U{n}", f"u{n}@example.com"] for n in range(rows))
    code, drawn = run_in_terminal(
        ["--sandbox", "wallet-users", "import", "1", source.name], columns=80, cwd=tmp_path
    )
    assert code == 0, drawn
    frames = [frame for frame in re.split(r"[\r\n]", drawn) if "importing" in frame]
    assert frames, drawn
    assert f"{rows}/{rows}" in frames[-1]
    for frame in frames:
        assert re.search(r"\d…", frame) is None, frame  # a number cut short
        assert len(frame.rstrip()) <= 80


# --------------------------------------------------------------------- pipes


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_into_a_pipe_closed_early_exits_0_quietly(fmt: str) -> None:
    proc = subprocess.Popen(
        [COUPONTOOLS, "--sandbox", "sessions", "export", CAMPAIGN, "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()  # `| head -1`: read a line, then leave
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    proc.stderr.close()
    assert first
    assert code == 0
    assert stderr == ""


# ------------------------------------------------------------- missing extras


@pytest.mark.parametrize("package", ["typer", "rich"])
def test_without_the_cli_extra_the_command_says_what_to_install(
    tmp_path: Path, package: str
) -> None:
    result = run("coupons", "list", PYTHONPATH=shadowed(tmp_path, package))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "the coupontools command needs the cli extra: pip install 'coupontools-async[cli]'"
    ]


def test_sandbox_serve_without_the_server_extra_says_what_to_install(tmp_path: Path) -> None:
    result = run("sandbox", "serve", PYTHONPATH=shadowed(tmp_path, "uvicorn"))
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "pip install 'coupontools-async[server]'" in line


def test_sandbox_serve_on_a_taken_port_prints_one_error_and_no_banner() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("sandbox", "serve", "--port", str(port), timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""  # the banner would say it serves
    (line,) = result.stderr.splitlines()
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "taken" in line


def test_sandbox_serve_on_an_address_not_of_this_machine_says_so() -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine, no DNS asked.
    result = run("sandbox", "serve", "--host", "192.0.2.1", timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "cannot listen on 192.0.2.1:8080" in line


# --------------------------------------------------------------- phone region


def test_import_with_a_default_region_sends_national_numbers_as_e164(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text(
        "first_name,email,phone\n"
        "Ann,ann@example.com,0470 12 34 56\n"
        "Bob,bob@example.com,+1 555 0100\n",
        encoding="utf-8",
    )
    result = run("--sandbox", "wallet-users", "import", "1", str(source), "--default-region", "BE")
    assert result.returncode == 1  # one row failed
    with (tmp_path / "users.csv.failed.csv").open(encoding="utf-8") as handle:
        (failed,) = csv.DictReader(handle)
    assert failed["first_name"] == "Bob"
    assert "a local number of US (+1), without its area code" in failed["reason"]
    assert "1" in result.stdout  # the summary counts the created row


def test_a_dry_run_checks_numbers_with_the_default_region(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text("first_name,phone\nAnn,0470 12 34 56\n", encoding="utf-8")
    without = run("wallet-users", "import", "1", str(source), "--dry-run")
    with_region = run(
        "wallet-users", "import", "1", str(source), "--dry-run", "--default-region", "BE"
    )
    assert without.returncode == 1
    assert with_region.returncode == 0, with_region.stdout + with_region.stderr


def test_an_unknown_default_region_is_a_one_line_usage_error(tmp_path: Path) -> None:
    source = tmp_path / "users.csv"
    source.write_text("first_name,phone\nAnn,0470 12 34 56\n", encoding="utf-8")
    result = run("wallet-users", "import", "1", str(source), "--dry-run", "--default-region", "XX")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "default_region" in line
    assert "'XX'" in line


# -------------------------------------------------------------------- FastAPI


DOCUMENTED_COUPON_EVENT = next(
    payload
    for key, schema, payload in documented_examples()
    if key.startswith("webhook:") and schema == "CouponEvent"
)


@pytest.mark.anyio
async def test_a_route_using_fastapi_webhookevent_starts_and_receives_an_event() -> None:
    app = FastAPI(lifespan=coupontools_lifespan(Sandbox().client))

    @app.post("/webhooks")  # before, FastAPI refused this at start: not a dependency
    async def receive(event: WebhookEvent) -> dict[str, str]:
        return {"model": type(event).__name__, "type": event.type}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            answer = await http.post("/webhooks", json=DOCUMENTED_COUPON_EVENT)
            malformed = await http.post("/webhooks", content=b"{not json")
    assert answer.status_code == 200
    assert answer.json() == {"model": "CouponEvent", "type": DOCUMENTED_COUPON_EVENT["type"]}
    assert malformed.status_code == 400


def test_the_union_type_stays_importable_from_webhooks() -> None:
    from coupontools_async import fastapi, webhooks

    assert fastapi.WebhookEvent is not webhooks.WebhookEvent
    assert fastapi.WebhookEventDep is fastapi.WebhookEvent
    assert models.CouponEvent in webhooks.WebhookEvent.__args__


@pytest.mark.anyio
async def test_the_fastapi_route_is_served_on_asyncio_and_trio() -> None:
    app = FastAPI()

    @app.post("/hook")
    async def hook(event: WebhookEvent) -> dict[str, str]:
        return {"id": event.id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        answer = await http.post("/hook", json=DOCUMENTED_COUPON_EVENT)
        await anyio.lowlevel.checkpoint()
    assert answer.json() == {"id": DOCUMENTED_COUPON_EVENT["id"]}
