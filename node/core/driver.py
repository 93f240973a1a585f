"""The one contract between the core and any shell that runs it: an input in, a `Ready` out.

Every input of a `GossipNode` (a timer, a new favourite, a peer's request, the outcome of a
request it sent) goes through a `Driver`, which calls the core and then hands the shell one
`Ready` batch (node.core.events): the requests to send, the events that happened, and when
the core next wants `tick`. The shell's one handler does the I/O (send the requests, log
and count the events, arm a timer), and nothing else drains the core. This is etcd raft's
Step/Ready split: the aiohttp runtime (`node.runtime`) and the simulator (`lab.simnet`) differ
only in that handler, so both run the same loop.
"""

from __future__ import annotations

from collections.abc import Callable

from node.core.events import FetchPeers, Outgoing, Ready, Send
from node.core.message import Envelope, Message
from node.core.protocol import GossipNode, PeerListing

__all__ = ["Driver", "Ready"]


class Driver:
    """Feeds one `GossipNode` its inputs and hands each step's `Ready` to `handle`."""

    __slots__ = ("_collect", "handle", "node")

    def __init__(self, node: GossipNode, handle: Callable[[Ready], None]) -> None:
        self.node = node
        self.handle = handle
        self._collect = node.collect  # (each input then costs two calls: the simulator's
        # hot path runs this a hundred thousand times a second)

    def tick(self, now: float) -> None:
        """Timers: whatever is due at `now`."""
        self.node.tick(now)
        self.handle(self._collect())

    def publish(self, now: float, movie: str | None = None) -> Message:
        """A new favourite now (or `movie`)."""
        message = self.node.publish(now, movie)
        self.handle(self._collect())
        return message

    def receive(self, now: float, envelope: Envelope, *, verified: bool = False) -> Envelope:
        """A peer's request; returns the reply to send back."""
        reply = self.node.receive(now, envelope, verified=verified)
        self.handle(self._collect())
        return reply

    def answered(self, now: float, request: Outgoing, reply: Envelope | PeerListing) -> None:
        """One of this node's requests succeeded: an exchange's reply, or a peer listing."""
        if type(request) is Send:
            assert type(reply) is Envelope
            self.node.on_reply(now, request, reply)
        else:
            assert isinstance(request, FetchPeers) and type(reply) is PeerListing
            self.node.on_peers(now, request, reply)
        self.handle(self._collect())

    def failed(self, now: float, request: Outgoing) -> None:
        """One of this node's requests failed (refused, timed out, or answered with an error)."""
        self.node.on_failure(now, request)
        self.handle(self._collect())

    def flush(self) -> None:
        """Hands the shell what the core produced since the last step (a node just built,
        or inputs given to the core directly)."""
        self.handle(self._collect())
