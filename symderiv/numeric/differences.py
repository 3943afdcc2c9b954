"""Central finite differences: a third, independent witness, with an error bound
computed from the step and the higher derivatives, inconclusive where the bound
is not small next to the quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from symderiv.numeric.tolerance import machine_epsilon


@dataclass(frozen=True)
class FiniteDifference:
    """Central differences, their error bound, and where they are a useful witness."""

    value: np.ndarray
    error_bound: np.ndarray
    step: np.ndarray
    conclusive: np.ndarray  # finite, and the bound is small next to the quantity


#: a finite-difference estimate whose error bound exceeds this fraction of the
#: quantity's scale says nothing useful and is reported as inconclusive
FD_CONCLUSIVE_FRACTION = 1e-3


def central_difference(
    function: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    order: int,
    *,
    value_scale: np.ndarray | Callable[[np.ndarray], np.ndarray],
    next_derivative: np.ndarray,
) -> FiniteDifference:
    """First (order 1) or second (order 2) derivative by central differences.

    The error bound is truncation plus rounding: h²/6·|f⁽³⁾| + eps·M/h for
    order 1 and h²/12·|f⁽⁴⁾| + 4·eps·M/h² for order 2, with the next derivative
    (``next_derivative``) from SymPy and M the rounding scale of f over the
    stencil (``value_scale``, an array at x or a function of the points: the
    values f(x ± h) round at their own size, which at x = 1e-300 is far
    above f(x)). The step minimises that bound, h = (3·eps·M/|f⁽³⁾|)^(1/3) or
    (48·eps·M/|f⁽⁴⁾|)^(1/4), capped at the classical eps^(1/3)·max(1, |x|)
    (eps^(1/4)·max(1, |x|) for order 2): near a singularity (log x at
    x = 1e-5) the step shrinks with the distance to it instead of jumping
    across. The bound is reported times a safety factor 10. An estimate is
    conclusive only where it is finite, its bound is at most
    ``FD_CONCLUSIVE_FRACTION`` of the quantity's scale, and the estimate with
    half the step agrees with it within both bounds (near a pole the
    truncation term changes faster than |f⁽³⁾| at x says); elsewhere it is
    marked inconclusive instead of agreeing or disagreeing by default."""
    x = np.asarray(x, dtype=np.float64)
    scale_at = value_scale if callable(value_scale) else (lambda points: np.asarray(value_scale))
    with np.errstate(all="ignore"):
        h = _fd_step(x, order, scale_at(x), np.abs(next_derivative))
        value, bound = _fd_estimate(function, x, h, order, scale_at, next_derivative)
        half, half_bound = _fd_estimate(function, x, (x + h / 2) - x, order, scale_at, next_derivative)
        s = np.maximum(1.0, np.abs(x))
        quantity_scale = np.abs(value) + np.maximum(np.abs(scale_at(x)), TINY_SCALE) / s**order
        conclusive = (
            np.isfinite(value) & np.isfinite(bound) & np.isfinite(half)
            & (bound <= FD_CONCLUSIVE_FRACTION * quantity_scale)
            & (np.abs(value - half) <= bound + half_bound)
        )
    return FiniteDifference(value, bound, h, conclusive)


TINY_SCALE = float(np.finfo(np.float64).tiny)


def _fd_step(x: np.ndarray, order: int, scale: np.ndarray, higher: np.ndarray) -> np.ndarray:
    eps = machine_epsilon(np.float64)
    s = np.maximum(1.0, np.abs(x))
    scale = np.maximum(np.abs(scale), TINY_SCALE)
    if order == 1:
        classical = eps ** (1 / 3) * s
        h = np.where(higher > 0, np.cbrt(3 * eps * scale / higher), classical)
    elif order == 2:
        classical = eps ** (1 / 4) * s
        h = np.where(higher > 0, (48 * eps * scale / higher) ** 0.25, classical)
    else:
        raise ValueError("order must be 1 or 2")
    h = np.minimum(np.where(np.isfinite(h) & (h > 0), h, classical), classical)
    return (x + h) - x  # make the step exactly representable


def _fd_estimate(function, x, h, order, scale_at, next_derivative):
    """The central difference with step h and its error bound (×10), the
    rounding part taken at the largest scale met on the stencil."""
    eps = machine_epsilon(np.float64)
    higher = np.abs(next_derivative)
    up, down = function(x + h), function(x - h)
    scale = np.maximum.reduce([np.abs(scale_at(x)), np.abs(scale_at(x + h)), np.abs(scale_at(x - h))])
    scale = np.maximum(scale, TINY_SCALE)
    if order == 1:
        value = (up - down) / (2 * h)
        bound = h * h / 6 * higher + eps * scale / h
    else:
        value = (up - 2 * function(x) + down) / (h * h)
        bound = h * h / 12 * higher + 4 * eps * scale / (h * h)
    return value, 10 * bound + 10 * eps * np.abs(value)
