"""The whole sandbox state: one attrs object per domain, plus the webhook events log."""

from __future__ import annotations

from typing import Any

import attrs

from ._account import AccountState
from ._campaigns import CouponsState
from ._loyalty import LoyaltyState
from ._messaging import MessagingState
from ._wallet import WalletState

__all__ = ["SandboxConfig", "SandboxState"]


@attrs.define(kw_only=True)
class SandboxConfig:
    """How the sandbox behaves where the real API's numbers are not documented."""

    session_page_size: int = 100
    """Sessions per page of campaign/data: 100, as a live integration sees (FACTS.md evidence;
    api-docs 004 say 5000)."""
    directory_page_size: int = 100
    """Users per page of directoryusers/list (FACTS.md: 100) and of the v4 users list."""
    wallet_page_size: int = 100
    """Wallet users per page when the request gives no ``per_page``."""
    stamps_per_reward: int = 10
    """Stamps that earn a wallet reward (the stamps count restarts from the remainder)."""
    reward_validity_days: int = 30
    """Days a wallet reward can be used before it expires."""


@attrs.define(kw_only=True)
class SandboxState:
    """Everything the sandbox knows. Inspect it from tests; ``Sandbox.reset()`` empties it."""

    config: SandboxConfig = attrs.Factory(SandboxConfig)
    coupons: CouponsState = attrs.Factory(CouponsState)
    loyalty: LoyaltyState = attrs.Factory(LoyaltyState)
    messaging: MessagingState = attrs.Factory(MessagingState)
    account: AccountState = attrs.Factory(AccountState)
    wallet: WalletState = attrs.Factory(WalletState)
    events: list[dict[str, Any]] = attrs.Factory(list)
    """Every webhook event the sandbox emitted, oldest first (``id`` ``evt_...``)."""

    def event(self, event_id: str) -> dict[str, Any] | None:
        """The emitted event with this id, or None."""
        for event in reversed(self.events):
            if event.get("id") == event_id:
                found: dict[str, Any] = event
                return found
        return None
