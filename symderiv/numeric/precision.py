"""High-precision arithmetic: close calls settled with mpmath at ``MP_DPS`` digits.

A float64 reference can itself be inaccurate under cancellation, so where two
computations disagree by more than the tolerance, the reference is recomputed
in high precision before any verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from symderiv.numeric.evaluate import lambdify_mpmath
from symderiv.numeric.tolerance import tolerance

if TYPE_CHECKING:
    import sympy

MP_DPS = 50


def high_precision(
    expr: "sympy.Expr", args: Sequence["sympy.Symbol"], points: Sequence[Sequence[float]], dps: int = MP_DPS
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
    high precision: True (equal to 40 of 50 digits), False (they differ, the
    same at 50 and 100 digits), None (not a finite real there, or the
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

    low, high = _mp_value(difference, point, MP_DPS), _mp_value(difference, point, 2 * MP_DPS)
    magnitude = _mp_value(size, point, 2 * MP_DPS)
    if low is None or high is None or magnitude is None:
        return None
    with mpmath.workdps(2 * MP_DPS):
        if abs(high) <= mpmath.mpf(10) ** (-40) * magnitude:
            return True
        if abs(high - low) <= mpmath.mpf(10) ** (-20) * abs(high):
            return False
        return None


def high_precision_derivative(
    expr: "sympy.Expr", arg: "sympy.Symbol", points: np.ndarray, order: int, dps: int = MP_DPS
) -> np.ndarray:
    """d^order expr/d arg^order at each point by mpmath's own numerical
    differentiation at ``dps`` digits (no SymPy derivative involved): the
    finite-difference witness re-decided without float rounding. NaN where
    the value is not a finite real."""
    import mpmath

    function = lambdify_mpmath(expr, [arg])
    values = []
    with mpmath.workdps(dps):
        for point in np.asarray(points, dtype=np.float64).ravel():
            try:
                value = mpmath.diff(function, mpmath.mpf(float(point)), order)
                if isinstance(value, mpmath.mpc):
                    value = value.real if value.imag == 0 else mpmath.nan
                values.append(float(value))
            except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                values.append(float("nan"))
    return np.array(values, dtype=np.float64)
