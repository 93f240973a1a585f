"""Structured logs: one JSON object a line on stdout, the node's id and name on every line.

Owns the log format and the tally of redundant copies; the event names, levels and fields
are `node.catalogue`'s (docs/logs.md documents the same list; `lab.logs` and users' `jq`
filters rely on the names). Every line carries `timestamp`
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

Lines are written out together
------------------------------
A running node holds its per-update lines (`update_applied`, `update_duplicates`, and the
debug lines) for up to `GOSSIP_LOG_FLUSH_SECONDS` (`flush_s`, 0.5 s by default) and
writes them in one write (`_Batched`): under Docker every write to stdout wakes the
daemon's log reader, and 2,000 one-line writes a second cost dockerd and containerd 31 % of
a core against 1 % for the same lines in 20 writes (2026-12-02), enough to tip a lab of 100
peers over. Any other line (a start, a join, a peer's state, a warning, a stop) and 64 KiB
of held lines are written at once, after what was held; a SIGKILL loses the held lines.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import orjson
import structlog

from node import catalogue
from node.core import Deduplicated, Event, PeerChanged, Stale
from node.genealogy import Arrival
from node.names import default_name

__all__ = [
    "make_logger",
    "log_event",
    "NodeLogger",
    "TALLY_WINDOW_S",
    "TALLY_MAX_UPDATES",
    "FLUSH_S",
]

#: Seconds over which the copies of each update are counted before their line is written.
#: Longer windows mean fewer lines for an update whose copies straggle in; shorter ones,
#: a trace that is complete sooner after the update.
TALLY_WINDOW_S = 1.0
#: Updates tallied at once, at most; one more writes the tally early (bounded memory).
TALLY_MAX_UPDATES = 1000

#: Lines before which every pending tally is written, so a graceful stop loses none.
_FLUSH_BEFORE = frozenset({"node_stopping", "node_stopped"})

#: Seconds a running node holds its log lines before writing them out together.
FLUSH_S = 0.5
#: The info lines written per update, which are held; any other info line (a start, a
#: join, a peer's state, a stop) is written at once with what was held before it.
_HELD = frozenset({"update_applied", "update_duplicates"})
#: Held lines are written at once when they reach this many characters.
_HOLD_MAX = 1 << 16

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


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
        held: _Batched | None = None,
    ) -> None:
        self._log = log
        #: The stream that holds lines back (None: each line is written at once).
        self._held = held
        self._tallying = _LEVELS[level] <= logging.INFO
        #: Whether debug lines are written at all.
        self.debugging = _LEVELS[level] <= logging.DEBUG
        self._clock = clock
        self.window_s = window_s
        #: (uuid, origin, version) -> (when its window opened, its copies), oldest window
        #: first (dicts keep insertion order). Not the UUID alone: a UUID reused by another
        #: origin is another update.
        self._copies: dict[tuple[str, str, int], tuple[float, Arrival]] = {}
        self._timer: asyncio.TimerHandle | None = None

    # --- the logger's interface ---------------------------------------------------------
    def debug(self, event: str, **kw: Any) -> None:
        if not self.debugging:  # the hot path's lines: not even the call below
            return
        self._before(event)
        self._log.debug(event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._before(event)
        self._log.info(event, **kw)
        if event not in _HELD:
            self.drain()

    def warning(self, event: str, **kw: Any) -> None:
        self._before(event)
        self._log.warning(event, **kw)
        self.drain()

    def error(self, event: str, **kw: Any) -> None:
        self._before(event)
        self._log.error(event, **kw)
        self.drain()

    def drain(self) -> None:
        """Writes out the lines held back (before a line people wait for)."""
        if self._held is not None:
            self._held.drain()

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
        pending = self._copies.get(key)
        if pending is None:
            if len(self._copies) >= TALLY_MAX_UPDATES:
                self._write(next(iter(self._copies)))
            pending = self._copies[key] = (now, Arrival(uuid, origin, version))
            self._arm(now)
        pending[1].copy(sender or "?", stale=stale)

    def flush(self) -> None:
        """Writes every pending tally now."""
        for key in list(self._copies):
            self._write(key)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write(self, key: tuple[str, str, int]) -> None:
        _, c = self._copies.pop(key)
        self._log.info(
            "update_duplicates",
            origin=c.origin,
            version=c.version,
            uuid=c.uuid,
            duplicates=c.dups,
            stale=c.stale,
            senders=c.senders,
            window_s=self.window_s,
        )

    def _write_due(self, now: float) -> None:
        """Writes the tallies whose window has closed (the oldest come first)."""
        while self._copies:
            key, (opened, _) = next(iter(self._copies.items()))
            if now - opened < self.window_s:
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
        due = next(iter(self._copies.values()))[0] + self.window_s
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
    flush_s: float = 0.0,
) -> NodeLogger:
    """A logger for one node (no global configuration: several nodes can share a process).
    `name` is the display name (default: derived from `node_id` without DNS, node.names);
    `clock` and `window_s` time the duplicate tally (tests pass their own); `flush_s` > 0
    holds lines for up to that long while an event loop runs and writes them together
    (`_Batched`; a node passes GOSSIP_LOG_FLUSH_SECONDS)."""
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
    out: TextIO = stream or sys.stdout
    held = None
    if flush_s > 0:
        held = _Batched(out, flush_s)
        atexit.register(held.drain)
        out = held  # type: ignore[assignment]
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        cache_logger_on_first_use=True,
    )
    name = name or default_name(node_id, None)
    bound = logger.bind(node=node_id, name=name)
    if fmt == "json":
        bound = _JsonLines(out, {"node": node_id, "name": name}, level, bound)
    return NodeLogger(bound, level, clock=clock, window_s=window_s, held=held)


class _Batched:
    """A text stream that holds what is written to it for up to `every_s` and passes it on
    in one write (see "Lines are written out together" above). `flush` does nothing: the
    loggers call it after every line, and the held lines go out on the timer, at
    `_HOLD_MAX` characters, or on `drain`. Without a running event loop (a script, a test,
    the node's last lines after its loop stopped) every write goes straight through."""

    def __init__(self, stream: TextIO, every_s: float) -> None:
        self._stream = stream
        self.every_s = every_s
        self._parts: list[str] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _HOLD_MAX or not self._arm():
            self.drain()
        return len(text)

    def flush(self) -> None:
        pass

    def drain(self) -> None:
        """Writes what is held, now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._parts:
            return
        text = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        try:
            self._stream.write(text)
            self._stream.flush()
        except ValueError:  # the stream was closed under us (a test's file, interpreter exit)
            pass

    def _arm(self) -> bool:
        """A timer on the running loop for the held lines; False without a running loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        if self._timer is None or self._loop is not loop:
            self._loop = loop
            self._timer = loop.call_later(self.every_s, self._on_timer)
        return True

    def _on_timer(self) -> None:
        self._timer = None
        self.drain()


class _JsonLines:
    """structlog's JSON lines for one node, without walking its pipeline for each: the
    same keys in the same order (the bound context, the fields, `event`, `level`,
    `timestamp`), one orjson call and one write. structlog's chain was a tenth of a node's CPU
    (benchmark 4's profile); a line with `exc_info` still goes through structlog."""

    def __init__(self, stream: TextIO, context: dict[str, Any], level: str, slow: Any) -> None:
        self._stream = stream
        self._context = context
        self._min = _LEVELS[level]
        self._slow = slow

    def _line(self, method: str, event: str, kw: dict[str, Any]) -> None:
        if _LEVELS[method] < self._min:
            return
        if "exc_info" in kw:
            getattr(self._slow, method)(event, **kw)
            return
        line = {**self._context, **kw, "event": event}
        _level_and_time(None, method, line)
        self._stream.write(_orjson_dumps(line) + "\n")
        self._stream.flush()

    def debug(self, event: str, **kw: Any) -> None:
        self._line("debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._line("info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._line("warning", event, kw)

    def error(self, event: str, **kw: Any) -> None:
        self._line("error", event, kw)


def log_event(log: Any, event: Event) -> None:
    """One core event as one log line, named, levelled and with the fields `node.catalogue`
    gives it (durations in seconds, to the microsecond). Redundant copies are also counted
    into the `update_duplicates` tally when `log` is a NodeLogger."""
    kind = catalogue.of(event)
    level = kind.level
    if isinstance(event, PeerChanged) and (
        event.new == "candidate" or (event.old == "candidate" and event.new == "forgotten")
    ):
        # ids heard of second-hand come and go by the dozen under a hostile request:
        # a candidate's coming and going is debug; becoming a member (or not) is info
        level = "debug"
    quiet = level == "debug" and isinstance(log, NodeLogger) and not log.debugging
    if not quiet:  # a debug line not written (the hot path's): not even its fields
        fields = {name: getattr(event, name) for name in kind.fields}
        for name in kind.seconds:
            if isinstance(fields[name], float):
                fields[name] = round(fields[name], 6)
        getattr(log, level)(kind.name, **fields)
    if isinstance(log, NodeLogger) and isinstance(event, Deduplicated | Stale):
        log.count(
            event.uuid, event.origin, event.version, event.sender, stale=isinstance(event, Stale)
        )
