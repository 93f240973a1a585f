"""Flood control: a token bucket per client, so one noisy peer cannot starve the others.

Owns the arithmetic only (pure, time passed in); the edge (`node.edge`) asks `allow` before
it reads a gossip body and answers 429 with `Retry-After` when refused. A client is its address plus
the `X-Gossip-Sender` header our transport sets, so the nodes of a local cluster, all on
127.0.0.1, have buckets of their own. Buckets are bounded (least recently used first out)
and a global bucket, `global_factor` times one client's rate and burst, caps the total, so
rotating sender names buys a flooder nothing.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["RateLimiter"]


class RateLimiter:
    """`rate_per_s` requests per second per client, bursts up to `burst`; 0 turns it off."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float | None = None,
        max_clients: int = 10_000,
        global_factor: float = 10.0,
    ) -> None:
        self.rate = rate_per_s
        self.burst = burst if burst is not None else 2 * rate_per_s
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, time
        self._global_rate = rate_per_s * global_factor
        self._global_burst = self.burst * global_factor
        self._global = (self._global_burst, 0.0)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def allow(self, client: str, now: float) -> float:
        """0.0 if `client` may go on now; otherwise the seconds to wait (for Retry-After)."""
        if not self.enabled:
            return 0.0
        wait, self._global = self._take(self._global, self._global_rate, self._global_burst, now)
        if wait:
            return wait
        bucket = self._buckets.pop(client, (self.burst, now))
        wait, bucket = self._take(bucket, self.rate, self.burst, now)
        self._buckets[client] = bucket
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    @staticmethod
    def _take(
        bucket: tuple[float, float], rate: float, burst: float, now: float
    ) -> tuple[float, tuple[float, float]]:
        tokens, then = bucket
        tokens = min(burst, tokens + max(now - then, 0.0) * rate)
        if tokens >= 1.0:
            return 0.0, (tokens - 1.0, now)
        return (1.0 - tokens) / rate, (tokens, now)

    def __len__(self) -> int:
        return len(self._buckets)
