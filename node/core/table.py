"""Per-origin state: the newest news this node knows about every origin.

Owns the version order, the only rule that decides whether news is applied: a message is
applied when its version is higher than anything known for its origin (or its tombstone),
and refused as stale otherwise. Nothing here forwards, dedups or counts; `GossipNode` does.

Departed origins are reaped into tombstones: the version they had when reaped, kept for a
while, so that late gossip about them is stale instead of resurrecting them. A newer
version (the node really came back) lifts the tombstone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, NamedTuple

from node.core.message import Message

__all__ = ["Entry", "OriginTable"]


class Entry(NamedTuple):
    """The newest news of one origin, and how this node came to know it."""

    message: Message
    #: This node's clock when the news arrived (or was created here).
    learned_at: float
    #: The peer that told us first; None for our own news.
    sender: str | None
    #: How it came (`node.core.events.Via`), or "local" (our own).
    via: Literal["push", "tree", "lazy", "sync", "local"]


class OriginTable:
    """origin -> Entry, with tombstones; bounded by `max_origins` (entries plus tombstones)."""

    __slots__ = ("_entries", "_tombstones", "_versions", "max_origins")

    def __init__(self, max_origins: int) -> None:
        self.max_origins = max_origins
        self._entries: dict[str, Entry] = {}
        # origin -> version, kept beside the entries so that a digest is one dict copy.
        self._versions: dict[str, int] = {}
        # origin -> (version at reaping, expiry time)
        self._tombstones: dict[str, tuple[int, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, origin: str) -> bool:
        return origin in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def get(self, origin: str) -> Entry | None:
        return self._entries.get(origin)

    def version(self, origin: str) -> int:
        """The known version of `origin`, its tombstone's, or -1."""
        version = self._versions.get(origin)
        if version is not None:
            return version
        tomb = self._tombstones.get(origin)
        return tomb[0] if tomb else -1

    def is_newer(self, origin: str, version: int) -> bool:
        return version > self.version(origin)

    def has_room_for(self, origin: str) -> bool:
        return (
            origin in self._entries
            or origin in self._tombstones
            or len(self._entries) + len(self._tombstones) < self.max_origins
        )

    def put(self, entry: Entry) -> None:
        """Stores news the caller has checked is newer (`is_newer`) and has room."""
        origin = entry.message.origin
        self._tombstones.pop(origin, None)
        self._entries[origin] = entry
        self._versions[origin] = entry.message.version

    def entries(self) -> dict[str, Entry]:
        """origin -> Entry of every live entry, a copy (entries themselves are immutable)."""
        return dict(self._entries)

    def digest(self) -> dict[str, int]:
        """{origin: version} of every live entry (tombstones are not advertised)."""
        return dict(self._versions)

    def newer_than(self, digest: dict[str, int], learned_by: float | None = None) -> list[Message]:
        """Our messages that the owner of `digest` lacks (push-pull: what to send back);
        with `learned_by`, only those we learned by then (older news, not in flight)."""
        get = digest.get
        if learned_by is None:
            return [e.message for o, e in self._entries.items() if get(o, -1) < e.message.version]
        return [
            e.message
            for o, e in self._entries.items()
            if get(o, -1) < e.message.version and e.learned_at <= learned_by
        ]

    def wanted_from(self, digest: dict[str, int]) -> list[str]:
        """Origins where `digest` knows a newer version than we do (or our tombstone)."""
        version = self.version
        return [o for o, v in digest.items() if v > version(o)]

    def reap(self, origin: str, now: float, keep_s: float) -> bool:
        """Drops `origin`'s entry, leaving a tombstone until now + keep_s."""
        entry = self._entries.pop(origin, None)
        if entry is None:
            return False
        del self._versions[origin]
        self._tombstones[origin] = (entry.message.version, now + keep_s)
        return True

    def expire_tombstones(self, now: float) -> None:
        if not self._tombstones:
            return
        for origin in [o for o, (_, until) in self._tombstones.items() if until <= now]:
            del self._tombstones[origin]

    def held(self) -> int:
        """Entries plus tombstones: what `max_origins` bounds."""
        return len(self._entries) + len(self._tombstones)

    def tombstones(self) -> dict[str, int]:
        return {o: v for o, (v, _) in self._tombstones.items()}
