"""Hypothesis drives a simulated cluster through random faults; a failure shrinks to a short
script of steps. Safety is checked after every step of every node by the shared invariants
(node.core.Invariants, inside lab.simnet); liveness (everyone converges) whenever the faults
are healed, and at the end."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from lab.simnet import Link, Network, node_id
from node.core import Config

N = 5
CONFIG = Config(resample_s=3.0, sync_s=1.0, seen_capacity=64, reap_s=600.0)
# After every fault is healed: a few anti-entropy periods, plus the probe interval of peers
# that were marked dead meanwhile.
CONVERGE_WITHIN_S = 3 * CONFIG.sync_s + 2 * CONFIG.dead_retry_s

indexes = st.integers(min_value=0, max_value=N - 1)


class Cluster(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**32 - 1))
    def start(self, seed: int) -> None:
        self.net = Network(CONFIG, seed=seed, link=Link(latency_s=0.01, timeout_s=0.5))
        self.net.cluster(N)
        self.down: set[str] = set()

    @rule(seconds=st.floats(0.05, 5.0))
    def run(self, seconds: float) -> None:
        self.net.run_for(seconds)

    @rule(i=indexes)
    def new_favourite(self, i: int) -> None:
        if node_id(i) in self.net.nodes:
            self.net.publish(node_id(i))

    @rule(
        loss=st.sampled_from([0.0, 0.1, 0.4]),
        duplicate=st.sampled_from([0.0, 0.3]),
        jitter=st.sampled_from([0.0, 0.05]),
    )
    def weather(self, loss: float, duplicate: float, jitter: float) -> None:
        self.net.link = Link(
            latency_s=0.01, jitter_s=jitter, loss=loss, duplicate=duplicate, timeout_s=0.5
        )

    @rule(cut=st.sets(indexes, min_size=1, max_size=N - 1))
    def partition(self, cut: set[int]) -> None:
        self.net.partition([node_id(i) for i in cut])

    @precondition(lambda self: len(self.down) < N - 1)
    @rule(i=st.integers(1, N - 1))  # the bootstrap node stays, so restarts can join
    def crash(self, i: int) -> None:
        self.net.crash(node_id(i))
        self.down.add(node_id(i))

    @precondition(lambda self: bool(self.down))
    @rule(data=st.data())
    def restart(self, data: st.DataObject) -> None:
        nid = data.draw(st.sampled_from(sorted(self.down)))
        self.net.run_for(0.01)  # a restart takes time: a new life starts later
        self.net.restart(nid, bootstrap=node_id(0))
        self.down.discard(nid)

    @rule()
    def heal_and_converge(self) -> None:
        self.net.heal()
        self.net.link = Link(latency_s=0.01, timeout_s=0.5)
        self.net.run_until_converged(CONVERGE_WITHIN_S)

    def teardown(self) -> None:
        if hasattr(self, "net"):
            self.net.run_for(0.01)
            for nid in sorted(self.down):
                self.net.restart(nid, bootstrap=node_id(0))
            self.heal_and_converge()


Cluster.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCluster = Cluster.TestCase
