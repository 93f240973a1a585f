"""Membership: the peers this node knows and how healthy each looks from here.

Members and candidates. An id learned second-hand (a peer list, a digest's peer sample, an
origin of relayed news, the sender field of a request, which anyone can write) is only a
*candidate*: it is never chosen for gossip nor listed to others. It becomes a *member* once
it has answered this node itself under its own id (`promote`, after a probe the core sends),
or has reached this node with a verified request (also `promote`, when keys are set): SWIM's
rule that a member is alive only on its own word, and HyParView's passive view. Candidates
are bounded (`max_candidates`, the oldest waits its turn, the overflow is refused), so one
request naming thousands of made-up addresses costs a few probes, not the cluster's
membership; a candidate that does not answer is forgotten, not counted dead, and is not
taken in again for `forget_s`. An allow-list of networks (`peer_networks`) keeps a node from
dialling out of its lab at all. Every refusal and eviction is counted by reason (`refusals`).

Health of members: alive -> suspect on the first failed exchange, suspect -> dead after
`dead_after_failures` failures spread over at least `dead_after_s` (so a lossy link is not a
dead node), back to alive on any success or any request heard from the peer. Dead peers are
never chosen for gossip, but each is probed again every `dead_retry_s`, so a restarted node
or a healed partition comes back without help. Reaped peers leave a tombstone so that stale
peer lists do not bring them back; only direct contact does.

Large simulated clusters start every node with the same roster: a shared, immutable tuple of
ids, never copied. Health records are created on first contact, so a node that has talked to
k peers holds k records, whatever the cluster size.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Collection, Iterator, Sequence
from typing import Final, Literal, NamedTuple, Union

__all__ = [
    "Health",
    "PeerState",
    "Gone",
    "ALIVE",
    "SUSPECT",
    "DEAD",
    "CANDIDATE",
    "PEER_REFUSALS",
    "PeerSet",
    "PeerInfo",
    "Roster",
    "Transition",
    "NetworkFilter",
]

#: A member's health as seen from here (the `state` label of gossip_peers, /state's peers).
Health = Literal["alive", "suspect", "dead"]
#: What a known id is to this node: a member with its health, or a candidate.
PeerState = Literal["alive", "suspect", "dead", "candidate"]
#: How an id leaves the set: a candidate forgotten, or a long-dead member reaped.
Gone = Literal["forgotten", "reaped"]

ALIVE: Final = "alive"
SUSPECT: Final = "suspect"
DEAD: Final = "dead"
#: Learned second-hand, not yet heard from itself: never chosen, never listed.
CANDIDATE: Final = "candidate"

#: Why an id was not taken in, or a candidate was dropped (labels of a counter):
#: - intake: over the new candidates one request may bring (`candidate_intake`);
#: - full: the candidate pool is full (`max_candidates`);
#: - not_allowed: outside the allowed networks (`peer_networks`);
#: - no_answer: probed, did not answer (refused, timed out, or an error): forgotten;
#: - wrong_id: answered, but under another id than the one it was dialled as: forgotten.
PEER_REFUSALS = ("intake", "full", "not_allowed", "no_answer", "wrong_id")

#: Probes a candidate gets before it is forgotten.
PROBE_TRIES = 2

IpNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007 (PyPy 3.9)


class NetworkFilter:
    """Which peer addresses a node may dial: ids whose host is an IP address inside one of
    `networks`. An empty filter allows every id; a non-empty one refuses DNS names, which
    it cannot place (node ids are IP addresses; the bootstrap address, which the operator
    gives, is not filtered)."""

    __slots__ = ("_decided", "networks")

    #: Ids whose answer is remembered, at most (then the memory starts over): parsing an
    #: address was a twentieth of a node's CPU per message where origins are many.
    REMEMBERED = 4096

    def __init__(self, networks: Sequence[str] = ()) -> None:
        self.networks: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )
        self._decided: dict[str, bool] = {}

    def allows(self, peer: str) -> bool:
        if not self.networks:
            return True
        decided = self._decided.get(peer)
        if decided is None:
            if len(self._decided) >= self.REMEMBERED:
                self._decided.clear()
            decided = self._decided[peer] = self._allows(peer)
        return decided

    def _allows(self, peer: str) -> bool:
        host = peer.rpartition(":")[0].strip("[]")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.networks if net.version == ip.version)


# Below this many members, choosing filters the whole list; above it, random picks with
# rejection (the cost stays O(k) however many peers there are).
_SCAN_BELOW = 64


class Transition(NamedTuple):
    """A peer's health changed; `old` is None when the peer was just learned."""

    peer: str
    old: PeerState | None
    new: PeerState | Gone


class Roster:
    """An immutable list of node ids that many PeerSets share without copying."""

    __slots__ = ("ids", "index", "position")

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = tuple(ids)
        self.index = frozenset(self.ids)
        if len(self.index) != len(self.ids):
            raise ValueError("a roster lists each id once")
        #: id -> its place in `ids`
        self.position = {peer: i for i, peer in enumerate(self.ids)}


_EMPTY = Roster(())


class PeerInfo:
    """Mutable health record of one peer."""

    __slots__ = ("failing_since", "failures", "last_heard", "next_retry", "state")

    def __init__(self) -> None:
        self.state: Health = ALIVE
        self.failures = 0
        self.failing_since = 0.0
        self.last_heard: float | None = None
        self.next_retry = 0.0


class PeerSet:
    """The peers of node `self_id`: at most `max_peers`, each alive, suspect or dead."""

    def __init__(
        self,
        self_id: str,
        max_peers: int,
        roster: Roster = _EMPTY,
        *,
        max_candidates: int = 64,
        forget_s: float = 60.0,
        allowed: NetworkFilter | None = None,
    ) -> None:
        self.self_id = self_id
        self.max_peers = max_peers
        self.max_candidates = max_candidates
        self.forget_s = forget_s
        self.allowed = allowed or NetworkFilter()
        # candidate id -> when it was probed (None: waiting); insertion order is probe order
        self._candidates: dict[str, float | None] = {}
        # candidates that did not answer -> until when they are not taken in again
        self._forgotten: dict[str, float] = {}
        # candidates whose probe went unanswered once (a lossy link is not a made-up id),
        # and when they may be probed again
        self._misses: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        # `next_due`'s answer, kept until the candidates change (asked on every step)
        self._due: float | None = None
        self._due_fresh = True
        #: ids refused and candidates dropped, by reason (PEER_REFUSALS)
        self.refusals: dict[str, int] = {}
        self._roster = roster.ids
        self._roster_set = roster.index
        self._extra: list[str] = []
        self._extra_set: set[str] = set()
        self._info: dict[str, PeerInfo] = {}
        self._suspect: set[str] = set()
        self._dead: set[str] = set()
        # reaped id -> tombstone expiry; roster ids that were reaped stay here until revived
        self._removed: dict[str, float] = {}
        self._size = len(self._roster_set) - (self_id in self._roster_set)
        # our own place in the roster (-1: not in it), so choosing can skip us by number
        self._me_at = roster.position.get(self_id, -1)

    # --- membership ----------------------------------------------------------------
    def __contains__(self, peer: str) -> bool:
        return peer not in self._removed and (peer in self._extra_set or peer in self._roster_set)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[str]:
        for peer in (*self._roster, *self._extra):
            if peer != self.self_id and peer not in self._removed:
                yield peer

    def add(self, peer: str, now: float) -> Transition | None:
        """Makes `peer` a member without a probe: for ids the operator vouches for (tests,
        simulations). Second-hand ids go through `propose`. Tombstoned and over-capacity ids
        are ignored."""
        if (
            peer in self._roster_set
            or peer in self._extra_set
            or peer in self._removed
            or peer == self.self_id
        ):
            return None
        if self._size >= self.max_peers:
            return None
        self._admit(peer)
        return Transition(peer, None, ALIVE)

    # --- candidates ----------------------------------------------------------------
    def propose(self, peer: str, now: float, *, direct: bool = False) -> Transition | None:
        """`peer` was named second-hand: a candidate, unless it is known, refused or full.
        A forgotten candidate, or a reaped member, is taken in again only when `direct` (it
        named itself as the sender of a request to us: a node that keeps talking to us gets
        another chance; a made-up id named in lists does not cost a second probe)."""
        if peer == self.self_id or peer in self._candidates:
            return None
        if peer in self._removed:  # reaped: only its own word may bring it back
            if not direct:
                return None
        elif peer in self._roster_set or peer in self._extra_set:
            return None
        until = self._forgotten.get(peer)
        if until is not None:
            if until > now and not direct:
                return None
            del self._forgotten[peer]
        if not self.allowed.allows(peer):
            self.refuse("not_allowed")
            return None
        if len(self._candidates) >= self.max_candidates:
            self.refuse("full")
            return None
        self._candidates[peer] = None
        self._due_fresh = False
        self._misses.pop(peer, None)
        return Transition(peer, None, CANDIDATE)

    def is_candidate(self, peer: str) -> bool:
        return peer in self._candidates

    def knows(self, peer: str) -> bool:
        """A member, a candidate, a tombstone, a forgotten candidate, or this node."""
        return (
            peer == self.self_id
            or peer in self._candidates
            or peer in self._forgotten
            or peer in self._removed
            or peer in self._roster_set
            or peer in self._extra_set
        )

    def next_due(self) -> float | None:
        """When the next waiting candidate may be probed (None: none is waiting)."""
        if not self._due_fresh:
            nb = self._not_before
            due = [nb.get(p, 0.0) for p, at in self._candidates.items() if at is None]
            self._due = min(due) if due else None
            self._due_fresh = True
        return self._due

    def probing(self, peer: str, now: float) -> None:
        """A request is on its way to `peer` (a candidate or an unknown id): its outcome
        decides. An unknown id becomes a candidate first, outside the pool's bound (the
        caller vouches for it: the node it was told to bootstrap from)."""
        self._forgotten.pop(peer, None)
        self._candidates[peer] = now
        self._due_fresh = False

    def candidates(self) -> list[str]:
        return list(self._candidates)

    def to_probe(self, now: float, k: int, timeout_s: float) -> list[str]:
        """Up to k waiting candidates, oldest first, now marked as probed. A probe with no
        outcome after timeout_s (lost by its driver) is given up: forgotten."""
        stuck = [p for p, at in self._candidates.items() if at is not None and at + timeout_s < now]
        for peer in stuck:
            self.forget(peer, now, "no_answer")
        due: list[str] = []
        for peer, at in self._candidates.items():
            if len(due) >= k:
                break
            if at is None and self._not_before.get(peer, 0.0) <= now:
                due.append(peer)
        for peer in due:
            self._candidates[peer] = now
        if due:
            self._due_fresh = False
        return due

    def promote(self, peer: str, now: float) -> Transition | None:
        """`peer` answered this node under its own id (or sent it a request signed with the
        cluster's key): a member, alive, even if it was reaped, unknown or a candidate."""
        was_candidate = self._candidates.pop(peer, False) is not False
        self._due_fresh = False
        self._forgotten.pop(peer, None)
        self._misses.pop(peer, None)
        self._not_before.pop(peer, None)
        if peer == self.self_id or not self.allowed.allows(peer):
            return None
        if peer not in self:
            if self._size >= self.max_peers:
                return None
            self._admit(peer)
            return self._alive(peer, now, CANDIDATE if was_candidate else None)
        return self._alive(peer, now, self.state(peer))

    def missed(self, peer: str, now: float, retry_s: float) -> Transition | None:
        """A candidate's probe went unanswered: probed once more after retry_s, then
        forgotten."""
        if peer not in self._candidates:
            return None
        misses = self._misses.get(peer, 0) + 1
        if misses >= PROBE_TRIES:
            return self.forget(peer, now, "no_answer")
        self._misses[peer] = misses
        self._not_before[peer] = now + retry_s
        del self._candidates[peer]  # to the back of the queue
        self._candidates[peer] = None
        self._due_fresh = False
        return None

    def forget(self, peer: str, now: float, reason: str) -> Transition | None:
        """A candidate that did not answer (or answered as someone else) is dropped, not
        counted dead, and not taken in again for `forget_s`."""
        if self._candidates.pop(peer, False) is False:
            return None
        self._due_fresh = False
        self._misses.pop(peer, None)
        self._not_before.pop(peer, None)
        self.refuse(reason)
        if len(self._forgotten) >= 16 * self.max_candidates:  # bounded: drop the oldest
            del self._forgotten[next(iter(self._forgotten))]
        self._forgotten[peer] = now + self.forget_s
        return Transition(peer, CANDIDATE, "forgotten")

    def refuse(self, reason: str, n: int = 1) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + n

    def _admit(self, peer: str) -> None:
        if peer in self._removed:
            del self._removed[peer]
            if peer in self._roster_set:  # a roster id: it never left the shared tuple
                self._size += 1
                return
        if peer not in self._extra_set and peer not in self._roster_set:
            self._extra.append(peer)
            self._extra_set.add(peer)
        self._size += 1

    def remove(self, peer: str, now: float, keep_s: float) -> None:
        """Forgets a reaped peer, keeping a tombstone until now + keep_s."""
        if peer not in self:
            return
        self._info.pop(peer, None)
        self._suspect.discard(peer)
        self._dead.discard(peer)
        if peer in self._extra_set:
            self._extra_set.discard(peer)
            self._extra.remove(peer)
        self._removed[peer] = now + keep_s
        self._size -= 1

    def expire_tombstones(self, now: float) -> None:
        if not self._removed:
            return
        for peer in [p for p, until in self._removed.items() if until <= now]:
            del self._removed[peer]
            if peer in self._roster_set:  # still in the shared roster: it would reappear
                self._removed[peer] = float("inf")

    # --- health --------------------------------------------------------------------
    def state(self, peer: str) -> Health:
        info = self._info.get(peer)
        return info.state if info else ALIVE

    def info(self, peer: str) -> PeerInfo | None:
        return self._info.get(peer)

    def hint(self, peer: str, now: float) -> Transition | None:
        """A request names `peer` as its sender, which proves nothing: an unknown id
        becomes a candidate, and a dead member is probed at the next round instead of
        waiting for its retry (a restarted node comes back as fast as before)."""
        if peer in self:
            info = self._info.get(peer)
            if info is not None and info.state == DEAD:
                info.next_retry = min(info.next_retry, now)
            return None
        return self.propose(peer, now, direct=True)

    def ok(self, peer: str, now: float) -> Transition | None:
        """Our exchange with `peer` succeeded."""
        if peer not in self:
            return None
        return self._alive(peer, now, self.state(peer))

    def _alive(self, peer: str, now: float, old: PeerState | None) -> Transition | None:
        info = self._record(peer)
        info.failures = 0
        info.last_heard = now
        if info.state != ALIVE:
            self._suspect.discard(peer)
            self._dead.discard(peer)
            info.state = ALIVE
        return None if old == ALIVE else Transition(peer, old, ALIVE)

    def failed(
        self, peer: str, now: float, dead_after_failures: int, dead_after_s: float, retry_s: float
    ) -> Transition | None:
        """Our exchange with `peer` failed (refused, timed out, or an error reply)."""
        if peer not in self:
            return None
        info = self._record(peer)
        if info.failures == 0:
            info.failing_since = now
        info.failures += 1
        old = info.state
        if old == DEAD:
            info.next_retry = now + retry_s
            return None
        if info.failures >= dead_after_failures and now - info.failing_since >= dead_after_s:
            info.state = DEAD
            info.next_retry = now + retry_s
            self._suspect.discard(peer)
            self._dead.add(peer)
        elif old == ALIVE:
            info.state = SUSPECT
            self._suspect.add(peer)
        return None if info.state == old else Transition(peer, old, info.state)

    def _record(self, peer: str) -> PeerInfo:
        info = self._info.get(peer)
        if info is None:
            info = self._info[peer] = PeerInfo()
        return info

    # --- choosing ------------------------------------------------------------------
    def choose(self, rng: random.Random, k: int, exclude: Collection[str] = ()) -> list[str]:
        """Up to k distinct live (alive or suspect) peers at random, none from `exclude`."""
        if k <= 0 or self._size == 0:
            return []
        roster, extra, dead, removed = self._roster, self._extra, self._dead, self._removed
        me = self.self_id
        nr = len(roster)
        n = nr + len(extra)
        chosen: list[str] = []
        if n >= _SCAN_BELOW and not (dead or removed or exclude):
            # The usual case: nobody is dead, removed or excluded. Draws are compared by
            # position (ids are distinct), so a rejected draw touches no string.
            rand = rng.random
            me_at = self._me_at
            picked: list[int] = []
            for _ in range(8 * k + 16):
                i = int(rand() * n)
                if i == me_at or i in picked:
                    continue
                picked.append(i)
                if len(picked) == k:
                    break
            chosen = [roster[i] if i < nr else extra[i - nr] for i in picked]
            if len(chosen) == k:
                return chosen
        elif n >= _SCAN_BELOW:
            rand = rng.random
            for _ in range(8 * k + 16):
                i = int(rand() * n)
                peer = roster[i] if i < nr else extra[i - nr]
                if (
                    peer == me
                    or peer in chosen
                    or peer in dead
                    or peer in exclude
                    or peer in removed
                ):
                    continue
                chosen.append(peer)
                if len(chosen) == k:
                    return chosen
        # few peers, or most of them excluded or dead: filter the whole list
        live = [
            p
            for p in (*roster, *extra)
            if p != me
            and p not in dead
            and p not in removed
            and p not in exclude
            and p not in chosen
        ]
        return chosen + rng.sample(live, min(k - len(chosen), len(live)))

    def live(self) -> list[str]:
        """Every alive or suspect peer."""
        return [p for p in self if p not in self._dead]

    def due_for_retry(self, now: float, retry_s: float) -> list[str]:
        """Dead peers whose next probe is due; each is rescheduled."""
        if not self._dead:
            return []
        due = [p for p in self._dead if self._info[p].next_retry <= now]
        for peer in due:
            self._info[peer].next_retry = now + retry_s
        return sorted(due)

    def dead_longer_than(self, now: float, seconds: float) -> list[str]:
        if not self._dead:
            return []
        return sorted(p for p in self._dead if now - self._info[p].failing_since >= seconds)

    def counts(self) -> dict[PeerState, int]:
        suspect, dead = len(self._suspect), len(self._dead)
        return {
            ALIVE: self._size - suspect - dead,
            SUSPECT: suspect,
            DEAD: dead,
            CANDIDATE: len(self._candidates),
        }
