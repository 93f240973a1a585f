"""The lab's configuration files as tests see them: every PromQL expression in the Grafana
dashboards and the recording rules, and promtool (the host's, or the Prometheus image's).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.support.composelab import ROOT, require_engine

PROMETHEUS_DIR = ROOT / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
PROVISIONING = ROOT / "grafana" / "provisioning"

#: What Grafana puts in for its variables when a test runs a query itself: "All" for the
#: lab's template variables, the smallest rate window the 2 s scrape gives, and a range.
GRAFANA_VARIABLES = {
    "__rate_interval": "8s",
    "__interval": "2s",
    "__range": "1h",
    "node": ".*",
    "origin": ".*",
}
#: `$1` is label_replace's capture group, which Grafana leaves alone too.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$([A-Za-z_]\w*)")
_LABEL_VALUES = re.compile(r"^label_values\((.*),\s*(\w+)\)$", re.S)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def substitute(expr: str) -> str:
    """`expr` with Grafana's variables replaced as Grafana would for "All"; fails on a
    variable the dashboards do not define."""

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        assert name in GRAFANA_VARIABLES, f"unknown Grafana variable ${name} in {expr}"
        return GRAFANA_VARIABLES[name]

    return _VARIABLE.sub(value, expr)


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' collapsed panels included (rows themselves excluded)."""
    found = []
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def dashboard_queries() -> dict[str, str]:
    """{"dashboard / panel / refId": runnable PromQL} for every panel target and every
    query variable (label_values(selector, label) runs as its selector)."""
    exprs = {}
    for path in DASHBOARDS:
        dashboard = load_dashboard(path)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                key = f"{path.stem} / {panel['title']} / {target['refId']}"
                exprs[key] = substitute(target["expr"])
        for var in dashboard.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
                m = _LABEL_VALUES.match(query.strip())
                assert m, f"{path.stem}: variable {var['name']}: not label_values(...): {query}"
                exprs[f"{path.stem} / ${var['name']}"] = substitute(m.group(1))
    return exprs


def rule_expressions() -> dict[str, str]:
    """{"rules / record": expr} for every recording rule."""
    exprs = {}
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                exprs[f"{path.stem} / {rule.get('record') or rule.get('alert')}"] = rule["expr"]
    return exprs


def alert_names() -> set[str]:
    """The "rules / alert" keys of rule_expressions() that are alerts."""
    return {
        f"{path.stem} / {rule['alert']}"
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def promql_ok(expr: str) -> bool:
    """True when `expr` parses as PromQL (promql-parser, the Prometheus grammar in Rust);
    the parser's message otherwise fails the calling test."""
    try:
        promql_parser.parse(expr)
    except (ValueError, RuntimeError) as e:
        pytest.fail(f"PromQL does not parse: {expr!r}: {e}")
    return True


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Runs promtool: the host's (Debian's `prometheus` package), else the one inside the
    Prometheus image with the repository mounted at the same path. Paths are absolute."""
    if shutil.which("promtool"):
        cmd = ["promtool", *args]
    else:
        require_engine(
            fail="no promtool, and Docker is unusable",
            skip="no promtool on PATH and no Docker to run it in",
        )
        image = os.environ.get("PROMETHEUS_IMAGE", "prom/prometheus:v2.53.4")
        cmd = ["docker", "run", "--rm", "-i", "-v", f"{ROOT}:{ROOT}:ro", "--entrypoint",
               "promtool", image, *args]  # fmt: skip
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=300)
