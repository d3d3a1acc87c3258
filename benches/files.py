"""Files (issue #13): save, open, random reads and batch scans of 1M / 10M rich records.

    python benches/files.py [--n 1000000] [--big 10000000] [--repeat 5] [--dir DIR]

`save` against `pyarrow.feather.write_feather(pa.table(t), compression="uncompressed")`, both
process time (CPU) and wall time (ours also fsyncs the file and its directory; feather does
not). `shoal.Writer`: the rows appended one by one against the same loop into an in-memory
Table, peak RSS (VmHWM) above the start, each in a fresh process (best of two). Opening,
random reads and scans each run in a fresh process (`files_case.py`): time is
wall time, memory is the process's own — anonymous RSS (`RssAnon`: heap and private pages)
and file-backed RSS (`RssFile`: pages of the mapped file, which the kernel can drop at will)
from /proc/self/status, and tracemalloc's peak for what Python code allocated. Prints
markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bulk import Rich, data  # noqa: E402


def build(n: int):
    import shoal

    t = shoal.Table(Rich)
    chunk = 1_000_000
    for start in range(0, n, chunk):
        rows = data(min(chunk, n - start))
        t.extend(
            (x, y, z, start + i, f"user{start + i:08d}", k)
            for i, (x, y, z, _, _, k) in enumerate(rows)
        )
    return t


def timed(f) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w0, time.process_time() - c0


def save_rows(t, directory: Path, repeat: int) -> list[str]:
    import pyarrow as pa
    import pyarrow.feather as feather

    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(timed(lambda: t.save(directory / "ours.arrow")))
        theirs.append(
            timed(
                lambda: feather.write_feather(
                    pa.table(t), str(directory / "feather.arrow"), compression="uncompressed"
                )
            )
        )
    wall = statistics.median(o[0] / p[0] for o, p in zip(ours, theirs, strict=True))
    cpu = statistics.median(o[1] / p[1] for o, p in zip(ours, theirs, strict=True))
    mine, peer = min(o[0] for o in ours), min(p[0] for p in theirs)
    return [
        f"| save {len(t):,} rows | {mine * 1e3:.1f} ms | feather {peer * 1e3:.1f} ms "
        f"| {wall:.2f}x wall, {cpu:.2f}x CPU |"
    ]


def best_of(n: int, f) -> float:
    return min(timed(f)[0] for _ in range(n))


def save_compressed(t, directory: Path) -> list[str]:
    """Compressed saves against feather with the same codec: wall time (best of 3) and size.
    Feather compresses the columns on several threads and does not flush to disk."""
    import pyarrow as pa
    import pyarrow.feather as feather

    lines = []
    for codec in ("lz4", "zstd"):
        ours_path, theirs_path = directory / f"ours.{codec}", directory / f"feather.{codec}"
        ours = best_of(3, partial(t.save, ours_path, compression=codec))
        theirs = best_of(
            3, partial(feather.write_feather, pa.table(t), str(theirs_path), compression=codec)
        )
        lines.append(
            f"| save {len(t):,} rows, {codec} | {ours * 1e3:.1f} ms, "
            f"{ours_path.stat().st_size / 1e6:.1f} MB | feather {theirs * 1e3:.1f} ms, "
            f"{theirs_path.stat().st_size / 1e6:.1f} MB | {ours / theirs:.2f}x wall |"
        )
        os.remove(ours_path)
        os.remove(theirs_path)
    return lines


def case(kind: str, path: Path, extra: str = "") -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(HERE / "files_case.py"), kind, str(path), extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="shoal-files-"))
    print(f"CPython {sys.version.split()[0]}, files in {directory}")
    print()
    print("| case | shoal | peer | ratio |")
    print("|---|---|---|---|")
    for n in (args.n, args.big):
        t = build(n)
        for line in save_rows(t, directory, args.repeat if n == args.n else 2):
            print(line, flush=True)
        if n == args.n:
            for line in save_compressed(t, directory):
                print(line, flush=True)
        path = directory / f"rich-{n}.arrow"
        t.save(path)
        del t
        size = path.stat().st_size
        opened = case("open", path)
        print(
            f"| open {n:,} rows ({size / 1e6:.0f} MB file) | {opened['ms']:.2f} ms, "
            f"+{opened['anon_mb']:.2f} MB anon, +{opened['file_mb']:.1f} MB file-backed, "
            f"tracemalloc peak {opened['traced_mb']:.2f} MB | | |",
            flush=True,
        )
        cold = case("random", path, "1000")
        print(
            f"| 1,000 random rows of {n:,} | {cold['ms']:.1f} ms, +{cold['anon_mb']:.2f} MB "
            f"anon, +{cold['file_mb']:.1f} MB file-backed | | |",
            flush=True,
        )
        writer = [case("writer", directory / "w.arrow", str(n)) for _ in range(2)]
        memory = [case("memory", directory / "unused", str(n)) for _ in range(2)]
        best_w = max(writer, key=lambda r: r["rows_per_s"])
        best_m = max(memory, key=lambda r: r["rows_per_s"])
        print(
            f"| Writer: {n:,} rows appended one by one | {best_w['s']:.2f} s, peak "
            f"+{max(r['peak_mb'] for r in writer):.1f} MB RSS | in-memory Table "
            f"{best_m['s']:.2f} s, peak +{max(r['peak_mb'] for r in memory):.0f} MB | "
            f"{best_w['rows_per_s'] / best_m['rows_per_s']:.2f}x the rate |",
            flush=True,
        )
        scan = case("scan", path, "100000")
        print(
            f"| scan {n:,} rows in batches of 100k (sum of x) | {scan['ms']:.1f} ms, peak "
            f"+{scan['anon_mb']:.1f} MB anon, +{scan['file_mb']:.0f} MB file-backed | "
            f"the same batches already in memory {scan['memory_ms']:.1f} ms | "
            f"{scan['ms'] / scan['memory_ms']:.2f}x |",
            flush=True,
        )
        scan = case("file-batches", directory / "w.arrow")
        print(
            f"| scan the Writer's file ({n:,} rows, batches of 65,536) with open_batches "
            f"(sum of x) | {scan['ms']:.1f} ms, peak +{scan['anon_mb']:.1f} MB anon, "
            f"+{scan['file_mb']:.0f} MB file-backed | the same batches already in memory "
            f"{scan['memory_ms']:.1f} ms | {scan['ms'] / scan['memory_ms']:.2f}x |",
            flush=True,
        )
        os.remove(directory / "w.arrow")
        os.remove(path)


if __name__ == "__main__":
    main()
