"""Records as text for people: one line each, the node in its own colour.

Owns the look of the merged view (and the colours the trace uses). A line reads
`16:31:02.114  peer-2  info  update_applied  origin=peer-3 version=... hops=2`: UTC time of
day, node, level, event, then the record's other fields in the order the node wrote them.
Nodes are shown by name (`Names`: the `name` each node's own lines carry, learned as they
are read) and by id until their name is known, or when their logs carry none; `--json`
keeps the lines as written. Colours only when asked or on a terminal (`colour_wanted`): one
per node, in the order nodes first appear; the level in yellow for warnings, red for errors,
dim for debug.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, TextIO

from lab.logs.records import Names, Record, format_time

__all__ = ["Names", "Palette", "colour_wanted", "format_record", "format_value"]

_NODE_COLOURS = (36, 33, 35, 32, 34, 31, 96, 93, 95, 92, 94, 91)
_LEVEL_STYLE = {"debug": "2", "warning": "33", "error": "1;31", "critical": "1;31"}
_SHOWN = ("timestamp", "level", "event", "node", "name")
#: Fields whose value is a node id, shown as the node's name when it is known.
_ID_FIELDS = frozenset({"origin", "sender", "peer", "via"})
#: Strings shown without quotes: ids, UUIDs, numbers-as-text, single words.
_BARE = re.compile(r"[\w.:/+@-]+")


def colour_wanted(choice: str, stream: TextIO) -> bool:
    """--color always/never/auto; auto means a terminal, NO_COLOR unset, TERM not dumb."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


class Palette:
    """Colours for nodes (each keeps its own for the whole run) and levels; plain text when
    `enabled` is False."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._nodes: dict[str, int] = {}

    def node(self, node: str, text: str | None = None) -> str:
        text = node if text is None else text
        if not self.enabled:
            return text
        colour = self._nodes.setdefault(node, _NODE_COLOURS[len(self._nodes) % len(_NODE_COLOURS)])
        return f"\x1b[{colour}m{text}\x1b[0m"

    def style(self, sgr: str | None, text: str) -> str:
        return f"\x1b[{sgr}m{text}\x1b[0m" if self.enabled and sgr else text

    def level(self, level: str, text: str) -> str:
        return self.style(_LEVEL_STYLE.get(level), text)


def format_value(value: Any) -> str:
    """A field's value as it reads best: bare words and numbers as they are, anything with
    spaces or quotes as JSON, objects as compact JSON."""
    if isinstance(value, str):
        return value if _BARE.fullmatch(value) else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def format_record(
    r: Record,
    palette: Palette,
    node_width: int = 0,
    date: bool = False,
    names: Names | None = None,
) -> str:
    """One record as one line of text; with `names`, nodes by name where known."""
    node = r.node or "?"
    shown = r.name or (names.of(node) if names else node)
    level = r.level or "?"
    head = [
        format_time(r.t, date),
        palette.node(node, shown.ljust(node_width)),
        palette.level(level, level.ljust(7)),
        palette.style("1", r.event),
    ]

    def value(k: str, v: Any) -> str:
        if names is not None and k in _ID_FIELDS and isinstance(v, str):
            v = names.of(v)
        return format_value(v)

    rest = [f"{k}={value(k, v)}" for k, v in r.fields.items() if k not in _SHOWN]
    text = "  ".join(head)
    return text + "  " + " ".join(rest) if rest else text
