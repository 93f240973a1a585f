"""`LocalCluster.start_all` (and `python -m lab.cluster`) start nodes so that only a few are
starting at once: 60 nodes started 0.1 s apart regardless overloaded this 2-core machine for
minutes, started this way they settle (docs/benchmarks.md, "The lab at scale")."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from lab import cluster as cluster_mod
from lab.cluster import LocalCluster
from tests.support.ports import port_range

PORTS = port_range(__file__)

#: Stands in for `python -m node -p PORT -b BASE`: notes when it started, takes 0.3 s to
#: get going (as importing the node does), listens, notes that, and waits to be stopped.
FAKE_NODE = """#!{python}
import socket, sys, time
port = int(sys.argv[sys.argv.index("-p") + 1])
log = open({log!r}, "a")
log.write(f"start {{port}} {{time.monotonic()}}\\n"); log.flush()
time.sleep(0.3)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen()
log.write(f"listen {{port}} {{time.monotonic()}}\\n"); log.flush()
time.sleep(60)
"""


def test_no_more_than_a_few_nodes_are_starting_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_mod, "STARTING_AT_ONCE", 2)
    log = tmp_path / "events.log"
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_NODE.format(python=sys.executable, log=str(log)))
    fake.chmod(0o755)
    n = 6
    c = LocalCluster(n, base_port=PORTS[0], python=str(fake), cwd=tmp_path)
    try:
        began = time.monotonic()
        c.start_all(stagger_s=0.0)
        took = time.monotonic() - began
    finally:
        c.stop_all()
    events = sorted(
        (float(at), kind) for kind, _, at in (line.split() for line in log.read_text().splitlines())
    )
    starting, most = 0, 0
    for _, kind in events:
        starting += 1 if kind == "start" else -1
        most = max(most, starting)
    assert [k for _, k in events].count("start") == n
    assert most == 2  # paced, and yet two at a time, not one
    assert took >= (n // 2 - 1) * 0.3  # three waves of 0.3 s at the least
