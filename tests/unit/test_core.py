"""The protocol core through its public calls: on a simulated network with a virtual clock
(lab.simnet), every step checked by the shared invariants. No sockets, no sleeps."""

from __future__ import annotations

import random

import pytest

from lab.simnet import Link, Network, SimulationFailure, node_id
from node.core import (
    VERSION_TICKS_PER_S,
    Applied,
    BootstrapFailed,
    Config,
    Deduplicated,
    Envelope,
    Event,
    GossipNode,
    Message,
    PeerChanged,
    Send,
    Stale,
    TtlDropped,
    converged,
)

FAST = Config(
    resample_s=2.0, sync_s=1.0, strategy="push"
)  # random push: tests/unit/test_tree.py has the tree


def uuid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def msg(origin: str, version: int, ttl: int = 3, i: int = 0, movie: str = "Heat") -> Message:
    return Message(uuid(i or version), origin, version, ttl, {"movie": movie}, None, 1)


def lone_node(config: Config = FAST) -> GossipNode:
    return GossipNode(
        "10.0.0.1:7000", config, now=1000.0, rng=random.Random(1), movies=["Alien", "Heat"]
    )


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


# --- one node, by hand ------------------------------------------------------------------
def test_news_is_applied_once_and_duplicates_are_counted() -> None:
    node = lone_node()
    news = Envelope("10.0.0.2:7000", (msg("10.0.0.2:7000", 5),))
    node.receive(1000.0, news)
    node.receive(1000.1, news)
    events = node.collect().events
    assert kinds(events).count("Applied") == 1
    assert next(e for e in events if isinstance(e, Deduplicated)).uuid == uuid(5)
    assert node.stats.deduplicated == 1 and node.stats.applied == 1
    assert node.table.version("10.0.0.2:7000") == 5


def test_older_news_under_a_new_uuid_is_stale_and_changes_nothing() -> None:
    node = lone_node()
    node.receive(1000.0, Envelope(None, (msg("10.0.0.2:7000", 9, movie="Alien"),)))
    node.receive(1000.1, Envelope(None, (msg("10.0.0.2:7000", 4, i=77, movie="Heat"),)))
    node.receive(1000.2, Envelope(None, (msg("10.0.0.2:7000", 9, i=78, movie="Up"),)))
    stale = [e for e in node.collect().events if isinstance(e, Stale)]
    assert [(e.version, e.known) for e in stale] == [(4, 9), (9, 9)]
    entry = node.table.get("10.0.0.2:7000")
    assert entry is not None and entry.message.movie == "Alien"


def test_news_arriving_out_of_order_keeps_the_newest() -> None:
    node = lone_node()
    for version in (3, 7, 5, 6, 1):
        node.receive(1000.0, Envelope(None, (msg("10.0.0.2:7000", version),)))
    assert node.table.version("10.0.0.2:7000") == 7
    assert node.stats.applied == 2 and node.stats.stale == 3


def test_ttl_zero_is_applied_but_not_forwarded() -> None:
    node = lone_node()
    node.peers.add("10.0.0.3:7000", 1000.0)
    node.receive(1000.0, Envelope("10.0.0.2:7000", (msg("10.0.0.2:7000", 5, ttl=0),)))
    assert node.table.version("10.0.0.2:7000") == 5
    ready = node.collect()
    assert any(isinstance(e, TtlDropped) for e in ready.events)
    assert not [s for s in ready.sends if isinstance(s, Send) and s.kind == "push"]


def test_forwarded_copies_keep_the_uuid_and_spend_one_ttl() -> None:
    node = lone_node()
    for k in range(3, 8):
        node.peers.add(f"10.0.0.{k}:7000", 1000.0)
    node.receive(1000.0, Envelope("10.0.0.2:7000", (msg("10.0.0.2:7000", 5, ttl=4),)))
    pushes = [s for s in node.collect().sends if isinstance(s, Send) and s.kind == "push"]
    assert len(pushes) == FAST.fanout
    assert {s.to for s in pushes}.isdisjoint({"10.0.0.2:7000"})  # not back to the sender
    for push in pushes:
        (m,) = push.envelope.messages
        assert (m.uuid, m.ttl, m.hops) == (uuid(5), 3, 2)


def test_anti_entropy_reply_carries_what_the_asker_lacks_and_wants_what_it_has() -> None:
    node = lone_node()
    node.publish(1000.0, "Alien")
    node.receive(1000.0, Envelope(None, (msg("10.0.0.2:7000", 5),)))
    reply = node.receive(
        1001.0, Envelope("10.0.0.9:7000", digest={"10.0.0.2:7000": 3, "10.0.0.8:7000": 40})
    )
    assert {m.origin for m in reply.messages} == {node.id, "10.0.0.2:7000"}
    assert reply.want == ("10.0.0.8:7000",)


def test_versions_start_at_the_generation_and_count_up() -> None:
    node = lone_node()
    first = node.publish(1000.0)
    second = node.publish(1001.0)
    assert node.generation == first.version == 1000 * VERSION_TICKS_PER_S
    assert second.version == first.version + 1
    assert node.version - node.generation == 1


def test_hearing_its_own_id_at_a_higher_version_jumps_above_it() -> None:
    node = lone_node()
    node.publish(1000.0, "Alien")
    ghost = 2000 * VERSION_TICKS_PER_S + 5  # a previous life with a clock far ahead
    node.receive(1000.5, Envelope("10.0.0.2:7000", (msg(node.id, ghost),)))
    assert node.version == ghost + 1 and node.movie == "Alien"


def test_bootstrap_retries_with_backoff_while_the_bootstrap_node_is_down() -> None:
    net = Network(FAST, seed=3, link=Link(timeout_s=0.5))
    boot = node_id(0)
    late = net.add(node_id(1), bootstrap=boot)
    waits: list[float] = []
    net.listen(
        lambda n, ev: waits.extend(e.retry_in_s for e in ev if isinstance(e, BootstrapFailed))
    )
    net.run_for(10)
    assert not late.bootstrapped
    assert waits[:4] == [0.5, 1.0, 2.0, 4.0]  # doubling, from bootstrap_backoff_s
    net.add(boot)
    net.run_for(12)
    assert late.bootstrapped
    assert converged(list(net.nodes.values()))


# --- clusters on the simulated network -------------------------------------------------
def test_five_nodes_bootstrapping_from_one_converge_and_keep_converging() -> None:
    net = Network(FAST, seed=1)
    net.cluster(5)
    assert net.run_until_converged(5) < 1.0
    for _ in range(30):  # a minute of updates every ~2 s: converged again within 1 s each
        net.run_for(2.0)
        net.run_until_converged(1.5)


def test_every_update_reaches_every_node_by_push_alone_in_a_small_cluster() -> None:
    net = Network(FAST.with_(sync_s=1000.0, resample_s=0), seed=2)
    nodes = net.cluster(8)
    net.run_for(5)
    origin = nodes[3]
    m = net.publish(origin.id, "Alien")
    net.run_for(0.2)  # 20 link latencies of 10 ms, no anti-entropy round in between
    assert all(n.table.version(origin.id) == m.version for n in nodes)


def test_duplicated_and_reordered_delivery_never_applies_twice() -> None:
    link = Link(latency_s=0.01, jitter_s=0.05, duplicate=0.5)
    net = Network(FAST, seed=4, link=link)
    nodes = net.cluster(6)
    net.run_for(30)  # Invariants: no double apply, views never go back
    net.run_until_converged(3)
    assert sum(n.stats.deduplicated for n in nodes) > 0


def test_small_ttl_drops_are_counted_and_anti_entropy_still_converges() -> None:
    net = Network(FAST.with_(ttl=1, fanout=2, resample_s=0), seed=5)
    nodes = net.cluster(12)
    net.run_until_converged(10)
    drops = sum(n.stats.ttl_drops for n in nodes)
    net.publish(nodes[5].id)
    net.run_until_converged(10)
    assert sum(n.stats.ttl_drops for n in nodes) > drops


def test_loss_is_healed_by_anti_entropy() -> None:
    net = Network(FAST, seed=6, link=Link(loss=0.3, timeout_s=0.5))
    net.cluster(8)
    net.run_for(30)
    net.run_until_converged(6)


def test_a_partition_diverges_and_heals_within_a_few_anti_entropy_periods() -> None:
    net = Network(FAST, seed=7)
    nodes = net.cluster(10)
    net.run_until_converged(5)
    left, right = [n.id for n in nodes[:5]], [n.id for n in nodes[5:]]
    net.partition(left, right)
    net.run_for(20)
    assert not converged(nodes)
    net.run_until_converged(5, nodes=left)
    net.run_until_converged(5, nodes=right)
    net.heal()
    assert net.run_until_converged(3 * FAST.sync_s) <= 3 * FAST.sync_s


def test_a_late_joiner_catches_up_and_is_learned_by_everyone() -> None:
    net = Network(FAST, seed=8)
    net.cluster(6)
    net.run_for(30)
    late = net.add("10.0.1.1:7000", bootstrap=node_id(0))
    net.run_until_converged(3)
    assert len(late.table) == 7


def test_a_node_restarted_with_the_same_seed_makes_new_uuids() -> None:
    """A node's random source starts over when it restarts with the same GOSSIP_SEED (the
    shell seeds it from the seed and the address alone). Its first favourite must not
    carry the previous life's first UUID, or every peer that remembers it would drop the
    new life's news as a duplicate (seen on real processes before the fix)."""
    lives = [
        GossipNode("10.0.0.2:7000", FAST, now=t, rng=random.Random("7/10.0.0.2:7000"),
                   movies=["Alien", "Heat"]).publish(t)
        for t in (1000.0, 1010.0)
    ]  # fmt: skip
    assert lives[0].version < lives[1].version
    assert lives[0].uuid != lives[1].uuid
    peer = lone_node()
    peer.receive(1001.0, Envelope(lives[0].origin, (lives[0],)))
    peer.receive(1011.0, Envelope(lives[1].origin, (lives[1],)))
    assert peer.table.version(lives[0].origin) == lives[1].version


def test_a_restarted_node_keeps_rising_and_its_news_is_accepted() -> None:
    net = Network(FAST, seed=9)
    nodes = net.cluster(5)
    victim = nodes[2].id
    net.run_for(10)
    before = nodes[2].version
    net.crash(victim)
    net.run_for(3)
    reborn = net.restart(victim, bootstrap=node_id(0))
    assert reborn.version > before  # new generation: a later start time
    net.run_until_converged(3)
    net.run_for(10)
    net.run_until_converged(3)
    assert all(n.table.version(victim) == reborn.version for n in net.nodes.values())


def test_a_quick_restart_after_many_updates_still_starts_above_its_previous_life() -> None:
    net = Network(FAST, seed=10)
    nodes = net.cluster(4)
    net.run_for(0.3)
    old = nodes[1]
    for _ in range(50):
        net.publish(old.id)  # many versions in the first 0.3 s of life
    net.run_for(0.001)
    reborn = net.restart(old.id, bootstrap=node_id(0))
    assert reborn.version > old.version
    net.run_until_converged(3)


def test_a_crashed_peer_turns_suspect_then_dead_and_comes_back_alive() -> None:
    net = Network(FAST, seed=11, link=Link(timeout_s=0.5))
    nodes = net.cluster(4)
    victim = node_id(3)
    seen: dict[str, list[str]] = {}  # observer -> the victim's states as it saw them
    net.run_for(5)
    net.listen(
        lambda n, ev: seen.setdefault(n.id, []).extend(
            e.new for e in ev if isinstance(e, PeerChanged) and e.peer == victim
        )
    )
    net.crash(victim)
    net.run_for(15)
    for observer in nodes[:3]:
        assert seen[observer.id] == ["suspect", "dead"]
    net.restart(victim, bootstrap=node_id(0))
    net.run_for(2 * FAST.dead_retry_s)
    for observer in nodes[:3]:
        assert seen[observer.id][-1] == "alive" == observer.peers.state(victim)
    net.run_until_converged(3)


def test_a_departed_origin_is_reaped_and_late_gossip_does_not_resurrect_it() -> None:
    cfg = FAST.with_(reap_s=20.0, tombstone_s=100.0)
    net = Network(cfg, seed=12, link=Link(timeout_s=0.5))
    nodes = net.cluster(4)
    net.run_for(5)
    gone = nodes[3]
    last = gone.version
    net.crash(gone.id)
    net.run_for(40)
    survivor = nodes[0]
    assert gone.id not in survivor.table
    assert survivor.table.tombstones()[gone.id] == last
    old_news = Message(uuid(999), gone.id, last, 2, {"movie": "Heat"}, None, 1)
    survivor.receive(net.now, Envelope(None, (old_news,)))
    assert gone.id not in survivor.table  # stale against the tombstone
    newer = old_news._replace(uuid=uuid(1000), version=last + 1)
    survivor.receive(net.now, Envelope(None, (newer,)))
    assert survivor.table.version(gone.id) == last + 1  # it really came back


def test_batched_push_converges_with_fewer_requests() -> None:
    def requests(cfg: Config) -> int:
        net = Network(cfg.with_(resample_s=0), seed=13)
        nodes = net.cluster(10)
        for k in range(120):  # an update every half second for a minute, then quiet
            net.at(net.now + 0.5 * k, lambda k=k: net.publish(nodes[k % 10].id) and None)
        net.run_for(60)
        net.run_until_converged(5)
        return sum(n.stats.requests_sent for n in nodes)

    assert requests(FAST.with_(push_interval_s=0.5)) < requests(FAST)


def test_the_same_seed_gives_the_same_run() -> None:
    def run(seed: int) -> list[tuple[str, int, str | None]]:
        net = Network(FAST, seed=seed, link=Link(jitter_s=0.02, loss=0.1, timeout_s=0.5))
        nodes = net.cluster(6)
        net.run_for(20)
        return [(n.id, n.version, n.movie) for n in nodes] + [("steps", net.steps, None)]

    assert run(21) == run(21)
    assert run(21) != run(22)


def test_an_invariant_violation_names_the_seed_and_step() -> None:
    net = Network(FAST, seed=99)
    nodes = net.cluster(3)
    net.run_for(3)

    def corrupt() -> None:  # a bug planted from outside: a view going back
        nodes[0].table.put(
            nodes[0]
            .table.get(nodes[1].id)
            ._replace(  # type: ignore[union-attr]
                message=msg(nodes[1].id, 1, i=5)
            )
        )
        net.driver(nodes[0].id).tick(net.now)

    net.at(net.now + 0.5, corrupt)
    with pytest.raises(SimulationFailure, match=r"seed 99, step \d+"):
        net.run_for(1)


def test_applied_events_tell_who_told_whom() -> None:
    net = Network(FAST.with_(resample_s=0, sync_s=1000.0), seed=14)
    # every node a member of every other from the start: with anti-entropy off, membership
    # would spread only through the probes of the first seconds
    nodes = net.cluster(6, joined=True)
    net.run_for(3)
    arrivals: list[tuple[str, Applied]] = []
    net.listen(lambda n, ev: arrivals.extend((n.id, e) for e in ev if isinstance(e, Applied)))
    m = net.publish(nodes[0].id, "Alien")
    net.run_for(1)
    mine = [(at, a) for at, a in arrivals if a.uuid == m.uuid]
    assert sorted(at for at, _ in mine) == sorted(n.id for n in nodes[1:])  # each once
    depth = {nodes[0].id: 0}
    for at, a in mine:  # in arrival order: a parent always arrived before its children
        assert a.sender in depth and a.hops == depth[a.sender] + 1
        depth[at] = a.hops


def test_a_bootstrap_node_reborn_under_a_new_address_is_found_again() -> None:
    # In Docker, a restarted bootstrap container may get a new IP: a new id behind the
    # same bootstrap address. Peers that refresh from the address find it again.
    cfg = FAST.with_(rebootstrap_s=5.0, reap_s=1000.0)
    net = Network(cfg, seed=15, link=Link(timeout_s=0.5))
    alias = "bootstrap:7000"
    boot = net.add(node_id(0))
    net.alias(alias, boot.id)
    peers = [net.add(node_id(k), bootstrap=alias) for k in range(1, 4)]
    net.run_until_converged(5)
    net.crash(boot.id)
    reborn = net.add("10.0.9.9:7000")  # the same service, another address, no memory
    net.alias(alias, reborn.id)
    net.run_for(2 * cfg.rebootstrap_s)
    live = [reborn, *peers]
    assert converged(live)
    assert all(reborn.id in p.peers for p in peers)
