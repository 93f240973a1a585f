"""Bad input and faults in the Compose lab, each in a lab of its own: a peer that starts
before the bootstrap node retries and joins; a bad setting stops the container with a
message naming the variable, and the restart policy gives up instead of looping."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.composelab import CONVERGE_S, Lab, converged_view, wait_until


def test_peer_started_before_bootstrap_retries_then_joins(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    # The peer alone (--no-deps skips waiting for a healthy bootstrap node), and Prometheus.
    lab.up("peer", "prometheus", peers=1, no_deps=True)
    (peer,) = [c["Name"] for c in lab.containers("peer")]
    failures = wait_until(
        lambda: (
            len(lab.events(peer, "bootstrap_failed")) >= 3 and lab.events(peer, "bootstrap_failed")
        ),
        60,
        "the peer logs bootstrap_failed three times",
    )
    waits = [f["retry_in_s"] for f in failures]
    assert waits[1] > waits[0] and waits[2] > waits[1], f"no backoff: {waits}"
    state = lab.inspect(peer)["State"]
    assert state["Running"] and lab.inspect(peer)["RestartCount"] == 0, state

    lab.up("bootstrap", no_deps=True)
    prom = lab.prometheus()
    wait_until(lambda: converged_view(prom, 2), CONVERGE_S, "peer and bootstrap converged")
    assert lab.events(peer, "bootstrap_ok")
    assert lab.inspect(peer)["RestartCount"] == 0


def test_bad_setting_exits_naming_the_variable(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab(env={"GOSSIP_RESAMPLE_SECONDS": "often"})
    lab.up("bootstrap", no_deps=True)
    (node,) = [c["Name"] for c in lab.containers("bootstrap", all_states=True)]

    def gave_up() -> dict[str, object] | None:
        info = lab.inspect(node)
        done = info["State"]["Status"] == "exited" and info["RestartCount"] == 3
        return info if done else None

    # on-failure:3 restarts it 3 times (Docker backs off 0.1 s, 0.2 s, 0.4 s), then stops.
    info = wait_until(gave_up, 180, "the container exits for good after 3 restarts")
    assert info["State"]["ExitCode"] == 2  # type: ignore[index]
    messages = [line for line in lab.logs(node) if "bad setting" in line]
    assert len(messages) == 4, messages
    assert all("GOSSIP_RESAMPLE_SECONDS" in m and "'often'" in m for m in messages), messages
