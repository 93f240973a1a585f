"""`python -m lab.experiment`: one scenario, run on the simulator, on local processes or in
the Compose lab, and runs compared.

Owns experiments: a scenario (`lab.scenario`, a TOML file) played on a substrate, the record
it leaves, the figures read from that record, and the comparison of runs.

    python -m lab.experiment run steady --on sim --out runs/steady-sim
    python -m lab.experiment run steady --on local --out runs/steady-local
    python -m lab.experiment compare runs/steady-sim runs/steady-local

Both substrates play the same schedule: the new favourites (each node about every `pace_s`,
drawn from the scenario's seed, none in the last `quiet_s`) and the timeline's actions come
from the experiment, not from the nodes' own timers, so the two runs make the same updates at
the same moments; `warmup_s` of them at the same pace come first, unmeasured, while the
broadcast tree forms. One fault mechanism per substrate:
- `sim`: `lab.simnet` (the real core in virtual time); partitions, crashes, pauses and
  disconnects by the network, a node's faults on its links (`SIM_FAULTS` says how they map);
- `local`: `lab.cluster` processes on loopback; faults, partitions and disconnects through
  each node's fault layer (`PUT /admin/faults`), kills by SIGKILL, restarts as new
  processes, pauses by SIGSTOP and SIGCONT;
- `compose`: the Compose lab under a project of its own, reached through the ports its
  nodes publish on 127.0.0.1; faults as for local processes, `docker kill`, `start`,
  `pause`, `unpause` and `docker network disconnect` and `connect`.

Either way the run writes into DIR: `record.jsonl` (the observatory's record format, so the
page's "Load a record" replays it; its header holds the scenario and the link model),
`updates.json` (every update and when each node got it), `summary.json` and `coverage.png`.
The figures come from the record alone, by the same code for both substrates:
- `reach_all_p50_s`, `reach_all_p99_s`: per update made before the quiet spell, the time
  until every node up at the end knew it (or a newer version of its origin);
- `msgs_per_update`: node-to-node messages (a request and its reply are two) over updates;
- `heal_to_all_s` (with a heal in the timeline): from the last heal until every update made
  before it had reached every node;
- `converged`: at the end, every node up holds every such node's own version.
With `--json` the last line is one JSON object (the summary). Exit codes: 0 when the run
converged, 1 when it did not, 2 for usage errors (a bad scenario names the field).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lab.cli import HelpFormatter, command, missing_extra
from lab.hostnet import arp_warning
from lab.scenario import Action, Scenario, ScenarioError, load, shipped, sides, targets
from node.core.config import VERSION_TICKS_PER_S
from node.ledger import NO_FAULTS

__all__ = [
    "SIM_LINK",
    "Run",
    "calibration",
    "compare",
    "figures",
    "main",
    "run",
    "save",
    "schedule",
]

SUBSTRATES = ("sim", "local", "compose")
#: The simulator's links, uncalibrated: 2 ms one way plus up to 2 ms of jitter (loopback
#: HTTP between busy processes; `--calibrate DIR` takes them from a measured run instead);
#: a node's first request to a peer 2 ms later still (opening the connection its later
#: requests reuse: on this machine a first aiohttp POST took 1.6 ms at the median and
#: 3.5 ms at p90, a kept-alive one 0.76 and 1.3 ms, idle; more while processes start);
#: nodes joining 0.3 s apart (as `lab.cluster` starts processes here, measured from their
#: start times). The last two shape the broadcast tree: a node's first eager peers are the
#: members it knows at its first push, and the first broadcasts prune the links whose
#: copies came second, so a newcomer's direct links (new connections) lose to the path
#: through the bootstrap node (kept alive since the newcomer asked it for peers).
SIM_LINK = {"latency_s": 0.002, "jitter_s": 0.002, "connect_s": 0.002, "join_gap_s": 0.3}
#: A new connection's cost over a kept-alive request's, as a share of a hop (measured
#: here, idle: 1.63 ms against 0.76 ms at the median, (1.63 - 0.76) / 0.76).
CONNECT_RATIO = 1.1
#: A request that does not come back is failed after this long, on both substrates.
TIMEOUT_S = 2.0
#: Coverage curves are sampled at this many points up to the slowest arrival.
CURVE_POINTS = 400
TOKEN = "experiment-admin-token"
#: The project's root: docker-compose.yml is there.
ROOT = Path(__file__).resolve().parents[1]

Say = Callable[[str], None]


class Run:
    """What one substrate hands back: the record, the messages sent, and how it was set up."""

    def __init__(self, record: list[dict[str, Any]], messages: int, link: dict[str, Any]) -> None:
        self.record, self.messages, self.link = record, messages, link


# --- the schedule ----------------------------------------------------------------------------
def schedule(sc: Scenario) -> list[tuple[float, str, Any]]:
    """Every step of the run, in time order, as (seconds from the start, kind, what): the
    new favourites ("publish", node index) and the timeline ("action", Action). The same
    for every substrate: it depends on the scenario and its seed alone."""
    steps: list[tuple[float, str, Any]] = [(a.at, "action", a) for a in sc.timeline]
    paced = _paced(sc, random.Random(sc.seed), sc.seconds - sc.quiet_s)
    steps += [(t, "publish", i) for t, i in paced]
    return sorted(steps, key=lambda s: (s[0], s[1] != "action"))


def warmup(sc: Scenario) -> list[tuple[float, int]]:
    """The new favourites of the warm-up, (seconds from its start, node index): the
    scenario's pace for `warmup_s`, from its own draw of the seed."""
    return sorted(_paced(sc, random.Random(f"warmup-{sc.seed}"), sc.warmup_s))


def _paced(sc: Scenario, rng: random.Random, until: float) -> list[tuple[float, int]]:
    """Each node's new favourites before `until`, about every `pace_s` (times 1 -/+ the
    node's own `resample_jitter`, as its timer draws them), node by node."""
    if sc.pace_s <= 0:
        return []
    spread = sc.config().resample_jitter
    out = []
    for i in range(sc.nodes):
        t = rng.uniform(0, sc.pace_s)
        while t < until:
            out.append((t, i))
            t += sc.pace_s * rng.uniform(1 - spread, 1 + spread)
    return out


# --- the simulator ---------------------------------------------------------------------------
#: How a node's faults become its links in the simulator. A live node's fault layer acts on
#: the requests it sends; a simulated link acts on every message both ways. A node's drop
#: d loses d of its own exchanges and none of its peers', d/2 of its exchanges on average;
#: a link loss of d/4 (request or reply, both ways) loses about as many. A delay is felt
#: one way in the live lab (on what the node sends) and on every message in the simulator,
#: hence half of it on the link.
SIM_FAULTS = {"drop": 0.25, "duplicate": 0.5, "delay_ms": 0.5, "jitter_ms": 0.5}


def run_sim(sc: Scenario, say: Say, link: dict[str, float] | None = None) -> Run:
    """Plays the scenario in `lab.simnet` and returns its record."""
    import dataclasses

    from lab.record import SimRecorder
    from lab.simnet import Link, Network, node_id
    from node.partitions import blocked_by_side

    link = dict(link or SIM_LINK)
    base = Link(
        latency_s=link["latency_s"],
        jitter_s=link["jitter_s"],
        timeout_s=TIMEOUT_S,
        connect_s=link.get("connect_s", SIM_LINK["connect_s"]),
    )
    net = Network(
        dataclasses.replace(sc.config(), resample_s=0.0),
        seed=sc.seed,
        link=base,
        check=False,
        service_s=link.get("service_s", 0.0),
    )
    rec = SimRecorder(net)
    ids = [node_id(i) for i in range(sc.nodes)]
    parted: dict[str, list[str]] = {}  # node -> the peers its partition walls off
    cut: set[str] = set()  # nodes off the network
    for k, nid in enumerate(ids):  # one after another, as the live substrates start them
        net.add(nid, bootstrap=ids[0] if k else None)
        net.run_for(link.get("join_gap_s", SIM_LINK["join_gap_s"]))
    warm = net.run_until_converged(120.0)
    say(f"  sim: {sc.nodes} nodes joined and converged in {warm:.1f} virtual s")
    down: set[str] = set()

    def publish(i: int) -> None:  # (a frozen or cut-off node picks nothing: as on live nodes)
        nid = ids[i]
        if nid in net.nodes and nid not in down and nid not in cut and not net.paused(nid):
            net.publish(nid)

    def walls(**also: Any) -> None:  # (each node's faults line, as live nodes write them)
        for nid, b in _blocked(ids, parted, cut).items():
            rec.set_faults(nid, **{**also, "blocked": b})

    start = net.now
    for at, i in warmup(sc):
        net.at(start + at, functools.partial(publish, i))
    net.run_until(start + sc.warmup_s)
    rec.start()
    t0, m0 = net.now, net.messages

    def act(a: Action) -> None:
        if a.action == "partition":
            groups = [[ids[i] for i in side] for side in sides(a, sc.nodes)]
            net.partition(*groups)
            parted.clear()
            parted.update(blocked_by_side(groups))
            walls()
        elif a.action == "heal":
            net.heal()
            net.clear_links()
            parted.clear()
            walls(**NO_FAULTS)
        elif a.action in ("disconnect", "reconnect"):
            for i in targets(a, sc.nodes):
                if a.action == "disconnect":
                    cut.add(ids[i])
                    net.disconnect(ids[i])
                else:
                    cut.discard(ids[i])
                    net.reconnect(ids[i])
            walls()
        elif a.action == "kill":
            for i in targets(a, sc.nodes):
                if ids[i] not in down:
                    down.add(ids[i])
                    rec.crash(ids[i])
        elif a.action == "restart":
            for i in targets(a, sc.nodes):
                if ids[i] in down:
                    down.discard(ids[i])
                    rec.restart(ids[i], bootstrap=ids[0] if i else None)
        elif a.action == "faults":
            f = dict(a.faults)
            changed = dataclasses.replace(
                base,
                loss=min(0.99, f.get("drop", 0.0) * SIM_FAULTS["drop"]),
                duplicate=min(0.99, f.get("duplicate", 0.0) * SIM_FAULTS["duplicate"]),
                latency_s=base.latency_s + f.get("delay_ms", 0.0) * SIM_FAULTS["delay_ms"] / 1000,
                jitter_s=base.jitter_s + f.get("jitter_ms", 0.0) * SIM_FAULTS["jitter_ms"] / 1000,
            )
            for i in targets(a, sc.nodes):
                rec.set_faults(ids[i], **f)
                for other in ids:
                    if other != ids[i]:
                        net.set_link(ids[i], other, changed)
        elif a.action == "pause":
            for i in targets(a, sc.nodes):
                if ids[i] not in down:
                    net.pause(ids[i])
        elif a.action == "resume":
            for i in targets(a, sc.nodes):
                net.resume(ids[i])
        elif a.action == "burst":
            for i in targets(a, sc.nodes):
                publish(i)

    for at, kind, what in schedule(sc):
        net.at(t0 + at, functools.partial(act if kind == "action" else publish, what))
    net.run_until(t0 + sc.seconds)
    for nid in ids:  # (as the live runner resumes them to read their records)
        net.resume(nid)
    record = rec.record(scenario=sc.to_json(), substrate="sim", calibration=link)
    return Run(record, net.messages - m0, link)


def _blocked(ids: list[str], parted: dict[str, list[str]], cut: set[str]) -> dict[str, list[str]]:
    """Each node's `blocked` peers (the fault layer's): those its partition walls off, and
    for a node off the network every peer (for the others, every node off the network)."""
    everyone = set(ids)
    return {
        nid: sorted(set(parted.get(nid, ())) | ((everyone if nid in cut else cut) - {nid}))
        for nid in ids
    }


# --- live nodes: local processes and the Compose lab -----------------------------------------
class Live:
    """What the live runner needs of a substrate: node `i`'s id (as it names itself) and the
    address the runner reaches it at, and a way to kill and restart it."""

    ids: list[str]
    urls: list[str]
    #: Whether the substrate takes a node off the network itself (`disconnect`); if not,
    #: the runner cuts it off with the nodes' fault layer.
    disconnects = False

    def disconnect(self, i: int) -> None:
        raise NotImplementedError

    def reconnect(self, i: int) -> None:
        raise NotImplementedError

    def kill(self, i: int) -> None:
        raise NotImplementedError

    def restart(self, i: int) -> None:
        raise NotImplementedError

    def pause(self, i: int) -> None:
        raise NotImplementedError

    def resume(self, i: int) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class LocalLive(Live):
    """`lab.cluster` processes on loopback: a node's id is its address."""

    def __init__(self, sc: Scenario, say: Say, base_port: int) -> None:
        from lab.bench.load import free_ports
        from lab.cluster import LocalCluster

        # (GOSSIP_SEED is mixed with each node's address: the nodes still choose differently)
        env = {"GOSSIP_ADMIN_TOKEN": TOKEN, "GOSSIP_SEED": str(sc.seed), **live_env(sc)}
        port0 = base_port or free_ports(sc.nodes, lo=8100, hi=8900)
        self.cluster = LocalCluster(sc.nodes, base_port=port0, env=env)
        self.ids = self.urls = [f"127.0.0.1:{p}" for p in self.cluster.ports]
        say(f"  local: starting {sc.nodes} node processes on ports {port0}-{port0 + sc.nodes - 1}")
        try:
            self.cluster.start_all()
            self.cluster.wait_ready(60 + sc.nodes)
        except BaseException:
            self.cluster.stop_all()
            raise

    def kill(self, i: int) -> None:
        self.cluster.kill(self.cluster.ports[i])

    def restart(self, i: int) -> None:
        self.cluster.start(self.cluster.ports[i])

    def pause(self, i: int) -> None:
        self.cluster.pause(self.cluster.ports[i])

    def resume(self, i: int) -> None:
        self.cluster.resume(self.cluster.ports[i])

    def stop(self) -> None:
        self.cluster.stop_all()


class ComposeLive(Live):
    """The Compose lab (`docker compose up --scale peer=N-1`) under a project of its own: a
    node's id is its container's address; the runner reaches each node through the port
    it publishes on 127.0.0.1, and kills and restarts containers with `docker`."""

    disconnects = True

    def __init__(self, sc: Scenario, say: Say) -> None:
        import os
        import secrets

        # unique to this run: a lab left behind by an earlier run (a crash, a restarted
        # engine bringing its containers back) is never adopted nor taken down by this one
        self.project = f"gossipexp{os.getpid()}-{secrets.token_hex(3)}"
        self.paused: set[int] = set()
        #: node -> its address, while it is off the network (it gets it back: it is its id)
        self.offline: dict[int, str] = {}
        self.network = f"{self.project}_gossip"
        self.env = {**os.environ, "GOSSIP_ADMIN_TOKEN": TOKEN, **live_env(sc, compose=True),
                    "LAB_BOOTSTRAP_PORT": "0", "LAB_PROMETHEUS_PORT": "0",
                    "LAB_GRAFANA_PORT": "0"}  # fmt: skip
        # The project's network gets a subnet of its own choosing: docker hands a container
        # its old address back (`network connect --ip`) only on such a network.
        self._files = tempfile.TemporaryDirectory(prefix="gossipexp")
        self.override = Path(self._files.name) / "network.yml"
        self.override.write_text(
            f"networks:\n  gossip:\n    ipam:\n      config:\n        - subnet: {self._subnet()}\n"
        )
        say(f"  compose: project {self.project}, up with {sc.nodes - 1} peers")
        warning = arp_warning(sc.nodes)
        if warning:
            say(f"  warning: {warning}")
        try:
            self._compose("up", "-d", "--scale", f"peer={sc.nodes - 1}", "bootstrap", "peer")
            self.containers = [self._containers("bootstrap")[0], *self._containers("peer")]
            self.urls = [self._published(c) for c in self.containers]
            self.ids = [self._id(u) for u in self.urls]
        except BaseException:
            self.stop()
            raise

    def _run(self, *args: str) -> str:
        r = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise OSError(f"{' '.join(args[:4])}: {(r.stderr.strip() or '?').splitlines()[-1]}")
        return r.stdout

    def _compose(self, *args: str) -> str:
        files = ("-f", str(ROOT / "docker-compose.yml"), "-f", str(self.override))
        return self._run("docker", "compose", "-p", self.project, *files, *args)

    def _containers(self, service: str) -> list[str]:
        out = self._run("docker", "ps", "-a", "--filter",
                        f"label=com.docker.compose.project={self.project}", "--filter",
                        f"label=com.docker.compose.service={service}", "--format",
                        '{{.Label "com.docker.compose.container-number"}} {{.ID}}')  # fmt: skip
        return [
            cid for _, cid in sorted((int(n), cid) for n, cid in map(str.split, out.splitlines()))
        ]

    def _published(self, container: str) -> str:
        end = time.monotonic() + 60
        while True:
            out = self._run("docker", "port", container, "7000/tcp").split()
            if out or time.monotonic() > end:
                break
            time.sleep(0.5)
        if not out:
            raise OSError(f"container {container[:12]} publishes no port")
        return "127.0.0.1:" + out[0].rsplit(":", 1)[1]

    def _id(self, url: str) -> str:
        end = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://{url}/healthz", timeout=5) as r:
                    return str(json.loads(r.read())["id"])
            except (OSError, ValueError, KeyError):
                if time.monotonic() > end:
                    raise OSError(f"the node at {url} did not become healthy") from None
                time.sleep(0.5)

    def kill(self, i: int) -> None:
        self._run("docker", "kill", self.containers[i])

    def restart(self, i: int) -> None:
        self._run("docker", "start", self.containers[i])
        self.urls[i] = self._published(self.containers[i])  # (a new port, maybe)

    def pause(self, i: int) -> None:
        self._run("docker", "pause", self.containers[i])
        self.paused.add(i)

    def resume(self, i: int) -> None:
        self._run("docker", "unpause", self.containers[i])
        self.paused.discard(i)

    def disconnect(self, i: int) -> None:
        address = self._address(self.containers[i])
        self._run("docker", "network", "disconnect", self.network, self.containers[i])
        self.offline[i] = address

    def reconnect(self, i: int) -> None:
        """Back on the network at its old address (the node's id is its address)."""
        address = self.offline.pop(i)
        self._run("docker", "network", "connect", "--ip", address, self.network,
                  self.containers[i])  # fmt: skip
        self.urls[i] = self._published(self.containers[i])  # (docker publishes it anew)

    def _subnet(self) -> str:
        """A /24 that no docker network and no route of this host uses."""
        import ipaddress
        import secrets

        used = []
        nets = self._run("docker", "network", "ls", "-q").split()
        if nets:
            fmt = "{{range .IPAM.Config}}{{.Subnet}} {{end}}"
            used += self._run("docker", "network", "inspect", "-f", fmt, *nets).split()
        with contextlib.suppress(OSError):  # (Linux: destination and mask, little-endian hex)
            for row in Path("/proc/net/route").read_text().splitlines()[1:]:
                f = row.split()
                dest, mask = (int.from_bytes(bytes.fromhex(x), "little") for x in (f[1], f[7]))
                if mask:
                    used.append(f"{ipaddress.IPv4Address(dest)}/{ipaddress.IPv4Address(mask)}")
        taken = [ipaddress.IPv4Network(u, strict=False) for u in used if "." in u]
        pool = list(ipaddress.IPv4Network("10.213.0.0/16").subnets(new_prefix=24))
        start = secrets.randbelow(len(pool))
        for net in pool[start:] + pool[:start]:
            if not any(net.overlaps(t) for t in taken):
                return str(net)
        raise OSError("no free /24 in 10.213.0.0/16 for the experiment's network")

    def _address(self, container: str) -> str:
        fmt = f'{{{{(index .NetworkSettings.Networks "{self.network}").IPAddress}}}}'
        return self._run("docker", "inspect", "-f", fmt, container).strip()

    def stop(self) -> None:
        for i in list(self.paused):  # (a paused container is not stopped: unpaused first)
            with contextlib.suppress(OSError):
                self.resume(i)
        for i in list(self.offline):
            with contextlib.suppress(OSError):
                self.reconnect(i)
        try:
            self._compose("down", "-v", "--remove-orphans")
        finally:
            self._files.cleanup()


def run_live(sc: Scenario, say: Say, live: Live) -> Run:
    """Plays the scenario on live nodes and returns their record."""
    from node.core import views_converged
    from node.ledger import FORMAT, FORMAT_VERSION, merge_records
    from node.partitions import blocked_by_side

    ids, urls = live.ids, live.urls
    try:
        end = time.monotonic() + 60
        while not views_converged(_views(urls, ids), ids):
            if time.monotonic() > end:
                raise TimeoutError("the cluster did not converge within 60 s of starting")
            time.sleep(0.2)
        start = time.time()
        for at, i in warmup(sc):
            time.sleep(max(0.0, start + at - time.time()))
            _admin(urls[i], "/favourite", None, method="POST")
        time.sleep(max(0.0, start + sc.warmup_s - time.time()))
        sent0 = _requests_sent(urls)
        t0 = time.time()
        down: set[int] = set()
        paused: set[int] = set()
        offline: set[int] = set()  # off the network by the substrate's hand (`docker network`)
        #: a node the runner cannot reach (paused, offline) -> the faults it is to get after
        held: dict[int, list[dict[str, Any]]] = {}
        parted: dict[str, list[str]] = {}  # node -> the peers its partition walls off
        cut: set[str] = set()  # nodes off the network through the fault layer
        lives: list[list[dict[str, Any]]] = []  # the records of killed nodes' past lives

        def faults(i: int, body: dict[str, Any]) -> None:
            if i in paused or i in offline:
                held.setdefault(i, []).append(body)
            elif i not in down:
                _admin(urls[i], "/admin/faults", body)

        def walls(**also: Any) -> None:
            blocked = _blocked(ids, parted, cut)
            for i, node in enumerate(ids):
                faults(i, {**also, "blocked": blocked[node]})

        def back(i: int) -> None:  # (reachable again: the faults it missed, in order)
            if i not in paused and i not in offline:
                for body in held.pop(i, []):
                    _admin(urls[i], "/admin/faults", body)

        def resume(i: int) -> None:
            if i in paused:
                live.resume(i)
                paused.discard(i)
                back(i)

        def reconnect(i: int) -> None:
            if i in offline:
                live.reconnect(i)
                offline.discard(i)
                back(i)

        def act(a: Action) -> None:
            if a.action == "partition":
                groups = [[ids[i] for i in side] for side in sides(a, sc.nodes)]
                parted.clear()
                parted.update(blocked_by_side(groups))
                walls()
            elif a.action == "heal":
                parted.clear()
                walls(**NO_FAULTS)
            elif a.action == "disconnect":
                gone = down | offline
                chosen = [i for i in targets(a, sc.nodes) if i not in gone]
                if live.disconnects:
                    for i in chosen:
                        live.disconnect(i)
                        offline.add(i)
                elif not {ids[i] for i in chosen} <= cut:
                    cut.update(ids[i] for i in chosen)
                    walls()
            elif a.action == "reconnect":
                chosen = targets(a, sc.nodes)
                for i in chosen:
                    reconnect(i)
                if cut & {ids[i] for i in chosen}:
                    cut.difference_update(ids[i] for i in chosen)
                    walls()
            elif a.action == "pause":
                for i in targets(a, sc.nodes):
                    if i not in down and i not in paused:
                        live.pause(i)
                        paused.add(i)
            elif a.action == "resume":
                for i in targets(a, sc.nodes):
                    resume(i)
            elif a.action == "kill":
                for i in targets(a, sc.nodes):
                    if i not in down:  # its life so far is kept: a restart begins a new record
                        resume(i)  # (a paused or offline node hands over its record first)
                        reconnect(i)
                        lives.append(_past_life(urls[i], ids[i], t0))
                        down.add(i)
                        live.kill(i)
            elif a.action == "restart":
                for i in targets(a, sc.nodes):
                    if i in down:
                        down.discard(i)
                        live.restart(i)
            elif a.action == "faults":
                for i in targets(a, sc.nodes):
                    faults(i, dict(a.faults))
            elif a.action == "burst":
                for i in targets(a, sc.nodes):
                    publish(i)

        def publish(i: int) -> None:  # (on no substrate does a frozen or cut-off node pick)
            if i not in down and i not in paused and i not in offline and ids[i] not in cut:
                _admin(urls[i], "/favourite", None, method="POST")

        steps = schedule(sc)
        say(f"  {sum(s[1] == 'publish' for s in steps)} updates and "
            f"{len(sc.timeline)} actions over {sc.seconds:g} s")  # fmt: skip
        for at, kind, what in steps:
            time.sleep(max(0.0, t0 + at - time.time()))
            try:
                act(what) if kind == "action" else publish(what)
            except OSError as e:  # (a node still starting: the step is lost, and said)
                say(f"  {kind} at {at:.1f} s failed: {e}")
        time.sleep(max(0.0, t0 + sc.seconds - time.time()))
        until = time.time()
        for i in list(paused):  # (a paused or offline node would not hand over its record)
            resume(i)
        for i in list(offline):
            reconnect(i)
        up = [i for i in range(sc.nodes) if i not in down]
        sent = _delta(sent0, _requests_sent([urls[i] for i in up]))
        records = [*lives, *(_get_lines(f"http://{urls[i]}/record?since={t0}") for i in up)]
    finally:
        live.stop()
    header = {
        "kind": "header", "format": FORMAT, "format_version": FORMAT_VERSION,
        "source": "live nodes", "since": t0, "until": until, "nodes": [ids[i] for i in up],
        "missing": {}, "config": sc.config().as_dict(), "seed": sc.seed,
        "scenario": sc.to_json(),
    }  # fmt: skip
    return Run(merge_records(records, header), 2 * sent, {})


def _views(urls: list[str], ids: list[str]) -> dict[str, dict[str, int] | None]:
    out: dict[str, dict[str, int] | None] = {}
    for url, node in zip(urls, ids, strict=True):
        try:
            with urllib.request.urlopen(f"http://{url}/state", timeout=5) as r:
                out[node] = {o: e["version"] for o, e in json.loads(r.read())["origins"].items()}
        except (OSError, ValueError, KeyError):
            out[node] = None
    return out


#: The GOSSIP_* variables docker-compose.yml hands to the nodes (and so the only knobs a
#: scenario can set in the Compose lab).
COMPOSE_VARIABLES = frozenset({
    "GOSSIP_LOG_LEVEL", "GOSSIP_RESAMPLE_SECONDS", "GOSSIP_FANOUT", "GOSSIP_TTL",
    "GOSSIP_SYNC_SECONDS", "GOSSIP_PUSH_INTERVAL_SECONDS", "GOSSIP_REQUEST_TIMEOUT_SECONDS",
    "GOSSIP_STRATEGY", "GOSSIP_ADMIN_TOKEN", "GOSSIP_KEYS",
})  # fmt: skip


def live_env(sc: Scenario, compose: bool = False) -> dict[str, str]:
    """The scenario's protocol knobs as the nodes' GOSSIP_* variables; favourites come from
    the experiment's schedule, so the nodes' own re-sampling is off."""
    from node.settings import VARIABLES

    by_knob = {k.target.removeprefix("config."): k for k in VARIABLES.values()}
    knobs = {**dict(sc.settings), "strategy": sc.strategy, "resample_s": 0,
             "request_timeout_s": TIMEOUT_S}  # fmt: skip
    env = {}
    for name, value in knobs.items():
        knob = by_knob.get(name)
        if knob is None:
            raise ScenarioError(f"[cluster] settings: {name} cannot be set on a live node")
        if compose and knob.variable not in COMPOSE_VARIABLES:
            raise ScenarioError(
                f"[cluster] settings: {name} cannot be set in the Compose lab "
                f"(docker-compose.yml passes {', '.join(sorted(COMPOSE_VARIABLES))})"
            )
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        env[knob.variable] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def _admin(node: str, path: str, body: Any, method: str = "PUT") -> None:
    req = urllib.request.Request(
        f"http://{node}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5):
        pass


def _requests_sent(nodes: Sequence[str]) -> dict[str, int]:
    """Each answering node's requests sent so far (its /state counters)."""
    out = {}
    for node in nodes:
        try:
            with urllib.request.urlopen(f"http://{node}/state", timeout=5) as r:
                out[node] = int(json.loads(r.read())["counters"]["requests_sent"])
        except (OSError, ValueError, KeyError):
            continue
    return out


def _delta(before: dict[str, int], after: dict[str, int]) -> int:
    """Requests sent between two counts; a node that restarted counts from 0."""
    return sum(v - before.get(k, 0) if v >= before.get(k, 0) else v for k, v in after.items())


def _past_life(url: str, node: str, since: float) -> list[dict[str, Any]]:
    """A node's record up to now, as it is about to be killed: its lines (not its closing
    snapshot: it will not be up at the end) and a `node_stopped` line."""
    try:
        lines = [x for x in _get_lines(f"http://{url}/record?since={since}") if not x.get("end")]
    except (OSError, ValueError):
        lines = []
    return [*lines, {"t": time.time(), "node": node, "kind": "node_stopped"}]


def _get_lines(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return [json.loads(line) for line in r.read().splitlines() if line.strip()]


# --- figures from a record -------------------------------------------------------------------
def figures(
    record: list[dict[str, Any]], messages: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's summary and its updates, read from its record alone: the same code for every
    substrate. An update counts when it was made before the scenario's quiet spell; it has
    reached all when every node up at the end (its origin aside) knew it or a newer version
    of its origin."""
    from node.core import views_converged

    header = record[0]
    sc = header.get("scenario", {})
    t0 = header["since"]
    cutoff = t0 + sc.get("seconds", 0) - sc.get("quiet_s", 0)
    ends = {line["node"]: line for line in record if line.get("end") and line.get("up", True)}
    made: list[dict[str, Any]] = []
    firsts: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for line in record[1:]:
        kind = line.get("kind")
        if kind == "movie_changed" and t0 <= line["t"] < cutoff:
            made.append({"origin": line["node"], "version": line["version"], "t": line["t"]})
        elif kind == "update_applied":
            firsts.setdefault((line["node"], line["origin"]), []).append(
                (line["t"], line["version"])
            )
    updates = []
    for u in made:
        arrivals: dict[str, float | None] = {}
        for node in ends:
            if node == u["origin"]:
                continue
            got = [
                t
                for t, v in firsts.get((node, u["origin"]), ())
                if v >= u["version"] and t >= u["t"]
            ]
            arrivals[node] = round(min(got) - u["t"], 6) if got else None
        reach = None if None in arrivals.values() or not arrivals else max(arrivals.values())  # type: ignore[type-var]
        updates.append({**u, "reach_all_s": reach, "arrivals": arrivals})
    reached = sorted(u["reach_all_s"] for u in updates if u["reach_all_s"] is not None)
    views = {
        n: {o: e["version"] for o, e in line.get("origins", {}).items()} for n, line in ends.items()
    }
    heals = [a["at"] for a in sc.get("timeline", []) if a["action"] == "heal"]
    heal_to_all = None
    if heals:  # the last heal, to when every update made before it had reached every node
        heal = t0 + heals[-1]
        late = [u["t"] + u["reach_all_s"] - heal for u in updates
                if u["t"] < heal and u["reach_all_s"] is not None]  # fmt: skip
        heal_to_all = round(max([0.0, *late]), 4)
    summary = {
        "scenario": sc.get("name"),
        "substrate": header.get("substrate"),
        "nodes": sc.get("nodes"),
        "seed": sc.get("seed"),
        "nodes_up_at_end": len(ends),
        "converged": bool(ends) and views_converged(views),
        "updates": len(updates),
        "updates_reaching_all": len(reached),
        "reach_all_p50_s": _q(reached, 0.5),
        "reach_all_p99_s": _q(reached, 0.99),
        "reach_all_max_s": reached[-1] if reached else None,
        "msgs_per_update": round(messages / len(updates), 2) if updates else None,
        "messages": messages,
        "heal_to_all_s": heal_to_all,
    }
    return summary, updates


def _q(values: list[float], q: float) -> float | None:
    """The nearest-rank quantile of sorted values."""
    if not values:
        return None
    return round(values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))], 4)


def coverage(updates: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """The share of (update, node) pairs in which the node knew the update, against the time
    since it was made (pairs never reached count as not reached)."""
    delays = [d if d is not None else float("inf") for u in updates for d in u["arrivals"].values()]
    finite = [d for d in delays if d != float("inf")]
    if not finite:
        return []
    step_s = max(finite) / CURVE_POINTS or 1e-3
    delays.sort()
    out, k = [], 0
    for i in range(CURVE_POINTS + 2):
        t = i * step_s
        while k < len(delays) and delays[k] <= t:
            k += 1
        out.append((round(t, 6), k / len(delays)))
    return out


# --- running and writing -----------------------------------------------------------------
def run(sc: Scenario, on: str, out: Path, say: Say = print, base_port: int = 0,
        calibrate: Path | None = None, repeat: int = 1) -> dict[str, Any]:  # fmt: skip
    """Runs `sc` on substrate `on`, writes the run into `out`, returns its summary. With
    `repeat` > 1, runs it that many times with seeds seed, seed + 1, ... into out/run-K
    and writes their summary into `out` (see `gather`)."""
    if repeat > 1:
        import dataclasses

        summaries = []
        for k in range(repeat):
            say(f"  run {k + 1} of {repeat} (seed {sc.seed + k})")
            one = dataclasses.replace(sc, seed=sc.seed + k)
            summaries.append(run(one, on, out / f"run-{k + 1}", say, base_port, calibrate))
        return gather(summaries, out)
    started = time.monotonic()
    link = None
    if calibrate is not None:
        link = calibration_of(calibrate)
        say(f"  calibrated from {calibrate}: {json.dumps(link)}")
    if on == "sim":
        result = run_sim(sc, say, link)
    elif on == "local":
        result = run_live(sc, say, LocalLive(sc, say, base_port))
    elif on == "compose":
        result = run_live(sc, say, ComposeLive(sc, say))
    else:
        raise ValueError(f"unknown substrate {on!r}")
    result.record[0]["substrate"] = on
    return save(result, out, wall_s=round(time.monotonic() - started, 1))


def save(result: Run, out: Path, **extra: Any) -> dict[str, Any]:
    """Writes a run into `out` (record, updates, summary with `extra` in it, plot); returns
    the summary."""
    summary, updates = figures(result.record, result.messages)
    summary.update(link=result.link, out=str(out), **extra)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "record.jsonl", "w") as f:
        for line in result.record:
            f.write(json.dumps(line) + "\n")
    (out / "updates.json").write_text(json.dumps(updates, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _plot([(str(summary["substrate"]), updates)], out / "coverage.png", str(summary["scenario"]))
    return summary


def gather(summaries: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    """The summary of repeated runs (written into `out` with all their updates and one
    plot): each figure the median of the runs' (`spread` holds their least and greatest),
    `converged` only if every run converged, `updates` summed, `runs` the runs' own."""
    first = summaries[0]
    summary: dict[str, Any] = {k: first[k] for k in ("scenario", "substrate", "nodes")}
    summary["converged"] = all(s["converged"] for s in summaries)
    for key in ("updates", "updates_reaching_all", "messages"):
        summary[key] = sum(s[key] for s in summaries)
    spread = {}
    for key in REPEATED:
        values = sorted(s[key] for s in summaries if s.get(key) is not None)
        summary[key] = round(statistics.median(values), 4) if values else None
        spread[key] = [values[0], values[-1]] if values else None
    updates = []
    for k, s in enumerate(summaries, 1):
        updates += [{**u, "run": k} for u in json.loads(Path(s["out"], "updates.json").read_text())]
    summary.update(repeat=len(summaries), spread=spread, out=str(out),
                   seeds=[s.get("seed") for s in summaries],
                   runs=[{k: s.get(k) for k in ("out", *REPEATED)} for s in summaries])  # fmt: skip
    (out / "updates.json").write_text(json.dumps(updates, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    label = f"{summary['substrate']}, {len(summaries)} runs"
    _plot([(label, updates)], out / "coverage.png", str(summary["scenario"]))
    return summary


def calibration_of(d: Path) -> dict[str, float]:
    """`calibration` of a run's folder (or record file); of repeated runs (run-K folders),
    the median of each of their calibrations."""
    if d.is_dir() and not (d / "record.jsonl").exists():
        models = [calibration(_read_record(r.parent)) for r in sorted(d.glob("run-*/record.jsonl"))]
        if models:
            return {k: round(statistics.median(m[k] for m in models), 6) for k in models[0]}
    return calibration(_read_record(d))


def calibration(record: list[dict[str, Any]]) -> dict[str, float]:
    """The simulator's model of a measured run, from its record:
    - `service_s`, a node's time to handle one message: when a node pushes one update to
      several tree peers, the arrivals follow each other by about that much (the median
      spacing within each such fan-out);
    - the link: a hop's fastest times (the tenth quantile of each first arrival's delay
      over its hops) less the handling at both ends, as latency; jitter spreads the rest
      up to a hop's median, less the queueing the model makes itself (one message's
      handling), as a uniform draw;
    - `join_gap_s`, the median time between two nodes' starts (their generations);
    - `connect_s`, a new connection's cost: connections open during the warm-up, out of
      the record, so it is taken as `CONNECT_RATIO` times a hop free of queueing (the
      tenth quantile): measured apart, on an idle machine, a first request cost about that
      much more than a kept-alive one. (Scaled to the median hop instead, queueing
      included, it made every simulated link lose its race to the bootstrap node's: a
      star of 29 links at 30 nodes, where the processes' hub held 20 to 22.)"""
    fans: dict[tuple[str, str], list[float]] = {}
    per_hop = []
    for line in record[1:]:
        if line.get("kind") != "update_applied":
            continue
        if line.get("via") == "tree" and line.get("sender"):
            fans.setdefault((line["uuid"], line["sender"]), []).append(line["t"])
        delay, hops = line.get("delay_s"), line.get("hops")
        if hops and delay is not None and delay >= 0:
            per_hop.append(delay / hops)
    spacing = sorted((max(ts) - min(ts)) / (len(ts) - 1) for ts in fans.values() if len(ts) > 2)
    if len(per_hop) < 10 or len(spacing) < 5:
        raise ScenarioError("the calibration run has too few arrivals (fewer than 10)")
    per_hop.sort()
    service = statistics.median(spacing)
    low, mid = per_hop[len(per_hop) // 10], statistics.median(per_hop)
    starts = sorted(_first_generations(record).values())
    gaps = [(b - a) / VERSION_TICKS_PER_S for a, b in itertools.pairwise(starts)]
    return {
        "latency_s": round(max(low - 2 * service, 0.0), 6),
        "jitter_s": round(2 * max(mid - low - service, 0.0), 6),
        "service_s": round(service, 6),
        "connect_s": round(CONNECT_RATIO * low, 6),
        "join_gap_s": round(statistics.median(gaps), 3) if gaps else SIM_LINK["join_gap_s"],
        "per_hop_low_s": round(low, 6),
        "per_hop_median_s": round(mid, 6),
        "arrivals": len(per_hop),
    }


def _first_generations(record: list[dict[str, Any]]) -> dict[str, int]:
    """Each node's first life's start (its generation, in version ticks), from the snapshots."""
    first: dict[str, int] = {}
    for line in record[1:]:
        if line.get("kind") == "snapshot" and isinstance(line.get("generation"), int):
            node = line["node"]
            first[node] = min(first.get(node, line["generation"]), line["generation"])
    return first


def _read_record(d: Path) -> list[dict[str, Any]]:
    path = d / "record.jsonl" if d.is_dir() else d
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as e:
        raise ScenarioError(f"{path}: not a run's record ({e})") from None


def _plot(runs: list[tuple[str, list[dict[str, Any]]]], path: Path, title: str) -> None:
    from lab.bench.report import frame, plot

    with plot(path.parent, path.name, (10, 4), ncols=2) as (_fig, (left, right)):
        for label, updates in runs:
            curve = coverage(updates)
            left.plot([t for t, _ in curve], [100 * c for _, c in curve], label=label)
            reach = sorted(u["reach_all_s"] for u in updates if u["reach_all_s"] is not None)
            right.plot(reach, [100 * (k + 1) / len(updates) for k in range(len(reach))],
                       drawstyle="steps-post", label=label)  # fmt: skip
        frame(left, "seconds since the update was made", "% of (update, node) pairs reached",
              f"{title}: coverage")  # fmt: skip
        frame(right, "seconds until every node knew it", "% of updates",
              f"{title}: reach-all")  # fmt: skip


# --- comparing runs --------------------------------------------------------------------------
#: The figures of repeated runs that are medians (the rest are sums, or all of them).
REPEATED = (
    "reach_all_p50_s",
    "reach_all_p99_s",
    "reach_all_max_s",
    "msgs_per_update",
    "heal_to_all_s",
)
COMPARED = (
    "msgs_per_update",
    "reach_all_p50_s",
    "reach_all_p99_s",
    "reach_all_max_s",
    "heal_to_all_s",
    "updates",
)


def compare(dirs: Sequence[Path], out: Path | None = None) -> dict[str, Any]:
    """The runs' summaries side by side; `ratios` maps each metric to the second run's value
    over the first's; with `out`, their curves overlaid in out/compare.png."""
    runs = []
    for d in dirs:
        try:
            summary = json.loads((d / "summary.json").read_text())
            updates = json.loads((d / "updates.json").read_text())
        except (OSError, ValueError) as e:
            raise ScenarioError(f"{d}: not a run's folder ({e})") from None
        runs.append((d, summary, updates))
    first, second = runs[0][1], runs[1][1]
    ratios = {
        m: round(second[m] / first[m], 3) if first.get(m) and second.get(m) is not None else None
        for m in COMPARED
    }
    result: dict[str, Any] = {
        "runs": [{"dir": str(d), **s} for d, s, _ in runs],
        "ratios": ratios,
        "converged": [s["converged"] for _, s, _ in runs],
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        labels = [f"{s['substrate']} ({d.name})" for d, s, _ in runs]
        _plot(list(zip(labels, [u for _, _, u in runs], strict=True)), out / "compare.png",
              str(first.get("scenario")))  # fmt: skip
        result["plot"] = str(out / "compare.png")
    return result


# --- the command line ------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    p = command(
        "lab.experiment",
        "Run a scenario (a TOML file, or a shipped one by name) on the simulator, on local "
        "node processes or in the Compose lab, or compare runs.",
        "`run SCENARIO --on sim|local|compose` (default: sim) writes into --out (default: "
        "runs/SCENARIO-SUBSTRATE); `compare DIR DIR...` compares runs; `run --help` and "
        f"`compare --help` say more. Shipped scenarios: {', '.join(shipped())}; the format: "
        "docs/experiments.md.",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser(
        "run",
        help="run a scenario and write its record, summary and plot",
        formatter_class=HelpFormatter,
    )
    r.add_argument("scenario", help="a .toml file or a shipped scenario's name")
    r.add_argument("--on", choices=SUBSTRATES, default="sim", help="where to run it")
    r.add_argument("--nodes", type=int, help="override the scenario's cluster size")
    r.add_argument("--out", type=Path, help="the run's folder (default: runs/SCENARIO-SUBSTRATE)")
    r.add_argument("--base-port", type=int, default=0, help="local: first port (0: find free ones)")
    r.add_argument("--calibrate", type=Path, metavar="DIR",
                   help="sim: take the link model from a measured run's record")  # fmt: skip
    r.add_argument("--repeat", type=int, default=1, metavar="K",
                   help="run it K times (seeds seed, seed+1, ...) into DIR/run-1.. and sum "
                   "them up: medians, spread, every update")  # fmt: skip
    r.add_argument("--json", action="store_true", help="end with the summary as one JSON line")
    c = sub.add_parser(
        "compare",
        help="compare runs: metric by metric, and one plot",
        formatter_class=HelpFormatter,
    )
    c.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="run folders (two or more)")
    c.add_argument("--out", type=Path, help="where to write compare.png (default: the first DIR)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    missing = missing_extra("bench", ("matplotlib",))
    if missing:  # (the plots: checked before a run of minutes, not after it)
        p.error(missing)
    say: Say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    try:
        if args.cmd == "compare":
            if len(args.dirs) < 2:
                p.error("compare needs two or more run folders")
            result = compare(args.dirs, args.out or args.dirs[0])
            print(json.dumps(result) if args.json else _compare_text(result))
            return 0
        sc = load(args.scenario)
        if args.nodes is not None:
            if args.nodes < 2:
                p.error("--nodes must be 2 or more")
            sc = sc.with_nodes(args.nodes)
        if args.repeat < 1:
            p.error("--repeat must be 1 or more")
        out = args.out or Path("runs") / f"{sc.name}-{args.on}"
        say(f"{sc.name} on {args.on}: {sc.nodes} nodes, {sc.seconds:g} s ({sc.description})")
        summary = run(sc, args.on, out, say, args.base_port, args.calibrate, args.repeat)
    except ScenarioError as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    except (TimeoutError, OSError) as e:
        print(f"{p.prog}: the run failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary) if args.json else _summary_text(summary))
    return 0 if summary["converged"] else 1


def _summary_text(s: dict[str, Any]) -> str:
    runs = f" ({s['repeat']} runs, medians)" if s.get("repeat") else ""
    return (
        f"{s['scenario']} on {s['substrate']}{runs}: converged {s['converged']}; "
        f"{s['updates']} updates, "
        f"{s['updates_reaching_all']} reached all; reach-all p50 {s['reach_all_p50_s']} s, "
        f"p99 {s['reach_all_p99_s']} s, max {s['reach_all_max_s']} s; "
        f"{s['msgs_per_update']} msgs/update -> {s['out']}"
    )


def _compare_text(result: dict[str, Any]) -> str:
    runs = result["runs"]
    names = [r["substrate"] + (f" x{r['repeat']}" if r.get("repeat") else "") for r in runs]
    lines = ["metric".ljust(18) + "".join(f"{n:>14}" for n in names) + "   ratio 2/1"]
    for m in COMPARED:
        values = "".join(f"{'-' if r.get(m) is None else r[m]:>14}" for r in runs)
        ratio = result["ratios"][m]
        lines.append(m.ljust(18) + values + f"   {'-' if ratio is None else ratio}")
    if "plot" in result:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
