"""Driving the lab as a Docker Swarm stack from tests: a one-host swarm, stacks under unique
names, waits that are bounded, and what Prometheus says about the nodes over time.

Tests reach the stack only as a user would: `docker` commands and ports published in host
mode, on 127.0.0.1 (Docker picks them: LAB_*_PORT=0); never container addresses. Every
stack is removed with `docker stack rm`, also when a test fails, and the tests wait until
its containers and its network are gone. The swarm is left only if the tests created it.

The Prometheus client, `converged_view` and the waits are the Compose lab's
(tests/support/composelab.py): the stack runs the same image and the same rules.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.composelab import (
    COMMAND_S,
    CONVERGE_S,
    ROOT,
    Prometheus,
    converged_view,
    made_then_ended,
    wait_until,
)

__all__ = [
    "CONVERGE_S", "ROOT", "STACK_FILE", "UPDATE_S", "Prometheus", "Stack", "Task",
    "converged_view", "made_then_ended", "run", "series", "stale_views", "swarm_state",
    "wait_until",
]  # fmt: skip

STACK_FILE = ROOT / "docker-stack.yml"
#: Seconds a rolling update of ten peers may take here (one at a time, each waiting to be
#: healthy): generous for 2 busy cores, but bounded.
UPDATE_S = 600.0


def run(*args: str, env: dict[str, str] | None = None, check: bool = True,
        timeout: float = COMMAND_S) -> str:  # fmt: skip
    r = subprocess.run(
        list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and r.returncode:
        pytest.fail(f"`{' '.join(args)}` exited {r.returncode}: {r.stderr.strip()[-800:]}")
    return r.stdout


def swarm_state() -> str:
    """This engine's swarm state: "active", "inactive", "pending", ..."""
    return run("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").strip()


@dataclass(frozen=True)
class Task:
    """One running task of a service, as `docker inspect <task>` describes it."""

    id: str
    slot: int
    container: str
    address: str  # its address on the stack's overlay network, without the prefix length

    @property
    def node_id(self) -> str:
        """The gossip node's id: its overlay address and port (what it advertises)."""
        return f"{self.address}:7000"


def free_port() -> int:
    """A TCP port free on every interface now (host-mode ports bind 0.0.0.0)."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port: int = s.getsockname()[1]
        return port


class Stack:
    """One deployment of docker-stack.yml, driven with the docker CLI.

    Prometheus gets a fixed free port, so that a replacement of its task (swarm replaces
    unhealthy tasks, and a busy host makes checks slow) is found where the first one was;
    the other ports are Docker's choice."""

    def __init__(self, tag: str, name: str | None = None, env: dict[str, str] | None = None):
        self.name = name or f"gossipswarm-{uuid.uuid4().hex[:8]}"
        self.prometheus_port = free_port()
        self.deployed_at = time.monotonic()
        self.env = {
            **os.environ,
            "GOSSIP_LAB_TAG": tag,
            "LAB_BOOTSTRAP_PORT": "0",
            "LAB_PROMETHEUS_PORT": str(self.prometheus_port),
            "LAB_GRAFANA_PORT": "0",
            # No Grafana image here (../shared/ci/docker-lab): the service exists, with no task.
            "LAB_GRAFANA_REPLICAS": "0",
            **(env or {}),
        }

    def docker(self, *args: str, check: bool = True, timeout: float = COMMAND_S) -> str:
        return run("docker", *args, env=self.env, check=check, timeout=timeout)

    def service(self, name: str) -> str:
        return f"{self.name}_{name}"

    def deploy(self) -> None:
        """Deploys with the images already on this host (stack deploy cannot build)."""
        self.deployed_at = time.monotonic()
        self.docker("stack", "deploy", "--resolve-image", "never", "-c", str(STACK_FILE), self.name)

    def remove(self, timeout: float = 300.0) -> None:
        """`docker stack rm`, then waits until its containers and networks are gone (the
        network outlives the services for a few seconds, and a swarm cannot be left
        cleanly before), and removes its volumes."""
        self.docker("stack", "rm", self.name, check=False)
        label = f"label=com.docker.stack.namespace={self.name}"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            left = self.docker("ps", "-aq", "--filter", label, check=False).split()
            left += self.docker("network", "ls", "-q", "--filter", label, check=False).split()
            if not left:
                break
            time.sleep(1)
        else:
            pytest.fail(f"stack {self.name}: containers or networks left after {timeout} s")
        # Named volumes outlive `docker stack rm` (Grafana's, when it ran).
        volumes = self.docker("volume", "ls", "-q", "--filter", label, check=False).split()
        if volumes:
            self.docker("volume", "rm", *volumes, check=False)

    def inspect_service(self, name: str) -> dict[str, Any]:
        (info,) = json.loads(self.docker("service", "inspect", self.service(name)))
        result: dict[str, Any] = info
        return result

    def tasks(self, name: str) -> list[Task]:
        """The service's tasks that are running now (healthy, when it has a healthcheck),
        sorted by slot."""
        ids = self.docker(
            "service", "ps", "-q", "--filter", "desired-state=running", self.service(name)
        ).split()
        if not ids:
            return []
        network = f"{self.name}_gossip"
        found = []
        for task in json.loads(self.docker("inspect", *ids)):
            if task["Status"]["State"] != "running":
                continue
            (address,) = [
                a["Addresses"][0].split("/")[0]
                for a in task.get("NetworksAttachments", [])
                if a["Network"]["Spec"]["Name"] == network
            ]
            container = task["Status"]["ContainerStatus"]["ContainerID"]
            found.append(Task(task["ID"], task.get("Slot", 0), container, address))
        return sorted(found, key=lambda t: (t.slot, t.id))

    def node_ids(self) -> set[str]:
        return {t.node_id for name in ("bootstrap", "peer") for t in self.tasks(name)}

    def scale(self, name: str, replicas: int) -> None:
        self.docker("service", "scale", "--detach", f"{self.service(name)}={replicas}")

    def update(self, name: str, *args: str) -> None:
        """Starts a rolling update of the service (returns at once; see wait_updated)."""
        self.docker("service", "update", "--detach", *args, self.service(name))

    def update_state(self, name: str) -> str:
        status = self.inspect_service(name).get("UpdateStatus") or {}
        state: str = status.get("State", "")
        return state

    def wait_updated(self, name: str, timeout: float = UPDATE_S) -> None:
        """Waits for the rolling update to complete; fails if it rolled back or paused."""

        def done() -> str | None:
            state = self.update_state(name)
            if state.startswith("rollback") or state == "paused":
                msg = self.inspect_service(name)["UpdateStatus"].get("Message")
                pytest.fail(f"update of {name}: {state}: {msg}")
            return state if state == "completed" else None

        wait_until(done, timeout, f"the rolling update of {name} completes", step=2)

    def port(self, name: str, target: int) -> str:
        """127.0.0.1:<port> of the service's one task's host-mode published `target`."""
        (task,) = self.tasks(name)
        out = self.docker("port", task.container, f"{target}/tcp").split()
        ports = {line.rsplit(":", 1)[1] for line in out}
        assert len(ports) == 1, out
        return f"127.0.0.1:{ports.pop()}"

    def prometheus(self) -> Prometheus:
        """Prometheus's API, once its task runs (on its published port, on loopback)."""
        assert self.port("prometheus", 9090) == f"127.0.0.1:{self.prometheus_port}"
        return Prometheus(f"127.0.0.1:{self.prometheus_port}")

    def events(self, task: Task, event: str) -> list[dict[str, Any]]:
        """The JSON log lines of one task with this `event` (`docker logs` of its container:
        `docker service logs` breaks off with "unexpected EOF" once tasks come and go)."""
        r = subprocess.run(
            ["docker", "logs", task.container], capture_output=True, text=True, timeout=60
        )
        lines = (r.stdout + r.stderr).splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return [r for r in records if r.get("event") == event]


def series(rows: Iterable[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], dict[int, int]]:
    """A range query's rows as {(label values...): {unix second: value}}."""
    return {
        tuple(row["metric"].get(label, "") for label in labels): {
            round(float(t)): int(float(v)) for t, v in row["values"]
        }
        for row in rows
    }


def stale_views(prom: Prometheus, seconds: float, lag_s: int) -> tuple[int, list[str]]:
    """Checks, for each second of the last `seconds`, that every node knew every other
    node's version of `lag_s` seconds before, among the nodes Prometheus saw throughout
    [t - lag_s, t + lag_s]: nodes being replaced (gone soon after t) and new ones (not
    there yet at t - lag_s) are left out, and so are departed ids (never scraped again).
    Returns how many (second, node, origin) checks were made and the ones that failed."""
    # One query, so that both metrics share the same time steps.
    rows = prom.query_range(
        '{__name__=~"gossip_own_version|gossip_version_seen", job="gossip"}', seconds
    )
    table = series(rows, "__name__", "instance", "origin")
    own = {i: v for (name, i, _), v in table.items() if name == "gossip_own_version"}
    seen = {(i, o): v for (name, i, o), v in table.items() if name == "gossip_version_seen"}
    times = sorted({t for values in own.values() for t in values})
    checks, failures = 0, []
    for t in times:
        if t - lag_s < times[0] or t + lag_s > times[-1]:
            continue
        stable = [n for n, v in own.items() if t - lag_s in v and t in v and t + lag_s in v]
        for node in stable:
            for origin in stable:
                checks += 1
                known = seen.get((node, origin), {}).get(t, -1)
                if known < own[origin][t - lag_s]:
                    failures.append(f"t={t} {node} knew {origin} at {known}")
    return checks, failures
