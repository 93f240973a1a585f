"""Log lines into records: the JSON object a node wrote, its time, and where it came from.

Owns the reading of one line and nothing else (no files, no output). A node's line is one
JSON object with `timestamp` (ISO-8601 UTC), `level`, `event`, `node` and, from nodes that
have display names, `name` (see `node.logs`).
Lines may come wrapped the way the usual tools print them: `docker compose logs` without
`--no-log-prefix` ("peer-2  | {...}"), `python -m lab.cluster` ("7001 | {...}"), with or
without colour codes; the prefix is cut off. Anything else (a traceback, a console-format
line, Prometheus's own logs) is not a record: `Parser` skips it, counts it and keeps the
first few for the message the user sees.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Record", "Names", "Parser", "Skipped", "LEVELS", "parse_time", "format_time"]

#: Log levels, lowest first (structlog's names; "exception" and "critical" are errors).
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "exception": 40, "critical": 50}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# "peer-2  | ", "7001 | ", "gossiptest-1234-bootstrap-1  |": a name, a bar, then the line.
_PREFIX = re.compile(r"^[\w.:@/-]+\s*\|\s?")
#: Skipped lines remembered as examples for the message.
_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class Record:
    """One node log line. `t` is the line's time in seconds since the epoch (UTC); a line
    without a readable timestamp takes the time of the line before it in the same source."""

    t: float
    fields: dict[str, Any]
    #: The JSON text as the node wrote it (prefix cut off), for --json passthrough.
    raw: str
    #: Which input it came from (an index into the inputs), and its line number there.
    source: int
    line: int

    @property
    def event(self) -> str:
        return str(self.fields.get("event", ""))

    @property
    def node(self) -> str:
        return str(self.fields.get("node", ""))

    @property
    def name(self) -> str | None:
        """The writer's display name, when its line carries one."""
        name = self.fields.get("name")
        return name if isinstance(name, str) and name else None

    @property
    def level(self) -> str:
        return str(self.fields.get("level", ""))

    @property
    def origin(self) -> str | None:
        """Whose news the line is about: its `origin`, or, for `movie_changed`, the node."""
        origin = self.fields.get("origin")
        if origin is None and self.event == "movie_changed":
            return self.node
        return None if origin is None else str(origin)

    @property
    def version(self) -> int | None:
        v = self.fields.get("version")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    @property
    def uuid(self) -> str | None:
        u = self.fields.get("uuid")
        return u if isinstance(u, str) else None

    def sort_key(self) -> tuple[float, int, int]:
        return (self.t, self.source, self.line)


class Names:
    """Node id -> display name, from the `name` of the lines each node wrote."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def learn(self, r: Record) -> None:
        if r.node and r.name:
            self._names[r.node] = r.name

    def of(self, node: str) -> str:
        """The node's name, or its id when no name is known."""
        return self._names.get(node, node)


@dataclass
class Skipped:
    """Lines that were not records: how many, and the first few (source, line, text)."""

    count: int = 0
    examples: list[tuple[str, int, str]] = field(default_factory=list)
    #: Some looked like GOSSIP_LOG_FORMAT=console lines (worth a hint).
    console: bool = False

    def add(self, source: str, line: int, text: str) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append((source, line, text))
        if not self.console and _looks_like_console(text):
            self.console = True

    def message(self) -> str:
        """What to tell the user (one line, plus where the first ones were)."""
        noun = "line" if self.count == 1 else "lines"
        text = f"skipped {self.count} {noun} that are not JSON log records"
        if self.console:
            text += (
                " (some look like console-format logs: run the nodes with GOSSIP_LOG_FORMAT=json)"
            )
        for source, line, example in self.examples:
            shown = example if len(example) <= 80 else example[:77] + "..."
            text += f"\n  {source}:{line}: {shown}"
        if self.count > len(self.examples):
            text += f"\n  ... and {self.count - len(self.examples)} more"
        return text


def _looks_like_console(text: str) -> bool:
    # structlog's ConsoleRenderer: "2025-11-25T16:31:00.1Z [info     ] update_applied ..."
    return bool(re.match(r"^\S+Z \[\w+\s*\] \w+", text))


def parse_time(text: str) -> float | None:
    """An ISO-8601 timestamp as seconds since the epoch; naive times are UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def format_time(t: float, date: bool = False) -> str:
    """Seconds since the epoch as UTC time of day with milliseconds (and the date)."""
    seconds, micro = divmod(round(t * 1_000_000), 1_000_000)  # milliseconds cut, not rounded
    milli = micro // 1000
    minutes, sec = divmod(seconds % 86400, 60)
    text = f"{minutes // 60:02d}:{minutes % 60:02d}:{sec:02d}.{milli:03d}"
    if date:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d ") + text
    return text


class Parser:
    """Reads lines into records for one run of the tool; remembers what it skipped and
    the last time seen in each source (for lines without a timestamp), and the name of
    every node whose lines it read, shown or not."""

    def __init__(self) -> None:
        self.names = Names()
        self.skipped = Skipped()
        self.read = 0
        self._last_t: dict[int, float] = {}

    def parse(self, text: str, source: int, line: int, source_name: str) -> Record | None:
        """The record on this line, or None (blank lines are ignored; other non-records
        are counted in `skipped`)."""
        text = text.rstrip("\r\n")
        if not text.strip():
            return None
        self.read += 1
        raw = _unwrap(text)
        fields = _decode(raw) if raw is not None else None
        if fields is None:
            self.skipped.add(source_name, line, _ANSI.sub("", text).strip())
            return None
        assert raw is not None
        stamp = fields.get("timestamp")
        t = parse_time(stamp) if isinstance(stamp, str) else None
        if t is None:
            t = self._last_t.get(source, 0.0)
        else:
            self._last_t[source] = t
        record = Record(t, fields, raw, source, line)
        self.names.learn(record)
        return record


def _unwrap(text: str) -> str | None:
    """The JSON part of a line: the line itself, or what follows a tool's prefix."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return stripped
    plain = _ANSI.sub("", text).strip()
    if plain.startswith("{"):
        return plain
    m = _PREFIX.match(plain)
    if m and plain[m.end() :].lstrip().startswith("{"):
        return plain[m.end() :].strip()
    return None


def _decode(raw: str) -> dict[str, Any] | None:
    """The line's object if it is a node log record (a JSON object with an `event`)."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("event"), str):
        return None
    return obj
