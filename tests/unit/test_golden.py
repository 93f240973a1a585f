"""The golden files the page's JavaScript is tested against (tests/js, `node --test`).

The page computes three things itself: the Serf model's curve (node/static/model.js) and,
for a replayed record, the merge of the nodes' records into each update's tree and whether
the nodes have converged (node/static/replay.js). Their Python twins are the reference:
this module computes their figures (`node.spread_model`, `node.genealogy`, `node.ledger` on
a seeded simulated run, `node.core.views_converged`) and this test checks that the committed
files in tests/golden/ still hold exactly them, so a change to the Python that the JS does
not follow fails here or in tests/js.

    .venv/bin/python -m tests.unit.test_golden   # rewrites them after a deliberate change
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def model_figures() -> dict[str, Any]:
    """The Serf model and the ideal depth over a grid of their arguments."""
    from node.genealogy import ideal_depth
    from node.spread_model import serf_fraction, serf_time

    fraction, time = [], []
    for n in (1, 2, 5, 30, 100, 10_000):
        for fanout in (1, 3, 4):
            for period_s in (0.01, 0.2, 1.0):
                for loss in (0.0, 0.3, 1.0):
                    for rounds in (0.0, 0.5, 2.0, 7.5, 40.0):
                        t = rounds * period_s
                        args = [t, n, fanout, period_s, loss]
                        fraction.append({"args": args, "value": serf_fraction(*args)})
                    for p in (0.01, 0.5, 0.99, 0.9999):
                        took = serf_time(p, n, fanout, period_s, loss)
                        # JSON has no infinity: null stands for it
                        value = None if math.isinf(took) else took
                        time.append({"args": [p, n, fanout, period_s, loss], "value": value})
    depth = [
        {"args": [n, fanout], "value": ideal_depth(n, fanout)}
        for n in (0, 1, 2, 3, 4, 5, 13, 14, 40, 41, 100, 1000)
        for fanout in (0, 1, 2, 3, 4)
    ]
    return {"serf_fraction": fraction, "serf_time": time, "ideal_depth": depth}


def replay_figures() -> dict[str, Any]:
    """A seeded simulated run with loss (12 nodes, fanout 2, five updates) as the page loads
    it, with what the Python makes of it: node.genealogy's merge of the nodes' ledgers,
    the model's period, and each node's versions by node.ledger's `apply_line`, midway and
    at the end."""
    from node.genealogy import hop_period
    from node.ledger import apply_line, empty_state
    from tests.support.records import EPISODE_FANOUT, seeded_episode

    lines, updates = seeded_episode()
    body = [x for x in lines if x["kind"] != "header" and not x.get("end")]
    # midway: just after the third update's send, while it is still spreading
    mid = sorted(u["sent_at"] for u in updates)[2] + 0.02

    def versions_at(t: float) -> dict[str, dict[str, int]]:
        states: dict[str, dict[str, Any]] = {}
        for line in body:
            if line["t"] <= t:
                apply_line(states.setdefault(line["node"], empty_state()), line)
        return {
            node: {o: e["version"] for o, e in s["origins"].items()}
            for node, s in sorted(states.items())
            if s["up"]
        }

    return {
        "record": lines,
        "fanout": EPISODE_FANOUT,
        "updates": updates,
        "period_s": hop_period(updates),
        "mid": mid,
        "versions_mid": versions_at(mid),
        "versions_end": versions_at(math.inf),
    }


def converged_figures() -> dict[str, Any]:
    """`views_converged` on the cases its rule names, and on the seeded episode's views
    midway and at the end (node/static/replay.js's `converged` must agree)."""
    from node.core import views_converged

    cases: list[tuple[dict[str, Any], list[str] | None]] = [
        ({}, None),  # nothing to judge
        ({"a": {"a": 5}, "b": {"a": 5}}, None),
        ({"a": {"a": 5}, "b": {"a": 4}}, None),  # b is behind a's own version
        ({"a": {"a": 5}, "b": {"a": 6}}, None),  # read later than a: ahead is not behind
        ({"a": {}, "b": {}}, None),  # nobody has published: nothing to spread
        ({"a": {"a": 1}, "b": {"a": 1}}, ["a"]),
        ({"a": {"a": 1, "b": 3}, "b": {"b": 3}}, None),  # b never heard of a
        ({"a": {"a": 1}, "c": None}, None),  # c did not answer
        ({"a": {"a": 1}}, ["a", "b"]),  # b is expected and missing
        ({"a": {"a": 1, "b": 2}, "b": {"a": 1, "b": 2}, "x": {}}, ["a", "b"]),  # x not judged
        ({"a": {"a": 1, "b": 2}, "b": {"b": 2}, "x": {"x": 7}}, ["a", "b"]),
        ({"a": {"a": 1, "gone": 9}, "b": {"a": 1, "gone": 3}}, None),  # departed: not judged
    ]
    replay = replay_figures()
    cases += [(replay["versions_mid"], None), (replay["versions_end"], None)]
    return {
        "cases": [
            {"views": views, "expected": expected, "value": views_converged(views, expected)}
            for views, expected in cases
        ]
    }


FILES = {
    "model.json": model_figures,
    "replay.json": replay_figures,
    "converged.json": converged_figures,
}


def _close(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ (floats within 1e-9 relative: libm may differ)."""
    if isinstance(a, float) or isinstance(b, float):
        ok = isinstance(a, int | float) and isinstance(b, int | float)
        return [] if ok and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [path]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path} keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in _close(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path} length {len(a)} != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _close(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path]


def _encode(data: Any) -> str:
    return json.dumps(data, separators=(",", ":")) + "\n"


def test_the_golden_files_hold_what_the_python_computes_now() -> None:
    for name, make in FILES.items():
        committed = json.loads((GOLDEN / name).read_text())
        # through JSON, as the JS reads it (tuples become lists, keys strings)
        differ = _close(json.loads(_encode(make())), committed)
        assert not differ, (
            f"tests/golden/{name} is out of date at {differ[:5]}: run python {__file__}"
        )


def test_the_golden_files_are_not_trivial() -> None:
    model = json.loads((GOLDEN / "model.json").read_text())
    values = [c["value"] for c in model["serf_fraction"]]
    assert len(values) > 500 and 0 < min(values) < 0.01 and max(values) == 1.0
    assert any(c["value"] is None for c in model["serf_time"])  # total loss: never
    replay = json.loads((GOLDEN / "replay.json").read_text())
    updates = replay["updates"]
    assert len(updates) == 5 and replay["period_s"] > 0
    # the loss left copies, duplicates and some trees deeper than the ideal to compare
    assert sum(u["redundant"] for u in updates) > 0
    assert any(u["depth"] > u["ideal_depth"] for u in updates)
    assert replay["versions_mid"] != replay["versions_end"]
    verdicts = [c["value"] for c in json.loads((GOLDEN / "converged.json").read_text())["cases"]]
    assert True in verdicts and False in verdicts
    assert verdicts[-2:] == [False, True]  # the episode: spreading midway, converged at the end


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for name, make in FILES.items():
        (GOLDEN / name).write_text(_encode(make()))
        print(f"wrote tests/golden/{name}")
