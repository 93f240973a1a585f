"""Benchmark 7's readings of what Docker and Prometheus say (the runs themselves need a
Docker engine and minutes a size: `python -m lab.bench --only scale`)."""

from __future__ import annotations

from lab.bench import __main__ as bench
from lab.bench.scale import node_cpu, quantile


def test_cpu_is_summed_per_service_of_the_benchmark_s_own_project_only() -> None:
    stats = "\n".join(
        [
            "gossip-scale-bootstrap-1 1.50%",
            "gossip-scale-peer-1 2.25%",
            "gossip-scale-peer-12 0.25%",
            "gossip-scale-prometheus-1 7.00%",
            "gossip-lab-peer-1 50.00%",  # another lab on the same engine
            "gossip-scale-peer-3 --",  # a container still starting
            "",
        ]
    )
    assert node_cpu(stats, "gossip-scale") == (4.0, 7.0)


def test_quantiles_take_the_nearest_rank_below_and_none_of_nothing() -> None:
    values = sorted(float(v) for v in range(101))
    assert quantile(values, 0.5) == 50.0
    assert quantile(values, 0.99) == 99.0
    assert quantile([0.3], 0.99) == 0.3
    assert quantile([], 0.5) is None


def test_the_docker_benchmark_runs_only_when_asked_for() -> None:
    assert "scale" in bench.BENCHMARKS
    assert "scale" not in bench.DEFAULT
    assert set(bench.DEFAULT) | {"scale"} == set(bench.BENCHMARKS)
