"""Exact ground truth for check_backward: forward values, Jacobians, sensitivities.

The forward expressions are differentiated once with SymPy and lambdified
twice: to numpy (vectorised over the batch, the fast path) and to mpmath
(arbitrary precision, used only on rows where float64 evaluation overflows,
is undefined, or where a verdict is close enough that float64 rounding in the
reference itself could decide it). Nothing is evaluated point by point with
``subs``/``evalf``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from symderiv.errors import InputError

# Digits used by mpmath when settling rows; 50 digits leave ~34 digits of
# headroom over float64 for cancellation inside the reference expressions.
MPMATH_DIGITS = 50

# Relative step of the central difference that estimates how strongly the
# Jacobian reacts to rounding of x. Only a magnitude for the tolerance model is
# needed (a few correct digits), never a verdict.
SENSITIVITY_STEP = 1e-4


@dataclass(frozen=True)
class ReferenceFunctions:
    """Lambdified forward values and Jacobian of one forward map R^n -> R^m."""

    n: int
    m: int
    forward_exprs: tuple[sympy.Expr, ...]
    numpy_forward: Callable[..., Any]
    numpy_jacobian: Callable[..., Any]
    mpmath_forward: Callable[..., Any]
    mpmath_jacobian: Callable[..., Any]


@dataclass(frozen=True)
class ReferenceRows:
    """Float64 values of the exact quantities on a batch of rows.

    ``y`` (batch, m) forward values; ``jacobian`` (batch, m, n) with
    ``jacobian[b, k, i] = dy_k/dx_i``; ``jacobian_sensitivity`` (batch, m, n)
    estimates ``sum_j |d jacobian[b, k, i] / d x_j| * |x_j|``.
    """

    y: np.ndarray
    jacobian: np.ndarray
    jacobian_sensitivity: np.ndarray


def input_symbols(n: int) -> tuple[sympy.Symbol, ...]:
    """The n real symbols x0 .. x{n-1} handed to the user's forward."""
    return tuple(sympy.symbols(f"x0:{n}", real=True))


def forward_expressions(forward: Callable[[list], Any], n: int) -> tuple[sympy.Expr, ...]:
    """Call the user's forward on fresh symbols and validate what it returns."""
    xs = input_symbols(n)
    try:
        produced = forward(list(xs))
    except Exception as exc:  # the user's forward is input: report, don't crash
        raise InputError(
            f"forward(xs) raised {type(exc).__name__}: {exc}".splitlines()[0]
        ) from None
    if isinstance(produced, sympy.MatrixBase):
        items = list(produced)
    elif isinstance(produced, (list, tuple)):
        items = list(produced)
    else:
        items = [produced]
    if not items:
        raise InputError("forward(xs) returned no expressions")
    exprs = []
    for index, item in enumerate(items):
        exprs.append(_as_expression(item, index))
    allowed = set(xs)
    for index, expr in enumerate(exprs):
        stray = expr.free_symbols - allowed
        if stray:
            names = ", ".join(sorted(str(s) for s in stray))
            raise InputError(
                f"forward output {index} uses symbols other than the inputs: {names}"
            )
    return tuple(exprs)


def _as_expression(item: Any, index: int) -> sympy.Expr:
    # Only sympy objects and Python/numpy numbers are accepted; strings are
    # refused outright (never sympified: user text is not code).
    if isinstance(item, sympy.Expr):
        return item
    if isinstance(item, (bool, np.bool_)):
        raise InputError(f"forward output {index} is a bool, expected a sympy expression")
    if isinstance(item, (int, np.integer)):
        return sympy.Integer(int(item))
    if isinstance(item, (float, np.floating)) and math.isfinite(float(item)):
        return sympy.Float(float(item))
    raise InputError(
        f"forward output {index} is a {type(item).__name__}, expected a sympy expression"
    )


@functools.lru_cache(maxsize=64)
def reference_functions(forward_exprs: tuple[sympy.Expr, ...], n: int) -> ReferenceFunctions:
    """Differentiate and lambdify once per distinct forward (cached across calls)."""
    xs = input_symbols(n)
    jacobian_exprs = [sympy.diff(expr, x) for expr in forward_exprs for x in xs]
    return ReferenceFunctions(
        n=n,
        m=len(forward_exprs),
        forward_exprs=forward_exprs,
        numpy_forward=sympy.lambdify(xs, list(forward_exprs), modules="numpy", cse=True),
        numpy_jacobian=sympy.lambdify(xs, jacobian_exprs, modules="numpy", cse=True),
        mpmath_forward=sympy.lambdify(xs, list(forward_exprs), modules="mpmath"),
        mpmath_jacobian=sympy.lambdify(xs, jacobian_exprs, modules="mpmath"),
    )


def _stack_columns(values: Sequence[Any], batch: int) -> np.ndarray:
    # Constant outputs come back from lambdify as scalars: broadcast them.
    columns = []
    for value in values:
        array = np.asarray(value)
        if np.iscomplexobj(array):
            # A complex value means the expression is not real here (e.g. sqrt
            # of a negative); NaN sends the row to the mpmath path for a clear error.
            array = np.where(array.imag == 0, array.real, np.nan)
        columns.append(np.broadcast_to(array.astype(np.float64), (batch,)))
    return np.stack(columns, axis=1)


def _numpy_values(fn: Callable[..., Any], x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return _stack_columns(fn(*x.T), x.shape[0])


def evaluate_numpy(ref: ReferenceFunctions, x: np.ndarray) -> ReferenceRows:
    """Vectorised float64 evaluation (may contain inf/NaN where float64 overflows)."""
    batch, n, m = x.shape[0], ref.n, ref.m
    y = _numpy_values(ref.numpy_forward, x)
    jacobian = _numpy_values(ref.numpy_jacobian, x).reshape(batch, m, n)
    sensitivity = np.zeros((batch, m, n))
    for j in range(n):
        step = SENSITIVITY_STEP * np.abs(x[:, j])
        up, down = x.copy(), x.copy()
        up[:, j] += step
        down[:, j] -= step
        with np.errstate(all="ignore"):
            diff = _numpy_values(ref.numpy_jacobian, up) - _numpy_values(ref.numpy_jacobian, down)
            # (J(x+h) - J(x-h)) / (2h) * |x_j| with h = step * |x_j|
            sensitivity += np.abs(diff).reshape(batch, m, n) / (2 * SENSITIVITY_STEP)
    return ReferenceRows(y=y, jacobian=jacobian, jacobian_sensitivity=sensitivity)


def _mp_real(value: Any, what: str, row: np.ndarray) -> Any:
    import mpmath

    if isinstance(value, mpmath.mpc):
        if value.imag != 0:
            raise InputError(f"{what} is not real at x = {_format_row(row)}")
        value = value.real
    value = mpmath.mpf(value)
    if not mpmath.isfinite(value):
        raise InputError(f"{what} is undefined or infinite at x = {_format_row(row)}")
    return value


def _format_row(row: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.17g}" for v in row) + "]"


def evaluate_mpmath_row(ref: ReferenceFunctions, x_row: np.ndarray) -> tuple[list, list]:
    """Forward values and Jacobian (row-major m x n) of one row as mpmath numbers."""
    import mpmath

    with mpmath.workdps(MPMATH_DIGITS):
        args = [mpmath.mpf(float(v)) for v in x_row]
        try:
            y = [_mp_real(v, "forward", x_row) for v in ref.mpmath_forward(*args)]
            jac = [_mp_real(v, "the Jacobian", x_row) for v in ref.mpmath_jacobian(*args)]
        except InputError:
            raise
        except Exception:  # noqa: BLE001 - mpmath lacks a function, a pole, ...
            raise InputError(
                f"forward or its Jacobian cannot be evaluated at x = {_format_row(x_row)}"
            ) from None
    return y, jac


def _mp_to_float(value: Any) -> float:
    # float() of an mpf beyond the float64 range gives +-inf, which the caller
    # reports as a value float64 cannot represent.
    return float(value)


def evaluate_mpmath(
    ref: ReferenceFunctions,
    x: np.ndarray,
    gy: np.ndarray,
    rows: np.ndarray,
    sensitivity_fallback: np.ndarray | None = None,
) -> tuple[ReferenceRows, np.ndarray]:
    """High-precision values of the selected rows, rounded to float64 once at the end.

    Returns the reference rows and the exact JVP ``sum_k gy_k dy_k/dx_i``
    (summed in mpmath). The Jacobian's x-sensitivity (a magnitude for the
    tolerance only) is taken from ``sensitivity_fallback`` where that is
    finite, and recomputed in mpmath only where float64 could not give it.
    """
    import mpmath

    n, m = ref.n, ref.m
    y = np.empty((len(rows), m))
    jacobian = np.empty((len(rows), m, n))
    sensitivity = np.zeros((len(rows), m, n))
    expected = np.empty((len(rows), n))
    for out, row in enumerate(rows):
        x_row = x[row]
        y_mp, jac_mp = evaluate_mpmath_row(ref, x_row)
        y[out] = [_mp_to_float(v) for v in y_mp]
        jacobian[out] = np.array([_mp_to_float(v) for v in jac_mp]).reshape(m, n)
        with mpmath.workdps(MPMATH_DIGITS):
            for i in range(n):
                total = mpmath.fsum(mpmath.mpf(float(gy[row, k])) * jac_mp[k * n + i] for k in range(m))
                expected[out, i] = _mp_to_float(total)
        if sensitivity_fallback is not None and np.isfinite(sensitivity_fallback[row]).all():
            sensitivity[out] = sensitivity_fallback[row]
        else:
            sensitivity[out] = _mpmath_sensitivity(ref, x_row)
    return ReferenceRows(y=y, jacobian=jacobian, jacobian_sensitivity=sensitivity), expected


def _mpmath_sensitivity(ref: ReferenceFunctions, x_row: np.ndarray) -> np.ndarray:
    import mpmath

    n, m = ref.n, ref.m
    sensitivity = np.zeros((m, n))
    with mpmath.workdps(MPMATH_DIGITS):
        for j in range(n):
            if x_row[j] == 0:
                continue  # zero is exact: its rounding perturbs nothing
            args_up = [mpmath.mpf(float(v)) for v in x_row]
            args_down = list(args_up)
            step = mpmath.mpf(SENSITIVITY_STEP) * abs(args_up[j])
            args_up[j] += step
            args_down[j] -= step
            try:
                up = ref.mpmath_jacobian(*args_up)
                down = ref.mpmath_jacobian(*args_down)
                diff = [abs(mpmath.re(a) - mpmath.re(b)) for a, b in zip(up, down)]
            except (ZeroDivisionError, ValueError, OverflowError):
                continue  # a singularity next to x: keep the other terms
            with np.errstate(over="ignore"):
                sensitivity += np.array([_mp_to_float(d) for d in diff]).reshape(m, n) / (
                    2 * SENSITIVITY_STEP
                )
    return sensitivity
