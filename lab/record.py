"""Simulated runs written in the observatory's record format, for the page to replay.

Owns the bridge from the simulator (`lab.simnet.Network`) to `node.ledger`: one `Ledger` per
simulated node, fed through `Network.listen` with the virtual time, so a simulated run
writes exactly what a live cluster's `GET /observatory/record` serves, and the page's
"Load a record" replays both. Partitions, heals and crashes made through a `SimRecorder`
are written as the same `faults_set` and `node_stopped` lines a live node writes (a side
of a partition blocks the other side, as `lab.chaos` does it).

    python -m lab.record --nodes 100 --seconds 40 --partition 10:25 --out run.jsonl

warms a 100-node cluster up until it has converged, then records 40 virtual seconds: a
few new favourites at random nodes, the cluster cut in two from 10 s to 25 s, and writes
the record. It leaves `lab.simnet` alone: the recorder only listens and calls its public API.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from lab.cli import command, writable_file
from lab.simnet import Link, Network, node_id
from node.core import Config, Event, GossipNode, converged
from node.ledger import FORMAT, FORMAT_VERSION, Ledger, merge_records
from node.partitions import blocked_by_side

__all__ = ["SimRecorder", "main"]

#: A simulated node keeps its whole run (the ring is for live nodes' memory).
_RING = 10_000_000
_DEFAULTS = Config()


class SimRecorder:
    """Records a `Network` from `start()` on; `record()` is the merged record so far."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.ledgers: dict[str, Ledger] = {}
        self.started_at: float | None = None
        self.events: list[dict[str, Any]] = []  # the scenario's own notes (header)
        net.listen(self._on_events)

    def start(self) -> None:
        """Recording begins now: each running node's state is its first line."""
        self.started_at = self.net.now
        for nid, node in sorted(self.net.nodes.items()):
            self._ledger(nid).attach(self.net.now, node)

    def _ledger(self, nid: str) -> Ledger:
        ledger = self.ledgers.get(nid)
        if ledger is None:
            # no periodic checkpoints: the record starts with one per node and the page
            # makes its own keyframes
            ledger = self.ledgers[nid] = Ledger(
                nid, ring_lines=_RING, checkpoint_s=float("inf"), checkpoint_every=_RING
            )
        return ledger

    def _on_events(self, node: GossipNode, events: list[Event]) -> None:
        if self.started_at is None:
            return
        ledger = self._ledger(node.id)
        if ledger.node is not node:  # a node that joined, or a new life after a crash
            ledger.attach(self.net.now, node)
        ledger.observe(self.net.now, events)

    # --- faults, as the live lab writes them ---------------------------------------------
    def partition(self, *groups: Iterable[str]) -> None:
        sides = [sorted(g) for g in groups]
        listed = {n for g in sides for n in g}
        rest = sorted(n for n in self.net.nodes if n not in listed)
        if rest:
            sides.append(rest)
        self.net.partition(*sides)
        for nid, blocked in blocked_by_side(sides).items():
            self.set_faults(nid, blocked=blocked)

    def heal(self) -> None:
        self.net.heal()
        for nid in sorted(self.ledgers):
            self.set_faults(nid, blocked=[])

    def crash(self, nid: str) -> None:
        self.net.crash(nid)
        if self.started_at is not None:
            self._ledger(nid).detach(self.net.now)

    def restart(self, nid: str, bootstrap: str | None = None) -> None:
        self.net.restart(nid, bootstrap=bootstrap)

    def set_faults(self, nid: str, **changes: Any) -> None:
        """Writes a change of `nid`'s faults (the simulator's links carry them out)."""
        ledger = self._ledger(nid)
        ledger.set_faults(self.net.now, {**ledger.faults, **changes})

    # --- the record ----------------------------------------------------------------------
    def record(self, **header: Any) -> list[dict[str, Any]]:
        """The merged record: header, every line in time order, each node's end state."""
        now = self.net.now
        link = self.net.link
        head = {
            "kind": "header",
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "source": "simulator",
            "since": self.started_at,
            "until": now,
            "nodes": sorted(self.ledgers),
            "missing": {},
            "config": self.net.config.as_dict(),
            "seed": self.net.seed,
            "link": {
                "latency_s": link.latency_s,
                "jitter_s": link.jitter_s,
                "loss": link.loss,
                "duplicate": link.duplicate,
            },
            **header,
        }
        return merge_records(
            (ledger.record(self.started_at, end=now) for ledger in self.ledgers.values()), head
        )


def _publish(net: Network, nid: str) -> None:
    if nid in net.nodes:  # not while it is crashed
        net.publish(nid)


def _span(text: str) -> tuple[float, float]:
    start, sep, end = text.partition(":")
    try:
        a, b = float(start), float(end)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END in seconds, got {text!r}") from None
    if not sep or not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"expected 0 <= START < END, got {text!r}")
    return a, b


def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Runs the scenario the command line describes; the record and a short summary."""
    config = Config(
        fanout=args.fanout, ttl=args.ttl, sync_s=args.sync_s, resample_s=args.resample_s
    )
    link = Link(
        latency_s=args.latency_ms / 1000,
        jitter_s=args.jitter_ms / 1000,
        loss=args.loss,
        duplicate=args.duplicate,
    )
    net = Network(config, seed=args.seed, link=link, check=args.check)
    rec = SimRecorder(net)
    ids = [node_id(i) for i in range(args.nodes)]
    net.cluster(args.nodes)
    warm = net.run_until_converged(args.warmup_s)
    if args.loss:  # the lossy links, as the live lab would set them: each node drops
        for nid in ids:
            rec.set_faults(nid, drop=args.loss)
    rec.start()
    t0 = net.now
    rng = random.Random(args.seed)
    split = max(1, min(args.nodes - 1, round(args.nodes * args.split)))
    side_a, side_b = ids[:split], ids[split:]
    for a, b in args.partition:
        net.at(t0 + a, lambda: rec.partition(side_a, side_b))
        net.at(t0 + b, rec.heal)
    for a, b in args.crash:
        victim = rng.choice(ids[1:] or ids)
        net.at(t0 + a, functools.partial(rec.crash, victim))
        net.at(t0 + b, functools.partial(rec.restart, victim, ids[0]))
    for k in range(args.updates):
        when = t0 + args.seconds * (k + 0.5) / max(args.updates, 1)
        net.at(when, functools.partial(_publish, net, rng.choice(ids)))
    net.run_until(t0 + args.seconds)
    live = list(net.nodes.values())
    summary = {
        "nodes": args.nodes,
        "warmup_s": round(warm, 3),
        "seconds": args.seconds,
        "converged_at_end": converged(live),
    }
    return rec.record(scenario=vars(args) | {"out": str(args.out)}), summary


def main(argv: Sequence[str] | None = None) -> int:
    p = command(
        "lab.record",
        "Simulate a cluster (the real core on a virtual network) and write its "
        "record, which the page's 'Load a record' replays.",
    )
    p.add_argument("--nodes", "-n", type=int, default=100, metavar="N", help="simulated nodes")
    p.add_argument(
        "--seconds", type=float, default=40.0, metavar="S", help="virtual seconds recorded"
    )
    spans = functools.partial(
        p.add_argument, type=_span, action="append", default=[], metavar="START:END"
    )
    spans("--partition", help="cut the cluster in two from START to END seconds (repeatable)")
    p.add_argument(
        "--split",
        type=float,
        default=0.5,
        metavar="SHARE",
        help="share of the nodes on the first side of a partition",
    )
    spans("--crash", help="crash a random node at START, restart it at END (repeatable)")
    p.add_argument(
        "--updates",
        type=int,
        default=8,
        metavar="N",
        help="new favourites at random nodes, spread over the run",
    )
    p.add_argument(
        "--resample-s",
        type=float,
        default=0.0,
        metavar="S",
        help="each node's mean seconds between favourites (0: off)",
    )
    a = p.add_argument
    a("--fanout", type=int, default=_DEFAULTS.fanout, metavar="N", help="peers per push")
    a("--ttl", type=int, default=_DEFAULTS.ttl, metavar="HOPS", help="hops news may travel")
    a("--sync-s", type=float, default=_DEFAULTS.sync_s, metavar="S", help="anti-entropy period")
    a("--latency-ms", type=float, default=10.0, metavar="MS", help="one-way link delay")
    a("--jitter-ms", type=float, default=5.0, metavar="MS", help="extra random delay")
    a("--loss", type=float, default=0.0, metavar="P", help="probability a message is lost")
    a("--duplicate", type=float, default=0.0, metavar="P", help="probability it is doubled")
    a("--warmup-s", type=float, default=120.0, metavar="S", help="virtual seconds to converge")
    a("--seed", type=int, default=1, metavar="N", help="fixes the whole run")
    a("--check", action="store_true", help="check the invariants at every step")
    # checked before the simulation, which can take minutes
    a("--out", "-o", type=writable_file, required=True, metavar="FILE", help="the record (.jsonl)")
    args = p.parse_args(argv)
    if not 2 <= args.nodes <= 2000:
        p.error("--nodes must be between 2 and 2000")
    for a, b in [*args.partition, *args.crash]:
        if b > args.seconds:
            p.error(f"{a}:{b} ends after --seconds {args.seconds}")
    lines, summary = run(args)
    with args.out.open("w") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
    print(
        f"{args.out}: {len(lines)} lines, {summary['nodes']} nodes, "
        f"{summary['seconds']} s recorded after {summary['warmup_s']} s of warm-up; "
        f"converged at the end: {summary['converged_at_end']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
