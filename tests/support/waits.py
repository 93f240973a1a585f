"""Waiting on what can be observed, instead of sleeping and hoping: a test that needs a
state polls for it with a bound, and fails naming what it waited for. A sleep in a test is
the measured length of a scenario (how long a cut or a flood lasts), never a guess at how
long something takes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

__all__ = ["async_wait_until", "wait_until"]

T = TypeVar("T")


def wait_until(pred: Callable[[], T | None], timeout: float, what: str, step: float = 0.1) -> T:
    """Polls `pred` until it returns something truthy, and returns that; fails naming
    `what` after `timeout` s. Exceptions inside `pred` count as "not yet" (the last one is
    reported): something coming up raises all sorts."""
    end = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = pred()
            if result:
                return result
            last = result
        except Exception as e:
            last = e
        if time.monotonic() >= end:
            pytest.fail(f"{what}: not within {timeout:g} s (last: {last!r:.600})")
        time.sleep(step)


async def async_wait_until(
    pred: Callable[[], Awaitable[T | None]], timeout: float, what: str, step: float = 0.02
) -> T:
    """`wait_until` inside an event loop: awaits `pred()` until it gives something truthy."""
    end = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = await pred()
            if result:
                return result
            last = result
        except Exception as e:
            last = e
        if time.monotonic() >= end:
            pytest.fail(f"{what}: not within {timeout:g} s (last: {last!r:.600})")
        await asyncio.sleep(step)
