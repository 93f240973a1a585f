"""Waiting on what can be observed, instead of sleeping and hoping: a test that needs a
state polls for it with a bound, and fails naming what it waited for. A sleep in a test is
the measured length of a scenario (how long a cut or a flood lasts), never a guess at how
long something takes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import pytest

__all__ = ["async_wait_until", "wait_until"]

T = TypeVar("T")


@dataclass(frozen=True)
class _Raised:
    """What `pred` raised: "not yet", like a falsy result, but reported as itself."""

    error: Exception


class _Deadline(Generic[T]):
    """One wait's bound: judges each try's outcome, and fails the test naming what it waited
    for and the last "not yet" once the bound has passed."""

    def __init__(self, timeout: float, what: str) -> None:
        self.timeout, self.what = timeout, what
        self.end = time.monotonic() + timeout

    def check(self, outcome: T | _Raised | None) -> T | None:
        """The outcome when the condition holds (it is truthy); else None, until the bound
        has passed."""
        if outcome and not isinstance(outcome, _Raised):
            return outcome
        if time.monotonic() >= self.end:
            last = outcome.error if isinstance(outcome, _Raised) else outcome
            pytest.fail(f"{self.what}: not within {self.timeout:g} s (last: {last!r:.600})")
        return None


def _attempt(pred: Callable[[], T | None]) -> T | _Raised | None:
    try:
        return pred()
    except Exception as e:
        return _Raised(e)


async def _async_attempt(pred: Callable[[], Awaitable[T | None]]) -> T | _Raised | None:
    try:
        return await pred()
    except Exception as e:
        return _Raised(e)


def wait_until(pred: Callable[[], T | None], timeout: float, what: str, step: float = 0.1) -> T:
    """Polls `pred` until it returns something truthy, and returns that; fails naming
    `what` after `timeout` s. Exceptions inside `pred` count as "not yet" (the last one is
    reported): something coming up raises all sorts."""
    deadline = _Deadline[T](timeout, what)
    while (result := deadline.check(_attempt(pred))) is None:
        time.sleep(step)
    return result


async def async_wait_until(
    pred: Callable[[], Awaitable[T | None]], timeout: float, what: str, step: float = 0.02
) -> T:
    """`wait_until` inside an event loop: awaits `pred()` until it gives something truthy."""
    deadline = _Deadline[T](timeout, what)
    while (result := deadline.check(await _async_attempt(pred))) is None:
        await asyncio.sleep(step)
    return result
