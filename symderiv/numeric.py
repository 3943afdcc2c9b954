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
sum of terms t_k agree to within ``ULPS · eps · Σ_k |t_k|``, where eps is the
dtype's machine epsilon (2.2e-16 for float64, 1.2e-7 for float32) and
ULPS = 64. The scale is the sum of the magnitudes of the terms, not the
magnitude of the result, because rounding errors are proportional to the
former; so cancellation does not cause false alarms, and a wrong term (whose
size is comparable to the scale) is still caught.
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
    inconclusive: int = 0  # points where the witness could not decide (finite differences)

    @property
    def ok(self) -> bool:
        return bool(self.max_scaled_error <= 1.0)


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
    Non-finite values never agree."""
    computed = np.asarray(computed, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel().copy()
    allowed = np.broadcast_to(tolerance(np.asarray(scale, dtype=np.float64), dtype), computed.shape).ravel()
    with np.errstate(invalid="ignore"):
        error = np.abs(computed - reference)
    failing = ~(error <= allowed)
    settled = 0
    if exact is not None and failing.any():
        expr, args, points = exact
        rows = np.flatnonzero(failing)
        reference[rows] = high_precision(expr, args, np.asarray(points)[rows])
        settled = len(rows)
        with np.errstate(invalid="ignore"):
            error = np.abs(computed - reference)
    finite = np.isfinite(error)
    worst = float(np.max(error[finite])) if finite.any() else float("inf")
    scaled = np.where(finite, error / allowed, np.inf)
    return Agreement(
        max_error=worst if finite.all() else float("inf"),
        max_scaled_error=float(np.max(scaled)) if scaled.size else 0.0,
        points=computed.size,
        settled_in_high_precision=settled,
    )


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
    value_scale: np.ndarray,
    next_derivative: np.ndarray,
) -> FiniteDifference:
    """First (order 1) or second (order 2) derivative by central differences.

    The error bound is truncation plus rounding: h²/6·|f⁽³⁾| + eps·M/h for
    order 1 and h²/12·|f⁽⁴⁾| + 4·eps·M/h² for order 2, with the next derivative
    (``next_derivative``) from SymPy and M (``value_scale``) the rounding scale
    of f. The step minimises that bound, h = (3·eps·M/|f⁽³⁾|)^(1/3) or
    (48·eps·M/|f⁽⁴⁾|)^(1/4), capped at the classical eps^(1/3)·max(1, |x|)
    (eps^(1/4)·max(1, |x|) for order 2): near a singularity (log x at
    x = 1e-5) the step shrinks with the distance to it instead of jumping
    across. The bound is reported times a safety factor 10; where it exceeds
    ``FD_CONCLUSIVE_FRACTION`` of the quantity's scale, or f is not finite at
    x ± h, the estimate is marked inconclusive instead of agreeing by default."""
    eps = machine_epsilon(np.float64)
    x = np.asarray(x, dtype=np.float64)
    s = np.maximum(1.0, np.abs(x))
    scale = np.maximum(np.abs(value_scale), np.finfo(np.float64).tiny)
    higher = np.abs(next_derivative)
    with np.errstate(all="ignore"):
        if order == 1:
            classical = eps ** (1 / 3) * s
            h = np.where(higher > 0, np.cbrt(3 * eps * scale / higher), classical)
        elif order == 2:
            classical = eps ** (1 / 4) * s
            h = np.where(higher > 0, (48 * eps * scale / higher) ** 0.25, classical)
        else:
            raise ValueError("order must be 1 or 2")
        h = np.minimum(np.where(np.isfinite(h) & (h > 0), h, classical), classical)
        h = (x + h) - x  # make the step exactly representable
        up, down = function(x + h), function(x - h)
        if order == 1:
            value = (up - down) / (2 * h)
            bound = h * h / 6 * higher + eps * scale / h
        else:
            value = (up - 2 * function(x) + down) / (h * h)
            bound = h * h / 12 * higher + 4 * eps * scale / (h * h)
        bound = 10 * bound + 10 * eps * np.abs(value)
        quantity_scale = np.abs(value) + scale / s**order
        conclusive = np.isfinite(value) & np.isfinite(bound) & (bound <= FD_CONCLUSIVE_FRACTION * quantity_scale)
    return FiniteDifference(value, bound, h, conclusive)


def rounding_scale(expr: "sympy.Expr", args: Sequence["sympy.Symbol"], values: Sequence[np.ndarray]) -> np.ndarray:
    """A first-order bound M on the rounding error of evaluating ``expr``: error ≲ eps·M.

    Walks the expression tree once (iteratively), carrying for every
    subexpression its value v and magnitude m, with the classical rules
    m(a + b) = m(a) + m(b),  m(a·b) = |a·b|·(m(a)/|a| + m(b)/|b|),
    m(f(a)) = |f(a)| + |f'(a)|·m(a),  m(leaf) = |leaf|.
    Cancellation anywhere inside (1 − 2y, e^{-2x} − e^{-x}, …) therefore
    widens the tolerance exactly where float evaluation loses digits, and
    nowhere else. Subexpressions it does not know are treated as leaves."""
    import sympy as sp

    point = dict(zip(args, (np.asarray(v, dtype=np.float64) for v in values)))
    shape = np.broadcast_shapes(*(np.shape(v) for v in point.values())) if point else ()
    tiny = np.finfo(np.float64).tiny
    memo: dict = {}
    stack = [(expr, False)]
    with np.errstate(all="ignore"):
        while stack:
            node, ready = stack.pop()
            if node in memo:
                continue
            if node in point:
                v = np.broadcast_to(point[node], shape)
                memo[node] = (v, np.abs(v))
                continue
            if node.is_Number or not node.free_symbols:
                v = np.full(shape, float(node)) if node.is_real is not False else np.full(shape, np.nan)
                memo[node] = (v, np.abs(v))
                continue
            children = node.args
            known = isinstance(node, (sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, sp.sin, sp.cos, sp.tanh))
            if not known:
                v = np.broadcast_to(lambdify_vectorised(node, list(point))(*point.values()), shape)
                memo[node] = (v, np.abs(v))
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((c, False) for c in children if c not in memo)
                continue
            vals = [memo[c][0] for c in children]
            mags = [memo[c][1] for c in children]
            if isinstance(node, sp.Add):
                v, m = sum(vals), sum(mags)
            elif isinstance(node, sp.Mul):
                v = np.prod(vals, axis=0)
                m = np.abs(v) * sum(mg / np.maximum(np.abs(vl), tiny) for vl, mg in zip(vals, mags))
                m = np.where(np.abs(v) > 0, m, np.prod(mags, axis=0))
            elif isinstance(node, sp.Pow):
                base, exponent = vals
                v = np.power(base, exponent)
                m_base, m_exp = mags
                m = np.abs(v) * (1 + np.abs(exponent) * m_base / np.maximum(np.abs(base), tiny))
                if not children[1].is_Number:
                    m = m + np.abs(v * np.log(np.abs(base))) * m_exp
            else:
                (a,), (ma,) = vals, mags
                f, df = {
                    sp.exp: (np.exp, np.exp),
                    sp.log: (np.log, lambda t: 1 / t),
                    sp.sin: (np.sin, np.cos),
                    sp.cos: (np.cos, np.sin),
                    sp.tanh: (np.tanh, lambda t: 1 - np.tanh(t) ** 2),
                }[type(node)]
                v = f(a)
                m = np.abs(v) + np.abs(df(a)) * ma
            memo[node] = (v, m)
    return np.asarray(memo[expr][1], dtype=np.float64)
