"""The benchmarks (`python -m lab.bench`): how fast, how cheap and how far the gossip scales.

Five benchmarks, each a module with a `run(quick)` that returns its rows and writes nothing:
`convergence` (simulated, N up to 10,000), `glomers` (the Gossip Glomers broadcast
workload, simulated), `processes` (real node processes on loopback), `throughput` (one
node process against a bare aiohttp handler) and `memory` (a million messages through one
node). `lab.bench.__main__` runs them, prints the tables and writes JSON and PNG plots into
`results/`. The reference formulas printed beside the measurements are `node.spread_model`.
"""

__all__ = ["BENCHMARKS_NAMES"]

#: The benchmarks in the order `python -m lab.bench` runs them.
BENCHMARKS_NAMES = ("convergence", "glomers", "processes", "throughput", "memory")
