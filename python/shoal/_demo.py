"""``python -m shoal demo``: the classic "too many objects" experiment on this machine.

N records holding one random float, built one at a time by each approach in a fresh process;
memory is RSS from the OS. Then shoal.sizeof's breakdown of the plain-class approach.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from html import escape
from typing import Any

import shoal
from shoal._demo_case import APPROACHES

RAW_BYTES = 8  # one float64 per record


def run_approach(name: str, n: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "shoal._demo_case", name, str(n)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return {"approach": name, "skipped": f"failed: {out.stderr.strip().splitlines()[-1:]}"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if "kept" in result:
        result["bytes_per_record"] = result["kept"] / n
        result["times_raw"] = result["kept"] / n / RAW_BYTES
    return result


def plain_breakdown(n: int) -> dict[str, Any]:
    class Point:
        def __init__(self, x: float) -> None:
            self.x = x

    points = [Point(i + 0.5) for i in range(n)]
    report = shoal.sizeof(points)
    return {"text": str(report), "report": report.to_dict()}


def version_note() -> str:
    v = sys.version_info
    if v >= (3, 13):
        return (
            f"CPython {v.major}.{v.minor}: attribute values live inside each object (inline "
            "values); a dict is made only if someone reads __dict__ (that costs ~60-100 B more)."
        )
    if v >= (3, 11):
        return (
            f"CPython {v.major}.{v.minor}: attributes live in a values array beside each object; "
            "a dict is made only if someone reads __dict__. Before 3.11 every instance had one."
        )
    return (
        f"CPython {v.major}.{v.minor}: every instance has its own __dict__ (the article's "
        "'dict = 55 %'); 3.11+ stores attributes inline and needs about a third less."
    )


def bar_chart(rows: list[dict[str, Any]], width: int = 40) -> str:
    measured = [r for r in rows if "kept" in r]
    top = max((r["kept"] for r in measured), default=1) or 1
    lines = []
    for r in measured:
        bar = "█" * max(1, round(width * r["kept"] / top))
        lines.append(f"  {r['approach']:<16} {bar} {r['kept'] / 1e6:.1f} MB")
    return "\n".join(lines)


def svg_chart(rows: list[dict[str, Any]], n: int) -> str:
    measured = [r for r in rows if "kept" in r]
    top = max((r["kept"] for r in measured), default=1) or 1
    bar_h, gap, left, width = 22, 8, 170, 420
    height = 60 + len(measured) * (bar_h + gap)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 120}" '
        f'height="{height}" font-family="sans-serif" font-size="13">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="24" font-size="15" font-weight="bold">RSS kept by {n:,} records '
        f"holding one float (Python {sys.version.split()[0]})</text>",
    ]
    for i, r in enumerate(measured):
        y = 44 + i * (bar_h + gap)
        w = max(1.0, width * r["kept"] / top)
        color = "#2b8a3e" if r["approach"] == "shoal.Table" else "#4a78c2"
        parts += [
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(r["approach"])}</text>',
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>',
            f'<text x="{left + w + 6:.1f}" y="{y + 16}">{r["kept"] / 1e6:.1f} MB</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def table(rows: list[dict[str, Any]], n: int) -> str:
    head = (
        f"{'approach':<16} {'RSS kept':>10} {'peak':>10} {'B/record':>9} {'x raw':>6} {'build':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['approach']:<16} skipped: {r['skipped']}")
            continue
        lines.append(
            f"{r['approach']:<16} {r['kept'] / 1e6:>7.1f} MB {r['peak'] / 1e6:>7.1f} MB "
            f"{r['bytes_per_record']:>9.1f} {r['times_raw']:>6.1f} {r['seconds']:>6.2f}s"
        )
    lines.append(f"raw data: {RAW_BYTES} bytes/record ({n * RAW_BYTES / 1e6:.1f} MB)")
    return "\n".join(lines)


def run(n: int, only: list[str] | None, as_json: bool, svg: str | None) -> int:
    names = list(APPROACHES)
    if only:
        unknown = [o for o in only if o not in APPROACHES]
        if unknown:
            raise SystemExit(f"unknown approach {unknown}; choose from {names}")
        names = only
    rows = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", end="", file=sys.stderr, flush=True)
        start = time.perf_counter()
        rows.append(run_approach(name, n))
        print(f" {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    print("[breakdown] shoal.sizeof of the plain-class approach ...", file=sys.stderr, flush=True)
    breakdown = plain_breakdown(n)
    if svg:
        with open(svg, "w") as f:
            f.write(svg_chart(rows, n))
    if as_json:
        print(
            json.dumps(
                {
                    "n": n,
                    "python": sys.version.split()[0],
                    "raw_bytes_per_record": RAW_BYTES,
                    "approaches": rows,
                    "plain_class_breakdown": breakdown["report"],
                    "note": version_note(),
                },
                indent=2,
            )
        )
        return 0
    print(f"\n{n:,} records holding one random float, each approach in a fresh process")
    print("(memory: RSS from the OS; peak: VmHWM while building)\n")
    print(table(rows, n))
    print("\n" + bar_chart(rows))
    print("\nWhere the plain class's memory goes (shoal.sizeof):")
    print(breakdown["text"])
    print("\n" + version_note())
    if svg:
        print(f"\nchart written to {svg}")
    return 0
