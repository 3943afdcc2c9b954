"""Timing primitives: interleaved repetitions, medians, spreads, the BLAS setup.

Every comparison runs its contenders in turn, one call each per round, so
that a slow spell on a shared machine hits all of them alike: A B A B … for
two, and for more a fresh (seeded) random order every round, so that each
contender follows each other one equally often on average. No contender ever runs twice
in a row: a repeat finds its own arrays still in cache, which was measured to
favour it by 2–3 % (the older A B | B A alternation did exactly that for the
first and last contender); and a fixed order favours whoever follows a
contender touching the same data.
Each contender is warmed up first; the figure is the ratio of medians, and
the spread is the interquartile range of the per-round ratios.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

#: Environment variables that change which BLAS kernel runs or how many threads it uses.
BLAS_ENVIRONMENT = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_VERBOSE",
)


@dataclass(frozen=True)
class Samples:
    """Seconds per call of one contender, one entry per round."""

    name: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def quartiles(self) -> tuple[float, float]:
        return _quartiles(self.seconds)


@dataclass(frozen=True)
class Ratio:
    """median(A) / median(B), and the median and interquartile range of the
    per-round ratios A_i / B_i (each round runs A and B back to back, so a
    change of machine load between rounds cancels in A_i / B_i)."""

    value: float
    low: float
    high: float
    rounds: int
    paired_median: float = float("nan")


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0])
    q = statistics.quantiles(values, n=4, method="inclusive")
    return (q[0], q[2])


def time_once(function: Callable[[], object], inner: int = 1) -> float:
    """Seconds per call, over ``inner`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(inner):
        function()
    return (time.perf_counter() - start) / inner


def interleaved(
    contenders: Mapping[str, Callable[[], object]],
    rounds: int,
    warmup: int = 3,
    inner: int = 1,
    setup: Callable[[], object] | None = None,
) -> dict[str, Samples]:
    """Time every contender once per round, in turn (order: see the module
    docstring), after warm-up.

    ``setup`` (if given) runs before every timed call and is not timed: it
    resets caches so that each call does the full work."""
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            if setup is not None:
                setup()
            contenders[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    shuffle = random.Random(0)
    order = list(names)
    for _ in range(rounds):
        if len(order) > 2:
            last = order[-1]
            shuffle.shuffle(order)
            if order[0] == last:  # never the same contender twice in a row
                order.append(order.pop(0))
        for name in order:
            if setup is not None:
                setup()
            seconds[name].append(time_once(contenders[name], inner))
    return {name: Samples(name, tuple(values)) for name, values in seconds.items()}


def ratio(a: Samples, b: Samples) -> Ratio:
    per_round = [x / y for x, y in zip(a.seconds, b.seconds) if y > 0]
    low, high = _quartiles(per_round) if per_round else (float("nan"), float("nan"))
    paired = statistics.median(per_round) if per_round else float("nan")
    return Ratio(a.median / b.median, low, high, len(per_round), paired)


def pin_blas_threads(threads: int = 1) -> object:
    """Limit every BLAS/OpenMP pool in this process to ``threads``; returns the limiter."""
    import numpy  # noqa: F401 - the BLAS library must be loaded for its pool to be limited
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def blas_report() -> dict:
    """Which BLAS runs (library, version, kernel architecture, threads) and the
    environment variables that influence it. Reported, never changed here."""
    from threadpoolctl import threadpool_info

    pools = [
        {
            key: pool.get(key)
            for key in ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads", "threading_layer")
        }
        for pool in threadpool_info()
    ]
    return {
        "pools": pools,
        "environment": {name: os.environ[name] for name in BLAS_ENVIRONMENT if name in os.environ},
    }
