"""Threads wait for each other instead of failing (../shared/repros/reliability/17); the same
thread's re-entrant use is still an error."""

import sys
import threading
import time

import pytest
import shoal


class P(shoal.Record):
    x: float


def test_other_threads_wait_while_extend_runs_a_generator():
    t = shoal.Table(P)
    t.append(0.0)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    stop = time.monotonic() + 1.0
    errors: list[BaseException] = []
    counts = {"extended": 0, "read": 0}

    def extender() -> None:
        while time.monotonic() < stop:
            t.extend((float(i),) for i in range(100))
            counts["extended"] += 100

    def other() -> None:
        try:
            while time.monotonic() < stop:
                len(t)
                t.append(1.0)
                t[0].x
                counts["read"] += 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=extender), threading.Thread(target=other)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
    assert counts["read"] > 0 and counts["extended"] > 0
    assert len(t) == 1 + counts["extended"] + counts["read"]


def test_the_same_thread_touching_the_table_inside_extend_is_an_error():
    t = shoal.Table(P)

    def rows():
        yield (1.0,)
        t.append(2.0)  # re-entrant: the extend holds the table
        yield (3.0,)

    with pytest.raises(RuntimeError, match="middle of another operation"):
        t.extend(rows())
    assert len(t) == 0
