"""End to end: the Compose lab as a user runs it (`docker compose up --scale peer=3`,
without Grafana, which has no image here), checked through Prometheus's API.

The tests below share one lab and run in order, like a user's session: 4 nodes converge;
logs are JSON; scale to 5 peers; stop a peer and restart it; SIGKILL one; cut one off the
network and reconnect it; finally every dashboard and recording-rule expression must return
data from what this lab went through.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.composelab import CONVERGE_S, ROOT, Lab, Prometheus, converged_view, wait_until
from tests.support.labfiles import (
    alert_names,
    dashboard_queries,
    promql_ok,
    promtool,
    rule_expressions,
)


@pytest.fixture(scope="module")
def lab(image_tag: str) -> Iterator[Lab]:
    lab = Lab(image_tag)
    try:
        lab.up("bootstrap", "peer", "prometheus", peers=3)
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def prom(lab: Lab) -> Prometheus:
    return lab.prometheus()


def peers(lab: Lab) -> list[str]:
    return [c["Name"] for c in lab.containers("peer")]


def dead_views(prom: Prometheus) -> int:
    """How many nodes hold at least one peer dead."""
    dead = prom.values('gossip_peers{job="gossip", state="dead"}', "instance")
    return sum(1 for count in dead.values() if count >= 1)


def test_four_nodes_up_and_converged(lab: Lab, prom: Prometheus) -> None:
    def four_up() -> bool:
        targets = prom.targets()
        return len(targets) == 4 and all(t["health"] == "up" for t in targets)

    wait_until(four_up, CONVERGE_S, "4 gossip targets up in Prometheus")
    view = wait_until(lambda: converged_view(prom, 4), CONVERGE_S, "4 nodes converged")
    print(f"\nup -> 4 nodes converged in Prometheus: {time.monotonic() - lab.started:.1f} s")
    # Each node's id is its container's address (what Prometheus scrapes), and so the origin
    # label the others report about it.
    ids = {lab.node_id(c["Name"]) for c in lab.containers() if c["Service"] != "prometheus"}
    assert set(view) == ids
    info = prom.values('gossip_node_info{job="gossip"}', "instance", "node", "name")
    assert {i for i, n, _ in info if i == n} == ids
    # Each node is named after its container (found by reverse DNS), which is what
    # `docker compose ps` lists and `docker stop` takes.
    names = {i: name for i, _, name in info}
    containers = {lab.node_id(c["Name"]): c["Name"] for c in lab.containers()}
    assert names == {i: containers[i] for i in ids}
    services = prom.values('up{job="gossip"}', "service")
    assert set(services) == {("bootstrap",), ("peer",)}


def test_recording_rules_see_convergence(prom: Prometheus) -> None:
    wait_until(
        lambda: prom.values("cluster:gossip_nodes:count").get(()) == 4,
        30,
        "cluster:gossip_nodes:count == 4",
    )
    # Updates keep coming (every ~10 s per node), so the ratio dips briefly; it is 1 most of
    # the time, and every origin's update reaches all 4 nodes.
    wait_until(
        lambda: prom.values("cluster:gossip_converged:ratio").get(()) == 1.0,
        CONVERGE_S,
        "cluster:gossip_converged:ratio == 1",
    )
    reach = prom.query_range("origin:gossip_update_reach_all_seconds:max", 60)
    times = [float(v) for row in reach for _, v in row["values"]]
    assert times, "no update reached every node"
    print(f"\ntime for an update to reach all 4 nodes: max {max(times):.3f} s")


def test_the_image(lab: Lab) -> None:
    bootstrap = lab.containers("bootstrap")[0]["Name"]
    config = lab.inspect(bootstrap)
    assert config["Config"]["User"] not in ("", "root", "0")
    assert config["Config"]["Entrypoint"] == ["python", "-m", "node"]
    assert config["Config"]["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
    assert config["HostConfig"]["Init"] is True
    assert config["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert config["State"]["Health"]["Status"] == "healthy"
    # Not root, and the bundled movies file (a symlink in the repository) is the real one.
    uid, digest = lab.compose(
        "exec",
        "-T",
        "bootstrap",
        "python",
        "-c",
        "import hashlib, os; from node.settings import BUNDLED_MOVIES as m; "
        "print(os.getuid(), hashlib.sha256(m.read_bytes()).hexdigest())",
    ).split()
    assert uid != "0"
    assert digest == hashlib.sha256((ROOT / "movies.txt").read_bytes()).hexdigest()


def test_pages_and_metrics_published_on_loopback(lab: Lab) -> None:
    for service, index in [("bootstrap", 1), ("peer", 1), ("peer", 3)]:
        address = lab.port(service, 7000, index)
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=5) as r:
            assert json.load(r)["status"] == "ok"
    address = lab.port("bootstrap", 7000)
    with urllib.request.urlopen(f"http://{address}/", timeout=5) as r:
        assert r.status == 200 and "html" in r.headers["Content-Type"]
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
        metrics = r.read()
    r = promtool("check", "metrics", stdin=metrics)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()[-2000:]


def test_logs_are_json_lines(lab: Lab) -> None:
    for service in ("bootstrap", "peer"):
        lines = lab.logs(service)
        assert lines, f"{service} wrote no logs"
        records = [json.loads(line) for line in lines]  # each line must parse
        assert all({"timestamp", "level", "event", "node", "name"} <= r.keys() for r in records)
        assert all(service in r["name"] for r in records), {r["name"] for r in records}
    applied = lab.events("peer", "update_applied")
    assert applied and {"origin", "version", "movie", "sender", "delay_s"} <= applied[0].keys()


def test_scale_to_five_peers_converges(lab: Lab, prom: Prometheus) -> None:
    started = time.monotonic()
    lab.up("bootstrap", "peer", "prometheus", peers=5)
    wait_until(lambda: converged_view(prom, 6), CONVERGE_S, "6 nodes converged after scaling")
    print(f"\nscale 3 -> 5 peers: 6 nodes converged in {time.monotonic() - started:.1f} s")


def test_stopped_peer_is_marked_dead_and_rejoins(lab: Lab, prom: Prometheus) -> None:
    victim = peers(lab)[0]
    victim_id = lab.node_id(victim)
    others = [c for c in peers(lab) if c != victim] + [lab.containers("bootstrap")[0]["Name"]]
    lab.run("docker", "stop", "-t", "10", victim)
    # Graceful stop: the node logs its shutdown.
    assert lab.events(victim, "node_stopped")

    def all_mark_dead() -> bool:
        return all(
            any(e["peer"] == victim_id and e["new"] == "dead" for e in lab.events(c, "peer_state"))
            for c in others
        )

    wait_until(all_mark_dead, CONVERGE_S, f"every other node marks {victim_id} dead", step=2)
    # What the Membership dashboard draws: each of the 5 others holds a dead peer.
    wait_until(lambda: dead_views(prom) == 5, 30, "Prometheus shows a dead peer on all 5 others")

    lab.run("docker", "start", victim)
    wait_until(lambda: converged_view(prom, 6), CONVERGE_S, "6 nodes converged after restart")
    if lab.node_id(victim) == victim_id:  # same address again: it is alive to everyone
        wait_until(
            lambda: dead_views(prom) == 0,
            CONVERGE_S,
            "no node holds a dead peer after the restart",
        )


def test_killed_peer_is_suspect_then_dead(lab: Lab, prom: Prometheus) -> None:
    victim = peers(lab)[-1]
    victim_id = lab.node_id(victim)
    others = [c for c in peers(lab) if c != victim] + [lab.containers("bootstrap")[0]["Name"]]
    lab.run("docker", "kill", "--signal", "KILL", victim)

    def states(container: str) -> list[str]:
        return [e["new"] for e in lab.events(container, "peer_state") if e["peer"] == victim_id]

    def all_suspect_then_dead() -> bool:
        for c in others:
            seen = states(c)
            if "dead" not in seen or "suspect" not in seen[: seen.index("dead")]:
                return False
        return True

    wait_until(
        all_suspect_then_dead, CONVERGE_S, f"others mark {victim_id} suspect, then dead", step=2
    )
    # What the Membership dashboard draws ("Dead views").
    wait_until(
        lambda: dead_views(prom) == 5, 30, "Prometheus shows the killed peer dead on all 5 others"
    )
    # A killed container is not restarted (docker kill is a deliberate stop); start it again.
    lab.run("docker", "start", victim)
    wait_until(lambda: converged_view(prom, 6), CONVERGE_S, "6 nodes converged after the kill")


def test_a_peer_cut_off_the_network_is_marked_dead_and_heals(lab: Lab, prom: Prometheus) -> None:
    """The README's partition from outside: `docker network disconnect`, then `connect
    --alias peer` (without the alias, Prometheus would not find the peer again)."""
    victim = peers(lab)[1]
    victim_id = lab.node_id(victim)
    others = [c for c in peers(lab) if c != victim] + [lab.containers("bootstrap")[0]["Name"]]
    network = f"{lab.project}_gossip"

    def deaths(container: str) -> int:
        return sum(
            1
            for e in lab.events(container, "peer_state")
            if e["peer"] == victim_id and e["new"] == "dead"
        )

    before = {c: deaths(c) for c in others}
    lab.run("docker", "network", "disconnect", network, victim)
    wait_until(
        lambda: all(deaths(c) > before[c] for c in others),
        CONVERGE_S,
        f"every other node marks {victim_id} dead once it is cut off",
        step=2,
    )
    lab.run("docker", "network", "connect", "--alias", "peer", network, victim)
    assert lab.node_id(victim) == victim_id  # its address back: the same node
    view = wait_until(lambda: converged_view(prom, 6), CONVERGE_S, "6 nodes converged after")
    assert victim_id in view


def test_alerting_rules_are_loaded_and_evaluate(prom: Prometheus) -> None:
    """Prometheus loads prometheus/rules/alerts.yml and evaluates every alert without an
    error (a join that matched many-to-many would be one); none fires in a healthy lab
    except, at most, a not-converged one still pending from the faults above."""
    alerts = prom_alerts(prom)
    assert set(alerts) == {"GossipNotConverged", "GossipNodeDown", "GossipRefusalsRising"}
    wait_until(
        lambda: all(r["health"] == "ok" for r in prom_alerts(prom).values()),
        30,
        "every alert evaluated without error",
    )
    assert not prom_alerts(prom)["GossipRefusalsRising"]["alerts"]


def prom_alerts(prom: Prometheus) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for g in prom.rules() for r in g["rules"] if r["type"] == "alerting"}


def test_every_dashboard_and_rule_expression_returns_data(lab: Lab, prom: Prometheus) -> None:
    window = time.monotonic() - lab.started + 5
    # Alerts return data only while they fire: promtool's unit tests cover them, and the
    # test above their evaluation here.
    rules = {k: v for k, v in rule_expressions().items() if k not in alert_names()}
    exprs = {**rules, **dashboard_queries()}
    assert len(exprs) > 30
    empty = []
    for where, expr in sorted(exprs.items()):
        assert promql_ok(expr), f"{where}: does not parse: {expr}"
        rows = prom.query_range(expr, window, step="2s")
        if not any(row["values"] for row in rows):
            empty.append(f"{where}: {expr}")
    assert not empty, "expressions that returned no data:\n" + "\n".join(empty)
