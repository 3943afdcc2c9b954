"""High-precision arithmetic: close calls settled at ``HIGH_PRECISION_DIGITS`` digits.

A float64 reference can itself be inaccurate under cancellation, so where two
computations disagree by more than the tolerance, the reference is recomputed
in high precision before any verdict; a counterexample is confirmed in high
precision before it is shown.

Contract: :data:`HIGH_PRECISION_DIGITS` is the one working precision of every
such evaluation in symderiv (mpmath ``workdps``, SymPy ``evalf``/``N``); the
thresholds below say when a high-precision difference counts as zero or as
real, each derived from it. Float tolerances are in
:mod:`symderiv.numeric.tolerance`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from symderiv.numeric.evaluate import lambdify_mpmath
from symderiv.numeric.tolerance import tolerance

if TYPE_CHECKING:
    import sympy

#: Digits of every high-precision evaluation: float64 carries ~16, so 50 leave
#: ~34 digits for cancellation inside an expression before its value is in doubt.
HIGH_PRECISION_DIGITS = 50

#: A high-precision difference below this (relative to the sides' size) is zero
#: to rounding: 10 of the HIGH_PRECISION_DIGITS are left to rounding errors.
HIGH_PRECISION_ZERO = 10.0 ** -(HIGH_PRECISION_DIGITS - 10)

#: Sides evaluated one at a time at fixed precision (no precision raised through
#: their cancellation, unlike ``evalf`` of the difference) differ when apart by
#: more than this relative amount: 20 digits left to rounding inside each side.
HIGH_PRECISION_SIDES_APART = 10.0 ** -(HIGH_PRECISION_DIGITS - 20)

#: A difference is real (not rounding) when two of its high-precision values
#: (at HIGH_PRECISION_DIGITS and twice that, or against its exact rational
#: value) agree to this relative amount: 20 digits, far above float64's 16.
HIGH_PRECISION_STABLE = 1e-20


def high_precision(
    expr: "sympy.Expr", args: Sequence["sympy.Symbol"], points: Sequence[Sequence[float]], dps: int = HIGH_PRECISION_DIGITS
) -> np.ndarray:
    """Evaluate ``expr`` at each point with mpmath at ``dps`` digits, rounded to float64."""
    import mpmath

    function = lambdify_mpmath(expr, args)
    values = []
    with mpmath.workdps(dps):
        for point in points:
            values.append(float(function(*[mpmath.mpf(float(v)) for v in point])))
    return np.array(values, dtype=np.float64)


def _mp_value(function, point, dps: int):
    """mpmath value at ``dps`` digits, or None where it is not a finite real."""
    import mpmath

    with mpmath.workdps(dps):
        try:
            value = function(*[mpmath.mpf(float(v)) for v in point])
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return None
        if isinstance(value, mpmath.mpc):
            if value.imag != 0:
                return None
            value = value.real
        value = mpmath.mpf(value)
        return value if mpmath.isfinite(value) else None


def decide_equal(
    lhs: "sympy.Expr",
    rhs: "sympy.Expr",
    args: Sequence["sympy.Symbol"],
    points: np.ndarray,
    floats: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> list[bool | None]:
    """Whether two exact expressions are equal at each point, decided in
    high precision: True (zero to HIGH_PRECISION_ZERO at twice
    HIGH_PRECISION_DIGITS), False (they differ, the same to
    HIGH_PRECISION_STABLE at HIGH_PRECISION_DIGITS and twice that), None (not a finite real there, or the
    difference is not stable between the two precisions: undecided).

    ``floats = (lhs values, rhs values, rounding scale of both)`` settles the
    points where the float values differ by more than their tolerance (then
    they differ exactly too) without mpmath."""
    points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    verdicts: list[bool | None] = [None] * len(points)
    todo = np.arange(len(points))
    if floats is not None:
        left, right, scale = (np.broadcast_to(np.asarray(a, dtype=np.float64), (len(points),)) for a in floats)
        with np.errstate(invalid="ignore"):
            apart = np.isfinite(left) & np.isfinite(right) & (np.abs(left - right) > tolerance(scale))
        for row in np.flatnonzero(apart):
            verdicts[row] = False
        todo = np.flatnonzero(~apart)
    if todo.size == 0:
        return verdicts
    difference = lambdify_mpmath(lhs - rhs, args)
    size = lambdify_mpmath(abs(lhs) + abs(rhs), args)
    for row in todo:
        verdicts[row] = _decide_at(difference, size, points[row])
    return verdicts


def _decide_at(difference, size, point) -> bool | None:
    import mpmath

    digits = HIGH_PRECISION_DIGITS
    low, high = _mp_value(difference, point, digits), _mp_value(difference, point, 2 * digits)
    magnitude = _mp_value(size, point, 2 * digits)
    if low is None or high is None or magnitude is None:
        return None
    with mpmath.workdps(2 * digits):
        if abs(high) <= mpmath.mpf(HIGH_PRECISION_ZERO) * magnitude:
            return True
        if abs(high - low) <= mpmath.mpf(HIGH_PRECISION_STABLE) * abs(high):
            return False
        return None
