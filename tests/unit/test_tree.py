"""The epidemic broadcast tree (strategy "tree", node.core.tree), through the core's public
calls and the simulator: the first broadcasts prune a random graph to a spanning tree, after
which news costs one copy a node; a redundant push is pruned, a lazy peer that lacks
announced news grafts the link; crashes and partitions are healed; a node on random push
interoperates; the wire additions are validated."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from lab.simnet import Link, Network, node_id
from node.core import (
    Applied,
    Config,
    ConfigError,
    Deduplicated,
    Envelope,
    Event,
    GossipNode,
    InvalidMessage,
    Message,
    Send,
    Stale,
    converged,
    envelope_to_wire,
    parse_envelope,
)

#: Anti-entropy and announcements far apart: what arrives, arrives by the tree.
TREE_ONLY = Config(
    strategy="tree", tree_degree=6, ttl=16, resample_s=0, sync_s=1000.0, lazy_s=1000.0
)
TREE = Config(strategy="tree", tree_degree=6, ttl=16, resample_s=0, sync_s=1.0, lazy_s=0.5)


def tree_edges(net: Network) -> set[frozenset[str]]:
    return {frozenset((n.id, p)) for n in net.nodes.values() for p in n.tree.eager}  # type: ignore[union-attr]


def is_spanning_tree(net: Network) -> bool:
    ids = list(net.nodes)
    edges = tree_edges(net)
    if len(edges) != len(ids) - 1:
        return False
    adjacent: dict[str, set[str]] = {i: set() for i in ids}
    for edge in edges:
        a, b = tuple(edge)
        adjacent[a].add(b)
        adjacent[b].add(a)
    seen, todo = {ids[0]}, [ids[0]]
    while todo:
        for other in adjacent[todo.pop()] - seen:
            seen.add(other)
            todo.append(other)
    return len(seen) == len(ids)


def broadcast(net: Network, nid: str, seconds: float = 3.0) -> Counter[str]:
    """`nid` publishes; runs for `seconds`; the copies of that news each node received."""
    got: Counter[str] = Counter()
    box: list[Message] = []

    def on(node: GossipNode, events: list[Event]) -> None:
        for e in events:
            if box and type(e) in (Applied, Deduplicated, Stale) and e.uuid == box[0].uuid:
                got[node.id] += 1

    net.listen(on)
    box.append(net.publish(nid))
    net.run_for(seconds)
    net.unlisten(on)
    return got


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_first_broadcasts_prune_a_random_graph_to_a_spanning_tree(seed: int) -> None:
    net = Network(TREE_ONLY, seed=seed, link=Link(latency_s=0.01))
    ids = [n.id for n in net.cluster(60, publish=False, joined=True)]
    first = broadcast(net, ids[0])
    assert set(first) == set(ids[1:])  # everyone got it, most more than once (the flood)
    assert sum(first.values()) > 4 * len(ids)
    assert not is_spanning_tree(net)  # links toward the origin are not tried by its news
    broadcast(net, ids[1])  # the second broadcast tries them
    assert is_spanning_tree(net)
    # from then on any node's news reaches every node exactly once
    for k in (7, 33, 59):
        again = broadcast(net, ids[k])
        assert set(again) == set(ids) - {ids[k]} and set(again.values()) == {1}


def test_a_redundant_tree_push_is_pruned_at_both_ends() -> None:
    cfg = TREE_ONLY
    a = GossipNode(node_id(1), cfg, now=1000.0, rng=random.Random(1), movies=("Up",))
    for p in (node_id(2), node_id(3)):
        a.peers.add(p, 1000.0)
    news = GossipNode(node_id(9), cfg, now=1000.0, rng=random.Random(2)).publish(1000.0, "Up")
    first = Envelope(node_id(2), (news._replace(hops=1),), route="tree")
    assert not a.receive(1000.0, first).prune  # the first copy: its link is the tree's
    a.tree.graft(node_id(3))  # type: ignore[union-attr]
    again = a.receive(1000.1, Envelope(node_id(3), (news._replace(hops=2),), route="tree"))
    assert again.prune  # the second copy came by a redundant link
    assert node_id(3) in a.tree.lazy and node_id(2) in a.tree.eager  # type: ignore[union-attr]
    # the sender, told so, makes the link lazy too
    b = GossipNode(node_id(3), cfg, now=1000.0, rng=random.Random(3))
    b.peers.add(node_id(1), 1000.0)
    b.tree.graft(node_id(1))  # type: ignore[union-attr]
    push = Send(node_id(1), Envelope(node_id(3), (news,), route="tree"), "push")
    b.on_reply(1000.2, push, again)
    assert node_id(1) in b.tree.lazy and node_id(1) not in b.tree.eager  # type: ignore[union-attr]


def test_news_first_had_by_anti_entropy_does_not_prune_the_tree_link() -> None:
    a = GossipNode(node_id(1), TREE_ONLY, now=1000.0, rng=random.Random(1))
    a.peers.add(node_id(2), 1000.0)
    a.peers.add(node_id(3), 1000.0)
    news = GossipNode(node_id(9), TREE_ONLY, now=1000.0, rng=random.Random(2)).publish(1000.0, "Up")
    a.receive(1000.0, Envelope(node_id(2), (news,), digest={}))  # by anti-entropy
    a.tree.graft(node_id(3))  # type: ignore[union-attr]
    reply = a.receive(1000.1, Envelope(node_id(3), (news,), route="tree"))
    assert not reply.prune and node_id(3) in a.tree.eager  # type: ignore[union-attr]


def test_a_lazy_peer_that_lacks_announced_news_grafts_the_link() -> None:
    cfg = TREE.with_(lazy_s=0.5)
    a = GossipNode(node_id(1), cfg, now=1000.0, rng=random.Random(1), movies=("Up",))
    b = GossipNode(node_id(2), cfg, now=1000.0, rng=random.Random(2))
    a.peers.add(b.id, 1000.0)
    b.peers.add(a.id, 1000.0)
    a.tree.prune(b.id)  # type: ignore[union-attr]
    b.tree.prune(a.id)  # type: ignore[union-attr]
    a.collect()
    news = a.publish(1000.0, "Up")
    assert not [s for s in a.collect().sends if s.to == b.id]  # lazy: no push
    a.tick(1000.2)
    assert not [s for s in a.collect().sends if s.kind == "announce"]  # too young yet
    a.tick(1000.0 + cfg.lazy_s * 2)
    (announce,) = [s for s in a.collect().sends if s.kind == "announce"]
    assert announce.to == b.id and announce.envelope.ihave == {a.id: news.version}
    reply = b.receive(1001.0, announce.envelope)
    assert reply.want == (a.id,)
    a.on_reply(1001.1, announce, reply)
    (graft,) = [s for s in a.collect().sends if s.kind == "graft"]
    assert graft.envelope.route == "graft" and graft.envelope.messages[0].uuid == news.uuid
    assert b.id in a.tree.eager  # type: ignore[union-attr]
    b.receive(1001.2, graft.envelope)
    assert b.table.version(a.id) == news.version and a.id in b.tree.eager  # type: ignore[union-attr]
    # a peer that already has it wants nothing
    assert b.receive(1001.3, announce.envelope).want == ()


@pytest.mark.parametrize("seed", [1, 2])
def test_a_crashed_inner_node_is_healed_around(seed: int) -> None:
    net = Network(TREE, seed=seed, link=Link(latency_s=0.01, timeout_s=0.05))
    ids = [n.id for n in net.cluster(40, publish=False, joined=True)]
    broadcast(net, ids[0])
    inner = max(net.nodes.values(), key=lambda n: len(n.tree.eager))  # type: ignore[union-attr]
    net.crash(inner.id)
    live = [i for i in ids if i != inner.id]
    for k in range(8):  # every update reaches every live node
        got = broadcast(net, live[(k * 7) % len(live)], seconds=20.0)
        assert set(got) >= set(live) - {live[(k * 7) % len(live)]}
    # and the tree healed: one copy a node again
    last = broadcast(net, live[3], seconds=20.0)
    assert sum(last.values()) <= 1.5 * (len(live) - 1)
    assert converged([net.nodes[i] for i in live])


def test_a_partitioned_tree_converges_after_the_heal() -> None:
    net = Network(TREE, seed=4, link=Link(latency_s=0.01, timeout_s=0.05))
    ids = [n.id for n in net.cluster(30, publish=False, joined=True)]
    broadcast(net, ids[0])
    net.partition(ids[:15])
    for k in range(6):
        net.publish(ids[k * 5])
        net.run_for(1.0)
    net.heal()
    net.run_until_converged(30)


def test_a_node_on_random_push_interoperates_with_tree_nodes() -> None:
    net = Network(TREE, seed=5, link=Link(latency_s=0.01))
    ids = [n.id for n in net.cluster(20, publish=False, joined=True)]
    net.crash(ids[7])
    net.config = TREE.with_(strategy="push")  # the next life of node 7 pushes at random
    net.add(ids[7], publish=False)
    net.config = TREE
    for nid in (ids[0], ids[7], ids[12]):
        got = broadcast(net, nid, seconds=5.0)
        assert set(got) == set(ids) - {nid}


def test_runs_are_a_function_of_the_seed() -> None:
    def run(seed: int) -> list[tuple[str, int]]:
        net = Network(TREE, seed=seed, link=Link(latency_s=0.01, loss=0.1))
        ids = [n.id for n in net.cluster(30, publish=False, joined=True)]
        for k in range(5):
            net.publish(ids[k])
            net.run_for(1.0)
        return sorted((n.id, len(n.tree.eager)) for n in net.nodes.values())  # type: ignore[union-attr]

    assert run(8) == run(8)


def test_the_wire_additions_round_trip_and_are_checked() -> None:
    cfg = Config()
    e = Envelope(
        "10.0.0.1:7000", route="tree", ihave={"10.0.0.2:7000": 5}, prune=True, settled=True
    )
    assert parse_envelope(envelope_to_wire(e), cfg) == e
    assert "route" not in envelope_to_wire(Envelope("10.0.0.1:7000"))  # today's form unchanged
    for bad, reason in (
        ({"route": "sideways"}, "wrong_type"),
        ({"ihave": ["10.0.0.2:7000"]}, "wrong_type"),
        ({"ihave": {"nope": 1}}, "bad_origin"),
        ({"prune": "yes"}, "wrong_type"),
        ({"settled": 1}, "wrong_type"),
    ):
        with pytest.raises(InvalidMessage) as refused:
            parse_envelope(bad, cfg)
        assert refused.value.reason == reason


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(ConfigError, match="strategy"):
        Config(strategy="flood")


def test_nodes_joining_through_a_bootstrap_node_converge_and_keep_converging() -> None:
    """The real app's start: every node publishes before it knows anyone; that news takes
    the tree once the node has members."""
    net = Network(TREE.with_(resample_s=2.0), seed=1)
    net.cluster(8)
    assert net.run_until_converged(5) < 1.0
    for _ in range(20):  # new favourites every ~2 s: converged again each time
        net.run_for(2.0)
        net.run_until_converged(3.0)


@pytest.mark.parametrize("seed", [1, 2])
def test_under_heavy_loss_random_pushes_join_the_tree_and_every_update_arrives(seed: int) -> None:
    net = Network(TREE, seed=seed, link=Link(latency_s=0.01, loss=0.2, timeout_s=0.05))
    ids = [n.id for n in net.cluster(50, publish=False, joined=True)]
    for k in range(10):
        got = broadcast(net, ids[k], seconds=5.0)
        assert set(got) == set(ids) - {ids[k]}
    failing = [n.tree.failing for n in net.nodes.values()]  # type: ignore[union-attr]
    assert sum(failing) / len(failing) > 0.1  # the nodes saw their pushes fail, and push
    # extra copies off the tree; where pushes go through, they push none
    quiet = Network(TREE, seed=seed, link=Link(latency_s=0.01))
    ids = [n.id for n in quiet.cluster(50, publish=False, joined=True)]
    for k in range(3):
        broadcast(quiet, ids[k])
    assert all(n.tree.extra_pushes(3, random.Random(0)) == 0 for n in quiet.nodes.values())  # type: ignore[union-attr]


def test_the_default_ttl_lets_the_tree_a_lab_builds_reach_every_node() -> None:
    """A hundred nodes joining through one bootstrap node, each with a new favourite every
    ~10 s (the lab's defaults), build a tree deeper than 8 hops. With the default TTL every
    first arrival still comes by the tree; a TTL below its depth cut the deep subtrees off
    (at 8: a third of the arrivals came late, by announcement or anti-entropy)."""
    defaults = Config()
    link = Link(latency_s=0.002, jitter_s=0.002, timeout_s=2.0)
    net = Network(defaults, seed=1, link=link, check=False)
    via: Counter[str] = Counter()
    deepest = 0

    def listen(node: GossipNode, events: list[Event]) -> None:
        nonlocal deepest
        for e in events:
            if isinstance(e, Applied) and e.origin != node.id:
                via[e.via] += 1
                deepest = max(deepest, e.hops)

    net.cluster(101)
    net.run_for(40.0)
    net.listen(listen)
    net.run_for(10.0)
    assert sum(via.values()) > 50 * 100  # (about 10 updates a second, each to 100 nodes)
    assert 8 < deepest < defaults.ttl
    assert via["tree"] / sum(via.values()) > 0.99, via
