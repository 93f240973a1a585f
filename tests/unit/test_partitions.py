"""node.partitions: the one plan of a cut, used by the observatory, lab.chaos and lab.record."""

from __future__ import annotations

import pytest

from node.partitions import blocked_by_side


def test_each_node_blocks_every_node_on_the_other_sides() -> None:
    plan = blocked_by_side([["b", "a"], ["c"], ["e", "d"]])
    assert list(plan) == ["b", "a", "c", "e", "d"]  # the sides' order
    assert plan["a"] == plan["b"] == ["c", "d", "e"]
    assert plan["c"] == ["a", "b", "d", "e"]
    assert plan["d"] == ["a", "b", "c"]


def test_a_node_on_two_sides_is_refused() -> None:
    with pytest.raises(ValueError, match="two groups"):
        blocked_by_side([["a", "b"], ["b"]])
