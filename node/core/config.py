"""The protocol's knobs: one frozen, validated object.

Owns the meaning, unit and trade-off of every number the protocol core uses. It reads no
environment and no files: the shell (`node.settings`) maps environment variables and flags
onto these fields, and the simulator builds them directly.

The defaults of fanout, TTL and the anti-entropy period were chosen by measurement on the
core: `python -m lab.tune` runs the seeded simulations behind the figures quoted here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["Config", "ConfigError", "STRATEGIES", "VERSION_TICKS_PER_S", "MAX_VERSION"]

#: The ways news is pushed (`Config.strategy`).
STRATEGIES = ("push", "tree")

#: A node's first version (its generation) is its start time counted in ticks of
#: 1/VERSION_TICKS_PER_S s (about a microsecond); each new favourite adds one. So a
#: restarted node starts above everything its previous life sent, unless that life made
#: more updates than it lived microseconds. Versions stay below 2^53 until the year 2242,
#: so they survive a float64 (a Prometheus gauge) exactly.
VERSION_TICKS_PER_S = 2**20
#: The contract's bound: 0 <= version < 2^63.
MAX_VERSION = 2**63 - 1


class ConfigError(ValueError):
    """A knob has a value the protocol cannot work with; the message names the knob."""


@dataclass(frozen=True)  # (no slots=True: PyPy 3.9 runs the core too)
class Config:
    # --- dissemination -------------------------------------------------------------
    #: Peers each new piece of news is pushed to. Measured (`python -m lab.tune`, 1 ms links,
    #: push alone): at 25 nodes fanout 2 reaches 86 % of the nodes, 3 reaches 96 %, 4 reaches
    #: 99 %; at 100 nodes 79 %, 94 %, 98 %. Each step costs about one more request per node
    #: per update (5.8 messages per node at fanout 3). 3 is the knee; anti-entropy catches the
    #: last few percent.
    fanout: int = 3
    #: Hops a node's news may travel by push. Push forwards once on first receipt, so reach
    #: grows about fanout-fold a hop. Measured at fanout 3: 100 nodes are 88 % reached with
    #: TTL 4 and 94 % with TTL 8 (92 % against 86 % at 20 % loss); beyond 8 nothing changes
    #: at lab sizes, since 3^8 = 6,561 is far more than the nodes to reach.
    #: Under the tree it bounds the tree's depth, and the tree that nodes joining through
    #: one bootstrap node build is deep: simulated with the lab's defaults (2-4 ms links),
    #: 8 hops at 60 nodes, 15 at 101, 19 at 200. At 101 nodes TTL 8 cut the deeper
    #: subtrees off: 30 % of first arrivals came by announcement or anti-entropy, and an
    #: update took 1.8 s to reach all (median; p99 3.3 s). TTL 16 keeps every arrival on
    #: the tree (median 33 ms, p99 47 ms) at no cost to push, which forwards once anyway.
    ttl: int = 16
    #: The largest TTL this node obeys; a higher one on the wire is clamped to this.
    max_ttl: int = 16
    #: Seconds between batched pushes. 0 pushes at once (lowest latency); a positive
    #: interval gathers news and sends it as one batch to `fanout` peers, which is what
    #: keeps the message cost per update low under many updates per second.
    push_interval_s: float = 0.0
    #: How news is pushed: "push" sends each first arrival to `fanout` random peers;
    #: "tree" sends it along an epidemic broadcast tree (Plumtree, node.core.tree): to
    #: eager peers only, with redundant links pruned to lazy ones that hear of news by
    #: announcement every `lazy_s`. Anti-entropy runs under both. Measured in the simulator
    #: (docs/benchmarks.md): on the Gossip Glomers workload the tree costs 14 msgs/update
    #: with a 240 ms median where random push costs 39 with 510 ms; at 10,000 nodes one
    #: update costs 1.03 payload copies a node against 4.4, and arrives in 7 link latencies
    #: against 10.7. Hence the default. Random push heals a partition faster (max 5.9 s
    #: against 8.2 s on the Glomers workload cut in two).
    strategy: str = "tree"
    #: Tree: the random eager peers a node starts with (Plumtree's view). The first
    #: broadcasts flood that random graph and prune it to a spanning tree, which is
    #: shallower the larger the degree (at 10,000 nodes: 7 hops end to end with 30), at
    #: the cost of one flood of that degree per node, once; with fewer nodes than that, the first
    #: broadcast's origin becomes the hub of a star (2 hops from anyone to anyone).
    tree_degree: int = 30
    #: Tree: news becomes "settled" when it is this old here: then (and not before) it is
    #: announced to lazy peers (`ihave`, every lazy_s), which graft the link if they lack
    #: it, and anti-entropy trades it. Younger news is still travelling the tree, so a copy
    #: by another way would most likely be one too many.
    lazy_s: float = 1.0
    #: Tree: lazy peers announced to at each announcement (a random choice of them).
    lazy_fanout: int = 2
    #: Seconds between anti-entropy rounds (push-pull of the `{origin: version}` digest with
    #: one random peer). It sets how long the nodes that push missed wait, against 2
    #: background messages per node per period. Measured at 100 nodes (fanout 3, TTL 8): an
    #: update reaches every node in median 0.37 / 0.74 / 1.57 s with 0.5 / 1 / 2 s (p95 0.51 /
    #: 1.03 / 2.07 s); at 20 % loss median 0.92 / 1.85 / 3.62 s. 1 s keeps every update under
    #: a few seconds at 2 messages per node per second.
    sync_s: float = 1.0
    #: Random peer ids attached to each anti-entropy request, so membership spreads too.
    peer_sample: int = 3

    # --- the favourite -------------------------------------------------------------
    #: Mean seconds between new favourites (0 disables re-sampling: simulations and tests).
    resample_s: float = 10.0
    #: Each interval is resample_s * uniform(1 - jitter, 1 + jitter), so nodes drift apart.
    resample_jitter: float = 0.3

    # --- membership and failure detection ------------------------------------------
    #: Consecutive failed exchanges before a peer is dead (it is suspect from the first).
    dead_after_failures: int = 3
    #: ... and it must also have been silent this long, so a lossy link is not a dead node.
    dead_after_s: float = 3.0
    #: A dead peer is probed again this often, so a restarted or healed node comes back.
    dead_retry_s: float = 5.0
    #: Dead this long, a peer and its origin state are dropped (a tombstone remains).
    reap_s: float = 120.0
    #: How long a tombstone keeps late gossip from resurrecting a reaped origin.
    tombstone_s: float = 600.0
    #: First wait before retrying a failed bootstrap; doubles up to `bootstrap_backoff_max_s`.
    bootstrap_backoff_s: float = 0.5
    bootstrap_backoff_max_s: float = 10.0
    #: Once joined, the bootstrap address is asked for its peer list again this often (0:
    #: never). A bootstrap node that came back under a new address (a new container IP)
    #: is found again this way; otherwise nobody would know its new id.
    rebootstrap_s: float = 30.0
    #: Ids learned second-hand wait as candidates until they answer a probe; at most this
    #: many wait at once (the rest are refused). Bounded so that a request naming thousands
    #: of made-up peers costs a few probes, never the membership (see node.core.peers).
    max_candidates: int = 64
    #: New candidates taken in from one request, reply or peer list; the rest are refused.
    #: Membership spreads a few ids at a time anyway (`peer_sample` per anti-entropy round).
    candidate_intake: int = 8
    #: Candidate probes sent a second at most: the cost of being poisoned, in requests. A
    #: join of 100 nodes needs each node to probe the ids it hears of, so not too few.
    probe_per_s: float = 5.0
    #: A candidate that did not answer is not taken in again for this long; a probe still
    #: without an outcome after this long is given up.
    forget_s: float = 60.0
    #: Networks (CIDR) a peer's address must lie in; empty: any address. The node's shell
    #: sets loopback and the node's own networks by default, so a lab node never dials out
    #: of its lab whatever it is told; the simulator leaves it empty.
    peer_networks: tuple[str, ...] = ()

    # --- bounds (memory must not grow with uptime or with what peers send) ----------
    #: UUIDs remembered for dedup; the oldest is evicted first.
    seen_capacity: int = 10_000
    #: Peers kept at most; ids beyond this from peer lists are ignored.
    max_peers: int = 4096
    #: Origins kept at most (live entries plus tombstones).
    max_origins: int = 4096
    #: Messages in one envelope; larger batches are refused, larger replies are split.
    max_batch: int = 512
    #: Encoded size of one message's payload.
    max_payload_bytes: int = 1024

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Checks each knob and how knobs relate; raises ConfigError naming the first bad one."""
        positive_ints = (
            "fanout",
            "max_ttl",
            "seen_capacity",
            "max_peers",
            "max_origins",
            "max_batch",
            "max_payload_bytes",
            "dead_after_failures",
            "max_candidates",
            "candidate_intake",
            "tree_degree",
            "lazy_fanout",
        )
        for name in positive_ints:
            _check(name, getattr(self, name), int, lo=1)
        _check("ttl", self.ttl, int, lo=0)
        _check("peer_sample", self.peer_sample, int, lo=0)
        non_negative = (
            "rebootstrap_s",
            "push_interval_s",
            "resample_s",
            "dead_after_s",
            "tombstone_s",
            "reap_s",
            "forget_s",
        )
        for name in non_negative:
            _check(name, getattr(self, name), float, lo=0.0)
        for name in (
            "probe_per_s",
            "sync_s",
            "lazy_s",
            "dead_retry_s",
            "bootstrap_backoff_s",
            "bootstrap_backoff_max_s",
        ):
            _check(name, getattr(self, name), float, lo=1e-3)
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        _check("resample_jitter", self.resample_jitter, float, lo=0.0, hi=0.99)
        if not isinstance(self.peer_networks, tuple):
            raise ConfigError(f"peer_networks must be a tuple of CIDRs, got {self.peer_networks!r}")
        for net in self.peer_networks:
            try:
                ipaddress.ip_network(net, strict=False)
            except (TypeError, ValueError):
                raise ConfigError(f"peer_networks: {net!r} is not a network (CIDR)") from None
        if self.ttl > self.max_ttl:
            raise ConfigError(f"ttl={self.ttl} exceeds max_ttl={self.max_ttl}")
        if self.bootstrap_backoff_max_s < self.bootstrap_backoff_s:
            raise ConfigError("bootstrap_backoff_max_s must be >= bootstrap_backoff_s")

    def with_(self, **changes: Any) -> Config:
        """A copy with some knobs changed (validated again)."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check(
    name: str, value: object, kind: type, lo: float | None = None, hi: float | None = None
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
        raise ConfigError(
            f"{name} must be {'a number' if kind is float else 'an integer'}, got {value!r}"
        )
    assert isinstance(value, (int, float))
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    if lo is not None and value < lo:
        raise ConfigError(f"{name} must be >= {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(f"{name} must be <= {hi}, got {value!r}")
