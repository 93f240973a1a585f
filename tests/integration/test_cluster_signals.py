"""`python -m lab.cluster` stops with its nodes on Ctrl-C and on `kill`, also when it was
started with SIGINT ignored, as a background job of a script is (`lab.cluster &` in a
non-interactive shell): it once kept its nodes alive for 15 minutes after a test's SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import psutil
import pytest

from tests.support.ports import port_range
from tests.support.waits import wait_until

PORTS = port_range(__file__)


def ignore_sigint() -> None:
    """In the child, before exec: what a shell does to a background job's SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start(base: int, nodes: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "lab.cluster", "--nodes", str(nodes), "--base-port", str(base)]
    return subprocess.Popen(
        [*cmd, "--log-format", "json"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=ignore_sigint,
    )


def node_processes(proc: subprocess.Popen[str], n: int) -> list[psutil.Process]:
    """The cluster's n node processes, once each of them listens."""

    def listening() -> list[psutil.Process] | None:
        children = psutil.Process(proc.pid).children()
        ports = {
            c.laddr.port
            for child in children
            for c in child.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN
        }
        return children if len(children) == n and len(ports) >= n else None

    return wait_until(listening, 30, f"{n} nodes listening")


@pytest.mark.parametrize(
    ("sig", "to_group", "offset"),
    [
        (signal.SIGINT, False, 0),  # Ctrl-C aimed at lab.cluster alone
        (signal.SIGINT, True, 3),  # Ctrl-C to the whole job, as a test or a terminal sends it
        (signal.SIGTERM, False, 6),  # `kill`
    ],
    ids=["sigint", "sigint-to-the-group", "sigterm"],
)
def test_started_with_sigint_ignored_a_signal_stops_it_and_its_nodes(
    sig: signal.Signals, to_group: bool, offset: int
) -> None:
    proc = start(PORTS.start + offset, 2)
    try:
        nodes = node_processes(proc, 2)
        if to_group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        assert proc.wait(30) == 0
        _, alive = psutil.wait_procs(nodes, timeout=15)
        assert not alive, f"nodes left running: {[p.pid for p in alive]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
