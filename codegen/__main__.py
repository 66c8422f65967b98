"""``python -m codegen [--check] [--spec PATH] [--out DIR] [--docs DIR] [--update-golden]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import docs
from .generate import (
    GOLDEN,
    GOLDEN_PACKAGE,
    GOLDEN_SPEC,
    OUT,
    SPEC,
    SpecError,
    check,
    generate_to,
)


def main(argv: list[str] | None = None) -> int:
    """Regenerate the generated layer, or with --check say whether it is in sync."""
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="fail if the output differs from a fresh run"
    )
    parser.add_argument(
        "--spec", type=Path, default=SPEC, help="the OpenAPI spec (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=OUT, help="the generated package (default: %(default)s)"
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=None,
        help=f"the generated reference pages (default: {docs.OUT}, or OUT-docs beside another --out)",
    )
    parser.add_argument(
        "--update-golden",
        action="store_true",
        help="regenerate the golden record (tests/codegen/golden) from its feature spec",
    )
    args = parser.parse_args(argv)
    if args.update_golden:
        try:
            generate_to(GOLDEN, GOLDEN_SPEC, GOLDEN_PACKAGE)
        except SpecError as exc:
            print(f"codegen: {exc}", file=sys.stderr)
            return 2
        print(f"generated {GOLDEN} from {GOLDEN_SPEC}")
        return 0
    docs_out = args.docs or (
        docs.OUT if args.out == OUT else args.out.with_name(args.out.name + "-docs")
    )
    try:
        if args.check:
            diffs = check(args.out, args.spec) + docs.check(docs_out, args.spec)
            if diffs:
                print(
                    f"{args.out} is out of date with {args.spec}; run `python -m codegen`:",
                    file=sys.stderr,
                )
                for line in diffs:
                    print(f"  {line}", file=sys.stderr)
                return 1
            print(f"{args.out} is up to date with {args.spec}")
            return 0
        generate_to(args.out, args.spec)
        docs.write(docs_out, args.spec)
    except SpecError as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    print(f"generated {args.out} from {args.spec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
