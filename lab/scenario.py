"""Experiment scenarios: one TOML file that says what cluster to run, what to do to it and
when, and how long to watch (docs/experiments.md has the format).

Owns the format: reading a file (or a shipped scenario by name, from `lab/scenarios/`),
checking every field with an error that names it, and the typed `Scenario` the runners
(`lab.experiment`) play on any substrate. Nothing here runs anything.

    name = "partition-heal"
    [cluster]
    nodes = 10              # node 0 is the bootstrap node
    strategy = "tree"       # or "push"
    pace_s = 5.0            # mean seconds between one node's new favourites
    settings = { sync_s = 1.0 }   # any protocol knob (node.core.Config), by its name
    [measure]
    warmup_s = 10           # new favourites at that pace first, not measured
    seconds = 40            # from the start of the timeline
    [[timeline]]
    at = 10
    action = "partition"    # into two halves, or groups = [[0, 1, 2], [3, 4]]
    [[timeline]]
    at = 20
    action = "heal"
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.core import Config

__all__ = ["ACTIONS", "SHIPPED", "Action", "Scenario", "ScenarioError", "load", "shipped"]

SHIPPED = Path(__file__).resolve().parent / "scenarios"

#: What a timeline can do, and the fields each action takes besides `at` and `action`.
#: `nodes` (indices) or `count` (that many nodes, the highest indices first) choose the
#: nodes an action touches; without either, `faults` and `burst` touch every node.
ACTIONS: dict[str, frozenset[str]] = {
    "partition": frozenset({"groups"}),
    "heal": frozenset(),
    "kill": frozenset({"nodes", "count"}),
    "restart": frozenset({"nodes", "count"}),
    "pause": frozenset({"nodes", "count"}),
    "resume": frozenset({"nodes", "count"}),
    "disconnect": frozenset({"nodes", "count"}),
    "reconnect": frozenset({"nodes", "count"}),
    "faults": frozenset({"nodes", "count", "drop", "duplicate", "delay_ms", "jitter_ms"}),
    "burst": frozenset({"nodes", "count"}),
}
_FAULTS = {"drop": (0.0, 1.0), "duplicate": (0.0, 1.0), "delay_ms": (0.0, 60_000.0),
           "jitter_ms": (0.0, 60_000.0)}  # fmt: skip
_KNOBS = {f.name for f in dataclasses.fields(Config)}


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file and the field."""


@dataclass(frozen=True)
class Action:
    """One step of the timeline, `at` seconds after it starts."""

    at: float
    action: str
    #: The node indices it touches (resolved from `nodes` or `count`); () for every node.
    nodes: tuple[int, ...] = ()
    #: partition: the groups of node indices (the rest form one more group).
    groups: tuple[tuple[int, ...], ...] = ()
    #: faults: drop, duplicate, delay_ms, jitter_ms (the node fault layer's, docs/faults.md).
    faults: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at, "action": self.action}
        if self.nodes:
            out["nodes"] = list(self.nodes)
        if self.groups:
            out["groups"] = [list(g) for g in self.groups]
        out.update(self.faults)
        return out


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    nodes: int
    strategy: str
    #: Mean seconds between one node's new favourites (0: only the timeline's bursts).
    pace_s: float
    #: Protocol knobs by their `node.core.Config` names.
    settings: tuple[tuple[str, Any], ...]
    #: Seconds the timeline runs; the record covers them all.
    seconds: float
    #: The last seconds in which new favourites stop, so that every update can land.
    quiet_s: float
    #: Seconds of new favourites at the scenario's pace before the timeline starts (not
    #: measured): the broadcast tree forms on the first broadcasts.
    warmup_s: float
    seed: int
    timeline: tuple[Action, ...]
    source: str = ""

    def config(self) -> Config:
        """The protocol's configuration: defaults, the scenario's knobs, strategy and pace."""
        knobs = dict(self.settings)
        knobs.update(strategy=self.strategy, resample_s=self.pace_s)
        return dataclasses.replace(Config(), **knobs)

    def with_nodes(self, n: int) -> Scenario:
        """The same scenario on `n` nodes; actions naming nodes that no longer exist fail."""
        changed = dataclasses.replace(self, nodes=n)
        for a in changed.timeline:
            _check_nodes(changed, a, f"timeline at {a.at:g} s")
        return changed

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "nodes": self.nodes,
            "strategy": self.strategy,
            "pace_s": self.pace_s,
            "settings": dict(self.settings),
            "seconds": self.seconds,
            "quiet_s": self.quiet_s,
            "warmup_s": self.warmup_s,
            "seed": self.seed,
            "timeline": [a.to_json() for a in self.timeline],
            "source": self.source,
        }


def shipped() -> list[str]:
    """The names of the scenarios that come with the lab."""
    return sorted(p.stem for p in SHIPPED.glob("*.toml"))


def load(name_or_path: str) -> Scenario:
    """A scenario from a file path, or a shipped one by name; ScenarioError if it is wrong."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SHIPPED / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(
                f"no scenario {name_or_path!r}: give a .toml file or one of {', '.join(shipped())}"
            )
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read it: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from None
    try:
        return parse(data, source=str(path), default_name=path.stem)
    except ScenarioError as e:
        raise ScenarioError(f"{path}: {e}") from None


def parse(data: dict[str, Any], *, source: str = "", default_name: str = "scenario") -> Scenario:
    """A scenario from the TOML's tables; ScenarioError naming the first wrong field."""
    _only(data, {"name", "description", "seed", "cluster", "measure", "timeline"}, "the file")
    cluster = _table(data, "cluster")
    measure = _table(data, "measure")
    _only(cluster, {"nodes", "strategy", "pace_s", "settings"}, "[cluster]")
    _only(measure, {"seconds", "quiet_s", "warmup_s"}, "[measure]")
    nodes = _number(cluster, "nodes", "[cluster]", 10, 2, 10_000, whole=True)
    strategy = cluster.get("strategy", "tree")
    if strategy not in ("tree", "push"):
        raise ScenarioError(f'[cluster] strategy must be "tree" or "push", got {strategy!r}')
    pace_s = _number(cluster, "pace_s", "[cluster]", 10.0, 0.0, 3600.0)
    settings = cluster.get("settings", {})
    if not isinstance(settings, dict):
        raise ScenarioError("[cluster] settings must be a table of protocol knobs")
    for knob in settings:
        if knob not in _KNOBS or knob in ("strategy", "resample_s"):
            raise ScenarioError(
                f"[cluster] settings: unknown knob {knob!r} (the knobs are node.core.Config's "
                "fields; strategy and pace_s have their own fields)"
            )
    try:
        dataclasses.replace(Config(), **settings)
    except (TypeError, ValueError) as e:
        raise ScenarioError(f"[cluster] settings: {e}") from None
    seconds = _number(measure, "seconds", "[measure]", 30.0, 1.0, 86_400.0)
    quiet_s = _number(measure, "quiet_s", "[measure]", min(10.0, seconds / 3), 0.0, seconds)
    warmup_s = _number(measure, "warmup_s", "[measure]", 10.0, 0.0, 3600.0)
    seed = _number(data, "seed", "the file", 1, 0, 2**63, whole=True)
    name, description = data.get("name", default_name), data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ScenarioError("name and description must be strings")
    steps = data.get("timeline", [])
    if not isinstance(steps, list):
        raise ScenarioError("timeline must be an array of tables: [[timeline]]")
    scenario = Scenario(name, description, int(nodes), strategy, pace_s,
                        tuple(sorted(settings.items())), seconds, quiet_s, warmup_s, int(seed),
                        (), source)  # fmt: skip
    actions = [_action(scenario, step, k) for k, step in enumerate(steps)]
    return dataclasses.replace(scenario, timeline=tuple(sorted(actions, key=lambda a: a.at)))


def _action(scenario: Scenario, step: Any, k: int) -> Action:
    where = f"timeline step {k + 1}"
    if not isinstance(step, dict):
        raise ScenarioError(f"{where} must be a table")
    kind = step.get("action")
    if kind not in ACTIONS:
        raise ScenarioError(f"{where}: action must be one of {', '.join(ACTIONS)}, got {kind!r}")
    _only(step, {"at", "action", *ACTIONS[kind]}, f"{where} ({kind})")
    at = _number(step, "at", where, None, 0.0, scenario.seconds)
    nodes: tuple[int, ...] = ()
    if "nodes" in step and "count" in step:
        raise ScenarioError(f"{where}: give nodes or count, not both")
    if "nodes" in step:
        nodes = _indices(step["nodes"], f"{where}: nodes")
    elif "count" in step:
        count = int(_number(step, "count", where, None, 1, 10_000, whole=True))
        nodes = (-count,)  # resolved against the cluster's size when run (see `targets`)
    elif kind in ("kill", "restart", "pause", "resume", "disconnect", "reconnect"):
        raise ScenarioError(f"{where}: {kind} needs nodes or count")
    groups: tuple[tuple[int, ...], ...] = ()
    if "groups" in step:
        if not isinstance(step["groups"], list) or not step["groups"]:
            raise ScenarioError(f"{where}: groups must be a list of lists of node indices")
        groups = tuple(_indices(g, f"{where}: groups") for g in step["groups"])
    faults = tuple(
        (key, _number(step, key, where, None, lo, hi))
        for key, (lo, hi) in _FAULTS.items()
        if key in step
    )
    if kind == "faults" and not faults:
        raise ScenarioError(f"{where}: faults needs one of {', '.join(_FAULTS)}")
    action = Action(float(at), kind, nodes, groups, faults)
    _check_nodes(scenario, action, where)
    return action


def targets(action: Action, n: int) -> list[int]:
    """The node indices an action touches in a cluster of `n` (every node when it names none;
    `count = k` is the k highest indices, so the bootstrap node 0 goes last)."""
    if not action.nodes:
        return list(range(n))
    if len(action.nodes) == 1 and action.nodes[0] < 0:
        return list(range(max(0, n + action.nodes[0]), n))
    return list(action.nodes)


def sides(action: Action, n: int) -> list[list[int]]:
    """A partition's sides: its groups and the rest, or the two halves when it names none."""
    if not action.groups:
        return [list(range(n // 2)), list(range(n // 2, n))]
    listed = {i for g in action.groups for i in g}
    rest = [i for i in range(n) if i not in listed]
    return [list(g) for g in action.groups] + ([rest] if rest else [])


def _check_nodes(scenario: Scenario, action: Action, where: str) -> None:
    n = scenario.nodes
    named = [i for g in action.groups for i in g] + [i for i in action.nodes if i >= 0]
    bad = [i for i in named if i >= n]
    if bad:
        raise ScenarioError(f"{where}: node {bad[0]} does not exist (nodes are 0 to {n - 1})")
    if action.nodes and action.nodes[0] < 0 and -action.nodes[0] >= n:
        raise ScenarioError(f"{where}: count {-action.nodes[0]} leaves no node untouched of {n}")


def _only(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"[{key}] must be a table")
    return value


def _number(table: dict[str, Any], key: str, where: str, default: Any, lo: float, hi: float,
            *, whole: bool = False) -> Any:  # fmt: skip
    if key not in table:
        if default is None:
            raise ScenarioError(f"{where}: {key} is required")
        return default
    value = table[key]
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ScenarioError(f"{where}: {key} must be {'a whole number' if whole else 'a number'}")
    if not lo <= value <= hi:
        raise ScenarioError(f"{where}: {key} must be between {lo:g} and {hi:g}, got {value}")
    return value


def _indices(value: Any, where: str) -> tuple[int, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value)
    ):
        raise ScenarioError(f"{where} must be a non-empty list of node indices (0, 1, ...)")
    return tuple(value)
