"""One measurement of benches/files.py in a fresh process: prints one JSON line.

python benches/files_case.py open|random|scan|file-batches|writer|memory PATH [ARG]
"""

from __future__ import annotations

import copy
import json
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import shoal
from bulk import Rich


def status_mb() -> tuple[float, float]:
    """(RssAnon, RssFile) of this process in MB, from /proc/self/status."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["RssAnon"], fields["RssFile"]


def opened(path: str) -> dict[str, float]:
    anon0, file0 = status_mb()
    t0 = time.perf_counter()
    u = shoal.open(path, Rich)
    ms = (time.perf_counter() - t0) * 1e3
    anon1, file1 = status_mb()
    tracemalloc.start()
    again = shoal.open(path, Rich)
    traced = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    del again
    assert len(u) > 0
    return {"ms": ms, "anon_mb": anon1 - anon0, "file_mb": file1 - file0, "traced_mb": traced}


def random_rows(path: str, count: int) -> dict[str, float]:
    u = shoal.open(path, Rich)
    rows = random.Random(5).sample(range(len(u)), count)
    anon0, file0 = status_mb()
    t0 = time.perf_counter()
    got = [(r.x, r.y, r.z, r.id, r.name, r.kind) for r in (u[i] for i in rows)]
    ms = (time.perf_counter() - t0) * 1e3
    anon1, file1 = status_mb()
    assert len(got) == count
    return {"ms": ms, "anon_mb": anon1 - anon0, "file_mb": file1 - file0}


def scan(batches, peak: list[float]) -> float:
    anon0, file0 = status_mb()
    total = 0.0
    for batch in batches:
        total += float(batch["x"].to_numpy().sum())
        anon, file = status_mb()
        peak[0] = max(peak[0], anon - anon0)
        peak[1] = max(peak[1], file - file0)
    return total


def scanned(path: str, rows: int) -> dict[str, float]:
    """The mapped file's batches against the same batches already in memory (copies made
    before the clock starts)."""
    import numpy  # noqa: F401 - imported before timing: the first to_numpy() would pay for it

    u = shoal.open(path, Rich)
    peak = [0.0, 0.0]
    t0 = time.perf_counter()
    mapped_total = scan(u.batches(rows), peak)
    ms = (time.perf_counter() - t0) * 1e3
    in_memory = list(copy.copy(u).batches(rows))
    t0 = time.perf_counter()
    memory_total = scan(in_memory, [0.0, 0.0])
    memory_ms = (time.perf_counter() - t0) * 1e3
    assert mapped_total == memory_total
    return {"ms": ms, "memory_ms": memory_ms, "anon_mb": peak[0], "file_mb": peak[1]}


def scanned_file_batches(path: str) -> dict[str, float]:
    """`shoal.open_batches` of a file of many batches against the same batches in memory."""
    import numpy  # noqa: F401 - imported before timing: the first to_numpy() would pay for it

    batches = shoal.open_batches(path, Rich)
    peak = [0.0, 0.0]
    t0 = time.perf_counter()
    mapped_total = scan(batches, peak)
    ms = (time.perf_counter() - t0) * 1e3
    in_memory = [copy.copy(b) for b in batches]
    t0 = time.perf_counter()
    memory_total = scan(in_memory, [0.0, 0.0])
    memory_ms = (time.perf_counter() - t0) * 1e3
    assert mapped_total == memory_total
    return {"ms": ms, "memory_ms": memory_ms, "anon_mb": peak[0], "file_mb": peak[1]}


def peak_mb() -> tuple[float, float]:
    """(VmRSS now, VmHWM: the peak so far) of this process in MB, from /proc/self/status."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


KINDS = [f"kind{k}" for k in range(8)]


def appended(path: str, n: int, into_file: bool) -> dict[str, float]:
    """`n` rich records appended one by one to a `shoal.Writer` (batches of 65,536) or to an
    in-memory Table; the same loop, the same values. Peak RSS above the start (VmHWM)."""
    rss0, _ = peak_mb()
    target = shoal.Writer(path, Rich) if into_file else shoal.Table(Rich)
    append = target.append
    t0 = time.perf_counter()
    for i in range(n):
        append(i * 0.5, i * 0.25, -i * 0.5, i, f"user{i:08d}", KINDS[i & 7])
    if into_file:
        target.close()
    seconds = time.perf_counter() - t0
    _, hwm = peak_mb()
    return {"rows_per_s": n / seconds, "s": seconds, "peak_mb": hwm - rss0}


def main() -> None:
    kind, path = sys.argv[1], sys.argv[2]
    arg = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else 0
    result = {
        "open": lambda: opened(path),
        "random": lambda: random_rows(path, arg),
        "writer": lambda: appended(path, arg, True),
        "memory": lambda: appended(path, arg, False),
        "file-batches": lambda: scanned_file_batches(path),
    }.get(kind, lambda: scanned(path, arg))()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
