"""Which records to show: by node, event, level, origin, version, UUID and time.

Owns the meaning of the filter options, so that the merged view, follow mode and the
tests agree. Values of one option are alternatives (`--node a --node b`: either); different
options must all hold. A record that lacks the field a filter asks about does not match it
(`--origin X` shows no `peer_state` lines), except that a `movie_changed` line's origin is
the node that wrote it.

Node and origin ids are `host:port`; a bare port matches that port on any host (`7001`),
and a bare host every port on it (`172.18.0.3`). Events may be shell-style patterns
(`update_*`). A UUID may be abbreviated to its first 8 or more characters.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lab.logs.records import LEVELS, Record, parse_time

__all__ = ["Filter", "id_matches", "parse_when", "parse_uuid_prefix"]

_AGE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_AGE_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
_UUID_PREFIX = re.compile(r"^[0-9a-fA-F-]{8,36}$")


def id_matches(pattern: str, node_id: str) -> bool:
    """Whether a node id (`host:port`) is the one `pattern` names: the same id, or a bare
    port on any host, or a bare host on any port."""
    if pattern == node_id:
        return True
    host, _, port = node_id.rpartition(":")
    if pattern.isdigit():
        return port == pattern
    return ":" not in pattern and host == pattern


def parse_when(text: str, now: float) -> float:
    """A time bound as seconds since the epoch: an age before `now` ("30s", "5m", "2h",
    "1d"), a time of day in UTC today ("16:31", "16:31:05.2"), or an ISO-8601 date and
    time (naive means UTC). Raises ValueError with what is accepted."""
    text = text.strip()
    m = _AGE.match(text)
    if m:
        return now - float(m.group(1)) * _AGE_UNITS[m.group(2)]
    if _TIME_OF_DAY.match(text):
        today = datetime.fromtimestamp(now, UTC).date()
        hh, mm, *rest = text.split(":")
        seconds = float(rest[0]) if rest else 0.0
        if int(hh) > 23 or int(mm) > 59 or seconds >= 60:
            raise ValueError(f"{text!r} is not a time of day")
        midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
        return (midnight + timedelta(hours=int(hh), minutes=int(mm), seconds=seconds)).timestamp()
    t = parse_time(text)
    if t is None:
        raise ValueError(
            f"cannot read {text!r} as a time: give an age (30s, 5m, 2h, 1d), a time of day "
            "in UTC (16:31:05) or an ISO-8601 time (2025-11-25T16:31:05Z)"
        )
    return t


def parse_uuid_prefix(text: str) -> str:
    """A UUID or its first 8+ characters, lower-cased; ValueError if it is neither."""
    if not _UUID_PREFIX.match(text):
        raise ValueError(f"{text!r} is not a UUID (or its first 8 or more characters)")
    return text.lower()


@dataclass
class Filter:
    """The records to keep. Empty lists and None bounds let everything through."""

    nodes: Sequence[str] = ()
    events: Sequence[str] = ()
    #: The lowest level shown (a key of LEVELS), or None for all.
    level: str | None = None
    origins: Sequence[str] = ()
    versions: Sequence[int] = ()
    uuids: Sequence[str] = ()
    since: float | None = None
    until: float | None = None
    _min_level: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.level is not None:
            self._min_level = LEVELS[self.level]

    def __call__(self, r: Record) -> bool:
        if self.since is not None and r.t < self.since:
            return False
        if self.until is not None and r.t > self.until:
            return False
        if self.nodes and not any(id_matches(p, r.node) or p == r.name for p in self.nodes):
            return False
        if self.events and not any(fnmatch.fnmatchcase(r.event, p) for p in self.events):
            return False
        if self._min_level and LEVELS.get(r.level, 0) < self._min_level:
            return False
        if self.origins:
            origin = r.origin
            if origin is None or not any(id_matches(p, origin) for p in self.origins):
                return False
        if self.versions and r.version not in self.versions:
            return False
        if self.uuids:
            uuid = r.uuid
            if uuid is None or not any(uuid.lower().startswith(p) for p in self.uuids):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not (
            self.nodes
            or self.events
            or self.level
            or self.origins
            or self.versions
            or self.uuids
            or self.since is not None
            or self.until is not None
        )
