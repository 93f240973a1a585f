"""The benchmarks (`python -m lab.bench`): how fast, how cheap and how far the gossip scales.

Seven benchmarks, each a module with a `run_benchmark(quick, ...)` that returns a `Result`:
`convergence` (simulated, N up to 10,000), `glomers` (the Gossip Glomers broadcast
workload, simulated), `processes` (real node processes on loopback), `throughput` (one
node process against a bare aiohttp handler), `memory` (a million messages through one
node), `tree` (the broadcast tree against random push, simulated) and `scale` (the Compose
lab from 10 to 100 peers; only with `--only scale`: it needs a Docker engine).
`lab.bench.__main__` runs them, prints the tables and writes JSON and PNG plots into
`results/`. The reference formulas printed beside the measurements are `node.spread_model`.
"""

__all__ = ["BENCHMARKS_NAMES"]

#: The benchmarks in the order `python -m lab.bench` runs them.
BENCHMARKS_NAMES = ("convergence", "glomers", "processes", "throughput", "memory")
