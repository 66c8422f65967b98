"""A stateful Coupontools in memory: for tests, demos and benchmarks, with faults on demand.

::

    from coupontools_async.sandbox import Sandbox

    sandbox = Sandbox.seeded(seed=1)        # or Sandbox() for an empty account
    async with sandbox.client() as ct:      # in process: no port, no network
        cards = await ct.wallet_cards.list()

It implements every operation of the spec with the documented semantics (session state
machine and its 351-360 codes, paging, loyalty rules, ...), validates requests against
the spec, answers in the documented v3 envelope with the documented codes, checks the
credentials, emits the documented webhooks, and injects faults and latency on demand
(``sandbox.faults``). Serve it on a port with ``coupontools sandbox serve`` (needs the
``server`` extra: uvicorn).
"""

from ._faults import FAULT_KINDS, Faults
from ._sandbox import SANDBOX_BASE_URL, Sandbox, SandboxResponse
from ._state import SandboxConfig, SandboxState
from ._transport import SandboxTransport

__all__ = [
    "FAULT_KINDS",
    "SANDBOX_BASE_URL",
    "Faults",
    "Sandbox",
    "SandboxConfig",
    "SandboxResponse",
    "SandboxState",
    "SandboxTransport",
]
