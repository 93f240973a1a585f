"""The recent-message cache: which message UUIDs this node has already handled.

Owns dedup only. It is bounded: past `capacity` the oldest UUID is forgotten, so memory does
not grow with uptime. Forgetting is safe because dedup is an optimisation, not the safety
net: a message whose UUID was evicted is still refused as stale by the version order
(`OriginTable`), so it can never be applied twice.
"""

from __future__ import annotations

from collections import deque

__all__ = ["SeenCache"]


class SeenCache:
    """A FIFO-bounded set of UUIDs."""

    __slots__ = ("_order", "_set", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._set: set[str] = set()
        self._order: deque[str] = deque()

    def __contains__(self, uuid: str) -> bool:
        return uuid in self._set

    def __len__(self) -> int:
        return len(self._set)

    def add(self, uuid: str) -> bool:
        """Remembers `uuid`; False if it was already there (a duplicate)."""
        if uuid in self._set:
            return False
        self._set.add(uuid)
        self._order.append(uuid)
        if len(self._order) > self.capacity:
            self._set.discard(self._order.popleft())
        return True
