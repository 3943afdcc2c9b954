"""The bridge from exact to numeric: vectorised evaluation, tolerances, witnesses.

* SymPy results are evaluated with ``lambdify`` to numpy over whole arrays of
  points (never per-point ``subs``/``evalf``).
* Close calls are settled with mpmath at ``MP_DPS`` digits: a float64
  reference can itself be inaccurate under cancellation, so where engine and
  reference disagree by more than the tolerance, the reference is recomputed
  in high precision before any verdict.
* Central finite differences are a third, independent witness, with an error
  bound computed from the step and SymPy's higher derivatives.

Tolerance model (stated in the README): two float computations of the same
quantity agree to within ``ULPS · eps · M``, where eps is the dtype's machine
epsilon (2.2e-16 for float64, 1.2e-7 for float32), ULPS = 64 and M is the
rounding scale of the computation as it is evaluated (:mod:`symderiv.rounding`):
the sum of the magnitudes of the terms, not the magnitude of the result,
because rounding errors are proportional to the former; so cancellation does
not cause false alarms, and a wrong term (whose size is comparable to the
scale) is still caught. A scale that is not finite decides nothing: the
comparison is then inconclusive, never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    import sympy

ULPS = 64
MP_DPS = 50
#: Points per slice when a vectorised evaluation runs over a long 1-D array.
CHUNK_POINTS = 4096


def machine_epsilon(dtype: np.dtype | type = np.float64) -> float:
    return float(np.finfo(dtype).eps)


def tolerance(scale: np.ndarray | float, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Allowed |a − b| for two evaluations of a quantity whose terms sum to ``scale`` in magnitude."""
    eps = machine_epsilon(dtype)
    return ULPS * eps * np.maximum(np.abs(scale), np.finfo(dtype).tiny)


def _numpy_modules() -> list:
    """lambdify's namespace: numpy, plus the distributions SymPy writes for the
    derivatives of Max/ReLU. Points are sampled away from kinks, where
    DiracDelta is 0."""
    return [
        {
            "DiracDelta": lambda t, k=0: np.zeros_like(np.asarray(t, dtype=np.float64)),
            "Heaviside": lambda t, h0=0.5: np.heaviside(t, h0),
        },
        "numpy",
    ]


def _float_safe(expr: "sympy.Expr") -> "sympy.Expr":
    """``expr`` with integers beyond float64's exact range written as Floats:
    lambdify prints an Integer as a Python int, and numpy turns
    cos(64000000000000000000000000) into an object array with no cos."""
    import sympy as sp

    if not isinstance(expr, sp.Basic):
        return expr
    big = {n: sp.Float(n) for n in expr.atoms(sp.Integer) if abs(n) > 2**53}
    return expr.xreplace(big) if big else expr


def lambdify_many(exprs: Sequence["sympy.Expr"], args: Sequence["sympy.Symbol"]) -> Callable[..., np.ndarray]:
    """One compiled numpy function returning all ``exprs`` stacked on a new first axis."""
    import sympy as sp

    compiled = sp.lambdify(list(args), [_float_safe(e) for e in exprs], modules=_numpy_modules(), cse=True)

    def evaluate(*values: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(*(np.shape(v) for v in values)) if values else ()
        with np.errstate(all="ignore"):
            results = compiled(*values)
        return np.array([np.broadcast_to(np.asarray(r, dtype=np.float64), shape) for r in results])

    return evaluate


def lambdify_vectorised(expr: "sympy.Expr", args: Sequence["sympy.Symbol"]) -> Callable[..., np.ndarray]:
    """numpy function of ``args`` for ``expr``, broadcast to the inputs' common shape
    (a constant would otherwise come back as a Python scalar)."""
    import sympy as sp

    # cse: common subexpressions (sin(x), exp(sin(x)), … in a derivative) are
    # evaluated once per call; about twice as fast on Problem 1's derivatives.
    compiled = sp.lambdify(list(args), _float_safe(expr), modules=_numpy_modules(), cse=True)

    def evaluate(*values: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(*(np.shape(v) for v in values))
        if len(shape) == 1 and shape[0] > 2 * CHUNK_POINTS:
            return _chunked(compiled, values, shape[0])
        with np.errstate(all="ignore"):
            result = compiled(*values)
        if (
            type(result) is np.ndarray
            and result.dtype == np.float64
            and result.shape == shape
            and not any(np.may_share_memory(result, v) for v in values)
        ):
            return result  # already a fresh array of its own: no copy needed
        return np.array(np.broadcast_to(np.asarray(result, dtype=np.float64), shape))

    return evaluate


def _chunked(compiled: Callable[..., object], values: Sequence[np.ndarray], size: int) -> np.ndarray:
    """Evaluate a 1-D problem CHUNK_POINTS points at a time into one result array.
    Each temporary then stays small and in cache instead of being a fresh
    multi-megabyte allocation (page faults); about 2x faster at 1e5 points."""
    out = np.empty(size, dtype=np.float64)
    arrays = [np.asarray(v) for v in values]
    with np.errstate(all="ignore"):
        for start in range(0, size, CHUNK_POINTS):
            stop = min(start + CHUNK_POINTS, size)
            part = [a[start:stop] if a.ndim == 1 and a.shape[0] == size else a for a in arrays]
            out[start:stop] = compiled(*part)  # broadcasts a constant result too
    return out


def lambdify_mpmath(expr: "sympy.Expr", args: Sequence["sympy.Symbol"]) -> Callable[..., object]:
    """Scalar mpmath function of ``args`` for ``expr`` (call inside ``mpmath.workdps``)."""
    import sympy as sp

    return sp.lambdify(list(args), expr, modules="mpmath")


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


def rounding_scale(expr: "sympy.Expr", args: Sequence["sympy.Symbol"], values: Sequence[np.ndarray]) -> np.ndarray:
    """A first-order bound M on the rounding error of evaluating ``expr``: error ≲ eps·M.
    The one rounding model of the project: :func:`symderiv.rounding.rounding_scale`."""
    from symderiv.rounding import rounding_scale as scale

    return scale(expr, args, values)
