"""What the core tells its shell: events (what happened) and outgoing requests (what to send).

Owns only these small immutable values. The core appends them as it works; the shell
collects them (one `Ready` a step) and turns events into log lines, metrics and the page's
live feed, and requests into HTTP calls whose outcome it reports back. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Union

from node.core.message import Envelope
from node.core.peers import Gone, PeerState

__all__ = [
    "SendKind",
    "Via",
    "Send",
    "FetchPeers",
    "Outgoing",
    "MovieChanged",
    "Applied",
    "Deduplicated",
    "TtlDropped",
    "Stale",
    "PeerChanged",
    "Bootstrapped",
    "BootstrapFailed",
    "Reaped",
    "Refused",
    "Event",
    "Ready",
]


#: Why a request is sent: "push" (new news; along the tree's eager links under the tree
#: strategy), "sync" (anti-entropy digest), "repair" (news a digest asked for), "probe"
#: (anti-entropy with a dead peer, to see whether it is back, or with a candidate, to see
#: whether it answers under its own id), "announce" (the tree's `ihave` to lazy peers) or
#: "graft" (news an announcement's reply asked for: the link joins the tree).
SendKind = Literal["push", "sync", "repair", "probe", "announce", "graft"]
#: How applied news arrived: pushed at random ("push"), along the broadcast tree ("tree"),
#: by a graft after an announcement ("lazy"), or traded by anti-entropy ("sync").
Via = Literal["push", "tree", "lazy", "sync"]


# --- outgoing requests ---------------------------------------------------------------
class Send(NamedTuple):
    """POST `envelope` to `to`'s /gossip/; report the reply to `on_reply`, or `on_failure`."""

    to: str
    envelope: Envelope
    kind: SendKind


class FetchPeers(NamedTuple):
    """GET `to`'s /peers/; report the listing to `on_peers`, or `on_failure`."""

    to: str


# (typing.Union, not X | Y: a union made at run time needs Python 3.10, and PyPy 3.9 runs
# the core too)
Outgoing = Union[Send, FetchPeers]  # noqa: UP007


# --- events --------------------------------------------------------------------------
class MovieChanged(NamedTuple):
    """This node picked a new favourite (or re-announced it above a stale self-version)."""

    version: int
    #: New favourites since this life started (version - generation).
    counter: int
    movie: str
    previous: str | None
    uuid: str


class Applied(NamedTuple):
    """First arrival of news newer than anything known: it is now this node's view."""

    uuid: str
    origin: str
    version: int
    movie: str
    sender: str | None
    hops: int
    ttl: int
    #: Seconds from the origin's send to this arrival (None if the message had no sent_at).
    delay_s: float | None
    via: Via


class Deduplicated(NamedTuple):
    """A message whose UUID was already handled here: dropped."""

    uuid: str
    origin: str
    version: int
    sender: str | None


class TtlDropped(NamedTuple):
    """Applied, but not forwarded: its TTL was spent."""

    uuid: str
    origin: str
    version: int
    sender: str | None


class Stale(NamedTuple):
    """A new UUID carrying news no newer than what is known: dropped."""

    uuid: str
    origin: str
    version: int
    known: int
    sender: str | None


class PeerChanged(NamedTuple):
    """A peer's health changed; `old` is None for a peer just learned; `new` is "reaped"
    when a long-dead peer is dropped."""

    peer: str
    old: PeerState | None
    new: PeerState | Gone


class Bootstrapped(NamedTuple):
    via: str
    peers: int


class BootstrapFailed(NamedTuple):
    via: str
    retry_in_s: float


class Reaped(NamedTuple):
    """An origin dead longer than the reap period was dropped from state (tombstoned)."""

    origin: str
    version: int


class Refused(NamedTuple):
    """A request or a message was refused; `reason` labels gossip_invalid_requests_total.
    The core refuses news of a new origin when its table is full (`too_many`); the shell
    makes the same event of the requests it refuses at its edge (`Runtime.refused`)."""

    reason: str
    detail: str
    sender: str | None


Event = Union[  # noqa: UP007
    MovieChanged,
    Applied,
    Deduplicated,
    TtlDropped,
    Stale,
    PeerChanged,
    Bootstrapped,
    BootstrapFailed,
    Reaped,
    Refused,
]


class Ready(NamedTuple):
    """What one step of the core asks of its shell (`GossipNode.collect`, `node.core.driver`):
    etcd raft's Ready, in this protocol's terms."""

    #: Requests to send, in order; each one's outcome comes back to the core with the
    #: request it answers (`on_reply`, `on_peers`, `on_failure`).
    sends: list[Outgoing]
    #: What happened, in order: for logs, metrics, the page's feed, the record.
    events: list[Event]
    #: When the core next wants `tick`, in the same seconds as `now` (inf: never).
    wakeup: float
