"""The reference models the benchmarks print beside each measured figure.

Owns formulas only: no simulation, no I/O. Time is in gossip periods (rounds); the
simulator's default period is one link latency, so the two read alike.

- Serf's convergence model is not here: it is `node.spread_model` (one formula for the
  benchmarks, the simulator and the observatory's page), asked in rounds.
- The push-pull bound of Karp, Schindelhauer, Shenker and Vöcking (2000), "Randomized
  rumor spreading": about ``log3 N + ln ln N`` rounds until everyone knows.
- The floor of any scheme where each informed node talks to 3 others a round plus being
  asked: ``log4 N`` rounds (the reference figures in docs/benchmarks.md).
"""

from __future__ import annotations

import math

__all__ = ["karp_rounds", "floor_rounds"]


def karp_rounds(n: int) -> float:
    """Karp et al.'s push-pull: about log3 N + ln ln N rounds to inform every node."""
    return math.log(n, 3) + math.log(math.log(n)) if n > 2 else 1.0


def floor_rounds(n: int) -> float:
    """log4 N: the rounds no scheme with fanout 3 plus a pull can beat."""
    return math.log(n, 4) if n > 1 else 0.0
