"""The catalogue of events: what each event the node reports is called, at which level it is
logged and which fields it carries. Every consumer reads it from here.

Owns one `EventType` per event (what each means is docs/logs.md's) and nothing else: it
logs, encodes and sends nothing. The consumers each turn an event into their own form:

- `node.logs`: a log line whose `event` is the type's `name`, at its `level`, with its
  `fields` in the catalogue's order (docs/logs.md's table, which a test holds to this one);
- `node.feed`: the page's live feed, `{"kind": name, "t": ..., ...fields}`;
- `node.ledger`: the record, a line `{"t", "node", "kind": name, ...fields}` for the types
  that say something about spread (`recorded`);
- `lab.logs`: the event names its filters accept, and the trace, which turns log lines back
  into the core's events (`from_line`).

One name in the three places: a log line's `event`, a feed event's and a record line's `kind`
are the same string. Times and durations are in seconds, named `_s`, everywhere (the
fault layer's `delay_ms`/`jitter_ms` in `faults_set` are the admin API's own JSON). Logs
written before that carried `update_applied`'s delay as `delay_ms`; `seconds` reads both.

The core (`node.core.events`) says what happened and stays free of presentation: the names
and levels of its events live here, in the shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from node.core import Event
from node.core import events as e

__all__ = ["EventType", "Level", "CATALOGUE", "BY_NAME", "BY_CORE", "of", "from_line", "seconds"]

Level = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class EventType:
    #: The event's name: a log line's `event`, a feed event's and a record line's `kind`.
    name: str
    #: The level its log line is written at.
    level: Level
    #: The fields it carries, in the log line's order; durations in seconds (`_s`).
    fields: tuple[str, ...]
    #: The core's event class it presents; None for the shell's own lines.
    core: type | None = None
    #: Whether the record (`node.ledger`) keeps it: what says something about spread.
    recorded: bool = False
    #: The fields that are seconds: the log writes them to the microsecond.
    seconds: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", tuple(f for f in self.fields if f.endswith("_s")))


def _type(
    name: str, level: Level, fields: str, core: type | None = None, *, recorded: bool = False
) -> EventType:
    return EventType(name, level, tuple(fields.split()), core, recorded)


_SETTINGS = "advertise listen bootstrap fanout ttl sync_s resample_s push_interval_s movies"
_PUBLISHED = "version counter movie previous uuid"
_APPLIED = "origin version movie sender hops ttl delay_s via uuid"
_COPY = "uuid origin version sender"
#: What each event means is docs/logs.md's table (a test holds its names, levels and
#: fields to this one). In the order of a node's life.
CATALOGUE: tuple[EventType, ...] = (
    _type("node_started", "info", _SETTINGS),
    _type("node_stopping", "info", ""),
    _type("node_stopped", "info", "version"),
    _type("bootstrap_ok", "info", "via peers", e.Bootstrapped, recorded=True),
    _type("bootstrap_failed", "warning", "via retry_in_s", e.BootstrapFailed),
    _type("movie_changed", "info", _PUBLISHED, e.MovieChanged, recorded=True),
    _type("update_applied", "info", _APPLIED, e.Applied, recorded=True),
    _type("ttl_drop", "debug", _COPY, e.TtlDropped, recorded=True),
    # node.logs' tally of the copies that came after update_applied
    _type("update_duplicates", "info", "origin version uuid duplicates stale senders window_s"),
    _type("message_deduplicated", "debug", _COPY, e.Deduplicated, recorded=True),
    _type("stale_message", "debug", "uuid origin version known sender", e.Stale, recorded=True),
    # a candidate's coming and going is logged at debug (node.logs)
    _type("peer_state", "info", "peer old new", e.PeerChanged, recorded=True),
    _type("origin_reaped", "info", "origin version", e.Reaped, recorded=True),
    _type("request_refused", "warning", "reason detail sender", e.Refused),
    _type("send_failed", "debug", "peer kind error"),
    # once per node: the kernel found no route to a peer (docs/lab.md, the ARP table)
    _type("host_unreachable", "warning", "peer error hint"),
    # the fault layer's own JSON (PUT /admin/faults), in its units
    _type("faults_set", "info", "drop duplicate delay_ms jitter_ms blocked"),
    _type("keys_set", "info", "keys"),
)

BY_NAME: dict[str, EventType] = {t.name: t for t in CATALOGUE}
#: The core's event class -> its type.
BY_CORE: dict[type, EventType] = {t.core: t for t in CATALOGUE if t.core is not None}


def of(event: Event) -> EventType:
    """The catalogue's entry for one of the core's events."""
    return BY_CORE[type(event)]


def seconds(fields: Mapping[str, Any], name: str) -> float | None:
    """The duration `name` (`delay_s`) of a line as a float, or None; a line written before
    durations were in seconds carries it in milliseconds (`delay_ms`), converted here."""
    value = fields.get(name)
    if value is None and name.endswith("_s"):
        value = fields.get(name[:-2] + "_ms")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return round(value / 1000, 6)  # to the microsecond, as the log writes seconds
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def from_line(fields: Mapping[str, Any]) -> Event | None:
    """A log line of one of the core's events back into that event (None for other lines).
    Fields the line lacks are None; durations are read with `seconds`. Values are taken as
    the line has them: a reader of other people's files checks the ones it uses."""
    t = BY_NAME.get(str(fields.get("event")))
    if t is None or t.core is None:
        return None
    values = {f: seconds(fields, f) if f in t.seconds else fields.get(f) for f in t.fields}
    event: Event = t.core(**values)
    return event
