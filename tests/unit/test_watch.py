"""lab.watch: the matrix of who knows which origin's latest version, and update timing."""

from __future__ import annotations

from lab.watch import Snapshot, UpdateClock, render


def snap(views: dict[str, dict[str, int]], unreachable: list[str] | None = None) -> Snapshot:
    return Snapshot(views, unreachable or [])


def test_behind_counts_versions_against_the_newest_seen_anywhere() -> None:
    s = snap({"a": {"a": 5, "b": 3}, "b": {"a": 4, "b": 3}, "c": {"b": 3}})
    assert s.newest == {"a": 5, "b": 3}
    assert (s.behind("a", "a"), s.behind("b", "a"), s.behind("c", "a")) == (0, 1, None)
    assert not s.converged
    text = render(s, UpdateClock())
    assert "-1" in text and "?" in text and "not converged" in text


def test_converged_needs_every_node_reachable_and_current() -> None:
    assert snap({"a": {"a": 5}, "b": {"a": 5}}).converged
    assert not snap({"a": {"a": 5}, "b": {"a": 5}}, ["c"]).converged


def test_an_update_is_timed_from_first_sight_to_everywhere() -> None:
    clock = UpdateClock()
    clock.observe(snap({"a": {"a": 1}, "b": {"a": 1}}), now=0.0)  # present at start: not timed
    clock.observe(snap({"a": {"a": 2}, "b": {"a": 1}}), now=1.0)
    clock.observe(snap({"a": {"a": 2}, "b": {"a": 1}}), now=1.5)
    clock.observe(snap({"a": {"a": 2}, "b": {"a": 2}}), now=2.25)
    assert clock.durations == [1.25]
    assert clock.last == ("a", 2, 1.25)
    assert "1.25 s" in render(snap({"a": {"a": 2}, "b": {"a": 2}}), clock)
