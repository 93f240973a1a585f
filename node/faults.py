"""The node's fault layer: what its transport does to traffic on purpose.

Owns the fault settings and the decision for each request; the transport (outgoing) and
the edge (incoming, `node.edge`) carry the decisions out. One `FaultLayer` per node, held by
the runtime and handed to both. Decisions are pure given the random source, so they can be
tested without sockets. Faults are set at start from the environment (`GOSSIP_FAULT_*`) and
live through `PUT /admin/faults`; each change is announced to the layer's `listeners` (the
observatory records it) as it is made; every effect is counted (`gossip_faults_total{effect}`)
and every change of settings logged at info.

- `drop`: probability that an outgoing request is lost (the sender sees a timeout);
- `duplicate`: probability that an outgoing request is sent twice;
- `delay_s` and `jitter_s`: added delay before sending, `delay_s + uniform(0, jitter_s)`;
- `blocked`: peers this node can neither reach nor hear (a partition): requests to them
  fail, requests from them are refused with 503.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from node.core.message import is_address

__all__ = ["Faults", "FaultLayer", "Plan", "EFFECTS"]

EFFECTS = ("dropped", "duplicated", "delayed", "blocked_out", "blocked_in")


@dataclass(frozen=True)
class Faults:
    drop: float = 0.0
    duplicate: float = 0.0
    delay_s: float = 0.0
    jitter_s: float = 0.0
    blocked: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        for name in ("delay_s", "jitter_s"):
            value = getattr(self, name)
            if not (
                isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 60.0
            ):
                raise ValueError(f"{name} must be between 0 and 60 seconds, got {value!r}")
        if len(self.blocked) > 4096 or not all(is_address(p) for p in self.blocked):
            raise ValueError("blocked must be a list of at most 4096 host:port")

    @property
    def active(self) -> bool:
        return bool(self.drop or self.duplicate or self.delay_s or self.jitter_s or self.blocked)

    def to_json(self) -> dict[str, Any]:
        return {
            "drop": self.drop,
            "duplicate": self.duplicate,
            "delay_ms": self.delay_s * 1000,
            "jitter_ms": self.jitter_s * 1000,
            "blocked": sorted(self.blocked),
        }

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with the fields of a `PUT /admin/faults` body; raises ValueError."""
        known = {"drop", "duplicate", "delay_ms", "jitter_ms", "blocked"}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}; known: {sorted(known)}")
        kw: dict[str, Any] = {}
        for key in ("drop", "duplicate"):
            if key in changes:
                kw[key] = _number(changes[key], key)
        for key, attr in (("delay_ms", "delay_s"), ("jitter_ms", "jitter_s")):
            if key in changes:
                kw[attr] = _number(changes[key], key) / 1000
        if "blocked" in changes:
            blocked = changes["blocked"]
            if not isinstance(blocked, list):
                raise ValueError("blocked must be a list of host:port")
            kw["blocked"] = frozenset(blocked)
        return replace(self, **kw)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    return float(value)


@dataclass(frozen=True)
class Plan:
    """What to do with one outgoing request."""

    send: bool
    copies: int
    delay_s: float
    effect: str | None  # the counted effect, if any


class FaultLayer:
    """The current faults, the random source for their dice, and the effects counted.
    Setting `faults` (a PUT /admin/faults, even one that repeats the current values) calls
    every listener with the new value."""

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        self._faults = faults
        self.rng = rng
        self.counts = dict.fromkeys(EFFECTS, 0)
        #: Called with the new faults after each change, however it was made.
        self.listeners: list[Callable[[Faults], None]] = []

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        if faults is self._faults:
            return
        self._faults = faults
        for listener in self.listeners:
            listener(faults)

    def outgoing(self, peer: str) -> Plan:
        f, rng = self.faults, self.rng
        if not f.active:
            return Plan(True, 1, 0.0, None)
        if peer in f.blocked:
            return self._count(Plan(False, 0, 0.0, "blocked_out"))
        if f.drop and rng.random() < f.drop:
            return self._count(Plan(False, 0, 0.0, "dropped"))
        delay = f.delay_s + (rng.random() * f.jitter_s if f.jitter_s else 0.0)
        if f.duplicate and rng.random() < f.duplicate:
            return self._count(Plan(True, 2, delay, "duplicated"))
        return self._count(Plan(True, 1, delay, "delayed" if delay else None))

    def blocks_incoming(self, sender: str | None) -> bool:
        if sender is not None and sender in self.faults.blocked:
            self.counts["blocked_in"] += 1
            return True
        return False

    def _count(self, plan: Plan) -> Plan:
        if plan.effect is not None:
            self.counts[plan.effect] += 1
        return plan
