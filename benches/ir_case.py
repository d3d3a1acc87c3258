"""Instructions per row under callgrind, the stable way to compare per-row costs here.

Run each mode with one and with two repetitions and subtract, so start-up and the 100k-row
build drop out:

    for k in 1 2; do valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$k \\
        python benches/ir_case.py iter $k 2>&1 | grep Collected; done

(Ir at k=2 minus Ir at k=1) / 100,000 is the cost of one row: `iter` is
`for p in t: s += p.x`, `append` is `t.append(x)` in a loop. Figures: docs/benchmarks.md.
"""

import sys

import shoal


class P(shoal.Record):
    x: float


N = 100_000


def build(n: int) -> shoal.Table[P]:
    t = shoal.Table(P)
    append = t.append
    for i in range(n):
        append(float(i))
    return t


def loop(t: shoal.Table[P], loops: int) -> float:
    s = 0.0
    for _ in range(loops):
        for p in t:
            s += p.x
    return s


if __name__ == "__main__":
    mode, k = sys.argv[1], int(sys.argv[2])
    if mode == "iter":
        loop(build(N), k)
    else:
        for _ in range(k):
            build(N)
