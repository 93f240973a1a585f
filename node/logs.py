"""Structured logs: one JSON object a line on stdout, the node's id and name on every line.

Owns the log format and the catalogue of event names (docs/logs.md documents the same list;
`lab.logs` and users' `jq` filters rely on the names). Every line carries `timestamp`
(ISO-8601, UTC), `level`, `event`, `node` (the id, `host:port`) and `name` (the display
name, node.names).

What can be logged at the message rate, and what cannot
-------------------------------------------------------
A node receives every update about `fanout` times (with flooding, once from every peer), so
a line per message would make the info level unreadable, and the disk busy, exactly when
the lab is pushed. The rule: at info level, at most a few lines per *update* per node,
never one per *message*:

- `update_applied`: the first arrival of an update (sender, hops, ttl, delay): one per
  update per node.
- a TTL drop (the update arrived with its TTL spent and is not forwarded) is the
  `update_applied` line with `ttl: 0`; the separate `ttl_drop` line is at debug, so that a
  flood of spent messages costs one info line each, not two.
- `update_duplicates`: the copies of one update that arrived after it had been applied
  (`duplicates`: the UUID was already handled; `stale`: something newer was known), counted
  by `NodeLogger` over `TALLY_WINDOW_S` and written as one line per update per window, with
  the count by sender. Dups of an update come within milliseconds of each other, so this is
  one line per update per node however many copies fanout sends.
- `message_deduplicated`, `stale_message` (one per message) and `send_failed` (one per
  failed request) stay at debug level, for looking at single messages.

So `python -m lab.logs trace` can report every node's duplicates and TTL drops from the
default level. A node killed with SIGKILL loses at most the last window's tally; a graceful
stop writes it before `node_stopping`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
import structlog

from node.core import (
    Applied,
    BootstrapFailed,
    Bootstrapped,
    Deduplicated,
    Event,
    MovieChanged,
    PeerChanged,
    Reaped,
    Refused,
    Stale,
    TtlDropped,
)
from node.names import default_name

__all__ = [
    "make_logger",
    "log_event",
    "NodeLogger",
    "EVENTS",
    "TALLY_WINDOW_S",
    "TALLY_MAX_UPDATES",
]

#: event name -> (level, meaning); docs/logs.md's catalogue.
EVENTS: dict[str, tuple[str, str]] = {
    "node_started": ("info", "the node listens; its settings"),
    "node_stopping": ("info", "shutdown began (SIGTERM/SIGINT)"),
    "node_stopped": ("info", "shutdown finished"),
    "bootstrap_ok": ("info", "joined through `via`; `peers` known"),
    "bootstrap_failed": ("warning", "the bootstrap node did not answer; retry in `retry_in_s`"),
    "movie_changed": ("info", "this node's new favourite `movie` at `version`"),
    "update_applied": (
        "info",
        "first arrival of news: `origin`, `version`, `movie`, from "
        "`sender`, after `hops` hops and `delay_ms`, `via` push or sync",
    ),
    "ttl_drop": (
        "debug",
        "applied but not forwarded: TTL spent (at info: `update_applied` with `ttl` 0)",
    ),
    "update_duplicates": (
        "info",
        "copies of one update that arrived after it was applied, tallied over "
        "`window_s`: `duplicates`, `stale`, `senders`",
    ),
    "message_deduplicated": ("debug", "a message whose `uuid` was already handled"),
    "stale_message": ("debug", "news no newer than the `known` version"),
    "peer_state": ("info", "a peer's health changed from `old` to `new`"),
    "origin_reaped": ("info", "a departed origin was dropped from state"),
    "request_refused": ("warning", "a request was refused: `reason`, `detail`"),
    "send_failed": ("debug", "a request to `peer` failed: `error`"),
    "faults_set": ("info", "the fault layer changed (PUT /admin/faults): its new settings"),
    "keys_set": ("info", "the gossip keys were replaced (PUT /admin/keys): how many, `keys`"),
}

#: Seconds over which the copies of each update are counted before their line is written.
#: Longer windows mean fewer lines for an update whose copies straggle in; shorter ones,
#: a trace that is complete sooner after the update.
TALLY_WINDOW_S = 1.0
#: Updates tallied at once, at most; one more writes the tally early (bounded memory).
TALLY_MAX_UPDATES = 1000

#: Lines before which every pending tally is written, so a graceful stop loses none.
_FLUSH_BEFORE = frozenset({"node_stopping", "node_stopped"})

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


@dataclass(slots=True)
class _Copies:
    """The redundant copies of one update (one UUID) counted since `opened`."""

    origin: str
    version: int
    opened: float
    duplicates: int = 0
    stale: int = 0
    senders: dict[str, int] = field(default_factory=dict)


class NodeLogger:
    """One node's logger: structlog's bound logger (`debug`, `info`, `warning`, `error`,
    each an event name and key-values) plus the tally behind `update_duplicates`.

    Each update's copies are counted from its first copy for `window_s`, then written as
    one line: by a timer on the running event loop when there is one, and in any case
    before the next line logged after that, before `node_stopping`/`node_stopped`, and on
    `flush()`. Windows are per update, so an update's copies are not split between two
    lines just because another update's window closed meanwhile.
    """

    def __init__(
        self,
        log: Any,
        level: str = "info",
        *,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = TALLY_WINDOW_S,
    ) -> None:
        self._log = log
        self._tallying = _LEVELS[level] <= logging.INFO
        self._debugging = _LEVELS[level] <= logging.DEBUG
        self._clock = clock
        self.window_s = window_s
        #: (uuid, origin, version) -> its copies, oldest window first (dicts keep insertion
        #: order). Not the UUID alone: a UUID reused by another origin is another update.
        self._copies: dict[tuple[str, str, int], _Copies] = {}
        self._timer: asyncio.TimerHandle | None = None

    # --- the logger's interface ---------------------------------------------------------
    def debug(self, event: str, **kw: Any) -> None:
        if not self._debugging:  # the hot path's lines: not even the call below
            return
        self._before(event)
        self._log.debug(event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._before(event)
        self._log.info(event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._before(event)
        self._log.warning(event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._before(event)
        self._log.error(event, **kw)

    # --- the tally ----------------------------------------------------------------------
    def count(
        self, uuid: str, origin: str, version: int, sender: str | None, *, stale: bool
    ) -> None:
        """One redundant copy of the update `uuid` arrived (from `sender`)."""
        if not self._tallying:
            return
        now = self._clock()
        self._write_due(now)
        key = (uuid, origin, version)
        copies = self._copies.get(key)
        if copies is None:
            if len(self._copies) >= TALLY_MAX_UPDATES:
                self._write(next(iter(self._copies)))
            copies = self._copies[key] = _Copies(origin, version, now)
            self._arm(now)
        if stale:
            copies.stale += 1
        else:
            copies.duplicates += 1
        who = sender or "?"
        copies.senders[who] = copies.senders.get(who, 0) + 1

    def flush(self) -> None:
        """Writes every pending tally now."""
        for key in list(self._copies):
            self._write(key)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write(self, key: tuple[str, str, int]) -> None:
        c = self._copies.pop(key)
        self._log.info(
            "update_duplicates",
            origin=c.origin,
            version=c.version,
            uuid=key[0],
            duplicates=c.duplicates,
            stale=c.stale,
            senders=c.senders,
            window_s=self.window_s,
        )

    def _write_due(self, now: float) -> None:
        """Writes the tallies whose window has closed (the oldest come first)."""
        while self._copies:
            key, oldest = next(iter(self._copies.items()))
            if now - oldest.opened < self.window_s:
                break
            self._write(key)

    def _arm(self, now: float) -> None:
        """A timer for the oldest pending window, if none is set and a loop runs (without
        one, as in a test or a script, the next line logged writes what is due)."""
        if self._timer is not None or not self._copies:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        due = next(iter(self._copies.values())).opened + self.window_s
        self._timer = loop.call_later(max(due - now, 0.01), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._clock()
        self._write_due(now)
        self._arm(now)

    def _before(self, event: str) -> None:
        if not self._copies:
            return
        if event in _FLUSH_BEFORE:
            self.flush()
        else:
            self._write_due(self._clock())


def _orjson_dumps(obj: Any, **_: Any) -> str:
    # A third of a line's cost with the stdlib encoder; non-JSON values become strings.
    try:
        return orjson.dumps(obj, default=str).decode()
    except orjson.JSONEncodeError:  # e.g. a lone surrogate: the stdlib escapes it
        return json.dumps(obj, default=str)


_second: list[Any] = [-1, ""]  # the last whole second and its "YYYY-MM-DDTHH:MM:SS" text


def _level_and_time(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """`level` and an ISO-8601 UTC `timestamp` with microseconds, as structlog's own
    add_log_level and TimeStamper(fmt="iso", utc=True) write them, at a fraction of the
    cost: the date and time of day are formatted once a second."""
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second[0], _second[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    event["level"] = "warning" if method == "warn" else method
    event["timestamp"] = f"{_second[1]}.{int((now - whole) * 1e6):06d}Z"
    return event


def make_logger(
    node_id: str,
    fmt: str = "json",
    level: str = "info",
    stream: TextIO | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    window_s: float = TALLY_WINDOW_S,
    name: str | None = None,
) -> NodeLogger:
    """A logger for one node (no global configuration: several nodes can share a process).
    `name` is the display name (default: derived from `node_id` without DNS, node.names);
    `clock` and `window_s` time the duplicate tally (tests pass their own)."""
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    processors: list[Any] = [
        _level_and_time,
        structlog.processors.format_exc_info,
        renderer,
    ]
    logger = structlog.wrap_logger(
        structlog.PrintLogger(stream or sys.stdout),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        cache_logger_on_first_use=True,
    )
    name = name or default_name(node_id, None)
    return NodeLogger(logger.bind(node=node_id, name=name), level, clock=clock, window_s=window_s)


def log_event(log: Any, event: Event) -> None:
    """One core event as one log line (see EVENTS). Redundant copies are also counted into
    the `update_duplicates` tally when `log` is a NodeLogger."""
    match event:
        case Applied():
            log.info(
                "update_applied",
                origin=event.origin,
                version=event.version,
                movie=event.movie,
                sender=event.sender,
                hops=event.hops,
                ttl=event.ttl,
                delay_ms=None if event.delay_s is None else round(event.delay_s * 1000, 2),
                via=event.via,
                uuid=event.uuid,
            )
        case Deduplicated():
            log.debug(
                "message_deduplicated",
                uuid=event.uuid,
                origin=event.origin,
                version=event.version,
                sender=event.sender,
            )
            if isinstance(log, NodeLogger):
                log.count(event.uuid, event.origin, event.version, event.sender, stale=False)
        case TtlDropped():
            log.debug(
                "ttl_drop",
                uuid=event.uuid,
                origin=event.origin,
                version=event.version,
                sender=event.sender,
            )
        case Stale():
            log.debug(
                "stale_message",
                uuid=event.uuid,
                origin=event.origin,
                version=event.version,
                known=event.known,
                sender=event.sender,
            )
            if isinstance(log, NodeLogger):
                log.count(event.uuid, event.origin, event.version, event.sender, stale=True)
        case MovieChanged():
            log.info(
                "movie_changed",
                version=event.version,
                counter=event.counter,
                movie=event.movie,
                previous=event.previous,
                uuid=event.uuid,
            )
        case PeerChanged():
            # ids heard of second-hand come and go by the dozen under a hostile request:
            # a candidate's coming and going is debug; becoming a member (or not) is info
            candidate_only = event.new == "candidate" or (
                event.old == "candidate" and event.new == "forgotten"
            )
            emit = log.debug if candidate_only else log.info
            emit("peer_state", peer=event.peer, old=event.old, new=event.new)
        case Bootstrapped():
            log.info("bootstrap_ok", via=event.via, peers=event.peers)
        case BootstrapFailed():
            log.warning("bootstrap_failed", via=event.via, retry_in_s=event.retry_in_s)
        case Reaped():
            log.info("origin_reaped", origin=event.origin, version=event.version)
        case Refused():
            log.warning(
                "request_refused", reason=event.reason, detail=event.detail, sender=event.sender
            )
