"""When two float computations of one quantity agree: ``ULPS · eps · M``.

Tolerance model: two float computations of the same quantity agree to within
``ULPS · eps · M``, where eps is the dtype's machine epsilon (2.2e-16 for
float64, 1.2e-7 for float32), ULPS = 64 and M is the rounding scale of the
computation as it is evaluated (:mod:`symderiv.numeric.rounding`): the sum of
the magnitudes of the terms, not the magnitude of the result, because rounding
errors are proportional to the former; so cancellation does not cause false
alarms, and a wrong term (whose size is comparable to the scale) is still
caught. A scale that is not finite decides nothing: the comparison is then
inconclusive, never a pass.
"""

from __future__ import annotations


import numpy as np


ULPS = 64


def machine_epsilon(dtype: np.dtype | type = np.float64) -> float:
    return float(np.finfo(dtype).eps)


def tolerance(scale: np.ndarray | float, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Allowed |a − b| for two evaluations of a quantity whose terms sum to ``scale`` in magnitude."""
    eps = machine_epsilon(dtype)
    return ULPS * eps * np.maximum(np.abs(scale), np.finfo(dtype).tiny)
