"""Numerical differentiation: every way symderiv differences a function, in one place.

Contract. :func:`central_difference` is *the* finite-difference witness (``chain``,
``train --check``, the proof checker's fallback): an estimate together with its
error bound (truncation plus rounding), its step chosen to minimise that bound,
and a flag that is False wherever the bound is not small next to the quantity —
such an estimate is *inconclusive*, never agreement or disagreement by
default. The other methods here are there for a stated reason, not as
alternatives:

* :func:`complex_step_derivative` — Im f(x + i·h)/h is exact to rounding for an
  analytic f evaluated in complex arithmetic (no subtraction, so no
  cancellation), which lets the proof checker take one derivative per pass
  over a large Jacobian;
* :func:`high_precision_derivative` — mpmath's own numerical differentiation at
  ``HIGH_PRECISION_DIGITS``: re-decides a disagreeing finite difference, and
  gives the reference value printed in the LaTeX document, without float
  rounding;
* :func:`relative_sensitivity` — a central difference with a fixed relative step,
  where only a magnitude is needed (the x-sensitivity term of check_backward's
  tolerance model), never a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from symderiv.numeric.precision import HIGH_PRECISION_DIGITS
from symderiv.numeric.tolerance import FD_BOUND_SAFETY, FD_CONCLUSIVE_FRACTION, machine_epsilon

if TYPE_CHECKING:
    import sympy


@dataclass(frozen=True)
class FiniteDifference:
    """Central differences, their error bound, and where they are a useful witness."""

    value: np.ndarray
    error_bound: np.ndarray
    step: np.ndarray
    conclusive: np.ndarray  # finite, and the bound is small next to the quantity


#: the smallest positive scale (a zero scale would make a zero step)
TINY_SCALE = float(np.finfo(np.float64).tiny)

#: a truncation error estimated from the estimates with steps h and h/2 is
#: 4/3 of their difference: T(h) − T(h/2) = (1 − 1/4)·T(h) for an h² error
RICHARDSON_FACTOR = 4.0 / 3.0


def central_difference(
    function: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    order: int,
    *,
    value_scale: np.ndarray | Callable[[np.ndarray], np.ndarray],
    next_derivative: np.ndarray | None = None,
) -> FiniteDifference:
    """First (order 1) or second (order 2) derivative by central differences.

    The error bound is truncation plus rounding: h²/6·|f⁽³⁾| + eps·M/h for
    order 1 and h²/12·|f⁽⁴⁾| + 4·eps·M/h² for order 2, with the next derivative
    (``next_derivative``, from SymPy) and M the rounding scale of f over the
    stencil (``value_scale``, an array at x or a function of the points: the
    values f(x ± h) round at their own size, which at x = 1e-300 is far
    above f(x)). The step minimises that bound, h = (3·eps·M/|f⁽³⁾|)^(1/3) or
    (48·eps·M/|f⁽⁴⁾|)^(1/4), capped at the classical eps^(1/3)·max(1, |x|)
    (eps^(1/4)·max(1, |x|) for order 2): near a singularity (log x at
    x = 1e-5) the step shrinks with the distance to it instead of jumping
    across. Where the next derivative is not known (``None``: a network's
    loss), the step is the classical one and the truncation error is
    estimated from the estimate with half the step (Richardson: 4/3 of their
    difference, plus the rounding of both). The bound is reported times
    ``FD_BOUND_SAFETY``. An estimate is conclusive only where it is finite,
    its bound is at most ``FD_CONCLUSIVE_FRACTION`` of the quantity's scale,
    and the estimate with half the step agrees with it within both bounds
    (near a pole the truncation term changes faster than |f⁽³⁾| at x says);
    elsewhere it is marked inconclusive instead of agreeing or disagreeing by
    default. ``function`` may return complex values (a real function
    evaluated in complex arithmetic); x is real."""
    x = np.asarray(x, dtype=np.float64)
    scale_at = value_scale if callable(value_scale) else (lambda points: np.asarray(value_scale))
    higher = None if next_derivative is None else np.abs(next_derivative)
    with np.errstate(all="ignore"):
        h = _fd_step(x, order, scale_at(x), higher)
        value, bound = _fd_estimate(function, x, h, order, scale_at, higher)
        half, half_bound = _fd_estimate(function, x, (x + h / 2) - x, order, scale_at, higher)
        if higher is None:
            bound, half_bound = _a_posteriori_bounds(value, half, bound, half_bound)
        s = np.maximum(1.0, np.abs(x))
        quantity_scale = np.abs(value) + np.maximum(np.abs(scale_at(x)), TINY_SCALE) / s**order
        conclusive = (
            np.isfinite(value) & np.isfinite(bound) & np.isfinite(half)
            & (bound <= FD_CONCLUSIVE_FRACTION * quantity_scale)
            & (np.abs(value - half) <= bound + half_bound)
        )
    return FiniteDifference(value, bound, h, conclusive)


def _fd_step(x: np.ndarray, order: int, scale: np.ndarray, higher: np.ndarray | None) -> np.ndarray:
    eps = machine_epsilon(np.float64)
    s = np.maximum(1.0, np.abs(x))
    scale = np.maximum(np.abs(scale), TINY_SCALE)
    if order not in (1, 2):
        raise ValueError("order must be 1 or 2")
    classical = eps ** (1 / 3) * s if order == 1 else eps ** (1 / 4) * s
    if higher is None:
        h = classical
    elif order == 1:
        h = np.where(higher > 0, np.cbrt(3 * eps * scale / higher), classical)
    else:
        h = np.where(higher > 0, (48 * eps * scale / higher) ** 0.25, classical)
    h = np.minimum(np.where(np.isfinite(h) & (h > 0), h, classical), classical)
    return (x + h) - x  # make the step exactly representable


def _fd_estimate(function, x, h, order, scale_at, higher):
    """The central difference with step h and its error bound (× FD_BOUND_SAFETY),
    the rounding part taken at the largest scale met on the stencil; without
    ``higher`` the bound holds the rounding part only."""
    eps = machine_epsilon(np.float64)
    up, down = function(x + h), function(x - h)
    scale = np.maximum.reduce([np.abs(scale_at(x)), np.abs(scale_at(x + h)), np.abs(scale_at(x - h))])
    scale = np.maximum(scale, TINY_SCALE)
    truncation = 0.0 if higher is None else (h * h / 6 * higher if order == 1 else h * h / 12 * higher)
    if order == 1:
        value = (up - down) / (2 * h)
        bound = truncation + eps * scale / h
    else:
        value = (up - 2 * function(x) + down) / (h * h)
        bound = truncation + 4 * eps * scale / (h * h)
    return value, FD_BOUND_SAFETY * bound + FD_BOUND_SAFETY * eps * np.abs(value)


def _a_posteriori_bounds(value, half, rounding, half_rounding):
    """Bounds when the next derivative is unknown: the truncation of the step-h
    estimate is 4/3 of (its difference from the half-step one, plus both
    estimates' rounding); the half-step estimate's truncation is a quarter of that."""
    truncation = RICHARDSON_FACTOR * (FD_BOUND_SAFETY * np.abs(value - half) + rounding + half_rounding)
    return rounding + truncation, half_rounding + truncation / 4


# ----------------------------------------------------------------- other methods, each for a reason

#: Step of the complex-step derivative: no subtraction happens, so the step can
#: be far below eps·|x| (truncation h²·|f'''|/6 vanishes) without losing digits.
COMPLEX_STEP = 1e-30


def complex_step_point(x: np.ndarray) -> np.ndarray:
    """x moved by i·COMPLEX_STEP: evaluate an analytic f there, then :func:`complex_step_derivative`."""
    return x + 1j * COMPLEX_STEP


def complex_step_derivative(value_at_shifted_point: np.ndarray) -> np.ndarray:
    """f'(x) = Im f(x + i·h)/h, exact to rounding for analytic f (no cancellation)."""
    return np.imag(value_at_shifted_point) / COMPLEX_STEP


def high_precision_derivative(
    expr: "sympy.Expr", arg: "sympy.Symbol", points: np.ndarray, order: int, dps: int = HIGH_PRECISION_DIGITS
) -> np.ndarray:
    """d^order expr/d arg^order at each point by mpmath's own numerical
    differentiation at ``dps`` digits (no SymPy derivative involved): the
    finite-difference witness re-decided without float rounding. NaN where
    the value is not a finite real."""
    import mpmath

    from symderiv.numeric.evaluate import lambdify_mpmath

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


#: Relative step of the sensitivity estimate |∂T/∂v_j|·|v_j|: only a magnitude
#: is needed (a few correct digits, for a tolerance), never a verdict, so one
#: fixed step well clear of rounding (~1e-8 of the terms at 1e-4) will do.
SENSITIVITY_STEP = 1e-4


def relative_sensitivity(evaluate: Callable[[np.ndarray], np.ndarray], v: np.ndarray, j: int) -> np.ndarray:
    """|T(v + δ|v_j|e_j) − T(v − δ|v_j|e_j)| / 2δ ≈ |∂T/∂v_j|·|v_j| for the array
    ``T = evaluate(rows)`` (rows of v, one per batch entry), δ = SENSITIVITY_STEP.
    A zero v_j gives 0: an exact input has no rounding to be sensitive to."""
    step = SENSITIVITY_STEP * np.abs(v[:, j])
    up, down = v.copy(), v.copy()
    up[:, j] += step
    down[:, j] -= step
    with np.errstate(all="ignore"):
        return np.abs(evaluate(up) - evaluate(down)) / (2 * SENSITIVITY_STEP)
