"""Gossip messages as a peer puts them on the wire, for the tests that post to /gossip/ by
hand (the contract's message fields; node.core.message parses them)."""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["gossip_message"]


def gossip_message(
    origin: str,
    version: int,
    *,
    ttl: int = 3,
    movie: str = "Alien",
    uid: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A valid message from `origin` at `version`, under a fresh uuid unless `uid` is given;
    `extra` adds optional wire fields (hops, sent_at)."""
    return {
        "uuid": uid or str(uuid.uuid4()),
        "origin": origin,
        "version": version,
        "ttl": ttl,
        **extra,
        "payload": {"movie": movie},
    }
