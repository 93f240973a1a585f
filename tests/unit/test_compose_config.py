"""The lab's configuration, checked without running it: Prometheus's config and rules with
promtool (the rules also against unit tests of their arithmetic), Grafana's provisioning
files, and the dashboards against their generator. (The expressions are run against a real
Prometheus in test_compose_lab.py.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.support.labfiles import (
    DASHBOARDS,
    PROMETHEUS_DIR,
    PROVISIONING,
    ROOT,
    RULE_FILES,
    dashboard_queries,
    load_dashboard,
    load_yaml,
    panels,
    promql_ok,
    promtool,
    rule_expressions,
)

COMPOSE = ROOT / "docker-compose.yml"


def check(*args: str) -> None:
    r = promtool(*args)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()[-3000:]


def test_promtool_check_config() -> None:
    check("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))


def test_promtool_check_rules() -> None:
    check("check", "rules", *map(str, RULE_FILES))


def test_recording_rules_compute_convergence() -> None:
    """promtool's rule unit tests: three nodes, one behind on an origin."""
    check("test", "rules", str(Path(__file__).with_name("rules_test.yml")))


def test_alerting_rules_fire_when_they_should() -> None:
    """promtool's alert unit tests: not converged for 30 s (and not for normal churn), a
    node down, refusals rising; each alert named by gossip_node_info where it can be."""
    check("test", "rules", str(Path(__file__).with_name("alerts_test.yml")))


def test_the_alerts_are_the_documented_three() -> None:
    alerts = {
        rule["alert"]: rule
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert set(alerts) == {"GossipNotConverged", "GossipNodeDown", "GossipRefusalsRising"}
    assert alerts["GossipNotConverged"]["for"] == "30s"
    assert "up{" in alerts["GossipNodeDown"]["expr"]
    assert "gossip_invalid_requests_total" in alerts["GossipRefusalsRising"]["expr"]
    docs = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")
    assert all(name in docs for name in alerts), "docs/observability.md lists every alert"


def test_prometheus_discovers_every_compose_node_service() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "gossip"]
    (sd,) = job["dns_sd_configs"]
    node_services = {name for name, svc in load_yaml(COMPOSE)["services"].items() if "build" in svc}
    assert set(sd["names"]) == node_services == {"bootstrap", "peer"}
    assert sd["type"] == "A" and sd["port"] == 7000
    assert "static_configs" not in job, "nodes are discovered, not listed"
    assert config["global"]["scrape_interval"] in ("1s", "2s")


def test_compose_publishes_only_on_loopback_by_default() -> None:
    services = load_yaml(COMPOSE)["services"]
    assert "container_name" not in services["peer"]
    assert services["peer"]["ports"] == ["${LAB_BIND:-127.0.0.1}::7000"], "no fixed host port"
    for name in ("bootstrap", "peer", "prometheus", "grafana"):
        for port in services[name]["ports"]:
            assert port.startswith("${LAB_BIND:-127.0.0.1}:"), (name, port)
    for name in ("bootstrap", "peer"):
        svc = services[name]
        assert svc["init"] is True and svc["restart"].startswith("on-failure:")
        grace = int(svc["stop_grace_period"].rstrip("s"))
        assert grace > 3, "longer than the node's 3 s shutdown"
    assert services["peer"]["depends_on"]["bootstrap"]["condition"] == "service_healthy"
    assert services["peer"]["environment"]["GOSSIP_BOOTSTRAP"] == "bootstrap:7000"


def test_node_services_are_built_never_pulled() -> None:
    """`up` builds the lab's own image from this folder: nothing named gossip-lab/node is
    ever pulled from a registry (a name anyone could publish), and an edited node is rebuilt
    by `up --build` rather than silently run stale. The top-level name fixes the project
    (networks, volumes) whatever the folder is called; tests still pass `-p` of their own."""
    compose = load_yaml(COMPOSE)
    assert compose["name"] == "gossip-lab"
    for name in ("bootstrap", "peer"):
        svc = compose["services"][name]
        assert svc["pull_policy"] == "build", name
        assert svc["build"]["context"] == "."
        assert svc["image"].startswith("gossip-lab/node:"), "the stack deploys this image"
    for name in ("prometheus", "grafana"):
        assert "build" not in compose["services"][name]
        assert compose["services"][name].get("pull_policy", "missing") == "missing"


def test_grafana_provisioning() -> None:
    (datasource,) = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    (provider,) = load_yaml(PROVISIONING / "dashboards" / "gossip-lab.yml")["providers"]
    assert provider["type"] == "file"
    grafana = load_yaml(COMPOSE)["services"]["grafana"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in grafana["volumes"] if v.startswith("./"))
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/convergence.json"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_structure(path: Path) -> None:
    uid = load_yaml(PROVISIONING / "datasources" / "prometheus.yml")["datasources"][0]["uid"]
    dashboard = load_dashboard(path)
    assert dashboard["uid"].startswith("gossip-") and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        where = f"{path.stem} / {panel.get('title')}"
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, where
        assert panel["targets"], f"{where}: no query"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": uid}, where
            assert "[5m]" not in target["expr"] and "[1m]" not in target["expr"], (
                f"{where}: rate windows use $__rate_interval"
            )
    for var in dashboard["templating"]["list"]:
        assert var["datasource"]["uid"] == uid
    # Rates follow Grafana's scrape-aware window; a name may be looked back for over the
    # dashboard's range (a node that stopped answering keeps its name).
    exprs = [t["expr"] for p in panels(dashboard) for t in p["targets"]]
    windows = {w for e in exprs for w in re.findall(r"\[([^\]]+)\]", e)}
    assert windows <= {"$__rate_interval", "$__range"}, windows
    assert all("[$__range]" not in e or "last_over_time(gossip_node_info" in e for e in exprs)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboards_show_names_not_addresses(path: Path) -> None:
    """Legends and the $node/$origin pickers use gossip_node_info's `name`; per-node series
    are joined to it, so no legend falls back to an address."""
    dashboard = load_dashboard(path)
    for panel in panels(dashboard):
        for target in panel["targets"]:
            legend, expr = target.get("legendFormat", ""), target["expr"]
            where = f"{path.stem} / {panel['title']}"
            assert "{{instance}}" not in legend and "{{origin}}" not in legend, where
            if "{{name}}" in legend:
                assert "group_left (name" in expr and "gossip_node_info" in expr, where
            if "{{origin_name}}" in legend:
                assert "group_left (origin_name)" in expr, where
    for var in dashboard["templating"]["list"]:
        assert var["query"]["query"].endswith(", name)"), var["name"]


def test_a_panel_shows_injected_faults() -> None:
    exprs = [
        t["expr"] for path in DASHBOARDS for p in panels(load_dashboard(path)) for t in p["targets"]
    ]
    assert any("gossip_faults_total" in e and "effect" in e for e in exprs)


def test_home_dashboard_is_convergence() -> None:
    assert load_dashboard(ROOT / "grafana" / "dashboards" / "convergence.json")["title"] == (
        "Convergence"
    )
    titles = {load_dashboard(p)["title"] for p in DASHBOARDS}
    assert titles == {"Convergence", "Traffic", "Membership"}


def test_dashboards_match_their_generator() -> None:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "grafana" / "generate.py")
    assert spec and spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert generate.main(["--check"]) == 0, "run: python grafana/generate.py"


def test_every_expression_parses() -> None:
    exprs = {**rule_expressions(), **dashboard_queries()}
    assert len(exprs) > 30
    for expr in exprs.values():
        assert promql_ok(expr)
