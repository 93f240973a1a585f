"""One node's side of the epidemic broadcast tree (Plumtree: Leitão, Pereira and Rodrigues,
SRDS 2007): which peers get news at once (eager), and which only hear that it exists (lazy).

Owns the two sets and the rules that move a peer between them; the protocol
(`node.core.protocol`) applies the rules as messages come and go. Nothing here sends.

- A node starts with `degree` random members as eager peers, and forwards every news it
  applies for the first time to its eager peers (but not to whoever sent it, nor to its
  origin). The first broadcasts thus flood a random graph of that degree.
- A push that brings nothing new along a tree link means the news came twice: the link is
  redundant. The receiver answers it with `prune` and both ends make the link lazy. After
  the first broadcasts only a spanning tree is left eager (N - 1 links).
- A node that applies news for the first time by a tree push or a graft keeps that sender
  eager: the link that delivered first is the tree's.
- Lazy peers (every member that is not eager: the membership is the overlay) are told
  what is new (`ihave`, a digest of the settled news) every `lazy_s`, a few at random each
  time. A lazy peer that lacks it answers with `want`; the announcer sends the news
  ("graft") and both ends make the link eager: the tree repairs itself around a lost
  message or a dead node.
- A push that fails takes its link out of the tree (lazy: announcements still reach the
  peer, which grafts it back once it answers); a peer that is dead, reaped or forgotten
  leaves both sets. A node left with no eager peer draws one random member.
"""

from __future__ import annotations

import random

from node.core.peers import PeerSet

__all__ = ["Tree"]

#: How much the latest push outcome moves the smoothed failure ratio.
LOSS_WEIGHT = 0.1


class Tree:
    """The eager and lazy peers of one node."""

    __slots__ = ("degree", "eager", "failing", "filled", "lazy", "lazy_cap")

    def __init__(self, degree: int, lazy_cap: int) -> None:
        self.degree = degree
        # Dicts used as ordered sets: a set's order follows string hashes, which change from
        # one process to the next, and a simulation must be a function of its seed alone.
        #: Peers that get every news at once.
        self.eager: dict[str, None] = {}
        #: Peers whose link was pruned (or dropped): not drawn again as first eager peers.
        #: Every member that is not eager hears announcements (`announce_to`).
        self.lazy: dict[str, None] = {}
        #: This many lazy peers are announced to at a time (a random choice).
        self.lazy_cap = lazy_cap
        #: The share of this node's pushes that fail, smoothed (see `extra_pushes`).
        self.failing = 0.0
        #: Whether this node drew its first random eager peers (see `eager_peers`).
        self.filled = False

    def eager_peers(self, peers: PeerSet, rng: random.Random) -> list[str]:
        """The live eager peers. At its first push a node draws `degree` random live
        members besides the peers that pushed to it already or were pruned (Plumtree's
        overlay view). Links pruned away are not replaced: a node whose every link was
        redundant is a leaf, and hears of news from the nodes that keep it eager, or by
        announcement. A node whose tree links all died or failed draws one random member
        (not `degree`: under heavy loss, a flood at every failure would feed on itself)."""
        live = [p for p in self.eager if p in peers and peers.state(p) != "dead"]
        if not self.filled or not live:
            chosen = peers.choose(rng, self.degree if not self.filled else 1, [*live, *self.lazy])
            if not chosen and self.filled:  # (every other member is lazy: take one of them)
                chosen = peers.choose(rng, 1)
            for peer in chosen:
                self.graft(peer)
            live += chosen
            self.filled = self.filled or bool(chosen)  # (knowing nobody yet: next time)
        return live

    def announce_to(self, peers: PeerSet, rng: random.Random) -> list[str]:
        """Whom to announce news to: `lazy_cap` random live members that are not eager
        (every member is a lazy peer: the membership is the overlay)."""
        return peers.choose(rng, self.lazy_cap, self.eager)

    def pushed(self, ok: bool) -> None:
        """A push (tree or extra) succeeded or failed: the failure ratio, smoothed."""
        self.failing += LOSS_WEIGHT * ((0.0 if ok else 1.0) - self.failing)

    def extra_pushes(self, fanout: int, rng: random.Random) -> int:
        """How many random peers besides the tree get each news: none while pushes go
        through; as pushes fail, up to `fanout` (random push's redundancy), in proportion:
        2 x the failure ratio x fanout on average."""
        want = min(float(fanout), 2 * self.failing * fanout)
        whole = int(want)
        return whole + (rng.random() < want - whole) if want > 0.01 else 0

    def graft(self, peer: str) -> None:
        """The link to `peer` carries news at once again."""
        self.eager[peer] = None
        self.lazy.pop(peer, None)

    def prune(self, peer: str) -> None:
        """The link to `peer` is redundant: announcements only."""
        self.eager.pop(peer, None)
        self.lazy[peer] = None

    def forget(self, peer: str) -> None:
        """`peer` is dead or gone."""
        self.eager.pop(peer, None)
        self.lazy.pop(peer, None)
