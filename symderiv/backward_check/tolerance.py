"""The tolerance model of the derivative checks: how close a correct rule must come.

A correct rule, run in floating point, differs from the exact value (for
``check_backward`` the Jacobian-vector product ``gx_i = sum_k gy_k dy_k/dx_i``)
for three reasons:

1. its inputs are rounded: x (which the reference uses exactly, but a rule
   that recomputes quantities from x meets the derivatives' sensitivity to
   x) and y (relative error ~u from the forward: a rule that writes the
   derivative in terms of y, as sigmoid's ``y (1 - y)``, meets its
   sensitivity to y);
2. its own arithmetic: each product and sum adds a relative error ~u of the
   *terms* involved, not of the result (``1 - y**2`` near ``y = 1`` loses
   digits to cancellation even though every operation is correctly rounded);
3. the way the derivative is written: where the forward's derivative, as
   SymPy writes it, cancels (cross-entropy's ``softmax(z) - onehot`` at a
   confident prediction), a rule that computes it that way loses what that
   formula loses.

So the bound for result coordinate i of a row is proportional to u times a
sum of absolute values, never to the result itself. Every check computes a
result that is linear in its random directions (gy for a VJP; the tangent
ẋ for a JVP; gy, ġy and ẋ for a double backward or an HVP), a sum of terms
``direction × derivative``::

    scale_i = Σ_terms |directions| · ( |D|                     (the terms of the sum)
                                     + Σ_j |∂D/∂x_j| |x_j|     (rounding of x)
                                     + Σ_k |∂D/∂y_k| |y_k| )   (rounding of y)
    round_i = Σ_terms |directions| · E(D)                      (D as written)
    tol_i   = factor · u · scale_i + 4 · u · round_i + factor · tiny · (1 + Σ |directions|)
    factor  = 4 · (n + m) + 16             (+ 4 · batch for a shared input)
              (BACKWARD_ROUNDINGS_PER_TERM = 4, BACKWARD_ROUNDINGS_FIXED = 16)

with D the Jacobian entry (first order) or Hessian entry (second order), E(D)
its rounding scale as written (:mod:`symderiv.numeric.rounding`; for an output
that is a log, y_k = c·log(A_k) + B_k, the larger of that and the scale of D
with A_k written exp((y_k − B_k)/c) from the rounded y_k, as EDF's logsumexp
backward ``exp(x − y)`` computes it; walked in mpmath where float64 over- or
underflows inside the expression), u the unit
roundoff (machine epsilon) of the dtype under test and tiny its smallest
normal number (the last term only matters for values that underflow).
∂D/∂y_k is the derivative of D along the x-direction that moves y_k alone
(the pseudo-inverse of the Jacobian): the y term of a coordinate counts only
the outputs it depends on, so a large output does not widen the tolerance of
every coordinate. n counts every real entry of one example's inputs (shared
ones included) and m the outputs: a rule's sums have up to n or m terms,
each adding up to u of the running total. A shared input's gradient is a sum
over the batch of per-example terms: its scale is the sum of the per-example
scales, and its factor grows by 4 per example (one more rounding per row of
that sum). With float64 the bound is ~1e-14 relative to the terms, so a
relative scale error of 1e-7 is caught by seven orders of magnitude; with
float32 (u = 1.2e-7) the same model gives ~1e-5 relative to the terms.
"""

from __future__ import annotations

import numpy as np

from symderiv.numeric.tolerance import BACKWARD_ROUNDINGS_FIXED, BACKWARD_ROUNDINGS_PER_TERM


def tolerance_factor(n: int, m: int, batch_sum: int = 0) -> float:
    """Multiplier of u: a handful of roundings per term, plus one per summand
    (the two counts are named, with their reasons, in :mod:`symderiv.numeric.tolerance`)."""
    return BACKWARD_ROUNDINGS_PER_TERM * (n + m + batch_sum) + BACKWARD_ROUNDINGS_FIXED


# Roundings of the derivative as written that a rule may incur (the bound is
# first order; libraries' functions are within an ulp or two, not half).
ALLOWANCE_ROUNDINGS = 4.0


def tolerance(scale: np.ndarray, allowance: np.ndarray, direction_mass: np.ndarray, dtype: np.dtype, factor: float) -> np.ndarray:
    """factor · u · scale + 4 · u · allowance + factor · tiny · (1 + Σ|directions|), elementwise."""
    info = np.finfo(dtype)
    u = float(info.eps)
    with np.errstate(all="ignore"):
        return factor * u * scale + ALLOWANCE_ROUNDINGS * u * allowance + factor * float(info.tiny) * (1.0 + direction_mass)
