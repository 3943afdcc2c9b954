"""Every float tolerance of symderiv, named, each with what it bounds and why that size.

Contract: a comparison of float results anywhere in symderiv uses one of the
constants (or functions) below; no module keeps a tolerance of its own. There
are four models, because there are four different situations:

1. **The rounding model** (``chain``, ``softmax``, the engine's op checks,
   ``verify``): two float computations of the same quantity agree to within
   ``ROUNDING_MODEL_ULPS · eps · M`` (:func:`tolerance`), where eps is the
   dtype's machine epsilon (2.2e-16 for float64, 1.2e-7 for float32) and M is
   the rounding scale of the computation *as it is evaluated*
   (:mod:`symderiv.numeric.rounding`): the sum of the magnitudes of the
   terms, not the magnitude of the result, because rounding errors are
   proportional to the former; so cancellation does not cause false alarms,
   and a wrong term (whose size is comparable to the scale) is still caught.
   A scale that is not finite decides nothing: the comparison is then
   inconclusive, never a pass.
2. **A backward rule's rounding** (``check_backward``): the rule is user code
   whose operations are unknown, so its scale counts terms instead:
   ``factor · u · scale`` with ``factor = BACKWARD_ROUNDINGS_PER_TERM·(n + m) +
   BACKWARD_ROUNDINGS_FIXED`` (:mod:`symderiv.backward_check.tolerance`).
3. **A sampled identity** (the numeric witnesses of the proof checker and of
   ``check``): both sides of a claimed identity, with random functions
   instantiated for the abstract ones, evaluated in float64 at random points
   with no rounding model; they agree when
   :func:`sampled_difference` ≤ ``SAMPLED_IDENTITY_TOLERANCE``. Its verdicts
   are only ever "holds" or a *candidate* counterexample that is confirmed
   exactly or in high precision (:mod:`symderiv.numeric.precision`) before
   anything is called false.
4. **Finite differences** (:mod:`symderiv.numeric.differences`): an estimate
   agrees when within its own error bound, reported ``FD_BOUND_SAFETY`` times
   what truncation and rounding predict, and decides nothing
   (*inconclusive*) where that bound exceeds ``FD_CONCLUSIVE_FRACTION`` of the
   quantity.

The thresholds of high-precision (50-digit) evaluations are next to the
digit count they derive from, in :mod:`symderiv.numeric.precision`.
"""

from __future__ import annotations

import numpy as np

# -- 1. the rounding model

#: ULPs of the rounding scale M allowed between two evaluations: M bounds the
#: first-order error up to the few roundings per node it leaves out; 64 covers
#: those and stays ~1e-14·M in float64, far below a wrong term (~M).
ROUNDING_MODEL_ULPS = 64


def machine_epsilon(dtype: np.dtype | type = np.float64) -> float:
    return float(np.finfo(dtype).eps)


def tolerance(scale: np.ndarray | float, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Allowed |a − b| for two evaluations of a quantity whose terms sum to ``scale`` in magnitude."""
    eps = machine_epsilon(dtype)
    return ROUNDING_MODEL_ULPS * eps * np.maximum(np.abs(scale), np.finfo(dtype).tiny)


# -- 2. a backward rule's rounding (check_backward)

#: roundings allowed per summand of a rule's sums (one input or output entry,
#: or one batch row of a shared input's gradient): a product, a sum and the
#: rounding of the input and output it reads.
BACKWARD_ROUNDINGS_PER_TERM = 4.0

#: roundings allowed on top, whatever the size: the handful of operations of
#: even a one-entry rule (1 − y², y·(1 − y), a division).
BACKWARD_ROUNDINGS_FIXED = 16.0


#: a row of check_backward is on a kink when the non-smooth argument is this
#: small relative to the row's magnitudes (a numerically found zero is within a few ulps) ...
KINK_RELATIVE = 1e-12

#: ... or within this many roundings of the dtype (times (1 + |x|)², covering
#: arguments quadratic in x): the rule's own evaluation of the argument may fall on either side.
KINK_ROUNDINGS = 8.0


# -- 3. a sampled identity (float64, random points, no rounding model)

#: |a − b| / (1 + max(|a|, |b|)) allowed between the two sides: float64's unit
#: roundoff 2⁻⁵³ with 2²³ of headroom for the rounding accumulated by sums of a
#: few hundred terms and exponentials; real mistakes give ~1e-2 or more.
SAMPLED_IDENTITY_TOLERANCE = 2.0**-30

#: a sampled difference this large (1000× the tolerance, ~1e-6) is a clear
#: difference: what a "≠" step needs, and where a counterexample search starts.
SAMPLED_CLEAR_DIFFERENCE = 1e3 * SAMPLED_IDENTITY_TOLERANCE

#: |Im v| / (1 + |Re v|) under which a value computed in complex arithmetic
#: counts as real: rounding in complex intermediates (a cube root of a negative
#: number, then cubed) leaves ~eps; a point outside the domain (log of a
#: negative number: Im = π) leaves far more.
IMAGINARY_ROUNDING = 1e-12


def sampled_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a − b| / (1 + max(|a|, |b|)), elementwise (complex values: their moduli)."""
    with np.errstate(all="ignore"):
        return np.abs(a - b) / (1.0 + np.maximum(np.abs(a), np.abs(b)))


def is_real(values: np.ndarray) -> np.ndarray:
    """Finite, with an imaginary part that is rounding (``IMAGINARY_ROUNDING``)."""
    values = np.asarray(values)
    with np.errstate(all="ignore"):
        return np.isfinite(values) & (np.abs(np.imag(values)) <= IMAGINARY_ROUNDING * (1.0 + np.abs(np.real(values))))


# -- the training step (train --check)

#: |Δθ − lr·∇θ| allowed relative to max|lr·∇θ| between the SGD step (its own
#: backward pass, seeded with lr) and lr times the verified gradient: they differ
#: only in where lr enters the products, a few ulps of float64 (1e-12 leaves room
#: for a whole backward pass); a wrong step is off by a factor, or by ∇θ.
SGD_STEP_ROUNDING = 1e-12

#: roundings of θ − step itself, in units of u·|θ|, allowed on top
SGD_UPDATE_ROUNDINGS = 4.0


# -- 4. finite differences

#: a finite-difference estimate whose error bound exceeds this fraction of the
#: quantity's scale says nothing useful and is reported as inconclusive
FD_CONCLUSIVE_FRACTION = 1e-3

#: the truncation-plus-rounding bound of a finite difference is reported this
#: many times over: the first-order error terms leave out constants of order 1.
FD_BOUND_SAFETY = 10.0
