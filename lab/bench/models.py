"""The reference models the benchmarks print beside each measured figure.

Owns formulas only: no simulation, no I/O. Time is in gossip periods (rounds); the
simulator's default period is one link latency, so the two read alike.

- Serf's convergence model (hashicorp/serf, "Gossip convergence" simulator): the number of
  nodes infected after t periods is ``N / (1 + (N+1)·e^(-c·N·t))`` with
  ``c = (fanout/N)·(1-loss)·0.5``. It is a logistic epidemic of push gossip.
- The push-pull bound of Karp, Schindelhauer, Shenker and Vöcking (2000), "Randomized
  rumor spreading": about ``log3 N + ln ln N`` rounds until everyone knows.
- The floor of any scheme where each informed node talks to 3 others a round plus being
  asked: ``log4 N`` rounds (the reference figures in docs/benchmarks.md).
"""

from __future__ import annotations

import math

__all__ = [
    "serf_fraction",
    "serf_rounds_to",
    "serf_rounds_to_all",
    "karp_rounds",
    "floor_rounds",
]


def _rate(fanout: int, loss: float) -> float:
    """c·N of Serf's model: new infections per infected node per period, early on."""
    return fanout * (1 - loss) * 0.5


def serf_fraction(n: int, fanout: int, loss: float, t: float) -> float:
    """Fraction of n nodes infected after t periods, by Serf's model."""
    return 1 / (1 + (n + 1) * math.exp(-_rate(fanout, loss) * t))


def serf_rounds_to(n: int, fanout: int, loss: float, fraction: float) -> float:
    """Periods until Serf's model reaches `fraction` (0 < fraction < 1) of the nodes."""
    return math.log((n + 1) * fraction / (1 - fraction)) / _rate(fanout, loss)


def serf_rounds_to_all(n: int, fanout: int, loss: float) -> float:
    """Periods until Serf's model expects fewer than one node left uninformed."""
    return serf_rounds_to(n, fanout, loss, 1 - 1 / n) if n > 1 else 0.0


def karp_rounds(n: int) -> float:
    """Karp et al.'s push-pull: about log3 N + ln ln N rounds to inform every node."""
    return math.log(n, 3) + math.log(math.log(n)) if n > 2 else 1.0


def floor_rounds(n: int) -> float:
    """log4 N: the rounds no scheme with fanout 3 plus a pull can beat."""
    return math.log(n, 4) if n > 1 else 0.0
