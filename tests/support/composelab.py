"""Driving the Docker Compose lab from tests: labs under unique project names, waits that
are bounded, and a small client for Prometheus's HTTP API.

Tests reach the lab only as a user would: through ports published on 127.0.0.1 (Docker
picks them: LAB_*_PORT=0) and `docker` / `docker compose` commands; never container IPs.
Every lab is torn down with `down -v --remove-orphans`, also when a test fails (the
fixtures in conftest.py see to it). Build with local base images by exporting PYTHON_IMAGE
and PROMETHEUS_IMAGE (`eval "$(../shared/ci/docker-lab)"`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from node.core import views_converged
from tests.support import waits

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

#: Seconds any single wait may take: generous (2 cores, other work running), but bounded.
CONVERGE_S = 120.0
COMMAND_S = 300.0


def docker_required() -> bool:
    return os.environ.get("GOSSIP_REQUIRE_DOCKER", "") not in ("", "0")


def engine_problem() -> str | None:
    """Why the lab cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no docker command"
    for cmd in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` timed out"
        if r.returncode:
            return f"`{' '.join(cmd)}` failed: {r.stderr.strip()[-200:]}"
    return None


def require_engine(
    fail: str = "GOSSIP_REQUIRE_DOCKER is set but Docker is unusable",
    skip: str = "Docker is unusable here",
) -> None:
    """Skips the calling test when Docker cannot run the lab here, or fails it when
    GOSSIP_REQUIRE_DOCKER is set (.ci/run sets it); the message is `fail` or `skip` with
    the problem."""
    problem = engine_problem()
    if problem:
        if docker_required():
            pytest.fail(f"{fail}: {problem}")
        pytest.skip(f"{skip}: {problem}")


def made_then_ended(
    make: Callable[[dict[str, str] | None], T], end: Callable[[T], None]
) -> Generator[Callable[..., T], None, list[T]]:
    """For a fixture (`made = yield from made_then_ended(...)`): yields a factory that makes
    a lab (or a stack) from an optional environment; when the test ends, ends each one made
    and returns them, for checks on what they left behind."""
    made: list[T] = []

    def make_one(env: dict[str, str] | None = None) -> T:
        thing = make(env)
        made.append(thing)
        return thing

    yield make_one
    for thing in made:
        end(thing)
    return made


def wait_until(pred: Callable[[], T | None], timeout: float, what: str, step: float = 0.5) -> T:
    """tests.support.waits.wait_until, polling a lab every half second."""
    return waits.wait_until(pred, timeout, what, step)


class Prometheus:
    """The lab's Prometheus HTTP API on its published port."""

    def __init__(self, address: str) -> None:
        self.base = f"http://{address}"

    def _get(self, path: str, params: dict[str, str]) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            body = json.load(e)
            raise AssertionError(f"{path} {params}: {body.get('error')}") from None
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant vector (or scalar, as one row) of `expr` now."""
        data = self._get("/api/v1/query", {"query": expr})
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, seconds: float, step: str = "1s") -> list[dict[str, Any]]:
        end = time.time()
        data = self._get(
            "/api/v1/query_range",
            {"query": expr, "start": f"{end - seconds:.3f}", "end": f"{end:.3f}", "step": step},
        )
        result: list[dict[str, Any]] = data["result"]
        return result

    def values(self, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
        """{(label values...): value} of an instant query."""
        return {
            tuple(row["metric"].get(label, "") for label in labels): float(row["value"][1])
            for row in self.query(expr)
        }

    def rules(self) -> list[dict[str, Any]]:
        """The rule groups Prometheus loaded, with each rule's health and alerts."""
        groups: list[dict[str, Any]] = self._get("/api/v1/rules", {})["groups"]
        return groups

    def targets(self) -> list[dict[str, Any]]:
        data = self._get("/api/v1/targets", {"state": "active"})
        return [t for t in data["activeTargets"] if t["labels"].get("job") == "gossip"]


def converged_view(prom: Prometheus, nodes: int) -> dict[str, int] | None:
    """{node id: own version} when Prometheus sees exactly `nodes` nodes and they have
    converged (`node.core.views_converged`: each node's `gossip_own_version` is the truth
    for its origin, `gossip_version_seen` what each node knows); None otherwise."""
    own = {i: v for (i,), v in prom.values('gossip_own_version{job="gossip"}', "instance").items()}
    if len(own) != nodes:
        return None
    views: dict[str, dict[str, int]] = {node: {} for node in own}
    seen = prom.values('gossip_version_seen{job="gossip"}', "instance", "origin")
    for (node, origin), version in seen.items():
        if node in views:
            views[node][origin] = int(version)
    for node, version in own.items():
        views[node][node] = int(version)
    return {node: int(version) for node, version in own.items()} if views_converged(views) else None


class Lab:
    """One Compose project of the lab, driven with the docker CLI."""

    def __init__(self, tag: str, name: str | None = None, env: dict[str, str] | None = None):
        self.project = name or f"gossiptest-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "GOSSIP_LAB_TAG": tag,
            "LAB_BOOTSTRAP_PORT": "0",
            "LAB_PROMETHEUS_PORT": "0",
            "LAB_GRAFANA_PORT": "0",
            **(env or {}),
        }
        self.started = time.monotonic()

    def run(self, *args: str, check: bool = True, timeout: float = COMMAND_S) -> str:
        r = subprocess.run(
            list(args), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and r.returncode:
            pytest.fail(f"`{' '.join(args)}` exited {r.returncode}: {r.stderr.strip()[-800:]}")
        return r.stdout

    def compose(self, *args: str, check: bool = True, timeout: float = COMMAND_S) -> str:
        return self.run(
            "docker", "compose", "-p", self.project, *args, check=check, timeout=timeout
        )

    def up(self, *services: str, peers: int | None = None, no_deps: bool = False) -> None:
        args = ["up", "-d", "--no-build", "--no-recreate"]
        if peers is not None:
            args += ["--scale", f"peer={peers}"]
        if no_deps:
            args.append("--no-deps")
        self.compose(*args, *services)

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "-t", "10", check=False)

    def leftovers(self) -> list[str]:
        """What of this project is still on the engine (after `down`, nothing should be):
        containers, networks and volumes, by Compose's project label."""
        label = f"label=com.docker.compose.project={self.project}"
        left = []
        for kind in ("container", "network", "volume"):
            ls = ["ls", "-aq"] if kind == "container" else ["ls", "-q"]
            ids = self.run("docker", kind, *ls, "--filter", label, check=False).split()
            left += [f"{kind} {i}" for i in ids]
        return left

    def containers(self, service: str = "", all_states: bool = False) -> list[dict[str, Any]]:
        """`docker compose ps` rows (Name, Service, State, ExitCode, ...), sorted by name."""
        args = (
            ["ps", "--format", "json"]
            + (["-a"] if all_states else [])
            + ([service] * bool(service))
        )
        out = self.compose(*args).strip()
        # Compose prints one JSON object a line (older versions: one JSON array).
        rows = json.loads(out) if out.startswith("[") else [json.loads(x) for x in out.splitlines()]
        return sorted(rows, key=lambda r: r["Name"])

    def inspect(self, container: str) -> dict[str, Any]:
        result: list[dict[str, Any]] = json.loads(self.run("docker", "inspect", container))
        return result[0]

    def node_id(self, container: str) -> str:
        """The node's id: its IP on the lab's network, port 7000 (what it advertises)."""
        networks = self.inspect(container)["NetworkSettings"]["Networks"]
        (net,) = networks.values()
        return f"{net['IPAddress']}:7000"

    def port(self, service: str, port: int, index: int = 1) -> str:
        address = self.compose("port", "--index", str(index), service, str(port)).strip()
        assert address.startswith("127.0.0.1:"), f"{service}:{port} published on {address!r}"
        return address

    def logs(self, target: str) -> list[str]:
        """Lines a service (or, with docker logs, a container) wrote to stdout and stderr."""
        if target in ("bootstrap", "peer", "prometheus"):
            out = self.compose("logs", "--no-log-prefix", "--no-color", target)
        else:
            r = subprocess.run(
                ["docker", "logs", target], capture_output=True, text=True, timeout=60
            )
            out = r.stdout + r.stderr
        return [line for line in out.splitlines() if line.strip()]

    def events(self, target: str, event: str) -> list[dict[str, Any]]:
        """The JSON log lines of `target` with this `event`."""
        found = []
        for line in self.logs(target):
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("event") == event:
                    found.append(record)
        return found

    def prometheus(self) -> Prometheus:
        return Prometheus(self.port("prometheus", 9090))
