"""The simulator itself (lab.simnet): seeded fault scenarios converge with every step checked
by the shared invariants, the same seed gives the same run, and its accounting and fault
controls do what they say. No sockets, no sleeps: virtual time only."""

from __future__ import annotations

import hashlib

import pytest

from lab.simnet import Link, Network, SimulationFailure, node_id
from node.core import Applied, Config, Event, GossipNode, Message, Stale

CFG = Config(resample_s=2.0, sync_s=0.5, dead_after_s=1.0, dead_retry_s=1.0)
LOSSY = Link(latency_s=0.01, jitter_s=0.02, loss=0.2, duplicate=0.1, timeout_s=0.2)


def fingerprint(net: Network) -> list[str]:
    """Every event every node produced, with its virtual time, in order."""
    seen: list[str] = []
    net.listen(lambda node, events: seen.extend(f"{net.now:.9f} {node.id} {e}" for e in events))
    return seen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_loss_duplication_and_reordering_converge(seed: int) -> None:
    net = Network(CFG, seed=seed, link=LOSSY)
    net.cluster(12)
    net.run_for(10)  # resampling goes on: several updates per node, all under faults
    net.link = Link(latency_s=0.01, timeout_s=0.2)
    net.run_until_converged(10)


@pytest.mark.parametrize("seed", [4, 5])
def test_a_healed_partition_converges(seed: int) -> None:
    net = Network(CFG, seed=seed, link=LOSSY)
    nodes = net.cluster(10)
    net.run_for(2)
    ids = [n.id for n in nodes]
    net.partition(ids[:4], ids[4:7])  # three sides: 4, 3, and the 3 in no group
    net.run_for(8)
    assert not net.reachable(ids[0], ids[5])
    net.heal()
    net.run_until_converged(10)


@pytest.mark.parametrize("seed", [6, 7])
def test_crash_restart_under_the_same_id_converges_and_is_heard(seed: int) -> None:
    net = Network(CFG.with_(resample_s=0), seed=seed, link=LOSSY)
    nodes = net.cluster(8)
    net.run_until_converged(10)
    victim = nodes[3].id
    net.crash(victim)
    net.run_for(3)
    reborn = net.restart(victim, bootstrap=nodes[0].id)
    net.run_until_converged(15)
    new = net.publish(victim, "Jaws")
    net.run_until_converged(10)
    assert reborn.version == new.version
    others = [n for n in net.nodes.values() if n is not reborn]
    assert all(n.table.version(victim) == new.version for n in others)


@pytest.mark.parametrize("pause_s", [0.05, 3.0])
def test_a_paused_node_keeps_its_state_misses_nothing_and_catches_up(pause_s: float) -> None:
    """A frozen node handles nothing (no news applied, no timer fired) while paused, and
    its senders time out if the pause outlasts `timeout_s`; resumed, it is the same life
    (same version) and gets every update made meanwhile. Shorter than the timeout, the
    requests it held are answered late and nobody sees a failure."""
    link = Link(latency_s=0.01, timeout_s=0.5)
    net = Network(CFG.with_(resample_s=0, sync_s=0.3), seed=5, link=link)
    nodes = net.cluster(5)
    net.run_until_converged(10)
    frozen = nodes[2]
    version, handled = frozen.version, frozen.stats.received
    others = [n for n in nodes if n is not frozen]
    failed = sum(n.stats.requests_failed for n in others)
    net.pause(frozen.id)
    made = [net.publish(nodes[k].id, "Heat") for k in (0, 1, 3)]
    net.run_for(pause_s)
    assert net.paused(frozen.id) and frozen.stats.received == handled
    assert all(frozen.table.version(m.origin) < m.version for m in made)
    net.resume(frozen.id)
    net.run_until_converged(10)
    assert not net.paused(frozen.id) and net.nodes[frozen.id] is frozen
    assert frozen.version == version  # (the same life: not restarted)
    assert all(frozen.table.version(m.origin) == m.version for m in made)
    assert frozen.stats.received > handled
    timed_out = sum(n.stats.requests_failed for n in others) - failed
    assert (timed_out > 0) == (pause_s > link.timeout_s)
    net.run_for(2)
    assert net.news_in_flight == 0  # (what timed out while held is not on the wire)
    sent = net.messages
    net.pause(frozen.id)
    net.crash(frozen.id)  # a paused node can be killed: what it held is gone
    net.run_for(2)
    assert not net.paused(frozen.id) and net.messages > sent


def test_a_disconnected_node_runs_on_alone_and_catches_up_when_reconnected() -> None:
    """Off the network, a node's own requests fail at once (no route) and requests to it
    time out at their senders; it keeps its state and picks up, once back, what was made
    meanwhile, and its own news made while off reaches everyone."""
    link = Link(latency_s=0.01, timeout_s=0.5)
    net = Network(CFG.with_(resample_s=0, sync_s=0.3), seed=6, link=link)
    nodes = net.cluster(5)
    net.run_until_converged(10)
    off = nodes[3]
    others = [n for n in nodes if n is not off]
    failed_off, failed = off.stats.requests_failed, sum(n.stats.requests_failed for n in others)
    net.disconnect(off.id)
    made = [net.publish(nodes[k].id, "Heat") for k in (0, 1)]
    alone = net.publish(off.id, "Ran")
    net.run_for(0.2)  # (less than the timeout: only its own requests have failed yet)
    assert off.stats.requests_failed > failed_off
    assert sum(n.stats.requests_failed for n in others) == failed
    net.run_for(3)
    assert sum(n.stats.requests_failed for n in others) > failed
    assert all(off.table.version(m.origin) < m.version for m in made)
    assert all(n.table.version(off.id) < alone.version for n in others)
    version = off.version
    net.partition([n.id for n in nodes[:2]])
    net.heal()  # (partitions come and go: the node stays off until reconnected)
    net.run_for(1)
    assert all(off.table.version(m.origin) < m.version for m in made)
    net.reconnect(off.id)
    net.run_until_converged(10)
    assert net.nodes[off.id] is off and off.version == version
    assert all(off.table.version(m.origin) == m.version for m in made)
    assert all(n.table.version(off.id) == alone.version for n in others)


def test_late_joiners_converge() -> None:
    net = Network(CFG, seed=8, link=LOSSY)
    nodes = net.cluster(6)
    net.run_for(3)
    for k in range(6, 9):
        net.add(node_id(k), bootstrap=nodes[k % 3].id)
        net.run_for(1)
    net.link = Link(latency_s=0.01, timeout_s=0.2)
    net.run_until_converged(15)
    assert len(net.nodes) == 9


def test_a_big_joined_cluster_spreads_one_update_to_everyone() -> None:
    net = Network(CFG.with_(resample_s=0, sync_s=0.1), seed=9, link=Link(latency_s=0.1))
    nodes = net.cluster(2000, publish=False, joined=True)
    net.run_for(0.1)
    message = net.publish(nodes[0].id, "Alien")
    reached: set[str] = set()
    net.listen(
        lambda node, events: reached.update(
            node.id for e in events if isinstance(e, Applied) and e.uuid == message.uuid
        )
    )
    net.run_for(2)
    assert len(reached) == 1999


def run_once(seed: int) -> tuple[str, int, int, int]:
    net = Network(CFG, seed=seed, link=LOSSY)
    events = fingerprint(net)
    ids = [n.id for n in net.cluster(8)]
    net.at(net.now + 2, lambda: net.partition(ids[:3]))
    net.at(net.now + 3, lambda: net.crash(ids[5]))
    net.at(net.now + 4, lambda: net.restart(ids[5], bootstrap=ids[0]) and None)
    net.at(net.now + 5, net.heal)
    net.run_for(12)
    digest = hashlib.sha256("\n".join(events).encode()).hexdigest()
    return digest, net.messages, net.news_messages, net.steps


def test_the_same_seed_gives_the_same_run_event_for_event() -> None:
    assert run_once(11) == run_once(11)
    assert run_once(11)[0] != run_once(12)[0]


def test_messages_are_counted_http_style_and_split_into_news_and_background() -> None:
    net = Network(CFG.with_(resample_s=0, sync_s=1000.0), seed=13, link=Link(latency_s=0.01))
    a, _ = net.cluster(2, publish=False, joined=True)
    net.run_for(1)
    assert net.messages == 0
    net.publish(a.id, "Up")
    net.run_for(1)
    # one push and its reply; nothing else happens with anti-entropy this slow
    assert (net.messages, net.news_messages) == (2, 2)
    assert net.by_kind == {"push": 2} and net.news_by_kind == {"push": 2}
    assert net.news_in_flight == 0


def test_a_sync_that_trades_nothing_is_background() -> None:
    net = Network(CFG.with_(resample_s=0, sync_s=0.1), seed=14, link=Link(latency_s=0.01))
    net.cluster(3, publish=False, joined=True)
    net.run_for(1)
    assert net.messages > 0
    assert net.news_messages == 0
    assert set(net.by_kind) == {"sync"}


def test_a_slow_pair_of_nodes_gets_its_own_link() -> None:
    net = Network(CFG.with_(resample_s=0, sync_s=1000.0), seed=15, link=Link(latency_s=0.01))
    a, b = net.cluster(2, publish=False, joined=True)
    net.set_link(a.id, b.id, Link(latency_s=0.5))
    arrived: list[float] = []
    net.listen(lambda n, ev: arrived.extend(net.now for e in ev if isinstance(e, Applied)))
    start = net.now
    net.publish(a.id, "Heat")
    net.run_for(2)
    assert arrived and arrived[0] - start == pytest.approx(0.5)
    net.clear_links()
    start = net.now
    net.publish(a.id, "Jaws")
    net.run_for(2)
    assert arrived[-1] - start == pytest.approx(0.01)


def test_a_first_request_to_a_peer_pays_for_its_connection_once_per_life() -> None:
    """`connect_s`: the first request from a to b opens the connection (later ones reuse
    it, a bootstrap fetch's too); a crash closes a node's connections."""
    link = Link(latency_s=0.01, connect_s=0.05)
    net = Network(CFG.with_(resample_s=0, sync_s=1000.0), seed=15, link=link)
    a, b = net.cluster(2, publish=False, joined=True)
    arrived: list[float] = []
    net.listen(lambda n, ev: arrived.extend(net.now for e in ev if isinstance(e, Applied)))

    def push_takes() -> float:
        start, before = net.now, len(arrived)
        net.publish(a.id)
        net.run_for(2)
        assert len(arrived) == before + 1
        return arrived[-1] - start

    assert push_takes() == pytest.approx(0.06)
    assert push_takes() == pytest.approx(0.01)
    start = net.now
    net.restart(a.id)  # (from the shared roster, no bootstrap fetch; it publishes at once)
    net.run_for(2)
    assert arrived[-1] - start == pytest.approx(0.06)  # a's new life opens a new connection
    net.crash(a.id)
    net.add(a.id, bootstrap=b.id, publish=False)
    net.run_for(2)
    assert push_takes() == pytest.approx(0.01)  # asking b for peers opened it already
    with pytest.raises(ValueError, match="connect_s"):
        Link(connect_s=-1)


def test_exponential_jitter_reorders_deliveries() -> None:
    link = Link(latency_s=0.01, jitter_s=0.05, jitter="exponential")
    net = Network(CFG.with_(resample_s=0, sync_s=1000.0), seed=16, link=link)
    a, b = net.cluster(2, publish=False, joined=True)
    arrivals: list[int] = []

    def on(node: GossipNode, events: list[Event]) -> None:
        arrivals.extend(e.version for e in events if isinstance(e, Applied | Stale))

    net.listen(on)
    for k in range(20):
        net.at(net.now + 0.001 * k, lambda: net.publish(a.id) and None)
    net.run_for(5)
    assert len(arrivals) == 20
    assert arrivals != sorted(arrivals)  # a later version overtook an earlier one ...
    assert b.table.version(a.id) == a.version  # ... and the newest still won


def test_link_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="loss"):
        Link(loss=1.0)
    with pytest.raises(ValueError, match="jitter"):
        Link(jitter="gaussian")
    with pytest.raises(ValueError, match="latency_s"):
        Link(latency_s=-1)


def test_a_violation_names_seed_and_step_and_replays_to_just_before_it() -> None:
    def doomed() -> Network:
        net = Network(CFG, seed=17)
        nodes = net.cluster(3)
        net.run_for(2)

        def corrupt() -> None:  # a planted bug: node 0's view of node 1 goes back
            entry = nodes[0].table.get(nodes[1].id)
            assert entry is not None
            old = Message(entry.message.uuid, nodes[1].id, 1, 0, {"movie": "Up"}, None, 1)
            nodes[0].table.put(entry._replace(message=old))
            net.publish(nodes[0].id)  # the step after which the checker looks

        net.at(net.now + 0.25, corrupt)
        return net

    net = doomed()
    with pytest.raises(SimulationFailure, match=r"seed 17, step (\d+)") as failure:
        net.run_for(5)
    step = int(str(failure.value).split("step ")[1].split(",")[0])
    replay = doomed()
    replay.run_to_step(step - 1)
    assert replay.steps == step - 1  # the state just before the violation, to inspect
    with pytest.raises(SimulationFailure, match=f"step {step},"):
        replay.step()


def test_halt_stops_a_run_at_the_current_step() -> None:
    net = Network(CFG, seed=18)
    net.cluster(4)
    net.at(net.now + 1, net.halt)
    target = net.now + 10
    net.run_until(target)
    assert net.now < target
