"""`python -m lab.chaos SCENARIO`: break a running cluster on purpose and time its recovery.

Owns the fault scenarios. Each one injects a fault (through the nodes' fault layer, via
`PUT /admin/faults`, or by killing processes), lifts it, and reports how long the cluster
took to reconverge afterwards: every live node knowing every live node's newest version.

Targets:
- `--local N` (default 6): starts N node processes on loopback (lab.cluster) with an admin
  token, runs the scenario, stops them;
- `--compose PROJECT`: the Docker Compose lab; faults go through the same admin API inside
  the containers (`docker exec`), crashes through `docker kill` / `docker start`. The lab
  must run with GOSSIP_ADMIN_TOKEN set for the peers (docs/faults.md).

Scenarios: rotating-partitions, split-brain, lossy (drop + duplicate + delay), crash-restart,
bootstrap-dies; `all` runs every one. `--json` prints one JSON object per scenario.
Exit codes: 0 when every scenario reconverged within its bound, 1 when one did not, 2 for
usage errors.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from lab.cli import command
from lab.cluster import LocalCluster
from node.core import views_converged
from node.partitions import blocked_by_side

__all__ = ["SCENARIOS", "LocalTarget", "ComposeTarget", "main"]

TOKEN = "chaos-admin-token"


class Target(Protocol):
    def nodes(self) -> list[str]: ...
    def views(self) -> dict[str, dict[str, int]]: ...
    def set_faults(self, node: str, faults: dict[str, Any]) -> None: ...
    def kill(self, node: str) -> None: ...
    def start(self, node: str) -> None: ...
    def bootstrap(self) -> str: ...


def wait_converged(target: Target, expected: Sequence[str], timeout_s: float) -> float | None:
    """Seconds until the `expected` nodes have converged (`node.core.views_converged`: each
    answers and holds each one's own version), or None after timeout_s."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if views_converged(target.views(), expected):
            return time.monotonic() - start
        time.sleep(0.1)
    return None


# --- targets -----------------------------------------------------------------------------
class LocalTarget:
    """Node processes on loopback, started and stopped here."""

    def __init__(
        self, n: int, base_port: int, log_dir: Path | None, sync_s: float, resample_s: float = 5.0
    ) -> None:
        env = {
            "GOSSIP_ADMIN_TOKEN": TOKEN,
            "GOSSIP_RESAMPLE_SECONDS": str(resample_s),
            "GOSSIP_SYNC_SECONDS": str(sync_s),
        }
        self.cluster = LocalCluster(n, base_port=base_port, env=env, log_dir=log_dir)

    def __enter__(self) -> LocalTarget:
        try:
            self.cluster.start_all()
            self.cluster.wait_ready(60)
        except BaseException:
            self.cluster.stop_all()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.cluster.stop_all()

    def nodes(self) -> list[str]:
        return [f"127.0.0.1:{p}" for p in self.cluster.ports]

    def bootstrap(self) -> str:
        return self.nodes()[0]

    def views(self) -> dict[str, dict[str, int]]:
        return {
            f"127.0.0.1:{p}": v
            for p, v in self.cluster.views(
                [p for p in self.cluster.ports if self.cluster.alive(p)]
            ).items()
        }

    def set_faults(self, node: str, faults: dict[str, Any]) -> None:
        req = urllib.request.Request(
            f"http://{node}/admin/faults",
            data=json.dumps(faults).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5):
            pass

    def kill(self, node: str) -> None:
        self.cluster.kill(int(node.rsplit(":", 1)[1]))

    def start(self, node: str) -> None:
        port = int(node.rsplit(":", 1)[1])
        self.cluster.start(port)
        self.cluster.wait_ready(30, [port])


class ComposeTarget:
    """The Compose lab's node containers; reached only through `docker` commands."""

    def __init__(self, project: str, token: str) -> None:
        self.project, self.token = project, token
        self._ids: dict[str, str] = {}  # node id -> container id
        self._refresh()

    def _docker(self, *args: str, check: bool = True) -> str:
        r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
        if check and r.returncode:
            raise RuntimeError(f"docker {' '.join(args[:3])}: {r.stderr.strip()[:200]}")
        return r.stdout

    def _refresh(self) -> None:
        out = self._docker(
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--format",
            '{{.ID}} {{.Label "com.docker.compose.service"}}',
        )
        for line in out.splitlines():
            cid, _, service = line.partition(" ")
            if service not in ("bootstrap", "peer"):
                continue
            state = self._exec_json(cid, "/healthz")
            if state and "id" in state:
                self._ids[state["id"]] = cid

    def _exec_json(
        self, cid: str, path: str, method: str = "GET", body: dict[str, Any] | None = None
    ) -> Any:
        script = (
            "import sys,urllib.request as u;"
            f"r=u.Request('http://127.0.0.1:7000{path}',data=sys.stdin.buffer.read() or None,"
            f"method='{method}',headers={{'Authorization':'Bearer {self.token}',"
            "'Content-Type':'application/json'}});"
            "sys.stdout.write(u.urlopen(r,timeout=5).read().decode())"
        )
        r = subprocess.run(
            ["docker", "exec", "-i", cid, "python", "-c", script],
            input=json.dumps(body).encode() if body else b"",
            capture_output=True,
            timeout=30,
        )
        if r.returncode:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def nodes(self) -> list[str]:
        return sorted(self._ids)

    def bootstrap(self) -> str:
        for node, cid in self._ids.items():
            service = self._docker(
                "inspect", "--format", '{{index .Config.Labels "com.docker.compose.service"}}', cid
            )
            if service.strip() == "bootstrap":
                return node
        raise RuntimeError("no bootstrap container")

    def views(self) -> dict[str, dict[str, int]]:
        out = {}
        for node, cid in self._ids.items():
            state = self._exec_json(cid, "/state")
            if state:
                out[node] = {o: e["version"] for o, e in state["origins"].items()}
        return out

    def set_faults(self, node: str, faults: dict[str, Any]) -> None:
        if self._exec_json(self._ids[node], "/admin/faults", "PUT", faults) is None:
            raise RuntimeError(f"PUT /admin/faults on {node} failed: is GOSSIP_ADMIN_TOKEN set?")

    def kill(self, node: str) -> None:
        self._docker("kill", self._ids[node])

    def start(self, node: str) -> None:
        self._docker("start", self._ids[node])
        end = time.monotonic() + 60
        while time.monotonic() < end and not self._exec_json(self._ids[node], "/healthz"):
            time.sleep(0.5)


# --- scenarios ---------------------------------------------------------------------------
Result = dict[str, Any]
Say = Callable[[str], None]


def _partition(target: Target, groups: list[list[str]]) -> None:
    for node, blocked in blocked_by_side(groups).items():
        target.set_faults(node, {"blocked": blocked})


def _heal(target: Target, nodes: Sequence[str]) -> None:
    for node in nodes:
        target.set_faults(
            node, {"blocked": [], "drop": 0, "duplicate": 0, "delay_ms": 0, "jitter_ms": 0}
        )


def rotating_partitions(
    target: Target, rng: random.Random, say: Say, hold_s: float, sync_s: float
) -> Result:
    nodes = target.nodes()
    for k in range(4):
        shuffled = rng.sample(nodes, len(nodes))
        half = len(nodes) // 2
        say(f"rotation {k + 1}/4: {len(shuffled[:half])} | {len(shuffled[half:])} nodes")
        _partition(target, [shuffled[:half], shuffled[half:]])
        time.sleep(hold_s)
    _heal(target, nodes)
    took = wait_converged(target, nodes, 60)
    return {"reconverge_s": took, "bound_s": 2 * sync_s}


def split_brain(
    target: Target, rng: random.Random, say: Say, hold_s: float, sync_s: float
) -> Result:
    nodes = target.nodes()
    half = len(nodes) // 2
    say(f"split brain for {4 * hold_s:.0f} s")
    _partition(target, [nodes[:half], nodes[half:]])
    time.sleep(4 * hold_s)
    diverged = not views_converged(target.views(), nodes)
    _heal(target, nodes)
    took = wait_converged(target, nodes, 60)
    return {"reconverge_s": took, "diverged_during": diverged, "bound_s": 2 * sync_s}


def lossy(target: Target, rng: random.Random, say: Say, hold_s: float, sync_s: float) -> Result:
    nodes = target.nodes()
    say(f"20 % drop, 10 % duplicates, 50±30 ms delay for {2 * hold_s:.0f} s")
    for node in nodes:
        target.set_faults(node, {"drop": 0.2, "duplicate": 0.1, "delay_ms": 50, "jitter_ms": 30})
    during = wait_converged(target, nodes, 2 * hold_s)
    _heal(target, nodes)
    took = wait_converged(target, nodes, 60)
    return {"converged_during_s": during, "reconverge_s": took, "bound_s": 2 * sync_s}


def crash_restart(
    target: Target, rng: random.Random, say: Say, hold_s: float, sync_s: float
) -> Result:
    nodes = target.nodes()
    victim = rng.choice([n for n in nodes if n != target.bootstrap()])
    times = []
    for k in range(3):
        say(f"cycle {k + 1}/3: kill -9 {victim}, restart")
        target.kill(victim)
        time.sleep(hold_s / 2)
        target.start(victim)
        took = wait_converged(target, nodes, 60)
        times.append(took)
    worst = None if None in times else max(t for t in times if t is not None)
    return {"victim": victim, "reconverge_s": worst, "cycles_s": times, "bound_s": 5 * sync_s}


def bootstrap_dies(
    target: Target, rng: random.Random, say: Say, hold_s: float, sync_s: float
) -> Result:
    nodes = target.nodes()
    boot = target.bootstrap()
    say(f"kill -9 the bootstrap node {boot}")
    target.kill(boot)
    rest = [n for n in nodes if n != boot]
    without = wait_converged(target, rest, 4 * hold_s)  # the others go on without it
    target.start(boot)
    took = wait_converged(target, nodes, 60)
    return {
        "converged_without_bootstrap_s": without,
        "reconverge_s": took,
        "bound_s": 5 * sync_s + 10,
    }


SCENARIOS: dict[str, Callable[[Target, random.Random, Say, float, float], Result]] = {
    "rotating-partitions": rotating_partitions,
    "split-brain": split_brain,
    "lossy": lossy,
    "crash-restart": crash_restart,
    "bootstrap-dies": bootstrap_dies,
}


def run(
    target: Target, names: Sequence[str], seed: int, hold_s: float, sync_s: float, say: Say
) -> list[Result]:
    rng = random.Random(seed)
    results = []
    for name in names:
        nodes = target.nodes()
        say(f"== {name} on {len(nodes)} nodes")
        if wait_converged(target, nodes, 60) is None:
            results.append({"scenario": name, "ok": False, "error": "not converged before"})
            continue
        result = {"scenario": name, **SCENARIOS[name](target, rng, say, hold_s, sync_s)}
        took = result["reconverge_s"]
        result["ok"] = took is not None
        say(f"   reconverged in {took:.2f} s" if took is not None else "   did NOT reconverge")
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = command(
        "lab.chaos",
        "Run named fault scenarios against a cluster and report the time to "
        "reconverge after each fault ends.",
    )
    parser.add_argument(
        "scenario", choices=[*SCENARIOS, "all"], help="the scenario to run, or all in turn"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        type=int,
        metavar="N",
        default=6,
        help="start N local nodes for the run",
    )
    where.add_argument(
        "--compose", metavar="PROJECT", help="run against the Docker Compose lab of this project"
    )
    parser.add_argument(
        "--token",
        default=None,
        metavar="TOKEN",
        help="admin token of the compose lab's nodes (GOSSIP_ADMIN_TOKEN)",
    )
    parser.add_argument(
        "--base-port", type=int, default=7900, metavar="PORT", help="first local port"
    )
    parser.add_argument(
        "--hold", type=float, default=5.0, metavar="SECONDS", help="seconds each fault is held"
    )
    parser.add_argument(
        "--sync-seconds",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="anti-entropy period of local nodes (bounds are in periods)",
    )
    parser.add_argument(
        "--resample-seconds",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often local nodes pick a new favourite",
    )
    parser.add_argument(
        "--seed", type=int, default=1, metavar="N", help="seed of the faults' random choices"
    )
    parser.add_argument(
        "--log-dir", type=Path, default=None, metavar="DIR", help="keep local nodes' logs here"
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON lines")
    args = parser.parse_args(argv)
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    say: Say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    if args.compose:
        if not args.token:
            parser.error("--compose needs --token (the lab's GOSSIP_ADMIN_TOKEN)")
        results = run(
            ComposeTarget(args.compose, args.token),
            names,
            args.seed,
            args.hold,
            args.sync_seconds,
            say,
        )
    else:
        if args.local < 3:
            parser.error("--local needs at least 3 nodes")
        with LocalTarget(
            args.local, args.base_port, args.log_dir, args.sync_seconds, args.resample_seconds
        ) as target:
            results = run(target, names, args.seed, args.hold, args.sync_seconds, say)
    for r in results:
        if args.json:
            print(json.dumps(r))
        else:
            took = r.get("reconverge_s")
            print(
                f"{r['scenario']:22} "
                + (f"reconverged in {took:6.2f} s" if took is not None else "did NOT reconverge")
            )
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
