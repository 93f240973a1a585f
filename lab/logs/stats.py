"""How much the nodes log: lines and bytes by event, per node per second (`--stats`).

Owns the volume summary, which is how the log catalogue's promise (a few info lines per
update per node, none per message) is measured: run a cluster, then
`python -m lab.logs --stats DIR` (add `--level info` for what the default level writes).
The rate is over the time the records span, divided by the nodes that wrote them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lab.logs.records import LEVELS, Record

__all__ = ["Volume"]


@dataclass
class Volume:
    lines: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)
    levels: dict[str, str] = field(default_factory=dict)
    nodes: set[str] = field(default_factory=set)
    first: float = float("inf")
    last: float = float("-inf")

    def add(self, r: Record) -> None:
        self.lines[r.event] += 1
        self.bytes[r.event] += len(r.raw) + 1
        self.levels.setdefault(r.event, r.level)
        self.nodes.add(r.node)
        self.first = min(self.first, r.t)
        self.last = max(self.last, r.t)

    @property
    def span_s(self) -> float:
        return max(self.last - self.first, 0.0) if self.lines else 0.0

    def _rate(self, n: int) -> float | None:
        node_s = self.span_s * len(self.nodes)
        return round(n / node_s, 3) if node_s > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": len(self.nodes),
            "span_s": round(self.span_s, 3),
            "lines": sum(self.lines.values()),
            "bytes": sum(self.bytes.values()),
            "lines_per_node_s": self._rate(sum(self.lines.values())),
            "bytes_per_node_s": self._rate(sum(self.bytes.values())),
            "events": {
                event: {
                    "level": self.levels[event],
                    "lines": n,
                    "bytes": self.bytes[event],
                    "lines_per_node_s": self._rate(n),
                }
                for event, n in self._order()
            },
        }

    def _order(self) -> list[tuple[str, int]]:
        return sorted(
            self.lines.items(), key=lambda kv: (-LEVELS.get(self.levels[kv[0]], 0), -kv[1])
        )

    def render(self) -> list[str]:
        rows = [("event", "level", "lines", "per node/s", "bytes per node/s")]
        for event, n in self._order():
            rows.append(
                (
                    event,
                    self.levels[event],
                    str(n),
                    _fmt(self._rate(n)),
                    _fmt(self._rate(self.bytes[event])),
                )
            )
        total = sum(self.lines.values())
        rows.append(
            (
                "all",
                "",
                str(total),
                _fmt(self._rate(total)),
                _fmt(self._rate(sum(self.bytes.values()))),
            )
        )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        out = [
            f"{len(self.nodes)} nodes over {self.span_s:.1f} s",
            "",
        ]
        for r in rows:
            out.append(
                "  ".join(
                    c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)
                ).rstrip()
            )
        return out


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"
