"""Command line: ``python -m shoal demo`` and ``python -m shoal census script.py [args]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import types

import shoal


def _run_script(path: str) -> tuple[types.ModuleType, int]:
    """Runs the script as ``__main__`` (as ``python script.py`` would) and returns its module,
    whose namespace holds the script's data, and its exit status: the census is taken while
    both are alive, also when the script raised (its traceback is printed, status 1)."""
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        exec(code, module.__dict__)
    except SystemExit as e:  # the script's own exit: still report the heap it left
        return module, e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        print("shoal census: the script raised; the census is of the heap it left", file=sys.stderr)
        return module, 1
    return module, 0


def _census(args: argparse.Namespace) -> int:
    sys.argv = [args.script, *args.args]
    module, status = _run_script(args.script)
    report = shoal.census(progress=not args.json and sys.stderr.isatty())
    del module
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoal", description=shoal.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="the classic experiment: 1M records in each approach, measured here"
    )
    demo.add_argument("--n", type=int, default=1_000_000, help="records (default 1,000,000)")
    demo.add_argument("--only", help="comma-separated approaches to run")
    demo.add_argument("--json", action="store_true", help="machine-readable output")
    demo.add_argument("--svg", metavar="FILE", help="also write the bar chart as SVG")
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
    if args.command == "demo":
        from shoal import _demo

        only = [o.strip() for o in args.only.split(",")] if args.only else None
        return _demo.run(args.n, only, args.json, args.svg)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
