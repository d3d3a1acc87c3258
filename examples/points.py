"""Build 1,000,000 Points one at a time, as a Python loop would, and show what they cost.

Memory is the process's resident set size from the OS (VmRSS, /proc/self/status), measured
before and after building; the peak (VmHWM) is reset just before building.
"""

import random
import sys
import time

import shoal

N = 1_000_000


class Point(shoal.Record):
    x: float
    y: float = 0.0

    def norm(self) -> float:
        return float((self.x**2 + self.y**2) ** 0.5)


def status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def main() -> None:
    rng = random.Random(42)
    xs = [rng.random() for _ in range(N)]
    linux = sys.platform.startswith("linux")
    if linux:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        before = status_bytes("VmRSS")
    start = time.perf_counter()
    t = shoal.Table(Point)
    for x in xs:
        t.append(x, -x)
    elapsed = time.perf_counter() - start
    print(f"built {len(t):,} Points in {elapsed:.2f} s ({elapsed / N * 1e9:.0f} ns per append)")
    print(f"raw data: {N * 16 / 1e6:.1f} MB (two float64 per Point)")
    print(f"column buffers (t.nbytes): {t.nbytes / 1e6:.1f} MB")
    if linux:
        kept = status_bytes("VmRSS") - before
        peak = status_bytes("VmHWM") - before
        print(f"RSS added: {kept / 1e6:.1f} MB kept, {peak / 1e6:.1f} MB peak while building")
    print(f"t[123] = {t[123]!r}, t[123].norm() = {t[123].norm():.4f}")
    print(f"sum of x: {t['x'].sum():.3f}")


if __name__ == "__main__":
    main()
