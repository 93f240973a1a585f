"""`python -m lab.bench --quick` runs all five benchmarks (so they cannot rot) and writes
their JSON, tables and plots. Figures are not asserted: benchmarks are not timing tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lab.bench import BENCHMARKS_NAMES


def test_the_quick_benchmark_run_writes_every_result(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "lab.bench", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    for name in BENCHMARKS_NAMES:
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert data["name"] == name and data["quick"] is True
        assert data["tables"] and data["tables"][0]["rows"], name
        assert data["aims"], name
        for plot in data["files"]:
            assert (tmp_path / plot).stat().st_size > 1000, plot
    summary = (tmp_path / "summary.md").read_text()
    assert all(f"## {n}." in summary for n in "12345")
    assert "aim:" in r.stdout
