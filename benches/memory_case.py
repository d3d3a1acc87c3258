"""One memory measurement in a fresh process: the demo's measurement (shoal._demo_case).

Usage: python benches/memory_case.py CASE N  → prints one JSON line.
"""

import json
import sys

from shoal._demo_case import APPROACHES, measure

CASES = APPROACHES

if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
