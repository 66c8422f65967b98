"""``coupontools coupons``: the account's coupons (v3 campaigns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._common import call, options
from ._help import _group
from ._output import _print_json, _print_models, _unstructure

if TYPE_CHECKING:
    from .._client import AsyncClient
    from .._generated import models

group = _group("Coupons (v3 campaigns).")


@group.command("list")
def coupons_list(
    ctx: typer.Context,
    only_active: Annotated[
        bool, typer.Option("--only-active", help="Only the active coupons.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the coupons of the account."""

    async def active(ct: AsyncClient) -> list[models.Coupon]:
        found = await ct.coupons.list(only_active=only_active or None)
        return list(found.coupon_info or [])

    items = call(options(ctx), active)
    if as_json:
        _print_json(_unstructure(items))
    else:
        _print_models(items, ["id", "name", "title", "status", "url"], title="Coupons")
