"""The ``coupontools`` command (needs the ``cli`` extra: typer and rich).

::

    coupontools demo                                   # the whole job against a sandbox
    coupontools wallet-users import 12 users.csv            # journal: users.csv.journal
    coupontools wallet-users import 12 users.csv --resume   # after Ctrl-C or a crash
    coupontools wallet-users export 12 -o users.csv
    coupontools sessions export cam_12345 --state claimed --format jsonl > claimed.jsonl
    coupontools --sandbox coupons list --json

Tables go to stdout, progress bars to stderr (only on a terminal). Exit codes: 0 done,
1 the API refused something or rows failed, 2 a usage or configuration error. Errors
are one line; ``--debug`` adds the traceback and the client's DEBUG log.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coupontools`` command.

    Without the ``cli`` extra it says in one line what to install, as httpx's ``main()``
    stub does, instead of a traceback. Nothing else is imported until a command runs, so
    that ``--help`` starts fast.
    """
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError:
        print(
            "the coupontools command needs the cli extra: pip install 'coupontools-async[cli]'",
            file=sys.stderr,
        )
        return 2  # EXIT_USAGE, which lives with typer's imports
    from ._app import run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
