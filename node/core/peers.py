"""Membership: the peers this node knows and how healthy each looks from here.

Owns peer health only: alive -> suspect on the first failed exchange, suspect -> dead after
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

import random
from collections.abc import Collection, Iterator, Sequence
from typing import NamedTuple

__all__ = ["ALIVE", "SUSPECT", "DEAD", "PeerSet", "PeerInfo", "Roster", "Transition"]

ALIVE, SUSPECT, DEAD = "alive", "suspect", "dead"

# Below this many members, choosing filters the whole list; above it, random picks with
# rejection (the cost stays O(k) however many peers there are).
_SCAN_BELOW = 64


class Transition(NamedTuple):
    """A peer's health changed; `old` is None when the peer was just learned."""

    peer: str
    old: str | None
    new: str


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
        self.state = ALIVE
        self.failures = 0
        self.failing_since = 0.0
        self.last_heard: float | None = None
        self.next_retry = 0.0


class PeerSet:
    """The peers of node `self_id`: at most `max_peers`, each alive, suspect or dead."""

    def __init__(self, self_id: str, max_peers: int, roster: Roster = _EMPTY) -> None:
        self.self_id = self_id
        self.max_peers = max_peers
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
        """Learns `peer` from a list or a message. Tombstoned and over-capacity ids are ignored."""
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
    def state(self, peer: str) -> str:
        info = self._info.get(peer)
        return info.state if info else ALIVE

    def info(self, peer: str) -> PeerInfo | None:
        return self._info.get(peer)

    def heard_from(self, peer: str, now: float) -> Transition | None:
        """`peer` reached us directly: it is alive, even if it was reaped or unknown."""
        if peer == self.self_id:
            return None
        learned = peer not in self
        if learned:
            if self._size >= self.max_peers:
                return None
            self._admit(peer)
        return self._alive(peer, now, None if learned else self.state(peer))

    def ok(self, peer: str, now: float) -> Transition | None:
        """Our exchange with `peer` succeeded."""
        if peer not in self:
            return None
        return self._alive(peer, now, self.state(peer))

    def _alive(self, peer: str, now: float, old: str | None) -> Transition | None:
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

    def counts(self) -> dict[str, int]:
        suspect, dead = len(self._suspect), len(self._dead)
        return {ALIVE: self._size - suspect - dead, SUSPECT: suspect, DEAD: dead}
