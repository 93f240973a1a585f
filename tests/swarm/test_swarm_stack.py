"""End to end: the lab as a Docker Swarm stack on a one-host swarm (docker-stack.yml, without
Grafana, which has no image here), checked through Prometheus on its host-mode port.

The tests share one stack and run in order, like an operator's session: deploy (3 peers)
and converge; scale to 10 peers; roll an update through the peers one at a time while the
cluster stays converged; kill a peer's container and the bootstrap node's, and see each
replaced by a new task (a new overlay address, so a new node id) that rejoins; an update
with a bad setting rolls back by itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.swarmlab import (
    CONVERGE_S,
    Prometheus,
    Stack,
    converged_view,
    stale_views,
    wait_until,
)

#: During a rolling update, every node must know every other node's version of this many
#: seconds before (5 anti-entropy periods; pushes take well under a second here).
LAG_S = 5
#: After the update completes, the whole cluster agrees again within this many seconds.
RECONVERGE_S = 30.0


@pytest.fixture(scope="module")
def stack(swarm: None, stack_image: str) -> Iterator[Stack]:
    stack = Stack(stack_image)
    try:
        stack.deploy()
        yield stack
    finally:
        stack.remove()


@pytest.fixture(scope="module")
def prom(stack: Stack) -> Prometheus:
    return wait_until(stack.prometheus, CONVERGE_S, "Prometheus's task running")


def test_deployed_stack_converges(stack: Stack, prom: Prometheus) -> None:
    view = wait_until(lambda: converged_view(prom, 4), CONVERGE_S, "bootstrap + 3 peers")
    print(f"\ndeploy -> 4 nodes converged: {time.monotonic() - stack.deployed_at:.1f} s")
    # Each task advertises its own address on the overlay network: the node ids that
    # Prometheus scrapes (found through tasks.<service> DNS) are the tasks' addresses.
    assert set(view) == stack.node_ids()
    info = prom.values('gossip_node_info{job="gossip"}', "instance", "node")
    assert {i for i, n in info if i == n} == set(view)
    services = prom.values('up{job="gossip"}', "service")
    assert set(services) == {("bootstrap",), ("peer",)}
    # Prometheus is published in host mode: its service lists the port (the acceptance
    # check and users find it there, or with `docker port` when Docker picked it).
    (port,) = stack.inspect_service("prometheus")["Endpoint"]["Ports"]
    assert port["TargetPort"] == 9090 and port["PublishMode"] == "host"


def test_scale_to_ten_peers_converges(stack: Stack, prom: Prometheus) -> None:
    started = time.monotonic()
    stack.scale("peer", 10)
    view = wait_until(lambda: converged_view(prom, 11), CONVERGE_S * 2, "11 nodes converged")
    print(f"\nscale 3 -> 10 peers: 11 nodes converged in {time.monotonic() - started:.1f} s")
    assert set(view) == stack.node_ids()
    assert len(stack.tasks("peer")) == 10


def test_rolling_update_keeps_the_cluster_converged(stack: Stack, prom: Prometheus) -> None:
    before = {t.node_id for t in stack.tasks("peer")}
    bootstrap = stack.node_ids() - before
    time.sleep(LAG_S)  # so the window below starts with a settled cluster
    started = time.monotonic()
    stack.update("peer", "--env-add", "GOSSIP_RESAMPLE_SECONDS=9")
    stack.wait_updated("peer")
    took = time.monotonic() - started
    view = wait_until(lambda: converged_view(prom, 11), RECONVERGE_S, "11 nodes after the update")
    reconverged = time.monotonic() - started - took
    print(f"\nrolling update of 10 peers: {took:.0f} s; all agree {reconverged:.1f} s after")

    # Every peer was replaced, one at a time: new tasks, new addresses, new node ids.
    after = {t.node_id for t in stack.tasks("peer")}
    assert len(after) == 10 and not after & before
    assert set(view) == after | bootstrap
    # ... running with the new setting.
    for task in stack.tasks("peer"):
        (started_event,) = stack.events(task, "node_started")
        assert started_event["resample_s"] == 9.0

    # Throughout, the nodes that stayed knew each other's news of LAG_S seconds before.
    time.sleep(LAG_S + 2)
    checks, stale = stale_views(prom, time.monotonic() - started + 2 * LAG_S, LAG_S)
    print(f"{checks} (second, node, origin) checks during the update, {len(stale)} stale")
    assert checks > 1000
    assert not stale, stale[:20]


@pytest.mark.parametrize("service", ["peer", "bootstrap"])
def test_killed_task_is_replaced_and_rejoins(stack: Stack, prom: Prometheus, service: str) -> None:
    victim = stack.tasks(service)[0]
    before = stack.node_ids()
    started = time.monotonic()
    stack.docker("kill", victim.container)

    # Swarm starts a new task (after the restart policy's delay): a new address, a new id.
    def new_ids() -> set[str]:
        return {t.node_id for t in stack.tasks(service)} - before

    new = wait_until(new_ids, CONVERGE_S, f"a new {service} task")
    replaced = time.monotonic() - started

    def rejoined() -> dict[str, int] | None:
        view = converged_view(prom, 11)
        return view if view and new <= set(view) and victim.node_id not in view else None

    wait_until(rejoined, CONVERGE_S, f"{new} rejoined, 11 nodes converged")
    print(
        f"\n{service} {victim.node_id} killed: replaced by {', '.join(new)} after "
        f"{replaced:.1f} s, converged {time.monotonic() - started:.1f} s after the kill"
    )
    # The survivors mark the old id dead (it is reaped from their state later).
    survivors = [t for name in ("bootstrap", "peer") for t in stack.tasks(name)]
    survivors = [t for t in survivors if t.node_id not in new]

    def all_mark_dead() -> bool:
        return all(
            any(
                e["peer"] == victim.node_id and e["new"] == "dead"
                for e in stack.events(task, "peer_state")
            )
            for task in survivors
        )

    wait_until(all_mark_dead, CONVERGE_S, f"every survivor marks {victim.node_id} dead", step=2)


def test_update_with_a_bad_setting_rolls_back(stack: Stack, prom: Prometheus) -> None:
    before = stack.node_ids()
    stack.update("peer", "--env-add", "GOSSIP_FANOUT=lots")

    def rolled_back() -> str | None:
        state = stack.update_state("peer")
        return state if state == "rollback_completed" else None

    wait_until(rolled_back, CONVERGE_S * 2, "the update rolls back", step=2)
    # Started first and never healthy, the new tasks replaced nobody.
    assert stack.node_ids() == before
    wait_until(lambda: converged_view(prom, 11), CONVERGE_S, "11 nodes converged")
