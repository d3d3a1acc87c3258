"""Command line: ``python -m shoal census script.py [args]``."""

from __future__ import annotations

import argparse
import json
import runpy
import sys

import shoal


def _census(args: argparse.Namespace) -> int:
    sys.argv = [args.script, *args.args]
    status = 0
    try:
        runpy.run_path(args.script, run_name="__main__")
    except SystemExit as e:  # the script's own exit: still report the heap it left
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    report = shoal.census(progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoal", description=shoal.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    census = sub.add_parser(
        "census",
        help="run a script, then print where the heap's memory goes and what would shrink it",
    )
    census.add_argument("--json", action="store_true", help="machine-readable output")
    census.add_argument("script")
    census.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "census":
        return _census(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
