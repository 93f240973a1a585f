"""`python -m lab.watch URL...`: which node knows which origin's latest version, live.

Owns the terminal view of a running cluster. It polls each node's `GET /state` and draws a
matrix, nodes by origins: a cell is `✓` when the node knows the newest version of that origin
seen anywhere, else how many versions it is behind. Under the matrix: how long the latest
update took to reach every node, and the median and maximum over the updates seen so far.
Given one URL it finds the rest of the cluster through that node's peers (`--no-discover`
turns that off). `--once --json` prints one snapshot as JSON and exits (0 when converged,
1 when not, 2 when no node answered).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lab.cli import command, node_url
from lab.cluster import get_json
from node.core import views_converged

__all__ = ["Snapshot", "UpdateClock", "snapshot", "main"]


@dataclass
class Snapshot:
    """What every reachable node knows, and the newest version of each origin seen anywhere."""

    views: dict[str, dict[str, int]]  # node -> {origin: version}
    unreachable: list[str]
    newest: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.newest = {}
        for view in self.views.values():
            for origin, version in view.items():
                if version > self.newest.get(origin, -1):
                    self.newest[origin] = version

    def behind(self, node: str, origin: str) -> int | None:
        """Versions `node` is behind on `origin` (0 = current); None if it never heard of it."""
        version = self.views[node].get(origin)
        return None if version is None else self.newest[origin] - version

    @property
    def converged(self) -> bool:
        """`node.core.views_converged`: an unreachable node is not converged. (The matrix
        counts lag against the newest version seen anywhere; this is the verdict.)"""
        return views_converged({**dict.fromkeys(self.unreachable), **self.views})

    def to_json(self) -> dict[str, Any]:
        return {
            "converged": self.converged,
            "unreachable": self.unreachable,
            "newest": self.newest,
            "behind": {
                n: {o: self.behind(n, o) for o in sorted(self.newest)} for n in sorted(self.views)
            },
        }


def _node(text: str) -> str:
    """A node argument, checked now (a bad address is exit 2, not a traceback per poll): as
    typed, a bare port meaning loopback."""
    node_url(text)
    return f"127.0.0.1:{text.strip()}" if text.strip().isdigit() else text.strip()


def _url(node: str) -> str:
    return node if node.startswith("http") else f"http://{node}"


def snapshot(nodes: Sequence[str], discover: bool = True) -> Snapshot:
    """Polls every node (and, with discover, every peer they name) once, in parallel."""
    views: dict[str, dict[str, int]] = {}
    unreachable: list[str] = []
    pending, asked = list(nodes), set()
    with ThreadPoolExecutor(max_workers=16) as pool:
        while pending:
            batch = [n for n in dict.fromkeys(pending) if n not in asked]
            asked.update(batch)
            pending = []
            for node, state in zip(batch, pool.map(_state, batch), strict=True):
                if state is None:
                    unreachable.append(node)
                    continue
                views[state["id"]] = {o: e["version"] for o, e in state["origins"].items()}
                if discover:
                    pending += [
                        p
                        for p, info in state["peers"].items()
                        if info["state"] != "dead" and p not in views
                    ]
            pending = [p for p in pending if p not in views and p not in asked]
    return Snapshot(views, sorted(u for u in unreachable if u not in views))


def _state(node: str) -> Any:
    try:
        return get_json(f"{_url(node)}/state", timeout=2)
    except (OSError, ValueError):
        return None


class UpdateClock:
    """Times each update from the poll that first shows its new version anywhere to the
    poll that shows it everywhere (0.0 means: within one polling interval). Versions present
    at the first poll are not timed."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, int], float] = {}
        self.durations: list[float] = []
        self.last: tuple[str, int, float] | None = None
        self._latest: dict[str, int] = {}

    def observe(self, snap: Snapshot, now: float) -> None:
        first = not self._latest
        for origin, version in snap.newest.items():
            if version > self._latest.get(origin, -1):
                self._latest[origin] = version
                if not first:
                    self.pending[(origin, version)] = now
        for (origin, version), since in list(self.pending.items()):
            if all(view.get(origin, -1) >= version for view in snap.views.values()):
                del self.pending[(origin, version)]
                self.durations.append(now - since)
                self.last = (origin, version, now - since)


def render(snap: Snapshot, clock: UpdateClock) -> str:
    origins = sorted(snap.newest)
    short = {o: o.rsplit(":", 1)[-1] if o.startswith("127.") else o for o in origins}
    width = max([len(s) for s in short.values()] + [4])
    lines = ["node \\ origin".ljust(22) + " ".join(short[o].rjust(width) for o in origins)]
    for node in sorted(snap.views):
        cells = []
        for origin in origins:
            behind = snap.behind(node, origin)
            cells.append(
                ("✓" if behind == 0 else "?" if behind is None else f"-{behind}").rjust(width)
            )
        lines.append(node.ljust(22) + " ".join(cells))
    for node in snap.unreachable:
        lines.append(node.ljust(22) + "unreachable")
    lines.append("")
    lines.append(
        f"{len(snap.views)} nodes, {len(origins)} origins: "
        + ("converged" if snap.converged else "not converged")
    )
    if clock.last:
        origin, version, took = clock.last
        lines.append(f"last update ({origin} v{version}) reached every node in {took:.2f} s")
    if clock.durations:
        d = clock.durations
        lines.append(
            f"{len(d)} updates timed: median {statistics.median(d):.2f} s, max {max(d):.2f} s"
        )
    lines.append("✓ current   -N versions behind   ? never heard of it")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = command(
        "lab.watch",
        "Show live which node knows which origin's latest version, and how long "
        "each update takes to reach every node.",
    )
    parser.add_argument(
        "nodes",
        nargs="+",
        type=_node,
        metavar="URL",
        help="node URLs, host:port or a bare port (one is enough: peers are discovered)",
    )
    parser.add_argument(
        "--interval", type=float, default=0.5, metavar="SECONDS", help="seconds between polls"
    )
    parser.add_argument(
        "--no-discover", action="store_true", help="watch only the nodes given, not their peers"
    )
    parser.add_argument("--once", action="store_true", help="one snapshot, then exit")
    parser.add_argument("--json", action="store_true", help="print snapshots as JSON lines")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds (default: until Ctrl-C)",
    )
    args = parser.parse_args(argv)
    if not args.interval > 0:
        parser.error("--interval must be positive")
    clock = UpdateClock()
    tty = sys.stdout.isatty() and not args.json
    end = time.monotonic() + args.duration if args.duration else float("inf")
    try:
        while True:
            snap = snapshot(args.nodes, discover=not args.no_discover)
            now = time.monotonic()
            clock.observe(snap, now)
            if args.json:
                out = snap.to_json()
                out["update_durations_s"] = [round(d, 3) for d in clock.durations[-20:]]
                print(json.dumps(out), flush=True)
            else:
                text = render(snap, clock)
                print(("\x1b[H\x1b[2J" if tty else "") + text + ("" if tty else "\n"), flush=True)
            if args.once:
                if not snap.views:
                    return 2
                return 0 if snap.converged else 1
            if now >= end:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
