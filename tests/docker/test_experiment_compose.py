"""Every shipped scenario on the Compose lab (lab.experiment --on compose), at 4 nodes: the
lab comes up under a project of its own, the scenario's faults go through the nodes' fault
layer and its kills, pauses and disconnects through `docker kill` / `start`, `pause` /
`unpause` and `network disconnect` / `connect`, every update made before the
quiet spell reaches every node, and the lab is gone afterwards."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from lab import experiment
from lab.scenario import load

NODES = 4


@pytest.mark.parametrize("name", ["steady", "partition-heal", "churn", "lossy"])
def test_a_shipped_scenario_converges_in_the_compose_lab(
    name: str, image_tag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOSSIP_LAB_TAG", image_tag)  # the session's image, not a new build
    sc = dataclasses.replace(load(name).with_nodes(NODES), warmup_s=3.0)
    lines: list[str] = []
    summary = experiment.run(sc, "compose", tmp_path, say=lines.append)
    assert summary["converged"], (summary, lines)
    assert summary["updates"] >= 10
    assert summary["updates_reaching_all"] == summary["updates"], summary
    record = [json.loads(x) for x in (tmp_path / "record.jsonl").read_text().splitlines()]
    assert record[0]["substrate"] == "compose" and record[0]["scenario"]["name"] == name
    assert len({line["node"] for line in record if line.get("end")}) == NODES
    if name == "partition-heal":
        assert summary["heal_to_all_s"] is not None and summary["reach_all_max_s"] > 5
    # every kill, pause and disconnect was carried out (a new favourite asked of a node
    # just restarted may be lost, and said: a restart takes a moment)
    assert not [x for x in lines if "action at" in x and "failed" in x], lines
    if name == "churn":  # node 3 is off the network from 30 s to 34 s: what is made meanwhile
        t0 = record[0]["since"]  # reaches all once it is back, at its old address (its id)
        updates = json.loads((tmp_path / "updates.json").read_text())
        during = [u for u in updates if 30.5 < u["t"] - t0 < 33.5]
        assert during and all(u["t"] - t0 + u["reach_all_s"] > 34 for u in during), during
    project = next(x.split("project ")[1].split(",")[0] for x in lines if "project " in x)
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert left == [], f"{project} left containers behind"
