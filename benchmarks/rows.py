"""The result row every benchmark returns, and the run configuration."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.timing import Ratio, Samples


@dataclass(frozen=True)
class Config:
    """Sizes and repetition counts. ``full()`` is the issue's setting; ``quick()``
    is for the smoke test (tiny sizes, few rounds; its figures mean nothing)."""

    rounds: int = 200
    warmup: int = 5
    mlp_sizes: tuple[int, int, int] = (784, 256, 10)
    mlp_batch: int = 128
    mlp_rounds: int = 600
    # independent copies of each step (own arrays), called in turn: where the
    # allocator happens to put one copy's arrays moves its time by up to ±3 %
    mlp_instances: int = 4
    hvp_sizes: tuple[int, int, int] = (64, 32, 10)
    hvp_batch: int = 128
    points: int = 100_000
    subs_points: int = 20
    softmax_max_n: int = 32
    blind_max_n: int = 6  # blind cancel() baseline, n = 1..blind_max_n
    proof_rounds: int = 5
    cli_rounds: int = 10
    cli_verify_rounds: int = 10
    cli_commands: tuple[str, ...] = ("help", "chain", "verify")
    batch_sizes: tuple[int, ...] = (1, 4, 16, 64, 128, 256, 1024)
    scaling_ns: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    scaling_rounds: int = 100  # per batch size of the engine-step scaling table

    @classmethod
    def full(cls) -> "Config":
        return cls()

    @classmethod
    def quick(cls) -> "Config":
        return cls(
            rounds=3,
            warmup=1,
            mlp_sizes=(20, 8, 4),
            mlp_batch=8,
            mlp_rounds=3,
            mlp_instances=2,
            hvp_sizes=(6, 5, 3),
            hvp_batch=4,
            points=1000,
            subs_points=2,
            softmax_max_n=3,
            blind_max_n=2,
            proof_rounds=1,
            cli_rounds=1,
            cli_verify_rounds=0,
            cli_commands=("help",),
            batch_sizes=(1, 4),
            scaling_ns=(1, 2),
            scaling_rounds=2,
        )


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, the baseline it is measured against, the verdict."""

    benchmark: str  # e.g. "1 mlp-step"
    name: str  # what A is
    baseline: str  # what B is
    ratio: float  # median(A) / median(B), or B's rate / A's rate for throughput rows
    ratio_low: float  # interquartile range of the per-round ratios
    ratio_high: float
    paired: float  # median of the per-round ratios (A and B run back to back)
    a_seconds: float  # median seconds of A (per call)
    b_seconds: float
    rounds: int
    figure: float | None = None  # an absolute figure when the target is absolute (s, points/s)
    unit: str = ""  # unit of ``figure``
    target: str = ""  # e.g. "ratio <= 1.0"
    met: bool | None = None  # None: no target on this row
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {key: _finite_or_none(value) for key, value in asdict(self).items()}


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def ratio_row(
    benchmark: str,
    name: str,
    baseline: str,
    a: Samples,
    b: Samples,
    r: Ratio,
    *,
    max_ratio: float | None = None,
    note: str = "",
    detail: dict[str, Any] | None = None,
) -> Row:
    """A row whose target (if any) is ``ratio <= max_ratio``."""
    return Row(
        benchmark=benchmark,
        name=name,
        baseline=baseline,
        ratio=r.value,
        ratio_low=r.low,
        ratio_high=r.high,
        paired=r.paired_median,
        a_seconds=a.median,
        b_seconds=b.median,
        rounds=r.rounds,
        target="" if max_ratio is None else f"ratio <= {max_ratio:g}",
        met=None if max_ratio is None else r.value <= max_ratio,
        note=note,
        detail=detail or {},
    )


def missing_row(benchmark: str, name: str, reason: str) -> Row:
    """A row that could not be measured (the reason says why)."""
    nan = float("nan")
    return Row(benchmark, name, "-", nan, nan, nan, nan, nan, nan, 0, note=f"missing: {reason}")
