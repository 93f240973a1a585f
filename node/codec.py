"""The shell's wire forms: strict JSON decoding and the peer listing, for both directions.

Owns what a request and a reply share on the wire, so that the incoming edge (`node.edge`)
and the outgoing transport (`node.transport`) import it from here and neither owns the
other's half. Decoding is strict: NaN, Infinity, invalid UTF-8, lone surrogates and nesting
past 1,024 levels are refused. It knows nothing of HTTP statuses; the edge turns its errors
into refusals, the transport into failed exchanges.
"""

from __future__ import annotations

from typing import Any

import orjson

from node.core import Config, InvalidMessage, PeerListing
from node.core.message import is_address

__all__ = ["SENDER_HEADER", "decode_json", "listing_to_wire", "parse_listing"]

#: Names the sending node, so that flood control can tell loopback nodes apart.
SENDER_HEADER = "X-Gossip-Sender"


def decode_json(body: bytes) -> Any:
    """JSON from bytes, strictly: NaN, Infinity, invalid UTF-8 and lone surrogates are
    refused (ValueError), and so is nesting past 1,024 levels (RecursionError)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        if str(e).startswith("depth limit"):
            raise RecursionError(str(e)) from None
        raise ValueError(str(e)) from None


def listing_to_wire(listing: PeerListing) -> dict[str, Any]:
    """A GET /peers/ answer: {"self": id, "peers": [id, ...]} (`parse_listing` reads it)."""
    return {"self": listing.self_id, "peers": list(listing.peers)}


def parse_listing(obj: Any, config: Config) -> PeerListing:
    """A GET /peers/ answer, checked: {"self": id, "peers": [id, ...]}, capped."""
    if not isinstance(obj, dict) or not is_address(obj.get("self")):
        raise InvalidMessage("not_object", "a peer listing is {self: host:port, peers: [...]}")
    peers = obj.get("peers", [])
    if not isinstance(peers, list):
        raise InvalidMessage("wrong_type", "peers must be a list")
    return PeerListing(obj["self"], tuple(p for p in peers[: config.max_peers] if is_address(p)))
