"""Exact ground truth for the derivative checks: forward values and derivative tensors.

Contract: the forward expressions are differentiated once with SymPy (the
Jacobian with respect to the differentiable symbols, and for second-order
checks the Hessian of every output) and lambdified twice, to numpy
(vectorised over the batch, the fast path) and to mpmath (arbitrary
precision, used only on rows where float64 evaluation overflows, is
undefined, or where a verdict is close enough that float64 rounding in the
reference itself could decide it). Nothing is evaluated point by point with
``subs``/``evalf``. Expressions that cannot be evaluated numerically (``zoo``,
``nan``, an undefined function, an unevaluated ``Integral``) are refused
with :class:`InputError` before any number is computed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from symderiv.budget import BudgetExceeded
from symderiv.errors import InputError
from symderiv.numeric.differences import SENSITIVITY_STEP, relative_sensitivity
from symderiv.numeric.precision import HIGH_PRECISION_DIGITS

# The symbolic Hessian has outputs x d(d+1)/2 entries (d differentiable symbols).
MAX_HESSIAN_ENTRIES = 4096


@dataclass(frozen=True)
class ReferenceFunctions:
    """Lambdified values and derivatives of one forward map R^n -> R^m.

    ``diff`` are the indices of the differentiable symbols (d of them); the
    Jacobian is m x d, the Hessian (order 2) m x d x d.
    """

    n: int
    m: int
    order: int
    diff: tuple[int, ...]
    forward_exprs: tuple[sympy.Expr, ...]
    numpy_forward: Callable[..., Any]
    numpy_derivatives: Callable[..., Any]
    mpmath_forward: Callable[..., Any]
    mpmath_derivatives: Callable[..., Any]

    @property
    def d(self) -> int:
        return len(self.diff)


@dataclass(frozen=True)
class Values:
    """y (batch, m), jacobian (batch, m, d), hessian (batch, m, d, d) or None."""

    y: np.ndarray
    jacobian: np.ndarray
    hessian: np.ndarray | None


def input_symbols(n: int) -> tuple[sympy.Symbol, ...]:
    """The n real symbols x0 .. x{n-1} handed to a classic ``forward(xs)``."""
    return tuple(sympy.symbols(f"x0:{n}", real=True))


# -- what forward returned -------------------------------------------------------

def output_expressions(produced: Any, legacy: bool) -> tuple[tuple[sympy.Expr, ...], tuple[int, ...]]:
    """Flatten what ``forward`` returned; also its per-example output shape."""
    if isinstance(produced, sympy.MatrixBase):
        items = list(produced)
        shape: tuple[int, ...] = (len(items),) if produced.rows == 1 or produced.cols == 1 else tuple(produced.shape)
    elif isinstance(produced, (list, tuple)):
        items = list(produced)
        shape = (len(items),)
    else:
        items = [produced]
        shape = ()
    if not items:
        raise InputError("forward returned no expressions")
    if legacy:
        shape = (len(items),)
    return tuple(_as_expression(item, index) for index, item in enumerate(items)), shape


def forward_expressions(forward: Callable[[list], Any], n: int) -> tuple[sympy.Expr, ...]:
    """Classic form: call ``forward(xs)`` on n fresh symbols and validate what it returns."""
    xs = input_symbols(n)
    produced = call_forward(forward, (list(xs),), {}, "forward(xs)")
    exprs, _ = output_expressions(produced, legacy=True)
    validate_expressions(exprs, xs)
    return exprs


def call_forward(forward: Callable[..., Any], args: tuple, kwargs: dict, what: str) -> Any:
    try:
        return forward(*args, **kwargs)
    except BudgetExceeded:
        raise  # the check's CPU budget, not the forward's fault
    except Exception as exc:  # the user's forward is input: report, don't crash
        raise InputError(f"{what} raised {type(exc).__name__}: {exc}".splitlines()[0]) from None


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
    raise InputError(f"forward output {index} is a {type(item).__name__}, expected a sympy expression")


_NOT_NUMBERS = (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan)


def validate_expressions(exprs: Sequence[sympy.Expr], symbols: Sequence[sympy.Symbol]) -> None:
    """Refuse what cannot be a real function of the inputs, with the reason."""
    from sympy.core.function import AppliedUndef

    allowed = set(symbols)
    for index, expr in enumerate(exprs):
        stray = expr.free_symbols - allowed
        if stray:
            names = ", ".join(sorted(str(s) for s in stray))
            raise InputError(f"forward output {index} uses symbols other than the inputs: {names}")
        if any(expr.has(bad) for bad in _NOT_NUMBERS):
            raise InputError(f"forward output {index} contains an infinity or an undefined value (zoo, oo or nan)")
        undefined = sorted({str(f.func) for f in expr.atoms(AppliedUndef)})
        if undefined:
            raise InputError(
                f"forward output {index} uses the undefined function {undefined[0]}; give it a formula"
            )
        unevaluated = expr.atoms(sympy.Integral, sympy.Derivative, sympy.Sum, sympy.Product, sympy.Limit)
        if unevaluated:
            kind = type(next(iter(unevaluated))).__name__
            raise InputError(f"forward output {index} contains an unevaluated {kind}; evaluate it first (.doit())")


def _lambdify(symbols: Sequence[sympy.Symbol], exprs: list, module: str, cse: bool) -> Callable[..., Any]:
    try:
        return sympy.lambdify(symbols, exprs, modules=module, cse=cse)
    except BudgetExceeded:
        raise
    except Exception as exc:  # noqa: BLE001 - a printer without a rule for some object
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"forward cannot be evaluated numerically ({type(exc).__name__}: {message})") from None


def _no_delta(expr: sympy.Expr) -> sympy.Expr:
    # Differentiating Heaviside/sign gives DiracDelta: zero wherever the
    # derivative exists. At the kink itself the check judges one-sidedly, from
    # points on either side, so the delta never decides anything.
    return expr.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero) if expr.has(sympy.DiracDelta) else expr


@functools.lru_cache(maxsize=64)
def reference_functions(
    forward_exprs: tuple[sympy.Expr, ...],
    symbols: tuple[sympy.Symbol, ...],
    diff: tuple[int, ...],
    order: int = 1,
) -> ReferenceFunctions:
    """Differentiate and lambdify once per distinct forward (cached across calls)."""
    wrt = [symbols[i] for i in diff]
    derivative_exprs = [_no_delta(sympy.diff(expr, x)) for expr in forward_exprs for x in wrt]
    if order == 2:
        d = len(wrt)
        if len(forward_exprs) * d * (d + 1) // 2 > MAX_HESSIAN_ENTRIES:
            raise InputError(
                f"second-order check of {len(forward_exprs)} outputs and {d} differentiable entries needs "
                f"more than {MAX_HESSIAN_ENTRIES} Hessian entries; use fewer inputs or outputs"
            )
        for k in range(len(forward_exprs)):
            for a in range(d):
                first = derivative_exprs[k * d + a]
                derivative_exprs.extend(_no_delta(sympy.diff(first, wrt[b])) for b in range(a, d))
    return ReferenceFunctions(
        n=len(symbols),
        m=len(forward_exprs),
        order=order,
        diff=tuple(diff),
        forward_exprs=forward_exprs,
        numpy_forward=_lambdify(symbols, list(forward_exprs), "numpy", True),
        numpy_derivatives=_lambdify(symbols, derivative_exprs, "numpy", True),
        mpmath_forward=_lambdify(symbols, list(forward_exprs), "mpmath", False),
        mpmath_derivatives=_lambdify(symbols, derivative_exprs, "mpmath", True),
    )


# -- float64, vectorised ---------------------------------------------------------

def _stack_columns(values: Sequence[Any], batch: int) -> np.ndarray:
    # Fast path: every value already a float array over the batch.
    try:
        stacked = np.asarray(values)
    except ValueError:  # ragged: some constant outputs came back as scalars
        stacked = None
    if stacked is not None and stacked.dtype.kind == "f" and stacked.shape == (len(values), batch):
        return stacked.T.astype(np.float64)
    # Constant outputs come back from lambdify as scalars: broadcast them.
    columns = []
    for value in values:
        array = np.asarray(value)
        if np.iscomplexobj(array):
            # A complex value means the expression is not real here (e.g. sqrt
            # of a negative); NaN sends the row to the mpmath path for a clear error.
            array = np.where(array.imag == 0, array.real, np.nan)
        if array.dtype == object:
            array = np.array([complex(v).real if complex(v).imag == 0 else np.nan for v in np.ravel(array)])
        columns.append(np.broadcast_to(array.astype(np.float64), (batch,)))
    return np.stack(columns, axis=1)


def _numpy_values(fn: Callable[..., Any], v: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        try:
            return _stack_columns(fn(*v.T), v.shape[0])
        except (ValueError, TypeError, ZeroDivisionError, OverflowError):
            return np.full((v.shape[0], 1), np.nan)


def _unpack_derivatives(flat: np.ndarray, ref: ReferenceFunctions) -> tuple[np.ndarray, np.ndarray | None]:
    batch, m, d = flat.shape[0], ref.m, ref.d
    if flat.shape[1] != m * d + (m * d * (d + 1) // 2 if ref.order == 2 else 0):
        flat = np.full((batch, m * d + (m * d * (d + 1) // 2 if ref.order == 2 else 0)), np.nan)
    jacobian = flat[:, : m * d].reshape(batch, m, d)
    if ref.order == 1:
        return jacobian, None
    upper = flat[:, m * d:].reshape(batch, m, -1)
    hessian = np.empty((batch, m, d, d))
    rows, cols = np.triu_indices(d)
    hessian[:, :, rows, cols] = upper
    hessian[:, :, cols, rows] = upper
    return jacobian, hessian


def evaluate_numpy(ref: ReferenceFunctions, v: np.ndarray) -> Values:
    """Vectorised float64 evaluation at the rows of v (batch, n); may hold inf/NaN."""
    y = _numpy_values(ref.numpy_forward, v)
    if y.shape[1] != ref.m:
        y = np.full((v.shape[0], ref.m), np.nan)
    jacobian, hessian = _unpack_derivatives(_numpy_values(ref.numpy_derivatives, v), ref)
    return Values(y, jacobian, hessian)


def sensitivity_numpy(ref: ReferenceFunctions, v: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Σ_j |∂T/∂v_j| · |v_j| for T = the Jacobian (and Hessian), by
    :func:`~symderiv.numeric.differences.relative_sensitivity` (a magnitude only)."""
    batch = v.shape[0]
    s_jac = np.zeros((batch, ref.m, ref.d))
    s_hess = None if ref.order == 1 else np.zeros((batch, ref.m, ref.d, ref.d))
    for j in range(ref.n):
        ju, hu = _unpack_derivatives(
            relative_sensitivity(lambda rows: _numpy_values(ref.numpy_derivatives, rows), v, j), ref)
        s_jac += ju
        if s_hess is not None:
            s_hess += hu
    return s_jac, s_hess


# -- mpmath, one row at a time -----------------------------------------------------

def _format_row(row: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.17g}" for v in row) + "]"


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


@dataclass(frozen=True)
class MpRow:
    """One row's exact values as mpmath numbers: y[k], jacobian[k][i], hessian[k][i][j]."""

    y: list
    jacobian: list
    hessian: list | None


def evaluate_mpmath_row(ref: ReferenceFunctions, v_row: np.ndarray) -> MpRow:
    """Values and derivatives of one row at HIGH_PRECISION_DIGITS; InputError where undefined."""
    import mpmath

    m, d = ref.m, ref.d
    with mpmath.workdps(HIGH_PRECISION_DIGITS):
        args = [mpmath.mpf(float(v)) for v in v_row]
        try:
            y = [_mp_real(v, "forward", v_row) for v in ref.mpmath_forward(*args)]
            flat = [_mp_real(v, "the derivatives", v_row) for v in ref.mpmath_derivatives(*args)]
        except (InputError, BudgetExceeded):
            raise
        except Exception:  # noqa: BLE001 - mpmath lacks a function, a pole, ...
            raise InputError(f"forward or its derivatives cannot be evaluated at x = {_format_row(v_row)}") from None
    jacobian = [flat[k * d:(k + 1) * d] for k in range(m)]
    hessian = None
    if ref.order == 2:
        upper = flat[m * d:]
        per_output = d * (d + 1) // 2
        hessian = []
        for k in range(m):
            block = upper[k * per_output:(k + 1) * per_output]
            full = [[None] * d for _ in range(d)]
            pos = 0
            for a in range(d):
                for b in range(a, d):
                    full[a][b] = full[b][a] = block[pos]
                    pos += 1
            hessian.append(full)
    return MpRow(y, jacobian, hessian)


def to_float(value: Any) -> float:
    # float() of an mpf beyond the float64 range gives +-inf, which the caller
    # reports as a value float64 cannot represent.
    return float(value)


def mp_row_arrays(row: MpRow) -> Values:
    """The float64 rounding of one MpRow, as a batch of one."""
    y = np.array([[to_float(v) for v in row.y]])
    jac = np.array([[[to_float(v) for v in r] for r in row.jacobian]])
    hess = None if row.hessian is None else np.array([[[[to_float(v) for v in r] for r in k] for k in row.hessian]])
    return Values(y, jac, hess)


def sensitivity_mpmath_row(ref: ReferenceFunctions, v_row: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The sensitivity of one row in mpmath, for rows where float64 cannot give it."""
    import mpmath

    s_jac = np.zeros((1, ref.m, ref.d))
    s_hess = None if ref.order == 1 else np.zeros((1, ref.m, ref.d, ref.d))
    with mpmath.workdps(HIGH_PRECISION_DIGITS):
        for j in range(ref.n):
            if v_row[j] == 0:
                continue  # zero is exact: its rounding perturbs nothing
            try:
                args_up = [mpmath.mpf(float(v)) for v in v_row]
                args_down = list(args_up)
                step = mpmath.mpf(SENSITIVITY_STEP) * abs(args_up[j])
                args_up[j] += step
                args_down[j] -= step
                a = ref.mpmath_derivatives(*args_up)
                b = ref.mpmath_derivatives(*args_down)
                diff = np.array([[to_float(abs(mpmath.re(p) - mpmath.re(q))) for p, q in zip(a, b)]])
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                continue  # a singularity next to x: keep the other terms
            with np.errstate(all="ignore"):
                ju, hu = _unpack_derivatives(diff, ref)
                s_jac += ju / (2 * SENSITIVITY_STEP)
                if s_hess is not None:
                    s_hess += hu / (2 * SENSITIVITY_STEP)
    return s_jac, s_hess
