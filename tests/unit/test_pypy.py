"""The simulator runs on PyPy too (Debian's pypy3, Python 3.9: much faster at 10,000 nodes),
because the core and the simulator use the standard library only and no syntax newer than
3.9. A run is a function of its seed alone, so PyPy must simulate exactly what CPython
does. .ci/run installs pypy3; without it this test is skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPY = shutil.which("pypy3")

#: Figures that depend on the machine, not on the simulation.
TIMINGS = ("build_seconds", "wall_seconds", "wall_seconds_per_period", "wall_s")


def simulate(python: str, *args: str) -> dict[str, object]:
    run = subprocess.run(
        [python, "-m", "lab.simulate", *args, "--json", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-500:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    return {k: v for k, v in out.items() if k not in TIMINGS}


@pytest.mark.skipif(PYPY is None, reason="pypy3 is not installed (apt-get install pypy3)")
@pytest.mark.parametrize(
    "args",
    [
        ("--nodes", "300", "--strategy", "push", "--loss", "0.1", "--seed", "4"),
        ("--nodes", "300", "--strategy", "tree", "--loss", "0.1", "--seed", "5"),
        ("--workload", "glomers", "--strategy", "tree", "--seed", "2"),
    ],
)
def test_pypy_simulates_exactly_what_cpython_does(args: tuple[str, ...]) -> None:
    assert PYPY is not None
    assert simulate(PYPY, *args) == simulate(sys.executable, *args)
