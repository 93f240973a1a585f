"""The page's endpoints between real node processes: `/cluster` gathers every node's view
and follows an update as it spreads, a crashed node shows up as unreachable and comes back,
the proxy relays a peer's state, feed and favourite, and an open feed does not hold up a
node's shutdown."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster import LocalCluster, get_json
from tests.support.ports import port_range
from tests.support.waits import wait_until

BASE = port_range(__file__).start


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    logs: Path = tmp_path_factory.mktemp("ui-cluster")
    env = {"GOSSIP_RESAMPLE_SECONDS": "0"}
    with LocalCluster(3, base_port=BASE, env=env, log_dir=logs) as c:
        c.wait_ready(60)
        c.wait_converged(60)
        yield c


def url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


def post(port: int, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url(port, path),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())


def eventually(check: Any, timeout_s: float = 20.0) -> Any:
    return wait_until(check, timeout_s, "condition", step=0.2)


def test_cluster_view_shows_every_node_and_follows_an_update(cluster: LocalCluster) -> None:
    c = get_json(url(BASE, "/cluster"))
    ids = [f"127.0.0.1:{p}" for p in cluster.ports]
    assert [n["id"] for n in c["nodes"]] == ids and c["nodes"][0]["self"] is True
    assert c["origins"] == ids and c["unreachable"] == 0
    origin = cluster.ports[2]
    sent = post(origin, "/favourite", {"movie": "Alien"})

    def spread_everywhere() -> Any:
        c = get_json(url(BASE, "/cluster"))
        latest = c["latest"]
        done = latest["version"] == sent["version"] and latest["spread_s"] is not None
        return c if done and c["converged"] else None

    c = eventually(spread_everywhere)
    latest = c["latest"]
    assert latest["origin"] == f"127.0.0.1:{origin}" and latest["movie"] == "Alien"
    assert latest["reached"][0]["node"] == latest["origin"]  # it knew first
    assert all(0 <= r["delay_s"] < 5 for r in latest["reached"])
    assert {r["node"] for r in latest["reached"]} == set(ids) and latest["pending"] == []
    assert all(c["matrix"][n][latest["origin"]]["movie"] == "Alien" for n in ids)


def test_a_crashed_node_is_unreachable_then_back(cluster: LocalCluster) -> None:
    victim = cluster.ports[1]
    cluster.kill(victim)
    try:

        def victim_down() -> Any:
            c = get_json(url(BASE, "/cluster"))
            row = next(n for n in c["nodes"] if n["id"] == f"127.0.0.1:{victim}")
            return c if not row["reachable"] else None

        c = eventually(victim_down)
        row = next(n for n in c["nodes"] if n["id"] == f"127.0.0.1:{victim}")
        assert row["error"] and c["unreachable"] == 1
        assert f"127.0.0.1:{victim}" not in c["matrix"]
    finally:
        cluster.start(victim)
    cluster.wait_ready(60, ports=[victim])
    eventually(lambda: get_json(url(BASE, "/cluster"))["unreachable"] == 0, 30)
    eventually(lambda: get_json(url(BASE, "/cluster"))["converged"], 30)


def test_the_proxy_relays_a_peers_state_feed_and_favourite(cluster: LocalCluster) -> None:
    peer = cluster.ports[1]
    pid = f"127.0.0.1:{peer}"
    assert get_json(url(BASE, f"/proxy/{pid}/state"))["id"] == pid
    assert get_json(url(BASE, f"/proxy/{pid}/ui.json"))["id"] == pid
    assert get_json(url(BASE, f"/proxy/{pid}/cluster"))["self"] == pid
    with urllib.request.urlopen(url(BASE, f"/proxy/{pid}/events"), timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        lines = iter(r.readline, b"")
        data = next(line for line in lines if line.startswith(b"data: "))
        assert json.loads(data[6:])["id"] == pid
    relay = cluster.state(BASE)["version"]
    answer = post(BASE, f"/proxy/{pid}/favourite", {"movie": "Heat"})
    assert answer["id"] == pid and cluster.state(peer)["movie"] == "Heat"
    assert cluster.state(BASE)["version"] == relay  # the relaying node changed nothing


def test_an_open_feed_does_not_hold_up_a_nodes_shutdown(cluster: LocalCluster) -> None:
    port = cluster.ports[2]
    with urllib.request.urlopen(url(port, "/events"), timeout=10) as r:
        assert r.readline() == b"retry: 2000\n"
        started = time.monotonic()
        cluster.stop(port)  # SIGTERM, and waits for the process to exit
        took = time.monotonic() - started
    cluster.start(port)
    cluster.wait_ready(60, ports=[port])
    assert took < 2.5, f"the node took {took:.1f} s to stop with a feed open"
