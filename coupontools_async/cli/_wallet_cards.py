"""``coupontools wallet-cards``: list and copy wallet (v4) loyalty cards."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import call, options
from ._help import _group
from ._output import _print_json, _print_models, _unstructure

group = _group("Wallet (v4) loyalty cards.")


@group.command("list")
def wallet_cards_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the wallet cards of the account."""
    cards = call(options(ctx), lambda ct: ct.wallet_cards.list())
    if as_json:
        _print_json(_unstructure(cards))
    else:
        _print_models(cards, ["id", "code", "name", "type", "domain"], title="Wallet cards")


@group.command("copy")
def wallet_cards_copy(
    ctx: typer.Context,
    card: Annotated[
        int, typer.Argument(min=1, metavar="CARD", help="Id of the wallet card to copy.")
    ],
    name: Annotated[
        str | None, typer.Option(help="Name of the new card (max. 50 characters).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new card as JSON.")] = False,
) -> None:
    """Copy a wallet card (settings, no users) and print the new card's id."""
    from ._records import _sandbox_note

    opts = options(ctx)
    copy = call(opts, lambda ct: ct.wallet_cards.copy(card, name=name))
    _sandbox_note(opts)
    if as_json:
        _print_json(_unstructure(copy))
    else:
        print(copy.id)
