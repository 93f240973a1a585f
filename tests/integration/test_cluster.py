"""Real node processes on loopback, started the way the original app is (`-p PORT -b BASE`),
checked the way a user would: everyone learns everyone's favourite, restarts and late
joiners are handled, metrics and logs say what happened, bad requests get a JSON 4xx."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cluster import LocalCluster, get_json
from tests.support.ports import port_range
from tests.support.waits import wait_until

BASE = port_range(__file__).start


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with LocalCluster(
        5, base_port=BASE, env={"GOSSIP_RESAMPLE_SECONDS": "2"}, log_dir=tmp_path
    ) as c:
        c.wait_ready(30)
        yield c


def own_versions(c: LocalCluster) -> dict[int, int]:
    return {p: c.state(p)["version"] for p in c.ports if c.alive(p)}


def test_five_nodes_converge_and_every_update_reaches_everyone(cluster: LocalCluster) -> None:
    cluster.wait_converged(20)
    lags, pending, last = [], {}, {}
    end = time.monotonic() + 20
    while time.monotonic() < end:
        views = cluster.views()
        now = time.monotonic()
        for p in cluster.ports:
            me = f"127.0.0.1:{p}"
            v = views[p][me]
            if v != last.get(p):
                pending[(me, v)] = now
                last[p] = v
        for (origin, v), t in list(pending.items()):
            if all(views[q].get(origin, -1) >= v for q in cluster.ports):
                lags.append(now - t)
                del pending[(origin, v)]
        time.sleep(0.1)
    assert len(lags) >= 20  # 5 nodes re-sampling every ~2 s
    assert max(lags) < 3.0, f"slowest update took {max(lags):.2f} s"
    assert not [k for k, t in pending.items() if time.monotonic() - t > 3]
    print(f"updates: {len(lags)}, median {statistics.median(lags):.3f} s, max {max(lags):.3f} s")


def test_a_killed_and_restarted_node_is_accepted_with_rising_versions(
    cluster: LocalCluster,
) -> None:
    cluster.wait_converged(20)
    victim = cluster.ports[2]
    me = f"127.0.0.1:{victim}"
    before = max(cluster.state(p)["origins"][me]["version"] for p in cluster.ports)
    cluster.kill(victim)
    time.sleep(0.5)
    cluster.start(victim)
    cluster.wait_ready(20, [victim])

    def accepted() -> bool:
        seen = [cluster.state(p)["origins"].get(me, {}).get("version", 0) for p in cluster.ports]
        return min(seen) > before

    wait_until(accepted, 20, "the restarted node's new favourite accepted everywhere", step=0.2)
    cluster.wait_converged(10)


def test_a_late_joiner_catches_up(cluster: LocalCluster, tmp_path: Path) -> None:
    cluster.wait_converged(20)
    late = BASE + 9
    cluster.ports.append(late)
    cluster.start(late)
    cluster.wait_ready(20, [late])
    cluster.wait_converged(10)
    assert len(cluster.state(late)["origins"]) == 6


def test_metrics_show_what_happened(cluster: LocalCluster) -> None:
    cluster.wait_converged(20)
    time.sleep(3)  # a few updates
    with urllib.request.urlopen(f"{cluster.urls[0]}/metrics", timeout=3) as r:
        text = r.read().decode()

    def value(name: str) -> float:
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        assert m, name
        return float(m.group(1))

    assert value('gossip_peers{state="alive"}') == 4
    assert value('gossip_peers{state="dead"}') == 0
    assert value("gossip_messages_received_total") > 0
    assert value("gossip_messages_sent_total") > 0
    assert value("gossip_propagation_seconds_count") > 0
    assert value("gossip_propagation_seconds_sum") / value("gossip_propagation_seconds_count") < 1
    seen = re.findall(r'^gossip_version_seen\{origin="127\.0\.0\.1:(\d+)"\}', text, re.M)
    assert sorted(int(p) for p in seen) == cluster.ports


def test_bad_requests_get_a_json_4xx_and_the_node_keeps_serving(cluster: LocalCluster) -> None:
    for body in (b"{not json", b'{"uuid": 5}', b"[]", b'{"ttl": -1}'):
        req = urllib.request.Request(
            f"{cluster.urls[0]}/gossip/",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=3)
        assert 400 <= e.value.code < 500
        assert "error" in json.loads(e.value.read())
    assert get_json(f"{cluster.urls[0]}/healthz")["status"] == "ok"
    cluster.wait_converged(20)


def test_logs_are_json_lines_with_node_event_level_and_time(cluster: LocalCluster) -> None:
    cluster.wait_converged(20)
    cluster.stop(cluster.ports[1])  # SIGTERM: a graceful stop, logged
    path = cluster.log_path(cluster.ports[1])
    assert path is not None
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert all({"timestamp", "level", "event", "node"} <= set(r) for r in lines)
    assert all(r["node"] == f"127.0.0.1:{BASE + 1}" for r in lines)
    events = [r["event"] for r in lines]
    assert events[0] == "node_started" and events[-1] == "node_stopped"
    assert "update_applied" in events and "movie_changed" in events
    applied = next(r for r in lines if r["event"] == "update_applied")
    assert applied["sender"] and applied["hops"] >= 1 and applied["origin"] != applied["node"]


def test_a_peer_waits_for_a_bootstrap_node_that_is_down(tmp_path: Path) -> None:
    c = LocalCluster(2, base_port=BASE + 20, log_dir=tmp_path)
    try:
        c.start(c.ports[1])  # the peer first: its bootstrap node is not up yet
        time.sleep(3)
        assert c.alive(c.ports[1])
        with pytest.raises(urllib.error.HTTPError) as e:  # not ready: 503
            urllib.request.urlopen(f"{c.urls[1]}/healthz", timeout=2)
        assert e.value.code == 503
        c.start(c.ports[0])
        c.wait_ready(20)
        c.wait_converged(15)
        log = (tmp_path / f"node-{c.ports[1]}.log").read_text()
        assert '"bootstrap_failed"' in log and '"bootstrap_ok"' in log
    finally:
        c.stop_all()


def test_sigterm_stops_a_node_gracefully(tmp_path: Path) -> None:
    c = LocalCluster(1, base_port=BASE + 30, log_dir=tmp_path)
    proc = c.start(c.ports[0])
    c.wait_ready(20)
    proc.terminate()
    assert proc.wait(10) == 0
    c.stop_all()
    log = (tmp_path / f"node-{c.ports[0]}.log").read_text().splitlines()
    assert [json.loads(line)["event"] for line in log[-2:]] == ["node_stopping", "node_stopped"]


def test_watch_and_cluster_commands(tmp_path: Path) -> None:
    import signal
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.cluster",
            "--nodes",
            "3",
            "--base-port",
            str(BASE + 40),
            "--log-format",
            "json",
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        first = [proc.stdout.readline() for _ in range(3)]
        assert [line.split()[1] for line in first] == [str(BASE + 40 + k) for k in range(3)]
        cluster = LocalCluster(3, base_port=BASE + 40)
        cluster.wait_ready(30)
        cluster.wait_converged(20)
        r = subprocess.run(
            [sys.executable, "-m", "lab.watch", f"127.0.0.1:{BASE + 40}", "--once", "--json"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert r.returncode == 0, r.stdout
        snapshot = json.loads(r.stdout)
        assert snapshot["converged"] and len(snapshot["behind"]) == 3  # found through peers
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C stops every node
        assert proc.wait(30) == 0
    for port in (BASE + 40, BASE + 41, BASE + 42):
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_half_open_and_slow_connections_are_closed(tmp_path: Path) -> None:
    import socket

    idle_s = 3.0
    c = LocalCluster(
        1, base_port=BASE + 50, log_dir=tmp_path, env={"GOSSIP_IDLE_SECONDS": str(idle_s)}
    )
    try:
        c.start(c.ports[0])
        c.wait_ready(20)
        stalled = []
        for opening in (b"", b"POST /gossip/ HTTP/1.1\r\nHost: x\r\n"):  # idle, half a header
            s = socket.create_connection(("127.0.0.1", c.ports[0]))
            s.sendall(opening)
            s.settimeout(idle_s + 10)
            stalled.append(s)
        start = time.monotonic()
        for s in stalled:
            assert s.recv(100) == b""  # closed by the node, no answer
            s.close()
        assert time.monotonic() - start < idle_s + 5
        assert get_json(f"{c.urls[0]}/healthz")["status"] == "ok"  # others are still served
    finally:
        c.stop_all()
