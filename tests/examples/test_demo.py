"""python -m shoal demo: runs end to end with a small N; JSON and SVG are sane."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from shoal._demo_case import APPROACHES

N = 500_000  # small N inflates bytes/record: the allocator keeps ~150 kB of early growth


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if not sys.platform.startswith("linux"):
        pytest.skip("the demo reads RSS from /proc")
    svg = tmp_path_factory.mktemp("demo") / "chart.svg"
    out = subprocess.run(
        [sys.executable, "-m", "shoal", "demo", "--n", str(N), "--json", "--svg", str(svg)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout), out.stderr, svg


def test_every_approach_is_measured_or_skipped_with_a_reason(demo):
    data, progress, _ = demo
    rows = {r["approach"]: r for r in data["approaches"]}
    assert set(rows) == set(APPROACHES)
    for name, r in rows.items():
        assert ("kept" in r and r["seconds"] > 0) or r["skipped"], name
        assert f"] {name} ..." in progress  # progress is shown while subprocesses run
    for always in ("plain class", "__slots__", "dict of lists", "array('d')", "shoal.Table"):
        assert "kept" in rows[always], always


def test_shoal_costs_the_raw_data(demo):
    data, _, _ = demo
    shoal_row = next(r for r in data["approaches"] if r["approach"] == "shoal.Table")
    assert shoal_row["bytes_per_record"] == pytest.approx(8, rel=0.10)
    plain = next(r for r in data["approaches"] if r["approach"] == "plain class")
    assert plain["bytes_per_record"] > 10 * shoal_row["bytes_per_record"]


def test_breakdown_and_note(demo):
    data, _, _ = demo
    cats = data["plain_class_breakdown"]["categories"]
    assert "attribute values" in cats and "object headers" in cats
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in data["note"]


def test_svg_is_well_formed(demo):
    _, _, svg = demo
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "shoal.Table" in labels


def test_text_output_has_table_and_chart():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "shoal",
            "demo",
            "--n",
            "50000",
            "--only",
            "plain class,shoal.Table",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "RSS kept" in out.stdout and "█" in out.stdout and "shoal.sizeof" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "shoal", "demo", "--only", "nope"], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "unknown approach" in bad.stderr
