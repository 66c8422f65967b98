"""``coupontools wallet-users``: import users into a wallet card, export them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import (
    EXIT_FAILED,
    MAX_CONCURRENCY,
    ExportFormat,
    FormatOption,
    OutputOption,
    _guard,
    options,
)
from ._help import _group
from ._output import _Activity

if TYPE_CHECKING:
    pass

group = _group("Users of wallet (v4) loyalty cards.")


@group.command("import")
def wallet_users_import(
    ctx: typer.Context,
    card: Annotated[int, typer.Argument(min=1, metavar="CARD", help="Id of the wallet card.")],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV with a header line (or .jsonl) of user fields: first_name, last_name, "
            "address, zip, city, phone (E.164, or national with --default-region), email, "
            "custom_1..custom_8. Columns of an "
            "export (id, code, stamps, ...) and `reason` are ignored.",
        ),
    ],
    concurrency: Annotated[
        int,
        typer.Option(min=1, max=MAX_CONCURRENCY, help="Requests in flight at most (1-64)."),
    ] = 8,
    batch_size: Annotated[int, typer.Option(min=1, help="Users per bulk request.")] = 100,
    journal: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="Where to record every outcome (default FILE.journal), to resume after "
            "a crash or Ctrl-C.",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue from the journal (FILE.journal, or --journal): rows done are "
            "skipped, rows in flight are checked on the server.",
        ),
    ] = False,
    restart: Annotated[
        bool,
        typer.Option(
            "--restart",
            help="Discard an existing journal and send every row again.",
        ),
    ] = False,
    encoding: Annotated[
        str,
        typer.Option(help="Text encoding of the file (cp1252 for many Excel exports)."),
    ] = "utf-8-sig",
    delimiter: Annotated[
        str | None,
        typer.Option(help="CSV delimiter (default: the one the header line uses)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check every row locally and report what would fail; send nothing.",
        ),
    ] = False,
    default_region: Annotated[
        str | None,
        typer.Option(
            metavar="REGION",
            help="Country of national phone numbers (BE: 0470 12 34 56 is +32470123456); "
            "needs the phone extra.",
        ),
    ] = None,
) -> None:
    """Import users into a wallet card: batched, concurrent, exactly once, resumable.

    Failed rows are written to FILE.failed.csv (the input's columns plus `reason`):
    fix them and import that file. Exit code 1 when any row failed.
    """
    from .._validation import check_region
    from ._importing import (
        _check_header,
        _dry_run,
        _failed_path,
        _ImportOptions,
        _journal_for,
        _print_import_summary,
        _send_file,
        _write_failures,
    )
    from ._records import _count_rows, _sandbox_note

    opts = options(ctx)
    with _guard(opts):
        _check_header(file, encoding, delimiter)
        journal_path = (
            None if dry_run else _journal_for(file, journal, resume=resume, restart=restart)
        )
        region = None if default_region is None else check_region(default_region)
        total = _count_rows(file)

    if dry_run:
        with _guard(opts), _Activity(f"importing {file.name}", total=total, unit="rows") as a:
            report = _dry_run(file, a, encoding, delimiter, region)
    else:
        report = _send_file(
            opts,
            card,
            file,
            _ImportOptions(journal_path, total, encoding, delimiter, region, resume),
            concurrency=concurrency,
            batch_size=batch_size,
        )
        _sandbox_note(opts)
    failures: Path | None = None
    with _guard(opts):
        if report.failed:
            failures = _write_failures(file, report.failed, encoding, delimiter)
        else:
            _failed_path(file).unlink(missing_ok=True)  # from an earlier run: now stale
    title = f"{'Dry run of the import' if dry_run else 'Import'} of {file.name} into card {card}"
    _print_import_summary(title, report, failures, dry_run=dry_run)
    if report.failed:
        raise typer.Exit(EXIT_FAILED)


@group.command("export")
def wallet_users_export(
    ctx: typer.Context,
    card: Annotated[int, typer.Argument(min=1, metavar="CARD", help="Id of the wallet card.")],
    fmt: FormatOption = ExportFormat.csv,
    output: OutputOption = None,
    include_voided: Annotated[
        bool, typer.Option("--include-voided", help="Also export users whose card was voided.")
    ] = False,
) -> None:
    """Export every user of a wallet card, streaming page by page.

    CSV columns: first_name, last_name, address, zip, city, phone, email,
    custom_1..custom_8 (what import accepts), then id, code, stamps, created_at,
    voided_at, download_url. The file imports back as it is.
    """
    from ._records import USER_COLUMNS, _export_all, _user_record

    _export_all(
        options(ctx),
        lambda ct: ct.wallet_users.iter(card, include_voided=include_voided).pages(),
        output,
        fmt=fmt,
        columns=USER_COLUMNS,
        record=_user_record,
        what="users",
    )
