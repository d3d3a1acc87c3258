"""Killing a writer mid-write: the crash-safety tests of saves and datasets share this."""

import os
import random
import signal
import time
import warnings
from collections.abc import Callable, Iterator


def killed_mid_action(action: Callable[[], None], trials: int, longest: float) -> Iterator[int]:
    """Forks `trials` children, each repeating `action` until it is SIGKILLed after a random
    delay of up to `longest` seconds; yields the trial number after each child is gone."""
    rng = random.Random(13)
    for trial in range(trials):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads alive
            pid = os.fork()
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
