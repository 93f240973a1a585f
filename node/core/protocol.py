"""The gossip protocol of one node, sans-I/O.

Theory of operation
-------------------
A node knows, for every origin, the newest news it has heard (`OriginTable`), and a set of
peers with their health (`PeerSet`). News moves three ways:

1. Push. A node's own new favourite, and any news it applies for the first time, is sent to
   `fanout` random live peers with `ttl - 1` (at once, or in a batch every
   `push_interval_s`). News is applied once: a UUID already handled is deduplicated, and
   a version no newer than the known one is stale. A message that arrives with TTL 0 is
   applied but not forwarded (a TTL drop). Push spreads news in about log_fanout(N) hops
   but, forwarding only once, misses roughly e^-fanout of the nodes.
2. Anti-entropy. Every `sync_s` a node sends one random peer its digest {origin: version}.
   The reply carries the news the node lacks and the origins the peer wants back, which the
   node then sends ("repair"). This push-pull catches everything push missed: lost messages,
   healed partitions, late joiners, restarted nodes. Repaired news is forwarded like pushed
   news (its TTL permitting), so a healed side spreads it further at push speed.
3. Membership. Ids heard of second-hand (peer lists, peer samples, origins of news, the
   sender field of a request) are candidates, probed a few a second with an anti-entropy
   request; one that answers under its own id becomes a member, one that does not is
   forgotten. Only members are chosen for push and anti-entropy or listed to others, so a
   request full of made-up peers cannot eclipse a node (node.core.peers).
4. Bootstrap. A node given a bootstrap address fetches its peer list (retrying with backoff
   while it is down), then runs anti-entropy with it at once; it asks again every
   `rebootstrap_s`, so a bootstrap node reborn under a new address is found again.

Versions rise for the node's whole life, restarts included: a node's first version, its
generation, is its start time in microsecond-sized ticks, and each new favourite adds one
(generation + counter, as Cassandra pairs them, in one integer). Should a node ever hear of
its own id at a version at or above its own (a previous life with a faster clock), it jumps
above it and re-announces its favourite.

Entry points: `tick` (timers), `publish` (a new favourite now), `receive` (a request from a
peer; returns the reply), `on_reply`, `on_peers`, `on_failure` (outcomes of this node's own
requests, each given the request it answers). Output: `collect`, one `Ready` batch of the
requests to send, the events and the next wake-up; `node.core.driver.Driver` pairs each
input with it, so every shell runs the same loop.
Time (`now`, seconds) and the random source are always passed in; the core never reads a
clock, a file or the global `random`.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass

from node.core.config import VERSION_TICKS_PER_S, Config
from node.core.events import (
    Applied,
    BootstrapFailed,
    Bootstrapped,
    Deduplicated,
    Event,
    FetchPeers,
    MovieChanged,
    Outgoing,
    PeerChanged,
    Ready,
    Reaped,
    Refused,
    Send,
    SendKind,
    Stale,
    TtlDropped,
    Via,
)
from node.core.message import Envelope, Message
from node.core.peers import ALIVE, CANDIDATE, SUSPECT, NetworkFilter, PeerSet, Roster, Transition
from node.core.seen import SeenCache
from node.core.table import Entry, OriginTable
from node.core.tree import Tree

__all__ = ["GossipNode", "Stats", "PeerListing"]


@dataclass  # (no slots=True: PyPy 3.9 runs the core too)
class Stats:
    """Plain counters; the shell mirrors them into Prometheus and the page shows them."""

    received: int = 0  # gossip messages received (each message of a batch counts)
    sent: int = 0  # gossip messages sent (each copy to each peer counts)
    applied: int = 0  # messages applied: first arrival of news newer than known
    deduplicated: int = 0  # dropped: UUID already handled
    ttl_drops: int = 0  # applied but not forwarded: TTL spent
    stale: int = 0  # dropped: no newer than what was known
    requests_sent: int = 0  # requests this node made (push, sync, repair, probe)
    requests_failed: int = 0  # ... that failed
    syncs: int = 0  # anti-entropy rounds started


@dataclass(frozen=True)
class PeerListing:
    """The answer to GET /peers/: who answered, and the live peers it knows."""

    self_id: str
    peers: tuple[str, ...]


class GossipNode:
    """One node's protocol state machine. See the module's theory of operation."""

    def __init__(
        self,
        node_id: str,
        config: Config,
        *,
        now: float,
        rng: random.Random,
        movies: Sequence[str] = (),
        bootstrap: str | None = None,
        roster: Roster | None = None,
    ) -> None:
        self.id = node_id
        self.config = config
        self.rng = rng
        self.movies = tuple(movies)
        self.started_at = now
        #: This life's first version: the start time in ticks (see VERSION_TICKS_PER_S).
        self.generation = int(now * VERSION_TICKS_PER_S)
        self.version = self.generation - 1
        self.movie: str | None = None
        self.table = OriginTable(config.max_origins)
        self.seen = SeenCache(config.seen_capacity)
        self.peers = PeerSet(
            node_id,
            config.max_peers,
            *(() if roster is None else (roster,)),
            max_candidates=config.max_candidates,
            forget_s=config.forget_s,
            allowed=NetworkFilter(config.peer_networks),
        )
        self.stats = Stats()
        self.bootstrap = bootstrap if bootstrap and bootstrap != node_id else None
        self.bootstrapped = self.bootstrap is None
        self._bootstrap_wait = config.bootstrap_backoff_s
        self._bootstrap_in_flight = False
        self._outbox: list[Outgoing] = []
        self._events: list[Event] = []
        # news waiting for the next batched push: (message, who told us)
        self._pending: list[tuple[Message, str | None]] = []
        #: The broadcast tree's eager and lazy peers (strategy "tree"), else None.
        self.tree = (
            Tree(config.tree_degree, config.lazy_fanout) if config.strategy == "tree" else None
        )
        # tree: news not yet announced to lazy peers, {origin: (version, applied at)}
        self._fresh: dict[str, tuple[int, float]] = {}
        self.next_announce_at = float("inf")
        # new candidates the current input may still bring in (reset by every input)
        self._intake = config.candidate_intake
        # candidate probes: a token bucket of probe_per_s, at most one second's worth
        self._probe_tokens = max(1.0, config.probe_per_s)
        self._probe_refill_at = now
        self.next_bootstrap_at = now
        self.next_sync_at = now + config.sync_s * rng.random()
        self.next_push_at = now + config.push_interval_s
        self.next_resample_at = (
            now + self._resample_interval() if self._resamples() else float("inf")
        )

    # --- inputs ----------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Runs every timer that is due: bootstrap, re-sampling, anti-entropy, batched push,
        probes of dead peers, reaping."""
        cfg = self.config
        if self._bootstrap_due(now):
            assert self.bootstrap is not None
            self._bootstrap_in_flight = True
            self._outbox.append(FetchPeers(self.bootstrap))
        if now >= self.next_resample_at:
            self.publish(now)
        if now >= self.next_sync_at:
            self.next_sync_at = now + cfg.sync_s * self.rng.uniform(0.9, 1.1)
            for peer in self.peers.choose(self.rng, 1):
                self._sync(peer, "sync")
            for peer in self.peers.due_for_retry(now, cfg.dead_retry_s)[:2]:
                self._sync(peer, "probe")
            self._reap(now)
        if self._pending and now >= self.next_push_at:
            self._flush_push()
            self.next_push_at = now + cfg.push_interval_s
        if self._fresh and now >= self.next_announce_at:
            self._announce(now)
        self._probe_candidates(now)

    def next_wakeup(self) -> float:
        """The earliest time at which `tick` has something to do."""
        wake = min(self.next_sync_at, self.next_resample_at)
        if self._pending:
            wake = min(wake, self.next_push_at)
        if self._fresh:
            wake = min(wake, self.next_announce_at)
        if self.bootstrap is not None and not self._bootstrap_in_flight:
            wake = min(wake, self.next_bootstrap_at)
        due = self.peers.next_due()
        if due is not None:
            wake = min(wake, max(due, self._next_probe_at()))
        return wake

    def _bootstrap_due(self, now: float) -> bool:
        if self.bootstrap is None or self._bootstrap_in_flight or now < self.next_bootstrap_at:
            return False
        return not self.bootstrapped or self.config.rebootstrap_s > 0

    def publish(self, now: float, movie: str | None = None) -> Message:
        """Picks a new favourite (or takes `movie`), bumps the version and pushes the news."""
        if movie is None:
            movie = self._pick_movie()
        previous = self.movie
        self.movie = movie
        self.version += 1
        # The version is mixed into the UUID: a node restarted with a random source that
        # starts over (the same GOSSIP_SEED) draws the same bits again, and its peers would
        # drop the new life's news as already seen; its versions are new.
        message = Message(
            str(uuidlib.UUID(int=self.rng.getrandbits(128) ^ self.version, version=4)),
            self.id,
            self.version,
            self.config.ttl,
            {"movie": movie},
            now,
            0,
        )
        self.seen.add(message.uuid)
        self.table.put(Entry(message, now, None, "local"))
        counter = self.version - self.generation
        self._events.append(MovieChanged(self.version, counter, movie, previous, message.uuid))
        if self._resamples():
            self.next_resample_at = now + self._resample_interval()
        if self.tree is not None:
            self._announce_later(now, message)
        if message.ttl > 0:
            self._queue_push(message, None)
        return message

    def receive(self, now: float, envelope: Envelope, *, verified: bool = False) -> Envelope:
        """A request from a peer (already validated). Returns the reply to send back.

        Its `sender` field proves nothing (anyone can write any id) unless the shell has
        `verified` the request's signature under the cluster's key: only then is the sender
        a member at once; otherwise it is a candidate like any id heard of second-hand."""
        self._intake = self.config.candidate_intake
        sender = envelope.sender
        if sender is not None:
            if verified:  # the sender signed it: its own word, as if it answered a probe
                self._note(self.peers.promote(sender, now))
            else:
                self._learn(sender, now, hint=True)
            self._joined(sender, now)
        for peer in envelope.peers:
            self._learn(peer, now)
        prune = False
        if envelope.messages:  # (a sync request carries none)
            route = envelope.route
            via: Via = (
                "sync"
                if envelope.digest is not None
                else "tree"
                if route == "tree"
                else "lazy"
                if route == "graft"
                else "push"
            )
            applied = self.stats.applied
            self._take(now, envelope.messages, sender, via)
            if via == "tree" and sender is not None and self.tree is not None:
                # nothing new, and it came to us before by another tree link: redundant.
                # Otherwise the link is the tree's, both ways.
                prune = (
                    self.stats.applied == applied
                    and self._redundant(envelope, sender)
                    and len(self.tree.eager) > 1  # (never our last tree link)
                )
                if prune:
                    self.tree.prune(sender)
                else:
                    self.tree.graft(sender)
        if envelope.ihave:  # an announcement: ask for what we lack (a graft)
            table = self.table
            want = [o for o, v in envelope.ihave.items() if v > table.version(o) and o != self.id]
            return Envelope(sender=self.id, want=tuple(want[: self.config.max_batch]), prune=prune)
        if envelope.digest is None:
            return Envelope(sender=self.id, prune=prune)
        digest = envelope.digest
        settled = self._settled_by(now, envelope.settled)
        news = self.table.newer_than(digest, settled)[: self.config.max_batch]
        return Envelope(
            sender=self.id,
            messages=tuple(self._outgoing(m) for m in news),
            want=tuple(self.table.wanted_from(digest)),
            settled=self._on_tree(),
        )

    def on_reply(self, now: float, request: Send, reply: Envelope) -> None:
        """Our `request` succeeded with `reply`."""
        peer = request.to
        claimed = reply.sender
        if claimed is not None and claimed != peer:
            # whoever answers at `peer` says it is someone else: not a member, not news
            if self.peers.is_candidate(peer):
                self._note(self.peers.forget(peer, now, "wrong_id"))
            else:
                self.peers.refuse("wrong_id")
                self.on_failure(now, request)
            return
        if self.tree is not None and request.kind == "push":
            self.tree.pushed(ok=True)
            if reply.prune:
                self.tree.prune(peer)
        if peer in self.peers:
            self._note(self.peers.ok(peer, now))
        elif claimed == peer:  # a candidate (or an id we dialled) answered itself: a member
            self._note(self.peers.promote(peer, now))
        else:  # a candidate that answers without an id proves nothing
            self._note(self.peers.forget(peer, now, "wrong_id"))
            return
        self._joined(peer, now)
        self._intake = self.config.candidate_intake
        for other in reply.peers:
            self._learn(other, now)
        if reply.messages:
            applied = self.stats.applied
            self._take(now, reply.messages, peer, "sync")
            if self.tree is not None and self.stats.applied > applied:
                # settled news the tree never brought us: our part of the tree is cut off
                # from the origin's. The peer that had it joins our tree (and takes us in
                # at our next push), joining the two parts.
                self.tree.graft(peer)
        if reply.want:
            settled = self._settled_by(now, reply.settled)  # (it is on the tree: not the fresh)
            wanted = [
                e.message
                for e in map(self.table.get, reply.want)
                if e is not None and (settled is None or e.learned_at <= settled)
            ]
            if wanted and request.kind == "announce":  # a lazy peer lacks it: graft the link
                if self.tree is not None:
                    self.tree.graft(peer)
                self._send(peer, wanted[: self.config.max_batch], "graft", route="graft")
            elif wanted:
                self._send(peer, wanted[: self.config.max_batch], "repair")

    def on_peers(self, now: float, request: FetchPeers, listing: PeerListing) -> None:
        """The peer list we asked for (bootstrap, or a later refresh)."""
        self._bootstrap_in_flight = False
        self.next_bootstrap_at = self._next_rebootstrap(now)
        self._intake = self.config.candidate_intake
        for other in listing.peers:  # (the node we were told to join: a second chance)
            self._learn(other, now, hint=True)
        self._joined(request.to, now)
        # anti-entropy with the node that answered, at once: we learn everything it knows
        # and it learns our news, instead of waiting for the next round. Its reply, under
        # its own id, makes it a member (the listing's "self" alone proves nothing).
        me = listing.self_id
        if me != self.id and (me in self.peers or self.peers.allowed.allows(me)):
            if me not in self.peers:
                self.peers.probing(me, now)
            self._sync(me, "sync")

    def on_failure(self, now: float, request: Outgoing) -> None:
        """Our `request` failed (refused, timed out, or answered with an error)."""
        self.stats.requests_failed += 1
        if isinstance(request, FetchPeers):
            self._bootstrap_in_flight = False
            if self.bootstrapped and len(self.peers):  # a refresh failed: try at the next one
                self.next_bootstrap_at = self._next_rebootstrap(now)
                return
            wait = self._bootstrap_wait
            self._bootstrap_wait = min(wait * 2, self.config.bootstrap_backoff_max_s)
            self.next_bootstrap_at = now + wait
            self._events.append(BootstrapFailed(request.to, wait))
            return
        cfg = self.config
        if self.peers.is_candidate(request.to):
            self._note(self.peers.missed(request.to, now, self.config.sync_s))
            if not len(self.peers) and self.bootstrap is not None:
                # nobody to talk to: ask the bootstrap node again soon, not in rebootstrap_s
                self.next_bootstrap_at = min(self.next_bootstrap_at, now + self._bootstrap_wait)
            return
        self._note(
            self.peers.failed(
                request.to, now, cfg.dead_after_failures, cfg.dead_after_s, cfg.dead_retry_s
            )
        )
        if self.tree is not None and request.kind == "push":
            self.tree.pushed(ok=False)
            if request.to in self.tree.eager:
                self._tree_link_failed(request)

    # --- outputs ---------------------------------------------------------------------
    def collect(self) -> Ready:
        """What the inputs since the last call produced: the requests to send, the events,
        and the next wake-up. Shells call it through `node.core.driver.Driver`."""
        sends, self._outbox = self._outbox, []
        events, self._events = self._events, []
        return Ready(sends, events, self.next_wakeup())

    def peer_listing(self) -> PeerListing:
        """This node and its live peers, for GET /peers/."""
        return PeerListing(self.id, tuple(self.peers.live()))

    @property
    def ready(self) -> bool:
        return self.bootstrapped and self.movie is not None

    # --- the machinery ---------------------------------------------------------------
    def _take(self, now: float, messages: Sequence[Message], sender: str | None, via: Via) -> None:
        stats, seen, table, events = self.stats, self.seen, self.table, self._events
        for m in messages:
            stats.received += 1
            if not seen.add(m.uuid):
                stats.deduplicated += 1
                events.append(Deduplicated(m.uuid, m.origin, m.version, sender))
                continue
            if m.origin == self.id:
                self._own_news_heard(now, m, sender)
                continue
            known = table.version(m.origin)
            if m.version <= known:
                stats.stale += 1
                events.append(Stale(m.uuid, m.origin, m.version, known, sender))
                continue
            if not table.has_room_for(m.origin):
                # (the shell counts refusals from the events, its own and these alike)
                detail = f"origin table full ({table.max_origins})"
                events.append(Refused("too_many", detail, sender))
                continue
            table.put(Entry(m, now, sender, via))
            stats.applied += 1
            if self.tree is not None:
                if sender is not None and via in ("tree", "lazy"):
                    self.tree.graft(sender)  # the link that delivered first is the tree's
                self._announce_later(now, m)
            delay = None if m.sent_at is None else now - m.sent_at
            events.append(
                Applied(m.uuid, m.origin, m.version, m.movie, sender, m.hops, m.ttl, delay, via)
            )
            if m.origin not in self.peers:
                self._learn(m.origin, now)
            if m.ttl > 0:
                self._queue_push(m, sender)
            else:
                stats.ttl_drops += 1
                events.append(TtlDropped(m.uuid, m.origin, m.version, sender))
        if self._pending and self.config.push_interval_s == 0:
            self._flush_push()

    def _own_news_heard(self, now: float, m: Message, sender: str | None) -> None:
        """News about this node's own id that it did not send in this life."""
        self.stats.stale += 1
        self._events.append(Stale(m.uuid, m.origin, m.version, self.version, sender))
        if m.version >= self.version and self.movie is not None:
            # A previous life got further than this one's clock: jump above it.
            self.version = m.version
            self.publish(now, self.movie)

    def _queue_push(self, message: Message, sender: str | None) -> None:
        self._pending.append((message, sender))
        if self.config.push_interval_s == 0 and sender is None:
            self._flush_push()

    def _flush_push(self) -> None:
        pending, self._pending = self._pending, []
        limit = self.config.max_batch
        for start in range(0, len(pending), limit):
            chunk = pending[start : start + limit]
            # skip peers that already have every message of the chunk (its origin or sender)
            knows_all: set[str] | None = None
            for m, sender in chunk:
                knowers = {m.origin} if sender is None else {m.origin, sender}
                knows_all = knowers if knows_all is None else knows_all & knowers
            messages = [self._outgoing(m) for m, _ in chunk]
            if self.tree is not None:
                self._push_tree(chunk, messages)
                continue
            targets = self.peers.choose(self.rng, self.config.fanout, knows_all or ())
            for peer in targets:
                self._send(peer, messages, "push", forwarded=True)

    def _outgoing(self, m: Message) -> Message:
        """The copy of a stored message that leaves this node: one hop further and, unless
        it is our own news leaving us for the first hop, with one hop less to live (never
        below 0). So a receiver's `hops` is its depth in the rumour's tree."""
        if m.origin == self.id and m.hops == 0:
            return m._replace(hops=1)
        return m._replace(ttl=max(m.ttl - 1, 0), hops=m.hops + 1)

    def _send(
        self,
        peer: str,
        messages: list[Message],
        kind: SendKind,
        forwarded: bool = False,
        route: str | None = None,
    ) -> None:
        if not forwarded:
            messages = [self._outgoing(m) for m in messages]
        self.stats.sent += len(messages)
        self.stats.requests_sent += 1
        envelope = Envelope(sender=self.id, messages=tuple(messages), route=route)
        self._outbox.append(Send(peer, envelope, kind))

    # --- the broadcast tree (strategy "tree", node.core.tree) ------------------------
    def _announce_later(self, now: float, m: Message) -> None:
        """News to announce to lazy peers, every `lazy_s`, once it is `lazy_s` old here: by
        then the tree has delivered it to every peer it reaches, so a lazy peer that lacks
        it has lost it (Plumtree's timer, kept by the announcer: an HTTP reply cannot wait
        for it)."""
        if not self._fresh:
            self.next_announce_at = now + self.config.lazy_s
        self._fresh.pop(m.origin, None)  # (the dict's order stays the order of arrival)
        self._fresh[m.origin] = (m.version, now)

    def _announce(self, now: float) -> None:
        """Announces the news that is `lazy_s` old to (some of) the lazy peers, in one
        `ihave`; the younger news waits for the next announcement."""
        assert self.tree is not None
        ripe = now - self.config.lazy_s + 1e-9
        fresh = self._fresh
        ihave: dict[str, int] = {}
        for origin, (version, at) in fresh.items():
            if at > ripe:
                break
            ihave[origin] = version
        for origin in ihave:
            del fresh[origin]
        self.next_announce_at = now + self.config.lazy_s
        if not ihave:
            return
        for peer in self.tree.announce_to(self.peers, self.rng):
            self.stats.requests_sent += 1
            self._outbox.append(Send(peer, Envelope(sender=self.id, ihave=ihave), "announce"))

    def _push_tree(self, chunk: list[tuple[Message, str | None]], out: list[Message]) -> None:
        """To each eager peer the news it did not send us or make. A batch holding news
        that came to us by the tree (or is ours) travels as "tree"; news that anti-entropy
        or a graft brought is forwarded too (the subtree below most likely lacks it) but
        without that mark, so that a peer that has it already does not prune the link."""
        assert self.tree is not None
        table = self.table
        eager = self.tree.eager_peers(self.peers, self.rng)
        for peer in eager:
            mine: list[Message] = []
            tree = False
            for (m, sender), copy in zip(chunk, out):  # noqa: B905 (PyPy 3.9 has no strict)
                if peer != sender and peer != m.origin:
                    mine.append(copy)
                    if not tree:
                        entry = table.get(m.origin)
                        tree = entry is None or entry.via in ("tree", "local")
            if mine:
                self._send(peer, mine, "push", forwarded=True, route="tree" if tree else None)
        # where pushes get lost, the tree alone loses whole subtrees: as many more random
        # peers as the loss calls for get the news too, off the tree (no route)
        extra = self.tree.extra_pushes(self.config.fanout, self.rng)
        if extra:
            knowers = {p for m, sender in chunk for p in (m.origin, sender) if p is not None}
            for peer in self.peers.choose(self.rng, extra, [*eager, *knowers]):
                self._send(peer, out, "push", forwarded=True)

    def _tree_link_failed(self, request: Send) -> None:
        """A push along a tree link failed: the link leaves the tree at once. It stays lazy,
        so announcements reach the peer, which grafts it back once it answers; what it
        missed, it gets by announcement or anti-entropy like any node cut off."""
        assert self.tree is not None
        self.tree.prune(request.to)

    def _settled_by(self, now: float, settled: bool) -> float | None:
        """The learning time up to which anti-entropy trades news with a peer that asked
        for `settled` news only (it is on the tree): news younger than `lazy_s` is still
        travelling the tree, and a copy of it by anti-entropy would most likely be one too
        many. None: everything (a peer off the tree: new, cut off, or on random push)."""
        return now - self.config.lazy_s if settled else None

    def _on_tree(self) -> bool:
        """Whether this node takes news by the tree: then it asks anti-entropy for settled
        news only (news it took while it had no tree links yet takes the tree once it has
        some: see `_note`)."""
        return self.tree is not None

    def _redundant(self, envelope: Envelope, sender: str) -> bool:
        """Whether a tree push from `sender` brought news this node first had pushed by
        another peer (or made itself): that link and this one form a cycle. News first had
        by anti-entropy says nothing of the links."""
        table = self.table
        for m in envelope.messages:
            if m.origin == self.id:
                return True
            entry = table.get(m.origin)
            if entry is not None and entry.via != "sync" and entry.sender != sender:
                return True  # (a push, by the tree, a graft or a forward: another link)
        return False

    def _sync(self, peer: str, kind: SendKind) -> None:
        self.stats.syncs += 1
        self.stats.requests_sent += 1
        self._outbox.append(
            Send(
                peer,
                Envelope(
                    sender=self.id,
                    digest=self.table.digest(),
                    peers=self._peer_sample(),
                    settled=self._on_tree(),
                ),
                kind,
            )
        )

    def _peer_sample(self) -> tuple[str, ...]:
        return tuple(self.peers.choose(self.rng, self.config.peer_sample))

    def _reap(self, now: float) -> None:
        cfg = self.config
        for peer in self.peers.dead_longer_than(now, cfg.reap_s):
            self.peers.remove(peer, now, cfg.tombstone_s)
            self._events.append(PeerChanged(peer, "dead", "reaped"))
            entry = self.table.get(peer)
            if entry is not None and self.table.reap(peer, now, cfg.tombstone_s):
                self._events.append(Reaped(peer, entry.message.version))
        self.table.expire_tombstones(now)
        self.peers.expire_tombstones(now)

    def _next_rebootstrap(self, now: float) -> float:
        every = self.config.rebootstrap_s
        return now + every if every > 0 else float("inf")

    def _joined(self, via: str, now: float) -> None:
        """Any exchange with a peer counts as joining: a restarted node whose bootstrap
        node is gone still joins when the others probe it."""
        if not self.bootstrapped:
            self.bootstrapped = True
            self.next_bootstrap_at = max(self.next_bootstrap_at, self._next_rebootstrap(now))
            self._events.append(Bootstrapped(via, len(self.peers)))

    def _learn(self, peer: str, now: float, *, hint: bool = False) -> None:
        """An id heard of second-hand: a candidate, within this input's intake."""
        if self._intake <= 0:
            if not self.peers.knows(peer):
                self.peers.refuse("intake")
            return
        change = self.peers.hint(peer, now) if hint else self.peers.propose(peer, now)
        if change is not None:
            self._intake -= 1
            self._note(change)

    def _probe_candidates(self, now: float) -> None:
        """Probes waiting candidates, at most probe_per_s a second (a token bucket holding
        one second's worth): an anti-entropy request whose reply, under the candidate's own
        id, makes it a member."""
        rate = self.config.probe_per_s
        tokens = self._probe_tokens + max(0.0, now - self._probe_refill_at) * rate
        self._probe_tokens = min(max(1.0, rate), tokens)
        self._probe_refill_at = now
        # (a hair under one counts as one: float sums of rate * dt fall just short)
        if self._probe_tokens < 1 - 1e-9:
            return
        due = self.peers.to_probe(now, int(self._probe_tokens + 1e-9), self.config.forget_s)
        self._probe_tokens -= len(due)
        for peer in due:
            self._sync(peer, "probe")

    def _next_probe_at(self) -> float:
        missing = 1.0 - self._probe_tokens
        if missing <= 1e-9:
            return self._probe_refill_at
        return self._probe_refill_at + max(missing / self.config.probe_per_s, 1e-6)

    def _note(self, change: Transition | None) -> None:
        if change is not None:
            self._events.append(PeerChanged(change.peer, change.old, change.new))
            tree = self.tree
            if tree is not None:
                if change.new not in (ALIVE, SUSPECT):
                    tree.forget(change.peer)  # dead or gone: no tree link
                elif not tree.filled and change.old in (None, CANDIDATE):
                    # a new member while we have no tree links yet: the news we took while
                    # we knew nobody (still unsettled: anti-entropy would hold it back)
                    # takes the tree now, which draws our first eager peers
                    for origin in self._fresh:
                        entry = self.table.get(origin)
                        if entry is not None:
                            self._pending.append((entry.message, entry.sender))
                    if self._pending and self.config.push_interval_s == 0:
                        self._flush_push()

    def _resamples(self) -> bool:
        return self.config.resample_s > 0 and bool(self.movies)

    def _resample_interval(self) -> float:
        jitter = self.config.resample_jitter
        return self.config.resample_s * self.rng.uniform(1 - jitter, 1 + jitter)

    def _pick_movie(self) -> str:
        if not self.movies:
            raise ValueError("no movies to choose from")
        choices = [m for m in self.movies if m != self.movie] or list(self.movies)
        return self.rng.choice(choices)
