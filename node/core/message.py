"""What travels between nodes, and the checks every piece of it passes on the way in.

Owns the message and envelope model, their wire form (plain JSON-ready dicts) and the
validation of decoded JSON from a peer. It does not decode bytes (the shell does, with its
own size and depth limits) and it never touches node state: a request that fails here is
refused whole, so a bad message can neither be applied nor overwrite anything.

Two wire forms reach `POST /gossip/`:
- the seed's form, one message: ``{"uuid", "origin", "version", "ttl", "payload"}``;
- the batch form, an envelope: ``{"sender", "messages": [...], "digest": {origin: version},
  "want": [origin, ...], "peers": [id, ...]}``, every key optional. A digest asks the
  receiver for push-pull: its reply carries the messages the sender lacks and the origins
  it wants back. The broadcast tree (node.core.tree) adds four optional keys: "route"
  ("tree" or "graft") on a push, "ihave" ({origin: version}) on an announcement, "prune"
  (true) on a reply, and "settled" (true) on anti-entropy. A node that predates them
  ignores them and still interoperates: it pushes at random and answers announcements
  with nothing.
Unknown fields are ignored; wrong types are refused with a reason from `REASONS`.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from typing import Any, NamedTuple

from node.core.config import MAX_VERSION, Config

__all__ = [
    "Message",
    "Envelope",
    "InvalidMessage",
    "REASONS",
    "ABSURD_TTL",
    "parse_envelope",
    "parse_address",
    "message_to_wire",
    "envelope_to_wire",
]

#: Every reason a request can be refused for; the shell adds its own transport reasons.
#: A fixed set, because each becomes a label value of gossip_invalid_requests_total.
REASONS = (
    "not_object",
    "missing_field",
    "wrong_type",
    "bad_uuid",
    "bad_origin",
    "bad_version",
    "bad_ttl",
    "bad_payload",
    "too_many",
)

#: The values of an envelope's "route": how a push travels the broadcast tree.
ROUTES = ("tree", "graft")

#: A TTL above this is not a hop budget but an attack or a bug: refused, not clamped.
#: Between the node's max_ttl and this, a TTL is clamped to max_ttl.
ABSURD_TTL = 255

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# host: a DNS name or IPv4 address (letters, digits, dots, hyphens, underscores), or a
# bracketed IPv6 address; then a port.
_ADDRESS = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]{2,45}\])"
    r":([0-9]{1,5})"
)


# Any of these at the top level makes a body the single-message form.
_MESSAGE_KEYS = frozenset(("uuid", "origin", "version", "ttl", "payload"))


class InvalidMessage(ValueError):
    """Refusal of a request from a peer: `reason` is one of REASONS, `detail` is for humans."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Message(NamedTuple):
    """One piece of news: origin's favourite at a version. A forwarded copy keeps the uuid."""

    uuid: str
    origin: str
    version: int
    ttl: int
    payload: dict[str, Any]
    #: The origin's wall clock when it created the news (seconds), for propagation latency.
    sent_at: float | None = None
    #: Links travelled so far: 1 on arrival straight from the origin (its depth in the
    #: rumour's tree); 0 only in the origin's own copy.
    hops: int = 0

    @property
    def movie(self) -> str:
        movie = self.payload.get("movie")
        return movie if isinstance(movie, str) else ""


class Envelope(NamedTuple):
    """One request or reply body in the batch form."""

    sender: str | None = None
    messages: tuple[Message, ...] = ()
    #: {origin: version} of everything the sender knows: a push-pull request.
    digest: dict[str, int] | None = None
    #: Origins whose news the sender of this reply wants (answer to a digest).
    want: tuple[str, ...] = ()
    #: A sample of peer ids the sender knows (membership spreads with gossip).
    peers: tuple[str, ...] = ()
    #: The broadcast tree (node.core.tree). On a push: "tree" when it travels a tree link,
    #: "graft" when it answers an announcement's `want` (the link becomes a tree link).
    route: str | None = None
    #: {origin: version} of news the sender applied lately: an announcement to a lazy peer,
    #: whose reply `want`s the origins it lacks.
    ihave: dict[str, int] | None = None
    #: In a reply to a tree push that brought nothing new: "this link is redundant".
    prune: bool = False
    #: On an anti-entropy request or reply: the sender is on the broadcast tree, so trade
    #: it only news that has settled (older than the settling time `lazy_s`).
    settled: bool = False


def parse_address(text: str, default_host: str = "127.0.0.1") -> str:
    """`host:port` from a flag or setting; a bare port means `default_host`. Raises ValueError."""
    text = text.strip()
    if text.isdigit():
        text = f"{default_host}:{text}"
    match = _ADDRESS.fullmatch(text)
    if not match or not 0 < int(match.group(1)) < 65536:
        raise ValueError(f"{text!r} is not a port or host:port")
    return text


def is_address(value: object) -> bool:
    # (the length first: only strings of an address's size are remembered)
    return isinstance(value, str) and len(value) <= 261 and _is_address_text(value)


@functools.lru_cache(maxsize=8192)
def _is_address_text(value: str) -> bool:
    """Memoised (a pure check, so no state of any node): an anti-entropy digest names every
    origin, and the regular expression for each was 3 % of a node's Python time in a lab of
    100 local processes (py-spy)."""
    match = _ADDRESS.fullmatch(value)
    return match is not None and 0 < int(match.group(1)) < 65536


def parse_envelope(obj: object, config: Config) -> Envelope:
    """An Envelope from decoded JSON, in either wire form; raises InvalidMessage."""
    if not isinstance(obj, dict):
        raise InvalidMessage("not_object", "the body must be a JSON object")
    if not _MESSAGE_KEYS.isdisjoint(obj):  # the seed's single-message form
        sender = _sender(obj.get("sender"))
        return Envelope(sender=sender, messages=(_message(obj, config),))
    sender = _sender(obj.get("sender"))
    raw_messages = obj.get("messages", [])
    if not isinstance(raw_messages, list):
        raise InvalidMessage("wrong_type", "messages must be a list")
    if len(raw_messages) > config.max_batch:
        raise InvalidMessage("too_many", f"at most {config.max_batch} messages per request")
    messages = tuple(_message(m, config) for m in raw_messages)
    digest = _digest(obj["digest"], config) if "digest" in obj else None
    want = tuple(_origins(obj.get("want", []), "want", config.max_origins))
    peers = tuple(_origins(obj.get("peers", []), "peers", config.max_peers))
    route = obj.get("route")
    if route is not None and route not in ROUTES:
        raise InvalidMessage("wrong_type", f"route must be one of {', '.join(ROUTES)}")
    ihave = _digest(obj["ihave"], config, "ihave") if "ihave" in obj else None
    prune, settled = obj.get("prune", False), obj.get("settled", False)
    if not isinstance(prune, bool) or not isinstance(settled, bool):
        raise InvalidMessage("wrong_type", "prune and settled must be true or false")
    return Envelope(sender, messages, digest, want, peers, route, ihave, prune, settled)


def message_to_wire(m: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "uuid": m.uuid,
        "origin": m.origin,
        "version": m.version,
        "ttl": m.ttl,
        "payload": m.payload,
        "hops": m.hops,
    }
    if m.sent_at is not None:
        wire["sent_at"] = m.sent_at
    return wire


def envelope_to_wire(e: Envelope) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if e.sender is not None:
        wire["sender"] = e.sender
    if e.messages:
        wire["messages"] = [message_to_wire(m) for m in e.messages]
    if e.digest is not None:
        wire["digest"] = e.digest
    if e.want:
        wire["want"] = list(e.want)
    if e.peers:
        wire["peers"] = list(e.peers)
    if e.route is not None:
        wire["route"] = e.route
    if e.ihave is not None:
        wire["ihave"] = e.ihave
    if e.prune:
        wire["prune"] = True
    if e.settled:
        wire["settled"] = True
    return wire


def _sender(value: object) -> str | None:
    if value is None:
        return None
    if not is_address(value):
        raise InvalidMessage("bad_origin", "sender must be host:port")
    assert isinstance(value, str)
    return value


def _message(obj: object, config: Config) -> Message:
    if not isinstance(obj, dict):
        raise InvalidMessage("not_object", "each message must be a JSON object")
    try:
        uuid, origin, version, ttl, payload = (
            obj["uuid"],
            obj["origin"],
            obj["version"],
            obj["ttl"],
            obj["payload"],
        )
    except KeyError as missing:
        raise InvalidMessage("missing_field", f"message lacks {missing.args[0]!r}") from None
    if not isinstance(uuid, str) or not _UUID.fullmatch(uuid):
        raise InvalidMessage("bad_uuid", "uuid must be an RFC 4122 UUID string")
    if not is_address(origin):
        raise InvalidMessage("bad_origin", "origin must be host:port")
    if not _is_int(version) or not 0 <= version <= MAX_VERSION:
        raise InvalidMessage("bad_version", "version must be an integer in [0, 2^63)")
    if not _is_int(ttl) or not 0 <= ttl <= ABSURD_TTL:
        raise InvalidMessage("bad_ttl", f"ttl must be an integer in [0, {ABSURD_TTL}]")
    if not isinstance(payload, dict):
        raise InvalidMessage("bad_payload", "payload must be a JSON object")
    if "movie" in payload and not isinstance(payload["movie"], str):
        raise InvalidMessage("bad_payload", "payload.movie must be a string")
    if _encoded_size(payload) > config.max_payload_bytes:
        raise InvalidMessage("bad_payload", f"payload over {config.max_payload_bytes} bytes")
    sent_at = obj.get("sent_at")
    if sent_at is not None and (
        not isinstance(sent_at, (int, float))
        or isinstance(sent_at, bool)
        or not math.isfinite(sent_at)
    ):
        raise InvalidMessage("wrong_type", "sent_at must be a finite number")
    hops = obj.get("hops", 0)
    if not _is_int(hops) or not 0 <= hops <= ABSURD_TTL:
        raise InvalidMessage("wrong_type", f"hops must be an integer in [0, {ABSURD_TTL}]")
    assert isinstance(origin, str) and isinstance(version, int) and isinstance(ttl, int)
    assert isinstance(hops, int)
    return Message(
        uuid.lower(),
        origin,
        version,
        min(ttl, config.max_ttl),
        payload,
        None if sent_at is None else float(sent_at),
        hops,
    )


# json.dumps(..., ensure_ascii=False) builds a new encoder on every call: one, made once.
_PAYLOAD_ENCODER = json.JSONEncoder(ensure_ascii=False)
_encode_string = json.encoder.encode_basestring  # a str as JSON, non-ASCII kept


def _encoded_size(payload: dict[str, Any]) -> int:
    """len(json.dumps(payload, ensure_ascii=False)), the lab's {"movie": title} without
    building the dict's JSON: '{"movie": ' + the title as JSON + '}'."""
    if len(payload) == 1:
        movie = payload.get("movie")
        if type(movie) is str:
            return 11 + len(_encode_string(movie))
    try:
        return len(_PAYLOAD_ENCODER.encode(payload))
    except RecursionError:  # nested near the decoder's own limit: far too big anyway
        return sys.maxsize


def _digest(obj: object, config: Config, field: str = "digest") -> dict[str, int]:
    if not isinstance(obj, dict):
        raise InvalidMessage("wrong_type", f"{field} must be an object {{origin: version}}")
    if len(obj) > config.max_origins:
        raise InvalidMessage("too_many", f"at most {config.max_origins} {field} entries")
    for origin, version in obj.items():
        if not is_address(origin):
            raise InvalidMessage("bad_origin", f"{field} keys must be host:port")
        if not _is_int(version) or not 0 <= version <= MAX_VERSION:
            raise InvalidMessage("bad_version", f"{field} versions must be integers in [0, 2^63)")
    return obj


def _origins(obj: object, field: str, limit: int) -> list[str]:
    if not isinstance(obj, list):
        raise InvalidMessage("wrong_type", f"{field} must be a list of host:port")
    if len(obj) > limit:
        raise InvalidMessage("too_many", f"at most {limit} entries in {field}")
    for value in obj:
        if not is_address(value):
            raise InvalidMessage("bad_origin", f"{field} entries must be host:port")
    return obj


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
