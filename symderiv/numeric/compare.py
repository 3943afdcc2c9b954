"""Agreement of two float computations: within tolerance, or settled in high precision.

Where two computations disagree by more than :func:`~symderiv.numeric.tolerance.tolerance`,
the exact reference is recomputed at ``HIGH_PRECISION_DIGITS`` digits before any verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from symderiv.numeric.precision import high_precision
from symderiv.numeric.tolerance import tolerance

if TYPE_CHECKING:
    import sympy


@dataclass(frozen=True)
class Agreement:
    """How well a computed array matches an exact reference."""

    max_error: float  # max |computed − reference|
    max_scaled_error: float  # max |computed − reference| / tolerance (≤ 1 means agreement)
    points: int
    settled_in_high_precision: int  # points whose reference was recomputed with mpmath
    inconclusive: int = 0  # points where the witness could not decide (no finite tolerance, FD bound)

    @property
    def ok(self) -> bool:
        """No conclusive disagreement (points that could not decide are left out)."""
        return bool(self.max_scaled_error <= 1.0)

    @property
    def decided(self) -> bool:
        """At least one point was conclusive."""
        return self.points > self.inconclusive


def agree(
    computed: np.ndarray,
    reference: np.ndarray,
    scale: np.ndarray,
    *,
    exact: tuple["sympy.Expr", Sequence["sympy.Symbol"], np.ndarray] | None = None,
    dtype: np.dtype | type = np.float64,
) -> Agreement:
    """Compare ``computed`` with ``reference`` under :func:`tolerance` of ``scale``.

    ``exact = (expr, args, points)`` lets points that fail be re-decided against
    the expression evaluated with mpmath (``points`` has one row per element).
    Non-finite values never agree. A point whose tolerance is not finite (the
    rounding scale overflowed) decides nothing: it is counted as inconclusive
    and left out, never passed by default."""
    computed = np.asarray(computed, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel().copy()
    allowed = np.broadcast_to(tolerance(np.asarray(scale, dtype=np.float64), dtype), computed.shape).ravel()
    undecidable = ~np.isfinite(allowed)
    allowed = np.where(undecidable, np.inf, allowed)
    with np.errstate(invalid="ignore"):
        error = np.abs(computed - reference)
    failing = ~(error <= allowed) & ~undecidable
    settled = 0
    if exact is not None and failing.any():
        expr, args, points = exact
        rows = np.flatnonzero(failing)
        reference[rows] = high_precision(expr, args, np.asarray(points)[rows])
        settled = len(rows)
        with np.errstate(invalid="ignore"):
            error = np.abs(computed - reference)
    finite = np.isfinite(error)
    used = ~undecidable
    worst = float(np.max(error[finite & used])) if (finite & used).any() else 0.0
    scaled = np.where(finite, error / allowed, np.inf)[used]
    return Agreement(
        max_error=worst if finite[used].all() else float("inf"),
        max_scaled_error=float(np.max(scaled)) if scaled.size else 0.0,
        points=computed.size,
        settled_in_high_precision=settled,
        inconclusive=int(undecidable.sum()),
    )
