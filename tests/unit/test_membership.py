"""Membership that cannot be poisoned, through the core's public calls and the simulator:
ids heard of second-hand are candidates until they answer under their own id; probing them
is bounded; those that never answer are forgotten, not counted dead; a sender field proves
nothing; the allow-list of networks keeps a node from dialling out of its lab."""

from __future__ import annotations

import random
import uuid as uuidlib

import pytest

from lab.simnet import Link, Network, node_id
from node.core import (
    ALIVE,
    CANDIDATE,
    Config,
    Envelope,
    GossipNode,
    Message,
    Send,
    converged,
)
from node.core.peers import PROBE_TRIES, NetworkFilter

ME = "10.0.0.1:7000"
REAL = "10.0.0.2:7000"
FAST = Config(resample_s=2.0, sync_s=1.0)


def fakes(n: int, network: int = 2) -> list[str]:
    """Made-up ids on loopback-like addresses nobody listens on."""
    return [f"127.{network}.{(i >> 8) & 255}.{i & 255}:{7000 + i % 50}" for i in range(n)]


def node(config: Config = FAST, now: float = 1000.0) -> GossipNode:
    return GossipNode(ME, config, now=now, rng=random.Random(1), movies=("Alien", "Heat"))


def sends(n: GossipNode) -> list[Send]:
    return [r for r in n.collect().sends if isinstance(r, Send)]


def test_a_request_naming_thousands_of_peers_makes_none_of_them_a_member() -> None:
    n = node()
    n.receive(1000.0, Envelope(sender=REAL, peers=tuple(fakes(3000))))
    counts = n.peers.counts()
    assert counts[ALIVE] == 0 and len(n.peers) == 0
    # the sender and a few named ids wait as candidates; the rest are refused, counted
    assert counts[CANDIDATE] == FAST.candidate_intake
    assert n.peers.refusals["intake"] == 3000 + 1 - FAST.candidate_intake
    assert n.peer_listing().peers == ()  # nothing second-hand is passed on
    n.publish(1000.0, "Heat")
    assert not [s for s in sends(n) if s.kind == "push"]  # no member: nobody to push to


def test_probing_is_bounded_and_candidates_that_never_answer_are_forgotten_not_dead() -> None:
    cfg = FAST.with_(probe_per_s=4.0, resample_s=0)
    n = node(cfg)
    probed: list[str] = []
    t = 1000.0
    for k in range(40):  # a hostile request every 0.25 s for 10 s, each with new ids
        n.receive(t, Envelope(peers=tuple(fakes(100, network=2 + k))))
        n.tick(t)
        for request in sends(n):
            probed.append(request.to)
            n.on_failure(t, request)  # nobody listens there
        t += 0.25
    # 10 s at 4 probes a second, plus the first second's burst
    assert len(probed) <= 4 * 10 + 4
    assert n.peers.counts()[ALIVE] == 0 and n.peers.counts()["dead"] == 0
    assert n.peers.refusals["no_answer"] > 0
    assert len(n.peers.candidates()) <= cfg.max_candidates
    # with the flood over, every candidate is probed PROBE_TRIES times, then forgotten
    for _ in range(200):
        n.tick(t)
        for request in sends(n):
            n.on_failure(t, request)
        t += 0.25
    assert n.peers.candidates() == [] and len(n.peers) == 0
    assert n.peers.refusals["no_answer"] * PROBE_TRIES <= len(probed) + 400


def test_a_candidate_that_answers_under_its_own_id_becomes_a_member() -> None:
    n = node()
    n.receive(1000.0, Envelope(peers=(REAL,)))
    n.tick(1000.0)
    (probe,) = [s for s in sends(n) if s.to == REAL]
    assert probe.kind == "probe" and probe.envelope.digest is not None
    n.on_reply(1000.1, probe, Envelope(sender=REAL))
    assert REAL in n.peers and n.peers.state(REAL) == ALIVE
    assert REAL in n.peer_listing().peers


def test_an_answer_under_another_id_is_refused_and_proves_nothing_about_either() -> None:
    n = node()
    spoofer = "127.2.0.9:7009"
    n.receive(1000.0, Envelope(peers=(spoofer,)))
    n.tick(1000.0)
    (probe,) = sends(n)
    news = Message(str(uuidlib.uuid4()), REAL, 5, 3, {"movie": "Heat"}, None, 1)
    n.on_reply(1000.1, probe, Envelope(sender=REAL, messages=(news,)))
    assert spoofer not in n.peers and REAL not in n.peers
    assert not n.peers.is_candidate(spoofer)
    assert n.peers.refusals["wrong_id"] == 1
    assert n.table.version(REAL) == -1  # what it said is not taken either


def test_a_sender_field_proves_nothing_unless_the_request_was_verified() -> None:
    n = node()
    n.receive(1000.0, Envelope(sender=REAL))
    assert REAL not in n.peers and n.peers.is_candidate(REAL)
    signed = node()
    signed.receive(1000.0, Envelope(sender=REAL), verified=True)
    assert REAL in signed.peers and signed.peers.state(REAL) == ALIVE


def dead_member(n: GossipNode, cfg: Config) -> float:
    """REAL, a member of n that stopped answering until it is dead; returns the time."""
    n.peers.add(REAL, 1000.0)
    t = 1000.0
    for _ in range(cfg.dead_after_failures + 1):
        n.on_failure(t, Send(REAL, Envelope(sender=ME), "push"))
        t += cfg.dead_after_s
    return t


def test_a_dead_member_that_talks_to_us_is_probed_at_once_not_revived_by_its_word() -> None:
    cfg = FAST.with_(resample_s=0)
    n = node(cfg)
    t = dead_member(n, cfg)
    assert n.peers.state(REAL) == "dead"
    n.collect()  # what came before
    n.receive(t, Envelope(sender=REAL))
    assert n.peers.state(REAL) == "dead"  # its word alone does not revive it
    n.tick(max(t, n.next_sync_at))
    assert any(s.to == REAL and s.kind == "probe" for s in sends(n))


def test_the_allow_list_refuses_ids_outside_its_networks_and_dns_names() -> None:
    cfg = FAST.with_(peer_networks=("127.0.0.0/8", "10.0.0.0/24"))
    n = node(cfg)
    n.receive(1000.0, Envelope(peers=("10.0.0.9:7000", "192.0.2.1:80", "evil.example:80")))
    assert n.peers.candidates() == ["10.0.0.9:7000"]
    assert n.peers.refusals["not_allowed"] == 2
    assert NetworkFilter(("::1/128",)).allows("[::1]:7000")
    assert not NetworkFilter(("::1/128",)).allows("127.0.0.1:7000")
    assert NetworkFilter().allows("anything:1")
    with pytest.raises(ValueError):
        Config(peer_networks=("10.0.0.0/33",))


def test_the_candidate_pool_is_bounded_whatever_arrives() -> None:
    cfg = FAST.with_(max_candidates=16, candidate_intake=8)
    n = node(cfg)
    for k in range(100):
        n.receive(1000.0, Envelope(peers=tuple(fakes(8, network=2 + k))))
    assert len(n.peers.candidates()) == 16
    assert n.peers.refusals["full"] == 100 * 8 - 16


# --- the poisoned cluster, simulated ----------------------------------------------------------
def poison(net: Network, target: str, ids: list[str]) -> None:
    """An outsider's request: a batch naming `ids` as peers, with a spoofed sender."""
    victim = net.driver(target)
    victim.receive(net.now, Envelope(sender=ids[0], peers=tuple(ids)))
    victim.tick(net.now)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_poisoned_cluster_keeps_learning_every_newest_favourite(seed: int) -> None:
    cfg = FAST.with_(resample_s=1.0)
    net = Network(cfg, seed=seed, link=Link(latency_s=0.005, timeout_s=0.5))
    nodes = net.cluster(8)
    net.run_until_converged(10)
    real = set(net.nodes)
    victim = nodes[seed % 8].id
    bogus = [node_id(1000 + i) for i in range(3000)]  # addresses where nobody answers
    bogus[1] = nodes[(seed + 1) % 8].id  # and a real node's id among them
    for k in range(30):  # a poisoning request every second for 30 s, new favourites meanwhile
        poison(net, victim, bogus[k * 100 :] + bogus[:1])
        net.run_for(1.0)
        for n in net.nodes.values():
            assert set(n.peers) <= real, "a made-up id became a member"
    # every real node still hears every real node's newest favourite: no gap
    net.run_until_converged(5)
    assert converged(list(net.nodes.values()))
    net.run_for(cfg.forget_s)
    assert net.nodes[victim].peers.candidates() == []
    # a late joiner bootstrapping from the poisoned node joins the real cluster
    late = net.add(node_id(99), bootstrap=victim)
    net.run_until_converged(10)
    assert set(late.peers) <= real and len(late.peers) >= 3


def test_a_reaped_peer_comes_back_only_by_answering_itself() -> None:
    cfg = FAST.with_(resample_s=0, reap_s=10.0)
    n = node(cfg)
    t = dead_member(n, cfg)
    n.tick(t + cfg.reap_s + cfg.sync_s * 2)
    assert REAL not in n.peers  # reaped, behind a tombstone
    t += cfg.reap_s + cfg.sync_s * 2
    n.receive(t, Envelope(peers=(REAL,)))  # a list naming it does not bring it back
    assert not n.peers.is_candidate(REAL)
    n.collect()  # what came before
    n.receive(t, Envelope(sender=REAL))  # its own request does, as a candidate
    assert n.peers.is_candidate(REAL)
    n.tick(t + 1)
    (probe,) = [s for s in sends(n) if s.to == REAL]
    n.on_reply(t + 1, probe, Envelope(sender=REAL))
    assert REAL in n.peers and n.peers.state(REAL) == ALIVE


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_next_probe_due_is_always_the_earliest_waiting_candidates(seed: int) -> None:
    """`next_due` is asked on every step and kept between changes of the candidates; after
    any sequence of proposals, probes, misses, answers and forgettings it is what a scan of
    the waiting candidates gives."""
    from node.core.peers import PeerSet

    rng = random.Random(seed)
    peers = PeerSet(ME, 100, max_candidates=8)
    ids = fakes(20)
    now = 1000.0
    for _ in range(400):
        now += rng.random()
        peer = rng.choice(ids)
        op = rng.randrange(6)
        if op == 0:
            peers.propose(peer, now, direct=rng.random() < 0.3)
        elif op == 1:
            peers.to_probe(now, rng.randrange(1, 4), timeout_s=2.0)
        elif op == 2:
            peers.missed(peer, now, retry_s=rng.choice([0.5, 3.0]))
        elif op == 3:
            peers.forget(peer, now, "no_answer")
        elif op == 4 and rng.random() < 0.2:
            peers.promote(peer, now)
        elif op == 5:
            peers.probing(peer, now)
        waiting = [
            peers._not_before.get(p, 0.0) for p, at in peers._candidates.items() if at is None
        ]
        assert peers.next_due() == (min(waiting) if waiting else None)
