"""Objects that lie about what they are (../shared/repros/reliability/02, 03, 08, 08b): shoal
identifies records and NumPy arrays by their real type, and keeps the types it reports on
alive while Python code runs. Each case runs in a subprocess, so a crash fails the test
instead of the run."""

import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )


def test_an_object_claiming_a_record_class_is_not_read_as_a_record():
    out = run(
        """
        import shoal
        class P(shoal.Record):
            x: float
        class Fake:
            # Slots laid out to line up with the C record struct, were it cast.
            __slots__ = ("s0", "s1_schema", "s2", "s3", "s4_values", "s5_nvalues")
            @property
            def __class__(self):
                return P
        f = Fake()
        f.s1_schema = P.__shoal_schema__
        victim = bytes(range(64)) * 4
        f.s4_values = victim
        f.s5_nvalues = victim
        assert isinstance(f, P)
        for attempt in (lambda: P.x.__set__(f, 1.0), lambda: P.x.__get__(f, P)):
            try:
                attempt()
            except TypeError as e:
                assert "field descriptor for P used on Fake" in str(e), e
            else:
                raise AssertionError("accepted a fake record")
        assert victim == bytes(range(64)) * 4
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_mock_with_a_record_spec_is_refused_everywhere():
    out = run(
        """
        from unittest import mock
        import shoal
        class P(shoal.Record):
            x: float
        t = shoal.Table(P)
        m = mock.Mock(spec=P)
        for attempt in (lambda: t.append(m), lambda: t.extend([m]), lambda: t.insert(0, m),
                        lambda: P.x.__get__(m, P), lambda: P.x.__set__(m, 1.0)):
            try:
                attempt()
            except TypeError:
                pass
            else:
                raise AssertionError("accepted a mock")
        assert len(t) == 0
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_class_named_like_ndarray_is_sized_as_what_it_is():
    out = run(
        """
        import shoal
        class X:
            pass
        X.__name__ = "numpy.ndarray"
        X.__qualname__ = "numpy.ndarray"
        r = shoal.sizeof([X() for _ in range(100)])
        assert r.objects == 101, r.objects
        assert r.categories.get("buffers", 0) == 0
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_python_code_run_while_reporting_cannot_free_reported_types():
    # A metaclass __module__ property runs gc.collect() while the report asks for it: the
    # classes the walk saw lose their last other reference then.
    out = run(
        """
        import gc, shoal
        holder = {}
        fired = []
        class Meta(type):
            @property
            def __module__(cls):
                if not fired:
                    fired.append(1)
                    holder.clear()
                    gc.collect()
                return "m"
        def init(self):
            self.a = 1.5
            self.b = "x" * 20
        for i in range(300):
            C = Meta(f"C{i}", (), {"__init__": init})
            holder[i] = [C() for _ in range(3)]
        del C
        r = shoal.sizeof(holder)
        assert fired
        assert r.objects > 900
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
