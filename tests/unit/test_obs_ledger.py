"""A node's ledger and the cluster's genealogy, on the simulator's network (no sockets): the
record replays to the state each node ended in, `since` starts at the state of that moment,
every node of an update's tree has one parent one hop above it that learned it earlier, the
copies and links are counted, the rings stay bounded, and the model is Serf's."""

from __future__ import annotations

import functools
import math
import random
from typing import Any

import pytest

from lab.record import SimRecorder
from lab.simnet import Link, Network, node_id
from node.core import Config, GossipNode
from node.genealogy import hop_period, ideal_depth, merge_updates, summarize
from node.ledger import NO_FAULTS, Ledger, apply_line, empty_state
from node.spread_model import serf_fraction, serf_time, serf_time_to_all
from tests.support.records import replay

CONFIG = Config(fanout=2, ttl=8, sync_s=1.0, resample_s=0.0, strategy="push")  # (counts copies)


def versions(state: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {o: (e["version"], e["movie"]) for o, e in state["origins"].items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_recorded_run_replays_to_the_state_it_ended_in(seed: int) -> None:
    net = Network(CONFIG, seed=seed, link=Link(latency_s=0.01, jitter_s=0.01, loss=0.05))
    rec = SimRecorder(net)
    ids = [node_id(i) for i in range(12)]
    net.cluster(12)
    net.run_until_converged(60)
    rec.start()
    rng = random.Random(seed)
    net.at(net.now + 1, lambda: rec.partition(ids[:6], ids[6:]))
    net.at(net.now + 6, rec.heal)
    net.at(net.now + 2, lambda: rec.crash(ids[3]))
    net.at(net.now + 5, lambda: rec.restart(ids[3], ids[0]))
    for k in range(8):
        net.at(net.now + 0.5 + k, functools.partial(net.publish, rng.choice(ids)))
    net.run_for(15)
    lines = rec.record()
    assert lines[0]["kind"] == "header" and lines[0]["source"] == "simulator"
    assert [line["t"] for line in lines[1:-12]] == sorted(line["t"] for line in lines[1:-12])
    states, ends = replay(lines)
    assert sorted(ends) == sorted(ids)
    for nid in ids:
        assert versions(states[nid]) == versions(ends[nid]), nid
        assert states[nid]["peers"] == ends[nid]["peers"], nid
        assert versions(ends[nid]) == {
            o: (e.message.version, e.message.movie)
            for o in net.nodes[nid].table
            if (e := net.nodes[nid].table.get(o)) is not None
        }
    kinds = {line["kind"] for line in lines}
    assert {"snapshot", "movie_changed", "update_applied", "faults_set"} <= kinds
    assert {"node_stopped", "node_started"} <= kinds


def test_a_record_since_a_moment_starts_with_the_state_of_that_moment() -> None:
    net = Network(CONFIG, seed=4)
    net.cluster(5)
    net.run_until_converged(30)
    node = net.nodes[node_id(0)]
    ledger = Ledger(node.id, checkpoint_s=5.0)
    ledger.attach(net.now, node)
    net.listen(lambda n, events: ledger.observe(net.now, events) if n is node else None)
    marks = []
    for k in range(6):
        net.publish(node_id(k % 5))
        net.run_for(2.7)
        marks.append((net.now, versions(ledger.state())))
        net.run_for(0.01)  # lines at the very moment of `since` belong to its state
    for at, expected in marks:
        lines = ledger.record(since=at, end=net.now)
        assert lines[0]["kind"] == "snapshot" and lines[0]["t"] == at
        assert versions(lines[0]) == expected
        assert all(line["t"] > at for line in lines[1:-1])
        state = empty_state()
        for line in lines[:-1]:
            apply_line(state, line)
        assert versions(state) == versions(lines[-1]) == versions(ledger.state())


def test_the_record_ring_is_bounded_and_keeps_a_checkpoint() -> None:
    net = Network(CONFIG, seed=5)
    net.cluster(6)
    net.run_until_converged(30)
    node = net.nodes[node_id(0)]
    ledger = Ledger(node.id, ring_lines=300, max_updates=10, checkpoint_every=100)
    ledger.attach(net.now, node)
    net.listen(lambda n, events: ledger.observe(net.now, events) if n is node else None)
    for k in range(200):
        net.publish(node_id(k % 6))
        net.run_for(0.3)
    assert len(ledger.ring) == 300 and len(ledger.updates) == 10
    lines = ledger.record(since=0.0, end=net.now)  # long before the ring's oldest line
    assert lines[0]["kind"] == "snapshot" and lines[0]["t"] > 0.0
    state = empty_state()
    for line in lines[:-1]:
        apply_line(state, line)
    assert versions(state) == versions(ledger.state())


def run_one_update(n: int, seed: int, loss: float = 0.0) -> tuple[Network, dict[str, Ledger], str]:
    net = Network(CONFIG, seed=seed, link=Link(latency_s=0.01, jitter_s=0.02, loss=loss))
    net.cluster(n)
    net.run_until_converged(60)
    ledgers: dict[str, Ledger] = {}
    for nid, node in net.nodes.items():
        ledgers[nid] = Ledger(nid)
        ledgers[nid].attach(net.now, node)

    def listen(node: GossipNode, events: list[Any]) -> None:
        ledgers[node.id].observe(net.now, events)

    net.listen(listen)
    message = net.publish(node_id(n // 2))
    net.run_until_converged(30)
    net.run_for(2)
    return net, ledgers, message.uuid


def reports(net: Network, ledgers: dict[str, Ledger]) -> dict[str, dict[str, Any]]:
    out = {}
    for nid, ledger in ledgers.items():
        state = ledger.state()
        out[nid] = {**ledger.summary(net.now), "origins": state["origins"]}
    return out


@pytest.mark.parametrize(("seed", "loss"), [(1, 0.0), (2, 0.0), (3, 0.2), (4, 0.3)])
def test_an_updates_tree_has_one_parent_per_node_one_hop_up_and_earlier(
    seed: int, loss: float
) -> None:
    net, ledgers, uuid = run_one_update(30, seed, loss)
    updates = merge_updates(reports(net, ledgers), CONFIG.fanout)
    u = next(x for x in updates if x["uuid"] == uuid)
    assert u["reached"] == u["of"] == 30 and not u["pending"]
    origin = u["origin"]
    assert u["nodes"][origin]["parent"] is None and u["nodes"][origin]["hops"] == 0
    for nid, rec in u["nodes"].items():
        if nid == origin:
            continue
        parent = u["nodes"][rec["parent"]]
        assert rec["hops"] == parent["hops"] + 1, nid
        assert rec["t"] > parent["t"], nid
        assert rec["delay_s"] == pytest.approx(rec["t"] - u["sent_at"])
    # every copy is counted once: the first arrivals, and the redundant ones
    assert u["copies"] == 29 + u["redundant"]
    assert u["redundant"] == sum(r["dups"] + r["stale"] for r in u["nodes"].values())
    assert u["ideal_copies"] == 29 and u["ideal_depth"] == ideal_depth(30, CONFIG.fanout) == 4
    assert u["depth"] == max(r["hops"] for r in u["nodes"].values())
    assert u["spread_s"] == max(r["delay_s"] for r in u["nodes"].values())


def test_links_count_the_messages_each_node_got_from_each_sender() -> None:
    net, ledgers, _ = run_one_update(8, seed=7)
    out = summarize(
        node_id(0),
        [(nid, "alive", r, None) for nid, r in reports(net, ledgers).items()],
        net.now,
        CONFIG.as_dict(),
    )
    for edge in out["edges"]:
        ledger = ledgers[edge["to"]]
        got = sum(
            1
            for line in ledger.lines()
            if line.get("sender") == edge["from"]
            and line["kind"] in ("update_applied", "message_deduplicated", "stale_message")
            and line["t"] > net.now - ledger.link_window_s
        )
        assert edge["messages"] == got > 0
    assert out["model"]["n"] == 8 and out["model"]["fanout"] == CONFIG.fanout
    assert out["model"]["period_s"] == hop_period(out["updates"]) > 0
    assert out["model"]["loss"] == 0.0


def test_an_overtaken_update_is_told_apart_from_a_pending_one() -> None:
    # a node that only ever heard the newer version skipped the older one: overtaken
    a, b = Ledger("a:1"), Ledger("b:1")
    origin_report = {
        "updates": [
            {"uuid": "u1", "origin": "a:1", "version": 1, "movie": "Up", "t": 10.0,
             "sent_at": 10.0, "sender": None, "hops": 0, "via": "local", "ttl": 8,
             "delay_s": None, "dups": 0, "stale": 0, "ttl_drop": False},
        ],
        "origins": {"a:1": {"version": 2}},
    }  # fmt: skip
    other = {"updates": [], "origins": {"a:1": {"version": 2}}}
    late = {"updates": [], "origins": {}}
    u = merge_updates({"a:1": origin_report, "b:1": other, "c:1": late}, 3)[0]
    assert u["overtaken"] == ["b:1"] and u["pending"] == ["c:1"] and u["spread_s"] is None
    assert a.state()["faults"] == b.state()["faults"] == NO_FAULTS


def test_the_model_is_serfs_logistic_curve() -> None:
    # Serf's simulator: contact = fanout / n * (1 - loss) / 2, n / (1 + (n + 1) e^(-contact n x))
    assert serf_fraction(0.0, 30, 3, 0.2) == pytest.approx(1 / 32)
    x = 2.0
    expected = 1 / (1 + 31 * math.exp(-(3 / 30 * 0.5) * 30 * x))
    assert serf_fraction(0.4, 30, 3, 0.2) == pytest.approx(expected)
    assert serf_fraction(0.4, 30, 3, 0.2, loss=0.5) < expected
    assert serf_fraction(100.0, 30, 3, 0.2) == pytest.approx(1.0)
    assert [ideal_depth(n, 3) for n in (1, 2, 4, 5, 13, 14, 40, 41)] == [0, 1, 1, 2, 2, 3, 3, 4]


def test_the_model_in_seconds_is_the_model_in_rounds_and_its_times_invert_it() -> None:
    for n, fanout, loss, t in [(5, 3, 0.0, 0.02), (100, 3, 0.2, 0.1), (1000, 2, 0.5, 0.3)]:
        period = 0.01
        assert serf_fraction(t, n, fanout, period, loss) == pytest.approx(
            serf_fraction(t / period, n, fanout, loss=loss)
        )
        for p in (0.5, 0.99):
            took = serf_time(p, n, fanout, period, loss)
            assert serf_fraction(took, n, fanout, period, loss) == pytest.approx(p)
            assert took == pytest.approx(serf_time(p, n, fanout, loss=loss) * period)
        assert serf_fraction(serf_time_to_all(n, fanout, loss=loss), n, fanout, loss=loss) * n == (
            pytest.approx(n - 1)
        )
    assert serf_fraction(0.0, 1, 3, 0.2) == 1.0 and serf_time(0.99, 1, 3) == 0.0
    assert serf_time(0.5, 10, 3, loss=1.0) == math.inf  # nothing gets through
