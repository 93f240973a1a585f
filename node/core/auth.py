"""Authenticated gossip: HMAC-SHA256 over what travels, with keys that can be rotated.

Owns signing and verifying, nothing else (pure: the shell passes the clock and the bytes).
Every request between nodes, and every reply, carries two headers:

    X-Gossip-Time: <sender's clock, seconds>
    X-Gossip-Signature: sha256=<hex HMAC-SHA256(key, purpose + "\\n" + time + "\\n" + body)>

`purpose` names what is signed (`POST /gossip/`, `GET /peers/`, or `reply` for an answer),
so a signature cannot be moved from one to another; the body is the exact bytes sent (the
canonical encoding is the bytes themselves: nothing is re-serialised before checking).
Signing the whole body authenticates everything in it: messages, digests, want lists and
peer lists, per hop.

Replays: a signature older than `window_s` (or from further in the future) is refused, so a
captured request cannot be replayed later; inside the window a replayed message is a
duplicate (UUID) or stale (version order), and stays so after the UUID cache forgot it or
the receiver restarted and re-learned the newer version.

Keys: the first key signs, every key verifies. Rotation without loss: add the new key
everywhere (second place), make it first everywhere, then remove the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence

__all__ = ["Keyring", "MIN_KEY_BYTES", "TIME_HEADER", "SIGNATURE_HEADER"]

TIME_HEADER = "X-Gossip-Time"
SIGNATURE_HEADER = "X-Gossip-Signature"
#: Shorter keys are refused at start: HMAC with a guessable key protects nothing.
MIN_KEY_BYTES = 16
_PREFIX = "sha256="


class Keyring:
    """The node's shared keys: `keys[0]` signs, all verify."""

    __slots__ = ("_keys", "window_s")

    def __init__(self, keys: Sequence[bytes], window_s: float = 30.0) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        for key in keys:
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"each key must be at least {MIN_KEY_BYTES} bytes")
        self._keys = tuple(keys)
        self.window_s = window_s

    @classmethod
    def parse(cls, text: str, window_s: float = 30.0) -> Keyring:
        """Keys from a setting: comma-separated, first signs. Raises ValueError."""
        keys = [k.strip().encode() for k in text.split(",") if k.strip()]
        return cls(keys, window_s)

    def __len__(self) -> int:
        return len(self._keys)

    def headers(self, purpose: str, body: bytes, now: float) -> dict[str, str]:
        """The two headers that sign `body` for `purpose` at time `now`."""
        stamp = f"{now:.3f}"
        return {
            TIME_HEADER: stamp,
            SIGNATURE_HEADER: _PREFIX + _mac(self._keys[0], purpose, stamp, body),
        }

    def check(
        self, purpose: str, body: bytes, stamp: str | None, signature: str | None, now: float
    ) -> str | None:
        """None if `body` is signed by one of our keys within the window; else the reason:
        `unsigned` (no signature), `bad_signature` (no key matches, or malformed) or
        `expired` (outside the replay window)."""
        if not signature or stamp is None:
            return "unsigned"
        if not signature.startswith(_PREFIX):
            return "bad_signature"
        given = signature[len(_PREFIX) :].strip().lower()
        if not any(hmac.compare_digest(given, _mac(k, purpose, stamp, body)) for k in self._keys):
            return "bad_signature"
        try:
            sent = float(stamp)
        except ValueError:
            return "bad_signature"
        if not math.isfinite(sent) or abs(now - sent) > self.window_s:
            return "expired"
        return None


def _mac(key: bytes, purpose: str, stamp: str, body: bytes) -> str:
    return hmac.new(key, f"{purpose}\n{stamp}\n".encode() + body, hashlib.sha256).hexdigest()
