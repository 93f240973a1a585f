"""The sans-I/O gossip core: pure, deterministic, driven with explicit time and a seeded
random source. Imports nothing that does I/O (no asyncio, aiohttp, prometheus_client or
structlog): the aiohttp node, the simulator and the tests all drive this same code."""

from node.core.config import MAX_VERSION, VERSION_TICKS_PER_S, Config, ConfigError
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
    Reaped,
    Refused,
    Send,
    Stale,
    TtlDropped,
)
from node.core.invariants import Invariants, InvariantViolation, converged, lagging
from node.core.message import (
    REASONS,
    Envelope,
    InvalidMessage,
    Message,
    envelope_to_wire,
    message_to_wire,
    parse_address,
    parse_envelope,
)
from node.core.peers import ALIVE, CANDIDATE, DEAD, PEER_REFUSALS, SUSPECT, PeerSet, Roster
from node.core.protocol import GossipNode, PeerListing, Stats

__all__ = [
    "ALIVE",
    "CANDIDATE",
    "DEAD",
    "MAX_VERSION",
    "PEER_REFUSALS",
    "REASONS",
    "SUSPECT",
    "VERSION_TICKS_PER_S",
    "Applied",
    "BootstrapFailed",
    "Bootstrapped",
    "Config",
    "ConfigError",
    "Deduplicated",
    "Envelope",
    "Event",
    "FetchPeers",
    "GossipNode",
    "InvalidMessage",
    "InvariantViolation",
    "Invariants",
    "Message",
    "MovieChanged",
    "Outgoing",
    "PeerChanged",
    "PeerListing",
    "PeerSet",
    "Reaped",
    "Refused",
    "Roster",
    "Send",
    "Stale",
    "Stats",
    "TtlDropped",
    "converged",
    "envelope_to_wire",
    "lagging",
    "message_to_wire",
    "parse_address",
    "parse_envelope",
]
