"""The Swarm stack's files, checked without a swarm: docker-stack.yml runs the Compose lab's
image with its settings, the way these machines' swarm can (no IPVS: dnsrr endpoints,
host-mode ports), ships every Prometheus and Grafana file the Compose lab mounts, and
prometheus/prometheus-swarm.yml differs from prometheus/prometheus.yml only in the names
it resolves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.swarmlab import ROOT, STACK_FILE

COMPOSE = ROOT / "docker-compose.yml"
PROMETHEUS_DIR = ROOT / "prometheus"
NODES = ("bootstrap", "peer")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    data: dict[str, Any] = load(STACK_FILE)
    return data


def test_nodes_run_the_compose_image_with_its_settings(stack: dict[str, Any]) -> None:
    compose = load(COMPOSE)["services"]
    for name in NODES:
        svc = stack["services"][name]
        assert "build" not in svc, "stack deploy cannot build"
        assert compose[name]["image"] == "gossip-lab/node:${GOSSIP_LAB_TAG:-latest}"
        assert svc["image"] == "${LAB_REGISTRY:-}" + compose[name]["image"]
        assert svc["init"] is True
        assert svc["stop_grace_period"] == compose[name]["stop_grace_period"]
        # The same GOSSIP_* pass-throughs from the shell; only the bootstrap addresses differ.
        env, compose_env = dict(svc["environment"]), dict(compose[name]["environment"])
        assert env.pop("GOSSIP_BOOTSTRAP") and compose_env.pop("GOSSIP_BOOTSTRAP", None) in (
            None,
            "bootstrap:7000",
        )
        assert env == compose_env
    assert stack["services"]["peer"]["environment"]["GOSSIP_BOOTSTRAP"] == "bootstrap:7000"
    # The bootstrap node joins through a peer, so that a replacement (a new task, a new
    # address nobody knows) finds the cluster; it is alive, not joined, when first healthy.
    assert stack["services"]["bootstrap"]["environment"]["GOSSIP_BOOTSTRAP"] == "peer:7000"
    assert "503" in " ".join(stack["services"]["bootstrap"]["healthcheck"]["test"])


def test_no_service_needs_ipvs(stack: dict[str, Any]) -> None:
    """No VIPs and no routing mesh: every service resolves to its tasks (dnsrr), every
    port is published on the host its task runs on."""
    for name, svc in stack["services"].items():
        assert svc["deploy"]["endpoint_mode"] == "dnsrr", name
        for port in svc.get("ports", []):
            assert isinstance(port, dict) and port["mode"] == "host", (name, port)
    assert stack["services"]["prometheus"]["ports"][0]["target"] == 9090
    network = stack["networks"]["gossip"]
    assert network == {"driver": "overlay", "attachable": True}
    assert all(svc["networks"] == ["gossip"] for svc in stack["services"].values())


def test_peers_deploy_settings(stack: dict[str, Any]) -> None:
    deploy = stack["services"]["peer"]["deploy"]
    assert str(deploy["replicas"]).endswith(":-3}")
    assert deploy["placement"]["preferences"] == [{"spread": "node.labels.zone"}]
    assert deploy["resources"]["limits"]["cpus"] and deploy["resources"]["limits"]["memory"]
    assert deploy["restart_policy"]["condition"] == "any"
    update = deploy["update_config"]
    # One peer at a time, the new one started (and healthy) before the old one stops.
    assert update["parallelism"] == 1 and update["order"] == "start-first"
    assert update["failure_action"] == "rollback" and update["monitor"]
    assert deploy["rollback_config"]["order"] == "start-first"
    # Healthy (so in tasks.peer DNS, and so updated) only once joined: the image's check.
    assert "test" not in stack["services"]["peer"]["healthcheck"]
    for name in NODES:
        assert stack["services"][name]["deploy"]["restart_policy"]["max_attempts"] >= 1


def test_configs_carry_every_file_the_compose_lab_mounts(stack: dict[str, Any]) -> None:
    """Configs, not bind mounts: the swarm ships them to whichever host runs the task."""
    sources = {name: ROOT / c["file"] for name, c in stack["configs"].items()}
    mounted = {
        sources[c["source"]].resolve().relative_to(ROOT): c["target"]
        for svc in stack["services"].values()
        for c in svc.get("configs", [])
    }
    expected = {Path("prometheus/prometheus-swarm.yml"): "/etc/prometheus/prometheus.yml"}
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        expected[path.relative_to(ROOT)] = f"/etc/prometheus/rules/{path.name}"
    for path in sorted((ROOT / "grafana" / "provisioning").rglob("*.yml")):
        rel = path.relative_to(ROOT / "grafana")
        expected[path.relative_to(ROOT)] = f"/etc/grafana/{rel}"
    for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json")):
        expected[path.relative_to(ROOT)] = f"/etc/grafana/dashboards/{path.name}"
    assert mounted == expected
    for svc in stack["services"].values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            assert not source.startswith((".", "/")), f"a bind mount: {volume}"


def test_prometheus_keeps_no_data_across_deployments(stack: dict[str, Any]) -> None:
    """A named volume would outlive `docker stack rm`, and the previous deployment's nodes
    would count as alive for Prometheus's 5-minute lookback after the next deploy."""
    (volume,) = stack["services"]["prometheus"]["volumes"]
    assert volume == {"type": "volume", "target": "/prometheus"}


def test_swarm_prometheus_config_differs_only_in_names() -> None:
    compose = load(PROMETHEUS_DIR / "prometheus.yml")
    swarm = load(PROMETHEUS_DIR / "prometheus-swarm.yml")
    (sd,) = next(j for j in swarm["scrape_configs"] if j["job_name"] == "gossip")["dns_sd_configs"]
    assert sd["names"] == [f"tasks.{name}" for name in NODES]
    sd["names"] = list(NODES)
    assert swarm == compose


def test_promtool_check_swarm_config() -> None:
    if not shutil.which("promtool"):
        pytest.skip("no promtool here (tests/docker checks the configs in the image)")
    r = subprocess.run(
        ["promtool", "check", "config", str(PROMETHEUS_DIR / "prometheus-swarm.yml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_docker_renders_the_stack() -> None:
    """`docker stack config` interpolates and validates the file as `stack deploy` does."""
    if not shutil.which("docker"):
        pytest.skip("no docker command")
    r = subprocess.run(
        ["docker", "stack", "config", "-c", str(STACK_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    if "unknown command" in r.stderr or "is not a docker command" in r.stderr:
        pytest.skip("this docker CLI has no `stack config`")
    assert r.returncode == 0, r.stderr
    rendered = yaml.safe_load(r.stdout)
    assert rendered["services"]["peer"]["deploy"]["replicas"] == 3
