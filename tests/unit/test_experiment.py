"""Experiments (lab.scenario, lab.experiment): the scenario format's checks, one schedule for
every substrate, figures read from a record, and every shipped scenario run in the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import experiment
from lab.scenario import ScenarioError, load, parse, shipped, sides, targets

SHIPPED = ["churn", "lossy", "partition-heal", "steady"]


def test_the_four_scenarios_ship_and_load() -> None:
    assert shipped() == SHIPPED
    for name in SHIPPED:
        sc = load(name)
        assert sc.name == name and sc.nodes >= 5 and sc.seconds > sc.quiet_s


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"cluster": {"nodes": 1}}, "nodes must be between 2"),
        ({"cluster": {"nodes": "ten"}}, "nodes must be a whole number"),
        ({"cluster": {"strategy": "flood"}}, 'strategy must be "tree" or "push"'),
        ({"cluster": {"settings": {"fanuot": 3}}}, "unknown knob 'fanuot'"),
        ({"cluster": {"settings": {"fanout": 0}}}, "fanout"),
        ({"clutser": {}}, "unknown field 'clutser'"),
        ({"timeline": [{"at": 1, "action": "explode"}]}, "action must be one of"),
        ({"timeline": [{"action": "heal"}]}, "at is required"),
        ({"timeline": [{"at": 99, "action": "heal"}]}, "at must be between 0 and 30"),
        ({"timeline": [{"at": 1, "action": "kill"}]}, "kill needs nodes or count"),
        ({"timeline": [{"at": 1, "action": "pause"}]}, "pause needs nodes or count"),
        ({"timeline": [{"at": 1, "action": "resume", "drop": 0.1}]}, "unknown field 'drop'"),
        ({"timeline": [{"at": 1, "action": "kill", "nodes": [10]}]}, "node 10 does not exist"),
        ({"timeline": [{"at": 1, "action": "kill", "count": 10}]}, "leaves no node"),
        ({"timeline": [{"at": 1, "action": "faults"}]}, "faults needs one of"),
        (
            {"timeline": [{"at": 1, "action": "faults", "drop": 1.5}]},
            "drop must be between 0 and 1",
        ),
        ({"timeline": [{"at": 1, "action": "heal", "drop": 0.1}]}, "unknown field 'drop'"),
        ({"timeline": [{"at": 1, "action": "partition", "groups": [[0, "x"]]}]}, "node indices"),
    ],
)
def test_a_wrong_field_is_named(data: dict, says: str) -> None:
    with pytest.raises(ScenarioError, match=says.replace("(", r"\(")):
        parse({"measure": {"seconds": 30}, **data})


def test_a_file_that_is_not_toml_or_not_there_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[cluster\nnodes = 3")
    with pytest.raises(ScenarioError, match=r"bad\.toml: not valid TOML"):
        load(str(bad))
    with pytest.raises(ScenarioError, match=r"no scenario .nope.*steady"):
        load("nope")


def test_actions_choose_their_nodes() -> None:
    sc = parse({"timeline": [
        {"at": 1, "action": "kill", "count": 2},
        {"at": 2, "action": "faults", "drop": 0.1},
        {"at": 3, "action": "partition", "groups": [[0, 3]]},
        {"at": 4, "action": "partition"},
    ]})  # fmt: skip
    kill, faults, groups, halves = sc.timeline
    assert targets(kill, 10) == [8, 9]  # the highest indices: the bootstrap node goes last
    assert targets(faults, 4) == [0, 1, 2, 3]
    assert sides(groups, 5) == [[0, 3], [1, 2, 4]]
    assert sides(halves, 5) == [[0, 1], [2, 3, 4]]
    with pytest.raises(ScenarioError, match="count 2 leaves no node"):
        sc.with_nodes(2)


def test_the_schedule_is_the_seeds_alone_and_quiet_at_the_end() -> None:
    sc = load("partition-heal")
    a, b = experiment.schedule(sc), experiment.schedule(sc)
    assert a == b
    publishes = [t for t, kind, _ in a if kind == "publish"]
    assert max(publishes) < sc.seconds - sc.quiet_s
    # each node about every pace_s
    assert abs(len(publishes) - sc.nodes * (sc.seconds - sc.quiet_s) / sc.pace_s) < sc.nodes * 2
    assert [w.action for _, kind, w in a if kind == "action"] == ["partition", "heal"]


def _line(t: float, node: str, kind: str, **fields: object) -> dict:
    return {"t": t, "node": node, "kind": kind, **fields}


def test_figures_read_reach_and_cost_from_a_record() -> None:
    """Two updates: one reaches both other nodes (the slower at 0.3 s, one of them by a newer
    version), one never reaches c. Only nodes up at the end are waited for."""
    end = {"end": True, "up": True}
    record = [
        {"kind": "header", "since": 100.0, "scenario": {"name": "x", "seconds": 10, "quiet_s": 2},
         "substrate": "sim"},
        _line(101.0, "a", "movie_changed", version=5),
        _line(101.1, "b", "update_applied", origin="a", version=5),
        _line(101.2, "a", "movie_changed", version=6),
        _line(101.25, "b", "update_applied", origin="a", version=6),
        _line(101.3, "c", "update_applied", origin="a", version=6),
        _line(103.0, "b", "movie_changed", version=9),
        _line(103.1, "a", "update_applied", origin="b", version=9),
        _line(109.0, "a", "movie_changed", version=7),  # in the quiet spell: not counted
        _line(110.0, "a", "snapshot", **end, origins={"a": {"version": 7}, "b": {"version": 9}}),
        _line(110.0, "b", "snapshot", **end, origins={"a": {"version": 7}, "b": {"version": 9}}),
        _line(110.0, "c", "snapshot", **end, origins={"a": {"version": 6}}),
    ]  # fmt: skip
    summary, updates = experiment.figures(record, messages=30)
    assert [u["reach_all_s"] for u in updates] == [pytest.approx(0.3), pytest.approx(0.1), None]
    assert updates[2]["arrivals"] == {"a": pytest.approx(0.1), "c": None}
    assert summary["updates"] == 3 and summary["updates_reaching_all"] == 2
    assert summary["msgs_per_update"] == 10
    assert summary["reach_all_p50_s"] == pytest.approx(0.1)
    assert summary["reach_all_max_s"] == pytest.approx(0.3)
    assert summary["converged"] is False  # c lacks b and a's newest
    assert summary["heal_to_all_s"] is None  # (no heal in the timeline)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_converges_in_the_simulator(name: str, tmp_path: Path) -> None:
    sc = load(name).with_nodes(6)
    summary = experiment.run(sc, "sim", tmp_path, say=lambda _: None)
    assert summary["converged"], summary
    assert summary["updates"] > 20 and summary["updates_reaching_all"] == summary["updates"]
    assert summary["msgs_per_update"] > 2 * (sc.nodes - 1) * 0.9  # each node gets it, replies
    assert {p.name for p in tmp_path.iterdir()} >= {
        "record.jsonl",
        "summary.json",
        "updates.json",
        "coverage.png",
    }
    header = json.loads((tmp_path / "record.jsonl").read_text().splitlines()[0])
    assert header["format"] == "gossip-lab-record" and header["scenario"]["name"] == name
    if name == "partition-heal":  # updates made while cut wait for the heal
        heal, cut = (a.at for a in reversed(sc.timeline))
        assert summary["reach_all_max_s"] > 0.5 * (heal - cut)
        assert 0 < summary["heal_to_all_s"] < 10  # (every 1 s anti-entropy, dead peers 5 s)
    else:
        assert (summary["heal_to_all_s"] is None) == (name != "lossy")
    if name == "steady":
        assert summary["reach_all_max_s"] < 0.2


def tree_degrees(record: list[dict]) -> dict[str, int]:
    """How many tree links each node has, from the links that carried first arrivals."""
    links = {
        frozenset((x["sender"], x["node"]))
        for x in record
        if x.get("kind") == "update_applied" and x.get("via") == "tree"
    }
    degrees: dict[str, int] = {}
    for link in links:
        for node in link:
            degrees[node] = degrees.get(node, 0) + 1
    return degrees


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_simulated_nodes_join_as_processes_do_and_build_their_tree(seed: int) -> None:
    """Processes start one after another and ask the bootstrap node for peers: their
    kept-alive connection to it beats the new connections of a newcomer's first push, and
    the first broadcasts leave a tree centred on the bootstrap node (as measured among 10
    and 30 processes: it held 9 of 9 and 19 of 29 tree links). The simulator joins its
    nodes the same way; with connections free of cost it builds a deeper tree."""
    import dataclasses

    sc = dataclasses.replace(load("steady").with_nodes(20), seed=seed, seconds=6.0)
    degrees = tree_degrees(experiment.run_sim(sc, lambda _: None).record)
    assert len(degrees) == 20 and sum(degrees.values()) == 2 * 19  # a spanning tree
    assert max(degrees.values()) >= 10  # a hub: half the tree's links or more
    free = {**experiment.SIM_LINK, "connect_s": 0.0}
    assert max(tree_degrees(experiment.run_sim(sc, lambda _: None, free).record).values()) < 10


def test_repeated_runs_give_medians_their_spread_and_every_update(tmp_path: Path) -> None:
    import dataclasses
    import statistics

    sc = dataclasses.replace(load("partition-heal").with_nodes(5), seed=7)
    summary = experiment.run(sc, "sim", tmp_path, say=lambda _: None, repeat=3)
    runs = [json.loads((tmp_path / f"run-{k}" / "summary.json").read_text()) for k in (1, 2, 3)]
    assert [r["seed"] for r in runs] == summary["seeds"] == [7, 8, 9]
    assert summary["repeat"] == 3 and summary["converged"] is True
    for key in ("reach_all_p50_s", "msgs_per_update", "heal_to_all_s"):
        values = sorted(r[key] for r in runs)
        assert summary[key] == pytest.approx(statistics.median(values), abs=1e-4)
        assert summary["spread"][key] == values[:: len(values) - 1]
    assert summary["updates"] == sum(r["updates"] for r in runs)
    updates = json.loads((tmp_path / "updates.json").read_text())
    assert sorted({u["run"] for u in updates}) == [1, 2, 3] and len(updates) == summary["updates"]
    assert (tmp_path / "coverage.png").exists()
    # a repeated run calibrates the simulator: each parameter the median of the runs'
    models = [experiment.calibration_of(tmp_path / f"run-{k}") for k in (1, 2, 3)]
    together = experiment.calibration_of(tmp_path)
    assert together["service_s"] == pytest.approx(statistics.median(m["service_s"] for m in models))
    out = experiment.compare([tmp_path, tmp_path / "run-1"])
    assert out["runs"][0]["repeat"] == 3


def test_a_paused_node_holds_up_what_is_made_while_it_is_frozen(tmp_path: Path) -> None:
    """`pause` freezes node 2 for 5 s: updates made meanwhile reach all only once it
    resumes (and it made none itself), and the run still converges."""
    sc = parse({
        "cluster": {"nodes": 6, "pace_s": 1.0},
        "measure": {"seconds": 20, "quiet_s": 6, "warmup_s": 2},
        "timeline": [{"at": 3, "action": "pause", "nodes": [2]},
                     {"at": 8, "action": "resume", "nodes": [2]}],
    })  # fmt: skip
    summary = experiment.run(sc, "sim", tmp_path, say=lambda _: None)
    assert summary["converged"] and summary["updates_reaching_all"] == summary["updates"]
    updates = json.loads((tmp_path / "updates.json").read_text())
    t0 = json.loads((tmp_path / "record.jsonl").read_text().splitlines()[0])["since"]
    during = [u for u in updates if 3.5 < u["t"] - t0 < 7.5]
    assert during and all(u["origin"] != "10.0.0.2:7000" for u in during)
    assert all(u["t"] + u["reach_all_s"] - t0 > 7.99 for u in during)  # waited for the resume
    after = [u for u in updates if u["t"] - t0 > 9]
    assert after and max(u["reach_all_s"] for u in after) < 1.0


def test_a_disconnected_node_is_walled_off_on_top_of_a_partition(tmp_path: Path) -> None:
    """`disconnect` takes node 4 off the network across a partition and its heal: updates
    made meanwhile reach all only once it is back, it makes none while off (and some
    after), and its faults lines (as live nodes write them) block every peer while off,
    nothing after."""
    sc = parse({
        "cluster": {"nodes": 6, "pace_s": 1.0},
        "measure": {"seconds": 20, "quiet_s": 6, "warmup_s": 2},
        "timeline": [{"at": 2, "action": "partition", "groups": [[0, 1, 2]]},
                     {"at": 3, "action": "disconnect", "nodes": [4]},
                     {"at": 5, "action": "heal"},
                     {"at": 8, "action": "reconnect", "nodes": [4]}],
    })  # fmt: skip
    summary = experiment.run(sc, "sim", tmp_path, say=lambda _: None)
    assert summary["converged"] and summary["updates_reaching_all"] == summary["updates"]
    lines = [json.loads(x) for x in (tmp_path / "record.jsonl").read_text().splitlines()]
    t0 = lines[0]["since"]
    updates = json.loads((tmp_path / "updates.json").read_text())
    off = "10.0.0.4:7000"
    during = [u for u in updates if 3.5 < u["t"] - t0 < 7.5]
    assert during and all(u["origin"] != off for u in during)
    assert all(u["t"] + u["reach_all_s"] - t0 > 7.99 for u in during)  # waited for it
    assert any(u["origin"] == off for u in updates if u["t"] - t0 > 8)
    ids = sorted(lines[0]["nodes"])
    walls = [x for x in lines if x.get("kind") == "faults_set"]
    healed = [x for x in walls if 5 <= x["t"] - t0 < 8]
    assert {x["node"] for x in healed} == set(ids) and all(
        x["blocked"] == ([n for n in ids if n != off] if x["node"] == off else [off])
        for x in healed
    )
    last = {x["node"]: x["blocked"] for x in walls}
    assert set(last) == set(ids) and not any(last.values())


def test_blocked_joins_partition_walls_and_nodes_off_the_network() -> None:
    ids = ["a", "b", "c", "d"]
    parted = {"a": ["c", "d"], "b": ["c", "d"], "c": ["a", "b"], "d": ["a", "b"]}
    assert experiment._blocked(ids, parted, {"b"}) == {
        "a": ["b", "c", "d"],
        "b": ["a", "c", "d"],
        "c": ["a", "b"],
        "d": ["a", "b"],
    }
    assert experiment._blocked(ids, {}, set()) == {n: [] for n in ids}


def test_compare_gives_the_second_runs_ratio_to_the_first(tmp_path: Path) -> None:
    sc = load("steady").with_nodes(5)
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    experiment.run(sc, "sim", fast, say=lambda _: None)
    slower = {"latency_s": 0.02, "jitter_s": 0.02}
    summary = experiment.save(experiment.run_sim(sc, lambda _: None, slower), slow)
    result = experiment.compare([fast, slow], tmp_path)
    assert result["converged"] == [True, True]
    assert 5 < result["ratios"]["reach_all_p50_s"] < 15  # links ten times slower
    assert result["ratios"]["updates"] == 1.0
    assert (tmp_path / "compare.png").stat().st_size > 10_000
    assert summary["link"] == slower


def test_calibration_reads_a_nodes_handling_time_and_a_hops_time_from_a_record() -> None:
    """20 updates, each pushed by one node to 4 peers that get it 0.5 ms apart (its
    handling time), 2 ms after it was made for the first of them; five nodes that started
    0.2 to 0.6 s apart."""
    lines: list[dict] = [{"kind": "header"}]
    for u in range(20):
        for k in range(4):
            delay = 0.002 + 0.0005 * k
            arrival = {"uuid": f"u{u}", "sender": "s", "via": "tree", "t": 100 + u + delay}
            lines.append({"kind": "update_applied", "hops": 1, "delay_s": delay, **arrival})
    assert experiment.calibration(lines)["join_gap_s"] == experiment.SIM_LINK["join_gap_s"]
    ticks = 2**20  # (a version tick is 2**-20 s)
    for k, start in enumerate([0.0, 0.2, 0.6, 0.9, 1.5]):  # gaps 0.2, 0.4, 0.3, 0.6 s
        for later in (0, 5):  # (snapshots repeat; a node's first life counts)
            gen = int((50 + start + later * (k == 2)) * ticks)
            lines.append({"kind": "snapshot", "node": f"n{k}", "generation": gen, "t": 101})
    link = experiment.calibration(lines)
    assert link["join_gap_s"] == pytest.approx(0.35, abs=0.001)  # their median
    assert link["connect_s"] == pytest.approx(experiment.CONNECT_RATIO * 0.002)  # (a fast hop's)
    assert link["per_hop_low_s"] == pytest.approx(0.002)
    assert link["service_s"] == pytest.approx(0.0005)
    assert link["per_hop_median_s"] == pytest.approx(0.00275)
    assert link["latency_s"] == pytest.approx(0.002 - 2 * 0.0005)  # less both ends' handling
    assert link["jitter_s"] == pytest.approx(2 * (0.00275 - 0.002 - 0.0005))
    with pytest.raises(ScenarioError, match="too few arrivals"):
        experiment.calibration(lines[:5])


def test_a_simulated_node_handles_one_message_at_a_time() -> None:
    """With a handling time, a node that pushes to 5 peers sends one request after another:
    they get the update that much apart, where without it they get it at once."""
    from lab.simnet import Link, Network
    from node.core import Applied, Config

    def spread(service_s: float) -> float:
        config = Config(resample_s=0, strategy="push", fanout=5)
        net = Network(config, seed=3, link=Link(latency_s=0.001),
                      check=False, service_s=service_s)  # fmt: skip
        ids = [n.id for n in net.cluster(6, joined=True)]
        net.run_for(5)
        got: list[float] = []
        net.listen(lambda _, events: got.extend(net.now for e in events if type(e) is Applied))
        net.publish(ids[0])
        net.run_for(1)
        assert len(got) == 5
        return max(got) - min(got)

    assert spread(0.0) == pytest.approx(0.0, abs=1e-9)
    assert spread(0.001) >= 0.003  # 5 peers, 1 ms each at the sender (and at the receivers)
    with pytest.raises(ValueError, match="service_s"):
        Network(Config(), service_s=-1)


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = experiment.main(["run", "steady", "--on", "sim", "--nodes", "4", "--out", str(out),
                            "--json"])  # fmt: skip
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and last["converged"] is True and last["out"] == str(out)
    assert {"reach_all_p50_s", "reach_all_p99_s", "msgs_per_update", "updates"} <= set(last)
    bad = tmp_path / "bad.toml"
    bad.write_text('[cluster]\nstrategy = "flood"\n')
    assert experiment.main(["run", str(bad)]) == 2
    assert 'strategy must be "tree" or "push"' in capsys.readouterr().err
    assert experiment.main(["compare", str(out), str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ratios"]["msgs_per_update"] == 1.0
    with pytest.raises(SystemExit) as e:
        experiment.main(["run", "steady", "--repeat", "0"])
    assert e.value.code == 2 and "--repeat must be 1 or more" in capsys.readouterr().err
