"""`python -m lab.simulate`: how one update spreads through a simulated cluster.

Owns one experiment: N nodes that all know each other and have nothing left to trade (a
converged cluster), one of them publishes one update, and the deterministic simulator
(`lab.simnet`, driving the real `GossipNode`) runs until every live node knows it. It reports
how long that took and what it cost, and prints one JSON object with `--json` (other tools
read the last line of stdout).

Time. The anti-entropy period is `--period-ms`, by default one link latency, so periods and
link latencies ("rounds") read alike, as in the literature and the issue's aims. The real
node's default period is 1 s with millisecond links; the ratio, not the unit, is what
decides how many rounds an update takes. Pushes go out at once (`push_interval_s` 0).

Messages (HTTP-style: a request and its reply count as 2), split in two:
- `messages`: caused by the update, from the publish until the last copy of it stopped
  travelling: every push and repair carrying it and their replies, and every anti-entropy
  exchange whose reply carried it or asked for it (request and reply both).
- `background_messages`: anti-entropy that found nothing to trade, in the same window. It
  runs whether or not anything is new: 2 messages per node per period (more at loss, as
  failed exchanges are not retried but their replies were already sent).
The cluster is converged on empty state (no node has published before the update), so
digests are short; a cluster of real favourites would send larger digests but not more
messages.

Exit status: 0 when every live node learned the update within `--max-periods`; 1 when
some did not (the JSON says how far it got); 2 for bad arguments; 3 when an invariant
failed (stderr names the seed and step that reproduce it).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, TextIO

from lab.cli import command
from lab.glomers import STRATEGIES as STRATEGY_CONFIGS
from lab.glomers import workload
from lab.simnet import Link, Network, SimulationFailure
from node.core import STRATEGIES, Applied, Config, Deduplicated, Event, GossipNode, Stale
from node.spread_model import karp_rounds, serf_fraction, serf_time, serf_time_to_all

__all__ = ["Experiment", "run", "main"]

_NODE = Config()  # the node's defaults


@dataclass(frozen=True)
class Experiment:
    """One run's parameters (the command line's flags)."""

    nodes: int = 1000
    fanout: int = _NODE.fanout
    ttl: int = _NODE.ttl
    latency_ms: float = 100.0
    jitter_ms: float = 0.0
    jitter: str = "uniform"
    loss: float = 0.0
    duplicate: float = 0.0
    #: anti-entropy period; None: one link latency
    period_ms: float | None = None
    #: when a lost request surfaces as a failure; None: 5 link latencies (at least 1 ms)
    timeout_ms: float | None = None
    push_interval_ms: float = 0.0
    #: fraction of the nodes crashed just before the update (they stay in everyone's roster)
    crashed: float = 0.0
    seed: int = 1
    #: "push" (random) or "tree" (the epidemic broadcast tree, node.core.tree)
    strategy: str = _NODE.strategy
    tree_degree: int = _NODE.tree_degree
    #: the tree's settling time (announcements, anti-entropy); None: 3 link latencies
    lazy_ms: float | None = None
    lazy_fanout: int = _NODE.lazy_fanout
    #: broadcasts from random nodes before the measured one, each until everyone knows it
    #: (the tree forms from the first ones); None: 3 under the tree, 0 under push
    warmup_broadcasts: int | None = None
    warmup_periods: float = 1.0
    max_periods: float = 200.0
    check: bool = True
    curve: bool = False

    @property
    def period_s(self) -> float:
        return (self.latency_ms if self.period_ms is None else self.period_ms) / 1000

    @property
    def lazy_s(self) -> float:
        return (3 * self.latency_ms if self.lazy_ms is None else self.lazy_ms) / 1000 or 1e-3

    @property
    def warmups(self) -> int:
        if self.warmup_broadcasts is not None:
            return self.warmup_broadcasts
        return 3 if self.strategy == "tree" else 0

    @property
    def timeout_s(self) -> float:
        if self.timeout_ms is not None:
            return self.timeout_ms / 1000
        return max(5 * self.latency_ms, 1.0) / 1000

    def config(self) -> Config:
        return Config(
            fanout=self.fanout,
            ttl=self.ttl,
            max_ttl=max(_NODE.max_ttl, self.ttl),
            sync_s=self.period_s,
            push_interval_s=self.push_interval_ms / 1000,
            resample_s=0,
            strategy=self.strategy,
            tree_degree=self.tree_degree,
            lazy_s=self.lazy_s,
            lazy_fanout=self.lazy_fanout,
            # the roster is shared and never copied: the caps are for peers learned later
            max_peers=max(_NODE.max_peers, self.nodes),
        )

    def link(self) -> Link:
        return Link(
            latency_s=self.latency_ms / 1000,
            jitter_s=self.jitter_ms / 1000,
            jitter=self.jitter,
            loss=self.loss,
            duplicate=self.duplicate,
            timeout_s=self.timeout_s,
        )


Progress = Callable[[str], None]


def run(x: Experiment, progress: Progress | None = None) -> dict[str, Any]:
    """Runs experiment `x`; returns the result as JSON-ready data (see the module doc).
    Raises SimulationFailure if an invariant fails."""
    wall_start = time.perf_counter()
    cfg = x.config()
    net = Network(cfg, seed=x.seed, link=x.link(), check=x.check)
    nodes = net.cluster(x.nodes, publish=False, joined=True)
    built_s = time.perf_counter() - wall_start
    net.run_for(x.warmup_periods * x.period_s)
    origin = nodes[0]
    _warm_up(net, x, [n.id for n in nodes[1:]], progress)
    for node in _victims(net, nodes[1:], x.crashed):
        net.crash(node.id)
    live = len(net.nodes)

    arrivals: list[float] = []  # virtual time of each first arrival (the origin excluded)
    target = {"uuid": ""}
    hops = [0]  # the most hops of a first arrival: the last delivery hop (LDH)
    copies = [0]  # payload copies of the update received: first arrivals and the others

    def on(node: GossipNode, events: list[Event]) -> None:
        for e in events:
            if type(e) is Applied and e.uuid == target["uuid"]:
                arrivals.append(net.now)
                copies[0] += 1
                hops[0] = max(hops[0], e.hops)
                if len(arrivals) == live - 1:
                    net.halt()
            elif isinstance(e, (Deduplicated, Stale)) and e.uuid == target["uuid"]:
                copies[0] += 1

    net.listen(on)
    sent0, news0 = net.messages, net.news_messages
    kinds0, news_kinds0 = dict(net.by_kind), dict(net.news_by_kind)
    steps0 = net.steps
    start = net.now
    target["uuid"] = net.publish(origin.id, "Alien").uuid
    deadline = start + x.max_periods * x.period_s
    sim_start = time.perf_counter()
    # run in slices of one period, so progress can be told and the deadline kept
    while len(arrivals) < live - 1 and net.now < deadline:
        net.run_until(min(net.now + x.period_s, deadline))
        if progress is not None:
            elapsed = time.perf_counter() - sim_start
            progress(
                f"t={net.now - start:7.3f} s  {1 + len(arrivals):>7}/{live} know "
                f"({(1 + len(arrivals)) / live:7.2%})  {net.messages - sent0:>9} msgs  "
                f"wall {elapsed:6.1f} s"
            )
    full = len(arrivals) == live - 1
    t_full = arrivals[-1] - start if full and arrivals else (0.0 if full else None)
    # the update's last copies may still be travelling (to nodes that have it): let them land
    if full:
        net.run_until(net.now + x.push_interval_ms / 1000)
        while net.news_in_flight and net.now < deadline:
            net.step()
    window_s = net.now - start
    messages_total = net.messages - sent0
    messages = net.news_messages - news0
    wall_s = time.perf_counter() - wall_start
    times = [t - start for t in arrivals]
    periods_run = (net.now - nodes[0].started_at) / x.period_s
    result: dict[str, Any] = {
        "nodes": x.nodes,
        "live_nodes": live,
        "strategy": x.strategy,
        "fanout": x.fanout,
        "ttl": x.ttl,
        "loss": x.loss,
        "duplicate": x.duplicate,
        "latency_ms": x.latency_ms,
        "jitter_ms": x.jitter_ms,
        "period_ms": x.period_s * 1000,
        "timeout_ms": x.timeout_s * 1000,
        "push_interval_ms": x.push_interval_ms,
        "seed": x.seed,
        "covered": (1 + len(arrivals)) / live,
        "time_to_50_s": _time_to(times, live, 0.5),
        "time_to_99_s": _time_to(times, live, 0.99),
        "time_to_full_s": _round(t_full),
        "rounds_to_99": _rounds(_time_to(times, live, 0.99), x.latency_ms),
        "rounds_to_full": _rounds(t_full, x.latency_ms),
        "messages": messages,
        "messages_per_node": round(messages / x.nodes, 3),
        # Plumtree's measures: payload copies received per node beyond the one needed
        # (relative message redundancy), and the hops of the farthest first arrival
        "payload_copies": copies[0],
        "rmr": round(copies[0] / (live - 1) - 1, 4) if live > 1 and full else None,
        "ldh": hops[0],
        "warmup_broadcasts": x.warmups,
        "messages_by_kind": _delta(net.news_by_kind, news_kinds0),
        "background_messages": messages_total - messages,
        "background_per_node_per_period": round(
            (messages_total - messages) / live / (window_s / x.period_s), 3
        )
        if window_s > 0
        else 0.0,
        "messages_total": messages_total,
        "messages_total_by_kind": _delta(net.by_kind, kinds0),
        "window_s": round(window_s, 6),
        "models": {
            "serf_rounds_to_99": round(serf_time(0.99, x.nodes, x.fanout, loss=x.loss), 2),
            "serf_rounds_to_all": round(serf_time_to_all(x.nodes, x.fanout, loss=x.loss), 2),
            "serf_fraction_at_full": None
            if t_full is None
            else serf_fraction(t_full, x.nodes, x.fanout, x.period_s, x.loss),
            "karp_rounds": round(karp_rounds(x.nodes), 2),
        },
        "steps": net.steps - steps0,
        "checked": x.check,
        "build_seconds": round(built_s, 3),
        "wall_seconds": round(wall_s, 3),
        "wall_seconds_per_period": round((wall_s - built_s) / periods_run, 4),
    }
    if x.curve:
        result["curve"] = _curve(times, live, min(x.latency_ms, x.period_s * 1000) / 10_000)
    return result


def _warm_up(net: Network, x: Experiment, ids: list[str], progress: Progress | None) -> None:
    """Broadcasts from random nodes (not the measured update's origin), one at a time,
    each until every node knows it and one settling time more (prunes and grafts land)."""
    if not x.warmups:
        return
    pick = random.Random(f"warm-up {x.seed}")  # (not the network's: push runs stay as they were)
    for k in range(x.warmups):
        nid = pick.choice(ids)
        known = _Known(net.publish(nid).uuid)
        net.listen(known)
        deadline = net.now + x.max_periods * x.period_s
        while known.nodes < len(net.nodes) and net.now < deadline:
            net.run_for(x.period_s)
        net.run_for(x.lazy_s + 2 * x.latency_ms / 1000)
        net.unlisten(known)
        if progress is not None:
            progress(f"warm-up broadcast {k + 1}/{x.warmups}: {known.nodes}/{len(net.nodes)} know")


class _Known:
    """Counts the nodes that know one update (a listener of the network)."""

    def __init__(self, uuid: str) -> None:
        self.uuid = uuid
        self.nodes = 1  # its origin

    def __call__(self, node: GossipNode, events: list[Event]) -> None:
        self.nodes += sum(1 for e in events if type(e) is Applied and e.uuid == self.uuid)


def _victims(net: Network, candidates: list[GossipNode], fraction: float) -> list[GossipNode]:
    k = round(fraction * (len(candidates) + 1))
    return net.rng.sample(candidates, min(k, len(candidates)))


def _time_to(times: list[float], live: int, fraction: float) -> float | None:
    """When `fraction` of the live nodes knew (the origin knows from the start)."""
    need = math.ceil(fraction * live - 1e-9) - 1  # arrivals needed besides the origin
    if need <= 0:
        return 0.0
    return _round(times[need - 1]) if len(times) >= need else None


def _rounds(t: float | None, latency_ms: float) -> float | None:
    return None if t is None or latency_ms == 0 else round(t / (latency_ms / 1000), 3)


def _round(t: float | None) -> float | None:
    return None if t is None else round(t, 6)


def _delta(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in sorted(now.items()) if v - before.get(k, 0)}


def _curve(times: list[float], live: int, step_s: float) -> list[list[float]]:
    """[t_s, fraction known]: the coverage at the last arrival of each step_s-wide slice of
    time (at most one point per slice), from the publish on."""
    points = [[0.0, round(1 / live, 6)]]
    last_slice = 0
    for i, t in enumerate(times):
        point = [round(t, 6), round((i + 2) / live, 6)]
        slice_ = int(t / step_s) if step_s > 0 else i
        if slice_ == last_slice and len(points) > 1:
            points[-1] = point
        else:
            points.append(point)
            last_slice = slice_
    return points


def _report(r: dict[str, Any], out: TextIO) -> None:
    def secs(t: float | None) -> str:
        return "never" if t is None else f"{t:.3f} s"

    latency_s = r["latency_ms"] / 1000
    print(
        f"{r['nodes']:,} nodes, fanout {r['fanout']}, TTL {r['ttl']}, "
        f"{r['latency_ms']:g} ms links, {r['loss']:.0%} loss, period {r['period_ms']:g} ms, "
        f"seed {r['seed']}",
        file=out,
    )
    rounds = "" if r["rounds_to_full"] is None else f" ({r['rounds_to_full']:.1f} link latencies)"
    print(
        f"update known by 50 % in {secs(r['time_to_50_s'])}, 99 % in {secs(r['time_to_99_s'])}, "
        f"100 % in {secs(r['time_to_full_s'])}{rounds}; covered {r['covered']:.2%}",
        file=out,
    )
    kinds = ", ".join(f"{k} {v:,}" for k, v in r["messages_by_kind"].items())
    print(
        f"messages caused by the update: {r['messages']:,} ({r['messages_per_node']:.2f} per "
        f"node; {kinds})",
        file=out,
    )
    print(
        f"background anti-entropy in the same {r['window_s']:.3f} s: "
        f"{r['background_messages']:,} ({r['background_per_node_per_period']:.2f} per node per "
        "period)",
        file=out,
    )
    m = r["models"]
    print(
        f"models: Serf reaches 99 % in {m['serf_rounds_to_99'] * r['period_ms'] / 1000:.3f} s, "
        f"all but one node in {m['serf_rounds_to_all'] * r['period_ms'] / 1000:.3f} s; "
        f"Karp push-pull ~{m['karp_rounds'] * latency_s:.3f} s",
        file=out,
    )
    print(
        f"wall {r['wall_seconds']:.2f} s ({r['wall_seconds_per_period']:.3f} s per simulated "
        f"period, {r['steps']:,} steps{', invariants checked' if r['checked'] else ''})",
        file=out,
    )


def parser() -> argparse.ArgumentParser:
    p = command(
        "lab.simulate",
        "Spread one update through a simulated, converged cluster of gossip "
        "nodes (the real protocol core on a deterministic network) and report how long it "
        "took and what it cost.",
        epilog="Exit status: 0 everyone learned the update, 1 not within --max-periods, "
        "2 bad arguments, 3 an invariant failed (stderr names the seed and step).",
    )
    d = Experiment()
    a = p.add_argument
    a("--nodes", type=_int(2), default=d.nodes, metavar="N", help="cluster size")
    a("--fanout", type=_int(1), default=d.fanout, metavar="N", help="peers per push")
    a("--ttl", type=_int(0), default=d.ttl, metavar="HOPS", help="hops news may travel")
    a("--latency-ms", type=_num(0), default=d.latency_ms, metavar="MS", help="one-way link latency")
    a(
        "--jitter-ms",
        type=_num(0),
        default=d.jitter_ms,
        metavar="MS",
        help="extra delay per message",
    )
    a("--jitter", choices=("uniform", "exponential"), default=d.jitter, help="its distribution")
    a("--loss", type=_prob, default=d.loss, metavar="P", help="chance a request or reply is lost")
    a("--duplicate", type=_prob, default=d.duplicate, metavar="P", help="chance of a double")
    a("--period-ms", type=_num(0.001), metavar="MS", help="anti-entropy period (default: latency)")
    a("--timeout-ms", type=_num(0), metavar="MS", help="failure after (default: 5 latencies)")
    a(
        "--push-interval-ms",
        type=_num(0),
        default=0.0,
        metavar="MS",
        help="batch pushes (0: at once)",
    )
    a("--crashed", type=_prob, default=0.0, metavar="P", help="share of nodes down at the update")
    a("--seed", type=int, default=d.seed, metavar="N", help="fixes the whole run")
    a("--strategy", choices=STRATEGIES, default=d.strategy, help="how news is pushed")
    a("--tree-degree", type=_int(1), default=d.tree_degree, metavar="N", help="tree: first peers")
    a("--lazy-ms", type=_num(0.001), metavar="MS", help="tree: settling (default: 3 latencies)")
    a("--lazy-fanout", type=_int(1), default=d.lazy_fanout, metavar="N", help="tree: announced to")
    a(
        "--warmup-broadcasts",
        type=_int(0),
        metavar="N",
        help="broadcasts before the measured one (default: 3 under tree, 0 under push)",
    )
    a("--workload", choices=("glomers",), help="run a workload instead (see --help's epilog)")
    a("--partition-s", type=_num(0), default=0.0, metavar="S", help="glomers: cut in two, mid-run")
    a("--warmup-periods", type=_num(0), default=d.warmup_periods, metavar="N", help="before it")
    a("--max-periods", type=_num(1), default=d.max_periods, metavar="N", help="give up after")
    a("--no-check", action="store_true", help="skip the invariant checks at every step")
    a("--curve", action="store_true", help="add the coverage over time")
    a("--json", action="store_true", help="print one JSON object (on the last line)")
    a("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.workload == "glomers":
        return _glomers(args)
    # every field of an experiment is the flag of the same name, but --no-check
    flags = {f.name: getattr(args, f.name) for f in fields(Experiment) if f.name != "check"}
    x = Experiment(**flags, check=not args.no_check)
    if x.period_s <= 0:
        print("lab.simulate: with --latency-ms 0, give --period-ms", file=sys.stderr)
        return 2
    try:
        x.config()
        x.link()
    except ValueError as e:
        print(f"lab.simulate: {e}", file=sys.stderr)
        return 2
    try:
        result = run(x, None if args.quiet else _Progress(sys.stderr))
    except SimulationFailure as e:
        print(f"lab.simulate: invariant failed: {e}", file=sys.stderr)
        return 3
    if args.json:
        print(json.dumps(result))
    else:
        _report(result, sys.stdout)
        if x.curve:
            print("coverage over time (s, fraction):", file=sys.stdout)
            for t, f in result["curve"]:
                print(f"  {t:9.4f}  {f:8.4%}", file=sys.stdout)
    return 0 if result["time_to_full_s"] is not None else 1


def _glomers(args: argparse.Namespace) -> int:
    """The Gossip Glomers workload (lab.glomers) with the chosen configuration of
    --strategy: its figures, and exit status 0 if every update reached every node."""
    strategy = next(s for s in STRATEGY_CONFIGS if s.strategy == args.strategy)
    r = workload(strategy, args.seed, check=not args.no_check, partition_s=args.partition_s)
    delays = r["delays_s"]
    out = {
        "workload": "glomers",
        "strategy": args.strategy,
        "configuration": strategy.what,
        "seed": args.seed,
        "nodes": r["nodes"],
        "updates": r["updates"],
        "partition_s": args.partition_s,
        "msgs_per_update": r["msgs_per_update"],
        "median_ms": _ms(r["median_s"]),
        "p99_ms": _ms(r["p99_s"]),
        "max_ms": _ms(r["max_s"]),
        "delivered_ratio": round(len(delays) / r["updates"], 6),
        "messages": r["messages"],
        "messages_by_kind": r["by_kind"],
        "wall_seconds": r["wall_s"],
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"Gossip Glomers workload, {out['nodes']} nodes, {args.strategy} "
            f"({strategy.what}), seed {args.seed}"
            + (f", cut in two for {args.partition_s:g} s mid-run" if args.partition_s else "")
        )
        print(
            f"{out['msgs_per_update']} msgs/update; an update reached every node in median "
            f"{out['median_ms']} ms, p99 {out['p99_ms']} ms, max {out['max_ms']} ms; "
            f"{out['delivered_ratio']:.2%} of the updates reached every node"
        )
    return 0 if len(delays) == r["updates"] else 1


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


class _Progress:
    """Progress lines on stderr, at most one every 2 s, and only once a run has taken 2 s."""

    def __init__(self, out: TextIO, every_s: float = 2.0) -> None:
        self.out = out
        self.every_s = every_s
        self.next_at = time.perf_counter() + every_s

    def __call__(self, line: str) -> None:
        now = time.perf_counter()
        if now >= self.next_at:
            self.next_at = now + self.every_s
            print(line, file=self.out, flush=True)


def _int(lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value

    return parse


def _num(lo: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not lo <= value < math.inf:
            raise argparse.ArgumentTypeError(f"must be a finite number >= {lo}, got {text}")
        return value

    return parse


def _prob(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
