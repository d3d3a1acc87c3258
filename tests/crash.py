"""Killing a writer mid-write: the crash-safety tests of saves, writers and datasets share this.

Kill windows are timed in a forked child, where the kills land: the child's copy-on-write
faults and fsyncs make its runs slower than the parent's (a window timed in the parent let
200 kills on a CI machine all land before the first rename)."""

import os
import random
import signal
import time
import warnings
from collections.abc import Callable, Iterator


def _fork() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads alive
        return os.fork()


def child_run_time(action: Callable[[], None], runs: int = 3) -> float:
    """The slowest of `runs` uninterrupted runs of `action`, each in a forked child, in seconds
    from fork to exit."""
    slowest = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        pid = _fork()
        if pid == 0:
            code = 1
            try:
                action()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the action failed in the child"
        slowest = max(slowest, time.perf_counter() - started)
    return slowest


def killed_mid_action(
    action: Callable[[], None], trials: int, reset: Callable[[], None]
) -> Iterator[int]:
    """Forks `trials` children, each repeating `action` until it is SIGKILLed after a random
    delay of up to twice `child_run_time(action)`; `reset()` runs before each child is forked
    (so every trial starts from the old state). Yields the trial number after each child is
    gone."""
    reset()
    longest = 2 * child_run_time(action)
    rng = random.Random(13)
    for trial in range(trials):
        reset()
        pid = _fork()
        if pid == 0:  # the child acts until it is killed
            try:
                while True:
                    action()
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0, longest))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        yield trial
