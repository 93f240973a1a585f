"""Records (the observatory's JSON lines) for tests: replaying one the way the page and
node.ledger do, and the one seeded simulated episode that the golden files, the JS tests and
the page's merge test all read."""

from __future__ import annotations

import functools
import random
from typing import Any

from lab.record import SimRecorder
from lab.simnet import Link, Network, node_id
from node.core import Config
from node.genealogy import merge_updates
from node.ledger import apply_line, empty_state

__all__ = ["EPISODE_FANOUT", "replay", "seeded_episode"]

#: The fanout of `seeded_episode`'s cluster (the model's and the merge's argument).
EPISODE_FANOUT = 2


def replay(lines: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each node's state after every line of a record but its header and closing snapshots
    (node.ledger's `apply_line`), and those closing snapshots by node."""
    states: dict[str, dict[str, Any]] = {}
    ends = {}
    for line in lines[1:]:
        if line.get("end"):
            ends[line["node"]] = line
        else:
            apply_line(states.setdefault(line["node"], empty_state()), line)
    return states, ends


def seeded_episode() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A seeded simulated run with loss (12 nodes, fanout 2, five updates at random nodes):
    its record's lines, and node.genealogy's merge of the nodes' ledgers (what the page's
    replay must agree with)."""
    net = Network(
        Config(fanout=EPISODE_FANOUT, resample_s=0.0),
        seed=11,
        link=Link(jitter_s=0.02, loss=0.1),
    )
    rec = SimRecorder(net)
    net.cluster(12)
    net.run_until_converged(60)
    rec.start()
    rng = random.Random(11)
    for k in range(5):
        net.at(net.now + 0.3 + k * 0.7, functools.partial(net.publish, node_id(rng.randrange(12))))
    net.run_for(8)
    reports = {
        nid: {**ledger.summary(net.now), "origins": ledger.state()["origins"]}
        for nid, ledger in rec.ledgers.items()
    }
    return rec.record(), merge_updates(reports, EPISODE_FANOUT)
