"""The observatory between real node processes: faults set on many nodes at once through one
node (a partition, isolation, loss, a heal) with each node's own token; the gathered view
follows an update and names the nodes a partition holds back; the merged record of the
whole episode replays to the state the nodes are in; and the simulator's command writes the
same format, which replays the same way."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.cluster import LocalCluster, get_json
from lab.record import main as record_main
from tests.support.ports import port_range
from tests.support.records import replay
from tests.support.waits import wait_until

BASE = port_range(__file__).start
TOKEN = "obs-secret"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    logs: Path = tmp_path_factory.mktemp("obs-cluster")
    env = {"GOSSIP_RESAMPLE_SECONDS": "0", "GOSSIP_ADMIN_TOKEN": TOKEN}
    with LocalCluster(4, base_port=BASE, env=env, log_dir=logs) as c:
        c.wait_ready(60)
        c.wait_converged(60)
        yield c


def nid(port: int) -> str:
    return f"127.0.0.1:{port}"


def call(method: str, port: int, path: str, body: Any = None, token: str | None = TOKEN) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{method} {path}: {e.code} {e.read()!r}") from None


def faults(port: int) -> Any:
    return call("GET", port, "/admin/faults")


def eventually(check: Any, timeout_s: float = 20.0) -> Any:
    return wait_until(check, timeout_s, "condition", step=0.2)


def update_in_view(uuid: str) -> Any:
    obs = get_json(f"http://127.0.0.1:{BASE}/observatory", timeout=10)
    return next((u for u in obs["updates"] if u["uuid"] == uuid), None)


def test_a_partition_from_one_node_holds_the_other_side_back_until_healed(
    cluster: LocalCluster,
) -> None:
    a, b = [nid(p) for p in cluster.ports[:2]], [nid(p) for p in cluster.ports[2:]]
    since = get_json(f"http://127.0.0.1:{BASE}/state")["now"]
    out = call("POST", BASE, "/observatory/faults", {"action": "partition", "groups": [a, b]})
    assert out["ok"] and sorted(out["results"]) == sorted(a + b)
    for port in cluster.ports:
        side_b = nid(port) in b
        assert faults(port)["blocked"] == (a if side_b else b)
    picked = call("POST", cluster.ports[1], "/favourite", {})
    u = eventually(lambda: (x := update_in_view(picked["uuid"])) and x["reached"] == 2 and x)
    time.sleep(2.5)  # anti-entropy cannot cross the cut either
    u = update_in_view(picked["uuid"])
    assert u["reached"] == 2 and u["pending"] == b
    # heal: everyone converges, and the tree crosses the old cut
    out = call("POST", BASE, "/observatory/faults", {"action": "heal"})
    assert out["ok"] and all(faults(p)["blocked"] == [] for p in cluster.ports)
    cluster.wait_converged(20)
    u = eventually(lambda: (x := update_in_view(picked["uuid"])) and not x["pending"] and x)
    assert u["reached"] == 4 and {u["nodes"][n]["parent"] for n in b} <= set(a + b)
    # the merged record of the episode replays to the state the nodes are in now
    with urllib.request.urlopen(
        f"http://127.0.0.1:{BASE}/observatory/record?since={since}", timeout=30
    ) as r:
        lines = [json.loads(x) for x in r.read().splitlines()]
    head = lines[0]
    assert head["kind"] == "header" and sorted(head["nodes"]) == sorted(a + b)
    states, _ = replay(lines)
    for port in cluster.ports:
        now = cluster.state(port)["origins"]
        assert {o: e["version"] for o, e in states[nid(port)]["origins"].items()} == {
            o: e["version"] for o, e in now.items()
        }
    blocked = [x for x in lines if x["kind"] == "faults_set" and x["blocked"]]
    assert {x["node"] for x in blocked} == set(a + b)


def test_isolate_rejoin_loss_and_clear(cluster: LocalCluster) -> None:
    victim = nid(cluster.ports[3])
    others = [nid(p) for p in cluster.ports[:3]]
    out = call("POST", BASE, "/observatory/faults", {"action": "isolate", "node": victim})
    assert out["ok"]
    assert faults(cluster.ports[3])["blocked"] == others
    assert all(faults(p)["blocked"] == [victim] for p in cluster.ports[:3])
    out = call("POST", BASE, "/observatory/faults", {"action": "rejoin", "node": victim})
    assert out["ok"] and all(faults(p)["blocked"] == [] for p in cluster.ports)
    body = {"action": "set", "nodes": "all", "faults": {"drop": 0.1, "delay_ms": 20}}
    assert call("POST", BASE, "/observatory/faults", body)["ok"]
    assert all(faults(p)["drop"] == 0.1 and faults(p)["delay_ms"] == 20 for p in cluster.ports)
    obs = get_json(f"http://127.0.0.1:{BASE}/observatory", timeout=10)
    assert obs["model"]["loss"] == pytest.approx(0.1)
    assert call("POST", BASE, "/observatory/faults", {"action": "clear"})["ok"]
    assert all(faults(p)["drop"] == 0 and faults(p)["delay_ms"] == 0 for p in cluster.ports)


def test_a_wrong_token_changes_nothing(cluster: LocalCluster) -> None:
    out = call("POST", BASE, "/observatory/faults", {"action": "isolate", "node": nid(BASE)}, "no")
    assert out["ok"] is False
    assert {r["status"] for r in out["results"].values()} <= {401, 502}
    assert all(faults(p)["blocked"] == [] for p in cluster.ports)


def test_the_simulators_record_replays_to_its_end_state(tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    argv = ["--nodes", "40", "--seconds", "20", "--partition", "4:12", "--crash", "6:10"]
    assert record_main([*argv, "--updates", "6", "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    head = lines[0]
    assert head["source"] == "simulator" and len(head["nodes"]) == 40
    assert head["until"] - head["since"] == pytest.approx(20)
    states, ends = replay(lines)
    assert len(ends) == 40
    for node, end in ends.items():
        assert {o: e["version"] for o, e in states[node]["origins"].items()} == {
            o: e["version"] for o, e in end["origins"].items()
        }
    cut = [x for x in lines if x["kind"] == "faults_set" and x["blocked"]]
    assert len(cut) == 40 and {len(x["blocked"]) for x in cut} == {20}
    assert sum(x["kind"] == "movie_changed" for x in lines) >= 6
