"""`lab.logs` against the Docker Compose lab (CI runs it; without a Docker engine it skips,
unless GOSSIP_REQUIRE_DOCKER=1). The logs come only through `docker compose logs`, the
nodes only through their ports published on 127.0.0.1: a trace of an update made at a peer
names all four nodes with the sender, hop count and route each node's own `/state` gives;
the merged view reads every node; `-f` shows an update arriving live."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from node.logs import TALLY_WINDOW_S
from tests.support.composelab import CONVERGE_S, Lab, wait_until

ROOT = Path(__file__).resolve().parents[2]
PEERS = 3


def get(address: str, path: str) -> Any:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as r:
        return json.load(r)


def publish(address: str) -> dict[str, Any]:
    req = urllib.request.Request(f"http://{address}/favourite", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        result: dict[str, Any] = json.load(r)
    return result


def logs_command(lab: Lab, *argv: str) -> list[str]:
    return [sys.executable, "-m", "lab.logs", *argv, "--compose", "-p", lab.project]


def run_logs(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        logs_command(lab, *argv), cwd=ROOT, env=lab.env, capture_output=True, text=True, timeout=120
    )


def everyone_has(addresses: list[str], versions: dict[str, int]) -> dict[str, Any] | None:
    """Every node's /state (by address) when each knows `versions` ({origin: version})."""
    states = {a: get(a, "/state") for a in addresses}
    for s in states.values():
        if any(s["origins"].get(o, {}).get("version") != v for o, v in versions.items()):
            return None
    return states


@pytest.fixture
def lab(make_lab: Any) -> Lab:
    lab: Lab = make_lab({"GOSSIP_RESAMPLE_SECONDS": "0"})  # updates only when asked
    lab.up("bootstrap", "peer", peers=PEERS)
    return lab


def test_trace_and_follow_through_compose_logs(lab: Lab) -> None:
    addresses = [lab.port("bootstrap", 7000)]
    addresses += [lab.port("peer", 7000, index=k) for k in range(1, PEERS + 1)]

    def converged() -> dict[str, str] | None:
        states = {a: get(a, "/state") for a in addresses}
        own = {s["id"]: s["version"] for s in states.values()}
        ok = everyone_has(addresses, own) if len(own) == len(addresses) else None
        return {a: s["id"] for a, s in states.items()} if ok else None

    ids = wait_until(converged, CONVERGE_S, f"{len(addresses)} nodes converged")

    # The merged view reads every node's lines through docker compose logs.
    merged = run_logs(lab, "--json", "--event", "movie_changed")
    assert merged.returncode == 0, merged.stderr
    assert {json.loads(x)["node"] for x in merged.stdout.splitlines()} == set(ids.values())

    # An update made at a peer, traced from the logs alone.
    time.sleep(2 * TALLY_WINDOW_S)  # start-up gossip settled and its tallies written
    before = {a: get(a, "/state")["counters"] for a in addresses}
    update = publish(addresses[2])
    origin, version = update["id"], update["version"]
    states = wait_until(
        lambda: everyone_has(addresses, {origin: version}), 60, f"{origin} v{version} everywhere"
    )
    time.sleep(2 * TALLY_WINDOW_S)  # every copy in, every tally written
    after = {a: get(a, "/state")["counters"] for a in addresses}

    def traced() -> dict[str, Any] | None:
        r = run_logs(lab, "trace", origin, str(version), "--json")
        doc: dict[str, Any] = json.loads(r.stdout) if r.returncode == 0 else {}
        done = doc.get("summary", {}).get("nodes_reached") == len(addresses)
        return doc if done else None

    doc = wait_until(traced, 60, "the trace reaches every node")  # docker's logs lag a little
    assert (doc["uuid"], doc["movie"]) == (update["uuid"], update["movie"])
    rows = {n["node"]: n for n in doc["nodes"]}
    assert set(rows) == set(ids.values())
    for address, node in ids.items():
        row = rows[node]
        delta = {k: after[address][k] - before[address][k] for k in ("deduplicated", "stale")}
        assert (row["duplicates"], row["stale"]) == (delta["deduplicated"], delta["stale"]), node
        if node == origin:
            assert row["status"] == "origin"
            continue
        mine = states[address]["origins"][origin]
        assert row["status"] == "reached"
        assert (row["sender"], row["hops"], row["via"]) == (
            mine["sender"],
            mine["hops"],
            mine["via"],
        )
    text = run_logs(lab, "trace", origin, str(version))
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[-1].startswith(f"reached {len(addresses)}/{len(addresses)} ")

    # Following: an update at the bootstrap node arrives live at every peer.
    boot = ids[addresses[0]]
    only = ["--origin", boot, "--event", "update_applied"]
    follower = subprocess.Popen(
        logs_command(lab, "-f", "--json", "--since", "0s", "--hold", "0.2", *only),
        cwd=ROOT,
        env=lab.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    out = follower.stdout
    assert out is not None
    threading.Thread(target=lambda: [lines.put(x) for x in out], daemon=True).start()
    try:
        time.sleep(3)  # docker compose logs -f attached to every container
        second = publish(addresses[0])
        seen: set[str] = set()
        end = time.monotonic() + 60
        while len(seen) < PEERS and time.monotonic() < end:
            try:
                record = json.loads(lines.get(timeout=1))
            except queue.Empty:
                continue
            assert record["version"] == second["version"], record  # nothing older: --since
            seen.add(record["node"])
        assert seen == set(ids.values()) - {boot}
    finally:
        follower.terminate()
        follower.wait(30)
