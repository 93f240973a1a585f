"""A partition as fault settings: which nodes each node blocks so the cluster is cut in sides.

Owns the plan only (pure: no I/O, standard library). Whoever cuts a cluster plans it here
and carries it out its own way: the observatory's `POST /observatory/faults` through each
node's `PUT /admin/faults`, `lab.chaos` the same from outside, `lab.record` on the
simulator's links (and in the record, as the live nodes write it).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["blocked_by_side"]


def blocked_by_side(sides: Iterable[Iterable[str]]) -> dict[str, list[str]]:
    """node -> every node on the other sides, sorted (the node's `blocked` fault), for the
    nodes of `sides` in their order. Raises ValueError when a node is on two sides."""
    groups = [list(side) for side in sides]
    flat = [n for g in groups for n in g]
    if len(flat) != len(set(flat)):
        raise ValueError("a node is in two groups")
    plan: dict[str, list[str]] = {}
    for k, side in enumerate(groups):
        others = sorted(n for j, g in enumerate(groups) if j != k for n in g)
        for node in side:
            plan[node] = others
    return plan
