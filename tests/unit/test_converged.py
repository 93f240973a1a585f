"""The one "converged" rule (node.core.views_converged) and the callers that decide with it."""

from __future__ import annotations

from node.core import behind, views_converged
from node.gather import Report, summarize


def test_a_nodes_own_version_is_the_truth_for_its_origin() -> None:
    assert views_converged({"a": {"a": 5, "b": 2}, "b": {"a": 5, "b": 2}})
    assert not views_converged({"a": {"a": 5, "b": 2}, "b": {"a": 4, "b": 2}})
    assert not views_converged({"a": {"a": 5, "b": 2}, "b": {"b": 2}})  # never heard of a
    # a view read after the origin's may be ahead of it: that is not behind
    assert views_converged({"a": {"a": 5}, "b": {"a": 6}})
    # origins that are not judged nodes (departed, out of view) are not judged
    assert views_converged({"a": {"a": 1, "gone": 9}, "b": {"a": 1, "gone": 3}})
    # a node that has not published has nothing to spread
    assert views_converged({"a": {"a": 1}, "b": {"a": 1}})


def test_a_node_out_of_view_is_not_converged_unless_it_is_not_expected() -> None:
    assert not views_converged({"a": {"a": 1}, "b": None})
    assert not views_converged({"a": {"a": 1}}, expected=["a", "b"])
    assert views_converged({"a": {"a": 1}, "b": None}, expected=["a"])
    # nodes that are not expected are neither judged nor the truth for their origin
    assert views_converged({"a": {"a": 1}, "x": {"x": 7}}, expected=["a"])


def test_nothing_to_judge_is_not_converged() -> None:
    assert not views_converged({})
    assert not views_converged({"a": {"a": 1}}, expected=[])


def test_behind_says_what_keeps_the_views_apart() -> None:
    views = {"a": {"a": 5}, "b": {"a": 3}, "c": None}
    assert list(behind(views)) == ["b has a at 3 < 5", "c is not in view"]


def test_the_cluster_view_judges_the_nodes_that_answered() -> None:
    def state(origins: dict[str, int]) -> dict[str, object]:
        return {"origins": {o: {"version": v} for o, v in origins.items()}}

    a, b = state({"a:1": 3}), state({"a:1": 3})
    out = summarize("a:1", [Report("a:1", "self", a), Report("b:1", "alive", b)], 0.0)
    assert out["converged"] is True
    # an unreachable node is counted apart, not judged
    gone = Report("c:1", "dead", None, "timed out")
    out = summarize("a:1", [Report("a:1", "self", a), Report("b:1", "alive", b), gone], 0.0)
    assert out["converged"] is True and out["unreachable"] == 1
    b = state({"a:1": 2})
    out = summarize("a:1", [Report("a:1", "self", a), Report("b:1", "alive", b)], 0.0)
    assert out["converged"] is False and out["lagging"] == 1
