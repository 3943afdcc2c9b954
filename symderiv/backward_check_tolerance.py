"""The tolerance model of check_backward: how close a correct rule must come.

A correct backward rule, run in floating point, differs from the exact
Jacobian-vector product ``gx_i = sum_k gy_k * dy_k/dx_i`` for two reasons:

1. its inputs are rounded: y (relative error ~u from the forward), and x
   (which the reference uses exactly, but a rule that recomputes quantities
   from x meets the Jacobian's sensitivity to x);
2. its own arithmetic: each product and sum adds a relative error ~u of the
   *terms* involved, not of the result (``1 - y**2`` near ``y = 1`` loses
   digits to cancellation even though every operation is correctly rounded).

So the bound for coordinate i of a row is proportional to u times a sum of
absolute values, never to ``|gx_i|`` itself::

    scale_i = sum_k |gy_k| * ( |J_ki|               (the terms of the JVP sum)
                             + sum_j |dJ_ki/dx_j| |x_j|   (rounding of x)
                             + |y_k| )               (rounding of y, which the
                                                     rule may use in place of x)
    tol_i   = factor * u * scale_i  +  factor * tiny * (1 + sum_k |gy_k|)
    factor  = 4 * (n + m) + 16

with u the unit roundoff (machine epsilon) of the dtype under test and tiny
its smallest normal number (the second term only matters for values that
underflow). The factor grows with n and m because a rule's sums have n or m
terms, each adding up to u of the running total. With float64 the bound is
~1e-14 relative to the terms, so a relative scale error of 1e-7 is caught by
seven orders of magnitude; with float32 (u = 1.2e-7) the same model gives
~1e-5 relative to the terms.
"""

from __future__ import annotations

import numpy as np


def tolerance_factor(n: int, m: int) -> float:
    """Multiplier of u: a handful of roundings per term, plus one per summand."""
    return 4.0 * (n + m) + 16.0


def magnitude_scale(
    gy: np.ndarray, y: np.ndarray, jacobian: np.ndarray, jacobian_sensitivity: np.ndarray
) -> np.ndarray:
    """scale_i of the model above for every row: shape (batch, n)."""
    abs_gy = np.abs(gy)
    term_sum = np.einsum("bk,bki->bi", abs_gy, np.abs(jacobian) + jacobian_sensitivity)
    y_rounding = np.sum(abs_gy * np.abs(y), axis=1, keepdims=True)
    return term_sum + y_rounding


def tolerances(
    gy: np.ndarray,
    y: np.ndarray,
    jacobian: np.ndarray,
    jacobian_sensitivity: np.ndarray,
    dtype: np.dtype,
) -> np.ndarray:
    """Absolute tolerance for every entry of gx: shape (batch, n)."""
    n, m = jacobian.shape[2], jacobian.shape[1]
    info = np.finfo(dtype)
    factor = tolerance_factor(n, m)
    scale = magnitude_scale(gy, y, jacobian, jacobian_sensitivity)
    floor = factor * float(info.tiny) * (1.0 + np.sum(np.abs(gy), axis=1, keepdims=True))
    return factor * float(info.eps) * scale + floor
