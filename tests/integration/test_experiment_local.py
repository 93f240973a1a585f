"""Every shipped scenario on real node processes (lab.experiment --on local), at 5 nodes:
it converges, every update made before the quiet spell reaches every node, and the record
it leaves is the observatory's format with the scenario in its header."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lab import experiment
from lab.scenario import load
from tests.support.ports import port_range

PORTS = port_range(__file__)
NODES = 5


@pytest.mark.parametrize("k, name", list(enumerate(["steady", "partition-heal", "churn", "lossy"])))
def test_a_shipped_scenario_converges_on_local_processes(k: int, name: str, tmp_path: Path) -> None:
    sc = dataclasses.replace(load(name).with_nodes(NODES), warmup_s=3.0)
    base = PORTS.start + k * NODES
    assert base + NODES <= PORTS.stop
    lines: list[str] = []
    summary = experiment.run(sc, "local", tmp_path, say=lines.append, base_port=base)
    assert summary["converged"], (summary, lines)
    assert summary["updates"] >= 10
    assert summary["updates_reaching_all"] == summary["updates"], summary
    assert summary["msgs_per_update"] >= 2 * (NODES - 1) * 0.9
    record = [json.loads(x) for x in (tmp_path / "record.jsonl").read_text().splitlines()]
    assert record[0]["format"] == "gossip-lab-record" and record[0]["scenario"]["name"] == name
    assert {line["node"] for line in record if line.get("end")} == {
        f"127.0.0.1:{p}" for p in range(base, base + NODES)
    }
    if name == "partition-heal":  # an update made while cut in two waits for the heal
        cut, heal = (a.at for a in sc.timeline)
        assert summary["reach_all_max_s"] > 0.5 * (heal - cut)
    if name == "lossy":  # the faults were set on every node, and counted there
        faults = [line for line in record if line.get("kind") == "faults_set" and line.get("drop")]
        assert len({line["node"] for line in faults}) == NODES
