"""The trace of one update: how a node's news travelled, node by node, from the logs alone.

Owns the reading of the trace events (`node.logs` documents them) and the trace's output.
An update is one origin's version (one UUID). From the nodes' lines about it:

- `movie_changed` at the origin: when it was sent, the movie, the UUID;
- `update_applied` at every other node: its first arrival, from which `sender`, after how
  many `hops` (1 = straight from the origin), `delay_s` after the origin sent it (`delay_ms`
  in older logs), by `push` or anti-entropy `sync`, with what `ttl` left;
- `ttl_drop`: the node applied it with its TTL spent and did not forward it (older logs:
  an `update_applied` with `ttl` 0 says the same);
- `update_duplicates` (info, tallied per update) or else `message_deduplicated` and
  `stale_message` (debug, one per message): the copies that came after the first.

The lines are turned back into the core's events (`node.catalogue.from_line`) and counted
into one `Arrival` per node, as a node's own ledger counts them; the tree of who told whom,
the send time and each node's delay since it are `node.genealogy.update_tree`'s, the same
builder the observatory uses, with the lines' times as the clock.

Every node that wrote anything at or after the send is expected to have the update. One
that has not is "superseded" when a newer version of the origin reached it first (it never
needed this one), else "not reached". Messages spent are all copies received: first
arrivals, duplicates and stale ones (copies lost on the way are in no log).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, get_args

from lab.logs.filters import id_matches
from lab.logs.records import Names, Record, format_time
from lab.logs.render import Palette
from node.catalogue import BY_CORE, from_line
from node.core import Applied, Deduplicated, MovieChanged, Stale, Via
from node.genealogy import COUNTED, Arrival, sent_at, update_tree
from node.logs import TALLY_WINDOW_S

__all__ = [
    "TRACE_EVENTS",
    "SETTLE_S",
    "TraceError",
    "Collector",
    "Trace",
    "NodeTrace",
    "render_trace",
]

#: The tally line of the copies of an update (`node.logs`).
_TALLY = "update_duplicates"
#: The events a trace reads: those an Arrival counts, and the tally.
TRACE_EVENTS = frozenset({BY_CORE[cls].name for cls in COUNTED} | {_TALLY})
#: Seconds the logs must go on after an update's last arrival for its trace to be complete:
#: copies still on their way come in, and each node writes its duplicate tally.
SETTLE_S = 2 * TALLY_WINDOW_S
_DUPLICATE_EVENTS = frozenset({_TALLY, BY_CORE[Deduplicated].name, BY_CORE[Stale].name})


class TraceError(Exception):
    """The update cannot be traced from these logs; the message says why (and what is there)."""


@dataclass
class NodeTrace:
    """One node's part in the update."""

    node: str
    #: "origin", "reached", "superseded" (a newer version came first) or "not reached".
    status: str
    at: float | None = None
    sender: str | None = None
    hops: int | None = None
    #: Seconds from the origin's send to the first arrival.
    delay_s: float | None = None
    via: str | None = None
    ttl: int | None = None
    ttl_drop: bool = False
    duplicates: int = 0
    stale: int = 0
    #: Who sent the redundant copies, and how many each.
    copy_senders: dict[str, int] = field(default_factory=dict)
    #: First arrivals: more than one when the node restarted and learned the update again.
    arrivals: int = 0
    superseded_by: int | None = None
    last_line_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "status": self.status,
            "arrived_at": _iso(self.at),
            "sender": self.sender,
            "hops": self.hops,
            "delay_s": self.delay_s,
            "via": self.via,
            "ttl": self.ttl,
            "ttl_drop": self.ttl_drop,
            "duplicates": self.duplicates,
            "stale": self.stale,
            "copy_senders": self.copy_senders,
            "arrivals": self.arrivals,
            "superseded_by": self.superseded_by,
        }


@dataclass
class Trace:
    origin: str
    version: int
    uuid: str | None
    movie: str | None
    sent_at: float | None
    #: The origin first, then the others by arrival, then those without the update.
    nodes: list[NodeTrace]
    #: Whether the logs say anything about duplicates at all (nodes before the tally
    #: logged them at debug level only).
    duplicates_logged: bool
    #: Seconds the logs go on after the update's last arrival (SETTLE_S or more: complete).
    logs_after_s: float | None = None

    @property
    def settled(self) -> bool:
        return self.logs_after_s is None or self.logs_after_s >= SETTLE_S

    @property
    def reached(self) -> list[NodeTrace]:
        return [n for n in self.nodes if n.status in ("origin", "reached")]

    @property
    def last(self) -> NodeTrace | None:
        """The node the update reached last (by delay since the send)."""
        others = [n for n in self.nodes if n.status == "reached" and n.delay_s is not None]
        return max(others, key=lambda n: n.delay_s or 0.0) if others else None

    def summary(self) -> dict[str, Any]:
        last = self.last
        others = [n for n in self.nodes if n.status != "origin"]
        first = sum(n.arrivals for n in others)
        dups = sum(n.duplicates for n in self.nodes)
        stale = sum(n.stale for n in self.nodes)
        return {
            "nodes_reached": len(self.reached),
            "nodes_expected": len(self.nodes),
            "time_to_last_s": last.delay_s if last else None,
            "last_node": last.node if last else None,
            "max_hops": max((n.hops for n in others if n.hops is not None), default=None),
            "messages": first + dups + stale,
            "first_arrivals": first,
            "duplicates": dups,
            "stale": stale,
            "ttl_drops": sum(n.ttl_drop for n in self.nodes),
            "via": {
                via: sum(1 for n in others if n.via == via and n.status == "reached")
                for via in get_args(Via)
            },
            "duplicates_logged": self.duplicates_logged,
            "settled": self.settled,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "version": self.version,
            "uuid": self.uuid,
            "movie": self.movie,
            "sent_at": _iso(self.sent_at),
            "nodes": [n.to_json() for n in self.nodes],
            "summary": self.summary(),
        }


class Collector:
    """Takes records one by one, keeps what a trace needs, and builds the trace of the
    update named by an origin (`host:port`, bare port or host, or the node's display name
    as its own lines carry it) and a version (None: the newest in the logs), or by a UUID
    (or its first 8+ characters)."""

    def __init__(
        self, origin: str | None = None, version: int | None = None, uuid: str | None = None
    ):
        if (origin is None) == (uuid is None):
            raise ValueError("name the update by origin (and version) or by UUID")
        self.origin, self.version, self.uuid = origin, version, uuid
        self._by_origin: dict[str, list[Record]] = defaultdict(list)
        self._first_line: dict[str, float] = {}
        self._last_line: dict[str, float] = {}
        self._duplicates_logged = False
        self._names: dict[str, str] = {}
        self.records = 0

    def add(self, r: Record) -> None:
        self.records += 1
        node = r.node
        if node:
            if r.name:
                self._names[node] = r.name
            self._first_line.setdefault(node, r.t)
            if r.t > self._last_line.get(node, float("-inf")):
                self._last_line[node] = r.t
        if r.event not in TRACE_EVENTS:
            return
        if r.event in _DUPLICATE_EVENTS:
            self._duplicates_logged = True
        origin = r.origin
        if origin is not None and r.version is not None:
            self._by_origin[origin].append(r)

    def add_all(self, records: Iterable[Record]) -> None:
        for r in records:
            self.add(r)

    # --- naming the update -----------------------------------------------------------
    def _resolve(self) -> tuple[str, int]:
        if self.uuid is not None:
            found = {
                (o, r.version, r.uuid)
                for o, rs in self._by_origin.items()
                for r in rs
                if r.uuid and r.uuid.lower().startswith(self.uuid)
            }
            if not found:
                raise TraceError(f"no update with UUID {self.uuid} in these logs")
            uuids = {u for _, _, u in found}
            if len(uuids) > 1:
                raise TraceError(f"{self.uuid} is the start of {len(uuids)} UUIDs: give more of it")
            ((origin, version, _),) = {(o, v, u) for o, v, u in found}
            assert version is not None
            return origin, version
        assert self.origin is not None
        origins = sorted(
            o
            for o in self._by_origin
            if id_matches(self.origin, o) or self._names.get(o) == self.origin
        )
        if not origins:
            known = ", ".join(sorted(self._by_origin)[:10]) or "none"
            raise TraceError(f"no news from {self.origin} in these logs (origins seen: {known})")
        if len(origins) > 1:
            raise TraceError(
                f"{self.origin} names {len(origins)} origins ({', '.join(origins)}): give host:port"
            )
        origin = origins[0]
        versions = sorted({r.version for r in self._by_origin[origin] if r.version is not None})
        if self.version is None:
            return origin, versions[-1]
        if self.version not in versions:
            near = ", ".join(str(v) for v in versions[-5:])
            raise TraceError(
                f"no line about {origin} version {self.version} in these logs "
                f"({len(versions)} versions of it seen, the newest: {near})"
            )
        return origin, self.version

    # --- the trace --------------------------------------------------------------------
    def trace(self) -> Trace:
        """The trace of the update; TraceError when the logs do not have it."""
        origin, version = self._resolve()
        mine = sorted(
            (r for r in self._by_origin[origin] if r.version == version), key=Record.sort_key
        )
        arrivals: dict[str, Arrival] = {}
        firsts: dict[str, int] = defaultdict(int)  # update_applied lines: restarts make more
        tallied: set[str] = set()
        uuid = None
        for r in mine:
            uuid = uuid or r.uuid
            a = arrivals.get(r.node)
            if a is None:
                a = arrivals[r.node] = Arrival(r.uuid or "", origin, version)
            event = from_line(r.fields)
            if isinstance(event, MovieChanged):
                if a.t is None:
                    a.observe(r.t, event)
            elif isinstance(event, Applied):
                firsts[r.node] += 1
                if firsts[r.node] == 1:
                    a.observe(r.t, event)
                    a.hops, a.ttl = _int(a.hops), _int(a.ttl)
                    a.ttl_drop = a.ttl_drop or a.ttl == 0  # at info level, the TTL drop
            elif r.event == _TALLY:
                if r.node not in tallied:  # the tally replaces any per-message lines
                    tallied.add(r.node)
                    a.dups = a.stale = 0
                    a.senders = {}
                f = r.fields
                a.dups += _int(f.get("duplicates")) or 0
                a.stale += _int(f.get("stale")) or 0
                senders = f.get("senders")
                if isinstance(senders, dict):
                    for who, k in senders.items():
                        a.senders[who] = a.senders.get(who, 0) + (_int(k) or 0)
            elif isinstance(event, Deduplicated | Stale):
                if r.node not in tallied:
                    a.copy(str(event.sender or "?"), stale=isinstance(event, Stale))
            elif event is not None:  # ttl_drop
                a.observe(r.t, event)

        # Every node that has a line about the update, the origin, and the nodes that were
        # running at or after the send but have none; with the first newer version of the
        # origin each applied (it never needed this one).
        records = {node: a.to_json() for node, a in arrivals.items()}
        start = sent_at(records)
        expected = {
            node
            for node, last in self._last_line.items()
            if node in arrivals or start is None or last >= start
        }
        expected |= set(arrivals) | {origin}
        known: dict[str, int | None] = {}
        for node in sorted(expected):
            newer = [
                r
                for r in self._by_origin[origin]
                if r.node == node and r.event == "update_applied" and (r.version or 0) > version
            ]
            known[node] = min(newer, key=Record.sort_key).version if newer else None
        # (the logs do not say the fanout; the trace shows no ideal tree)
        tree = update_tree(records, known, fanout=1)  # None: no node has a first arrival
        built = tree["nodes"] if tree else {}
        overtaken = set(tree["overtaken"]) if tree else set()
        movie = tree["movie"] if tree else None

        nodes: dict[str, NodeTrace] = {}
        for node in known:
            v = built.get(node) or {}
            a = arrivals.get(node) or Arrival(uuid or "", origin, version)
            n = nodes[node] = NodeTrace(node, "not reached")
            n.duplicates, n.stale, n.copy_senders = a.dups, a.stale, dict(a.senders)
            n.ttl_drop, n.arrivals = a.ttl_drop, firsts.get(node, 0)
            if node == origin:
                n.status, n.hops, n.delay_s = "origin", 0, 0.0
                n.at = a.t if a.t is not None else start
            elif v.get("t") is not None:
                n.status, n.at, n.sender, n.hops = "reached", v["t"], v["parent"], v["hops"]
                n.delay_s = round(v["delay_s"], 6)  # log times are to the microsecond
                n.via, n.ttl = v["via"], a.ttl
            elif node in overtaken:
                n.status, n.superseded_by = "superseded", known[node]
        for n in nodes.values():
            n.last_line_at = self._last_line.get(n.node)

        rank = {"origin": 0, "reached": 1, "superseded": 2, "not reached": 3}
        ordered = sorted(
            nodes.values(),
            key=lambda n: (rank[n.status], n.at if n.at is not None else float("inf"), n.node),
        )
        times = [n.at for n in ordered if n.at is not None]
        logs_end = max(self._last_line.values(), default=None)
        after = logs_end - max(times) if times and logs_end is not None else None
        return Trace(origin, version, uuid, movie, start, ordered, self._duplicates_logged, after)


def _int(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


# --- text --------------------------------------------------------------------------------
_COLUMNS = ("node", "arrived", "from", "hops", "delay", "via", "ttl", "dups", "stale", "TTL drop")


def render_trace(
    trace: Trace, palette: Palette, tree: bool = False, names: Names | None = None
) -> list[str]:
    """The trace for people: a heading, one row per node, (the tree,) and the summary last.
    With `names`, nodes are shown by name where their logs carry one (the origin's id is
    in the heading)."""
    label = names.of if names is not None else str
    movie = f' "{trace.movie}"' if trace.movie else ""
    origin = label(trace.origin)
    out = [
        f"update {origin} v{trace.version}{movie}"
        + (f" (uuid {trace.uuid})" if trace.uuid else ""),
        "sent "
        + (
            format_time(trace.sent_at, date=True) + " UTC"
            if trace.sent_at
            else "at an unknown time"
        )
        + f" by {origin}"
        + (f" ({trace.origin})" if origin != trace.origin else ""),
        "",
    ]
    rows = [list(_COLUMNS)]
    for n in trace.nodes:
        if n.status in ("origin", "reached"):
            rows.append(
                [
                    label(n.node),
                    format_time(n.at) if n.at is not None else "-",
                    "(origin)" if n.status == "origin" else label(n.sender or "?"),
                    str(n.hops) if n.hops is not None else "?",
                    _duration(n.delay_s),
                    n.via or "-",
                    str(n.ttl) if n.ttl is not None else "-",
                    str(n.duplicates),
                    str(n.stale),
                    "yes" if n.ttl_drop else "",
                ]
            )
        else:
            why = (
                f"superseded: v{n.superseded_by} came first"
                if n.status == "superseded"
                else "not reached"
            )
            rows.append(
                [label(n.node), why, "", "", "", "", "", str(n.duplicates), str(n.stale), ""]
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    numeric = {3, 4, 6, 7, 8}
    for k, row in enumerate(rows):
        if k and row[2] == "" and row[1].startswith(("superseded", "not reached")):
            cells = [row[0].ljust(widths[0]), row[1]]
            line = "  ".join(cells)
        else:
            cells = [
                cell.rjust(widths[i]) if i in numeric and k else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ]
            line = "  ".join(cells).rstrip()
        if k:
            node = trace.nodes[k - 1].node  # the colour goes with the id
            line = palette.node(node, row[0].ljust(widths[0])) + line[widths[0] :]
        else:
            line = palette.style("1", line)
        out.append(line)
    if tree:
        out += ["", *_tree(trace, palette, label)]
    if not trace.settled:
        out += [
            "",
            f"note: the logs end {trace.logs_after_s:.1f} s after the last arrival: copies "
            f"still on their way and duplicates not yet tallied (each node writes its tally "
            f"{TALLY_WINDOW_S:g} s after the first copy) are missing; trace again in a moment",
        ]
    if not trace.duplicates_logged:
        out += [
            "",
            "note: these logs count no duplicates at all (nodes older than the "
            "update_duplicates tally log them only with GOSSIP_LOG_LEVEL=debug)",
        ]
    out += ["", summary_line(trace, label)]
    return out


def summary_line(trace: Trace, label: Callable[[str], str] = str) -> str:
    s = trace.summary()
    text = f"reached {s['nodes_reached']}/{s['nodes_expected']} nodes"
    if s["time_to_last_s"] is not None:
        hops = s["max_hops"]
        text += f" in {_duration(s['time_to_last_s'])} (last: {label(s['last_node'])}"
        text += f", {hops} hop{'s' * (hops != 1)} deep)" if hops is not None else ")"
    text += (
        f"; {_n(s['messages'], 'message')} spent: {_n(s['first_arrivals'], 'first arrival')}"
        f" ({', '.join(f'{n} {via}' for via, n in s['via'].items() if n) or 'none'}),"
        f" {_n(s['duplicates'], 'duplicate')}, {s['stale']} stale; {_n(s['ttl_drops'], 'TTL drop')}"
    )
    return text


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _tree(trace: Trace, palette: Palette, label: Callable[[str], str] = str) -> list[str]:
    """Who told whom: the update's dissemination tree, children by arrival."""
    children: dict[str | None, list[NodeTrace]] = defaultdict(list)
    present = {n.node for n in trace.reached}
    for n in trace.nodes:
        if n.status == "reached":
            parent = n.sender if n.sender in present else None
            children[parent].append(n)
    lines = [palette.node(trace.origin, label(trace.origin)) + "  (origin)"]

    def walk(node: str | None, indent: str) -> None:
        kids = children.get(node, [])
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            detail = f"hop {kid.hops}  {_duration(kid.delay_s)}  {kid.via or '-'}"
            shown = palette.node(kid.node, label(kid.node))
            lines.append(f"{indent}{'└─ ' if last else '├─ '}{shown}  {detail}")
            walk(kid.node, indent + ("   " if last else "│  "))

    walk(trace.origin, "")
    for n in children.get(None, []):  # told by a node whose logs are not here
        told = label(n.sender) if n.sender else "unknown"
        lines.append(f"{palette.node(n.node, label(n.node))}  from {told} (not in these logs)")
        walk(n.node, "")
    return lines
