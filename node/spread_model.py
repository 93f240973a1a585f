"""The spread models every figure is measured against: Serf's convergence model, and the two
bounds the benchmarks print beside it.

Owns formulas only (pure: no I/O, no clock, standard library). The benchmarks and the
simulator (`lab.bench`, `lab.simulate`) ask it in rounds (`period_s=1`); the observatory
draws it in seconds, in the browser, with `node/static/model.js`, which takes the same
arguments in the same order and is checked against this module's figures
(`tests/golden/model.json`, written by `tests/unit/test_golden.py`).

Serf's model (hashicorp/serf's "Gossip convergence" simulator, `convergenceAtRound`) is a
logistic epidemic of push gossip in which, each round of `period_s`, every informed node
reaches `fanout` random nodes of `n` with loss `loss`:
    contact = fanout / n * (1 - loss) / 2
    informed(x) = n / (1 + (n + 1) * exp(-contact * n * x)),   x = t / period_s

The bounds, in rounds (the simulator's default period is one link latency, so the two read
alike):
- the push-pull bound of Karp, Schindelhauer, Shenker and Vöcking (2000), "Randomized
  rumor spreading": about ``log3 N + ln ln N`` rounds until everyone knows;
- the floor of any scheme where each informed node talks to 3 others a round plus being
  asked: ``log4 N`` rounds (the reference figures in docs/benchmarks.md).
"""

from __future__ import annotations

import math

__all__ = ["floor_rounds", "karp_rounds", "serf_fraction", "serf_time", "serf_time_to_all"]


def _rate(fanout: int, loss: float) -> float:
    """contact * n: new infections per informed node per round, early on."""
    return fanout * (1 - loss) * 0.5


def serf_fraction(t: float, n: int, fanout: int, period_s: float = 1.0, loss: float = 0.0) -> float:
    """The fraction of n nodes informed t seconds (rounds, with period_s=1) after the send."""
    if n <= 1:
        return 1.0
    return min(1 / (1 + (n + 1) * math.exp(-_rate(fanout, loss) * (t / period_s))), 1.0)


def serf_time(
    fraction: float, n: int, fanout: int, period_s: float = 1.0, loss: float = 0.0
) -> float:
    """Seconds (rounds, with period_s=1) until the model has informed `fraction`
    (0 < fraction < 1) of the nodes; infinite when nothing gets through."""
    if n <= 1:
        return 0.0
    rate = _rate(fanout, loss)
    if rate <= 0:
        return math.inf
    return math.log((n + 1) * fraction / (1 - fraction)) / rate * period_s


def serf_time_to_all(n: int, fanout: int, period_s: float = 1.0, loss: float = 0.0) -> float:
    """Seconds (rounds) until the model expects fewer than one node left uninformed."""
    return serf_time(1 - 1 / n, n, fanout, period_s, loss) if n > 1 else 0.0


def karp_rounds(n: int) -> float:
    """Karp et al.'s push-pull: about log3 N + ln ln N rounds to inform every node."""
    return math.log(n, 3) + math.log(math.log(n)) if n > 2 else 1.0


def floor_rounds(n: int) -> float:
    """log4 N: the rounds no scheme with fanout 3 plus a pull can beat."""
    return math.log(n, 4) if n > 1 else 0.0
