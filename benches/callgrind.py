"""Instruction counts of one process under callgrind: the stable way to compare per-row (or
per-record) costs on noisy machines. Shared by the instruction-count benches."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile


def instructions(script: str, *args: str) -> int:
    """The instructions `python script *args` executes, as callgrind counts them."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        run = subprocess.run(
            [
                *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
                *(sys.executable, script, *args),
            ],
            capture_output=True,
            text=True,
            check=True,
            # A fixed hash seed: dict probe counts otherwise vary by hundreds per row.
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{run.stderr[-2000:]}")
    return int(found.group(1))
