"""Exact ground truth for the derivative checks: forward values and derivative tensors.

Contract: the forward expressions are differentiated once with SymPy (the
Jacobian with respect to the differentiable symbols, and for second-order
checks the Hessian of every output) and lambdified twice, to numpy (with
SciPy's special functions where SciPy is installed; vectorised over the
batch, the fast path) and to mpmath. Alongside the float64 values comes the
rounding scale of every value (the project's rounding model,
:class:`symderiv.numeric.rounding.CompiledScales`): how many digits float64
evaluation of the expression as written may have lost (for outputs that
are logs, also with the log's argument recomputed from y; in mpmath where
float64 over- or underflows inside the expression). A row is *settled*
(its values replaced by correctly rounded ones from mpmath) where float64
overflows or is undefined, where the rounding bound says float64 lost digits
that matter, and where a verdict is close. Settling is adaptive, as SymPy's
``evalf`` is: the row is evaluated at 30 digits, then at twice as many,
doubling until two evaluations agree to 25 significant digits (at most
``MPMATH_MAX_DIGITS``), so ``log(1 + exp(x)) - x`` at x = 700 (where 300
digits cancel) comes out right. Nothing is evaluated point by point with
``subs``/``evalf``. Expressions that cannot be evaluated numerically (``zoo``,
``nan``, an undefined function, an unevaluated ``Integral``, a derivative
SymPy cannot write in closed form, a function neither numpy nor SciPy
provides) are refused with :class:`InputError` before any verdict.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from symderiv.numeric.rounding import CompiledScales
from symderiv.budget import BudgetExceeded
from symderiv.errors import InputError
from symderiv.numeric.differences import SENSITIVITY_STEP, relative_sensitivity

# Adaptive precision of the settled rows: start, agreement required between
# two evaluations (relative), and the most digits tried (then the last
# evaluation stands: a cancellation of more than 900 digits).
MPMATH_START_DIGITS = 30
MPMATH_AGREEMENT = 1e-25
MPMATH_MAX_DIGITS = 960
# Digits of the (magnitude-only) sensitivity estimate in mpmath.
SENSITIVITY_DIGITS = 30

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
    forward_rounding: CompiledScales  # rounding scales of the forward values
    derivative_rounding: CompiledScales  # ... and of the derivatives (computed lazily: see core)
    # ... and of the derivatives written in terms of y where an output is a log
    # (symbols: the inputs, then one per output); None: no output is a log
    derivative_rounding_y: CompiledScales | None = None

    @property
    def d(self) -> int:
        return len(self.diff)


@dataclass(frozen=True)
class Values:
    """y (batch, m), jacobian (batch, m, d), hessian (batch, m, d, d) or None;
    and their rounding scales (same shapes, in units of the unit roundoff):
    the forward's always, the derivatives' 0 until computed for a row
    (:func:`derivative_bounds`)."""

    y: np.ndarray
    jacobian: np.ndarray
    hessian: np.ndarray | None
    bound_y: np.ndarray
    bound_jacobian: np.ndarray
    bound_hessian: np.ndarray | None


def values_rows(values: Values, index: np.ndarray) -> Values:
    """The rows ``index`` of every array of ``values``."""
    return Values(*(None if a is None else a[index] for a in (
        values.y, values.jacobian, values.hessian, values.bound_y, values.bound_jacobian, values.bound_hessian)))


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


def numeric_modules() -> list[str]:
    """lambdify's modules for numpy evaluation: SciPy's special functions where installed."""
    try:
        import scipy.special  # noqa: F401
    except ImportError:  # pragma: no cover - SciPy is optional
        return ["numpy"]
    return ["scipy", "numpy"]


def _lambdify(symbols: Sequence[sympy.Symbol], exprs: list, module: Any, cse: bool) -> Callable[..., Any]:
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
    _closed_form(derivative_exprs)
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
        _closed_form(derivative_exprs)
    return ReferenceFunctions(
        n=len(symbols),
        m=len(forward_exprs),
        order=order,
        diff=tuple(diff),
        forward_exprs=forward_exprs,
        numpy_forward=_lambdify(symbols, list(forward_exprs), numeric_modules(), True),
        numpy_derivatives=_lambdify(symbols, derivative_exprs, numeric_modules(), True),
        mpmath_forward=_lambdify(symbols, list(forward_exprs), "mpmath", False),
        mpmath_derivatives=_lambdify(symbols, derivative_exprs, "mpmath", True),
        forward_rounding=CompiledScales(list(forward_exprs), symbols, numeric_modules()),
        derivative_rounding=CompiledScales(derivative_exprs, symbols, numeric_modules()),
        derivative_rounding_y=_rounding_in_terms_of_y(forward_exprs, symbols, derivative_exprs, len(wrt), order),
    )


def output_symbols(m: int) -> tuple[sympy.Symbol, ...]:
    """The symbols standing for the rounded outputs y_0 .. y_{m-1} in the y-form."""
    return tuple(sympy.Dummy(f"y{k}", real=True) for k in range(m))


def _log_argument(expr: sympy.Expr, y: sympy.Symbol) -> tuple[sympy.Expr, sympy.Expr] | None:
    """For an output y = c·log(A) + B (one log term, c a number), A written
    in terms of the output value: (A, exp((y - B)/c)); else None."""
    logs = [t for t in sympy.Add.make_args(expr) if isinstance(t.as_coeff_Mul()[1], sympy.log)]
    if len(logs) != 1:
        return None
    c, term = logs[0].as_coeff_Mul()
    argument = term.args[0]
    rest = expr - logs[0]
    return argument, sympy.exp((y - rest) / c)


def _rounding_in_terms_of_y(forward_exprs, symbols, derivative_exprs, d: int, order: int) -> CompiledScales | None:
    """The rounding model of the derivatives as a rule writes them from y
    where an output is a log, y_k = log(A_k) + B_k (logsumexp, a log-sum-exp
    cross-entropy): such a rule computes A_k as exp(y_k - B_k) (EDF's
    logsumexp backward ``exp(x - y)``), so y_k's absolute rounding u·|y_k|
    becomes a relative error of everything A_k enters. Output k's derivative
    entries get A_k replaced that way; the others are unchanged."""
    ys = output_symbols(len(forward_exprs))
    replacements = [_log_argument(expr, y) for expr, y in zip(forward_exprs, ys)]
    if not any(replacements):
        return None
    per_output_first = d
    per_output_second = d * (d + 1) // 2 if order == 2 else 0
    m = len(forward_exprs)
    rewritten = []
    for position, expr in enumerate(derivative_exprs):
        k = position // per_output_first if position < m * d else (position - m * d) // per_output_second
        replacement = replacements[k]
        rewritten.append(expr if replacement is None else expr.xreplace({replacement[0]: replacement[1]}))
    return CompiledScales(rewritten, tuple(symbols) + ys, numeric_modules())


def _closed_form(derivative_exprs: Sequence[sympy.Expr]) -> None:
    for expr in derivative_exprs:
        unevaluated = expr.atoms(sympy.Derivative)
        if unevaluated:
            what = min((str(d) for d in unevaluated), key=len)
            raise InputError(
                f"forward cannot be evaluated numerically: its derivative has no closed form ({what}); "
                "floor, Mod and similar functions are not differentiable"
            )


# -- float64, vectorised ---------------------------------------------------------

def _stack_columns(values: Sequence[Any], batch: int) -> np.ndarray:
    """(batch, len(values)) float64, as the transpose of a (len(values), batch)
    array filled one expression at a time: every write is contiguous (filling
    columns of a row-major array, or transposing a stacked copy, cost more
    than evaluating the derivatives). Constant outputs come back from
    lambdify as scalars and are broadcast."""
    out = np.empty((len(values), batch))
    for k, value in enumerate(values):
        if type(value) is np.ndarray and value.dtype == np.float64:
            out[k] = value
            continue
        array = np.asarray(value)
        if np.iscomplexobj(array):
            # A complex value means the expression is not real here (e.g. sqrt
            # of a negative); NaN sends the row to the mpmath path for a clear error.
            array = np.where(array.imag == 0, array.real, np.nan)
        if array.dtype == object:
            array = np.array([complex(v).real if complex(v).imag == 0 else np.nan for v in np.ravel(array)])
        out[k] = array.astype(np.float64)
    return out.T


def _numpy_values(fn: Callable[..., Any], v: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        try:
            return _stack_columns(fn(*v.T), v.shape[0])
        except NameError as exc:  # a function the numeric modules do not provide
            raise InputError(
                f"the forward or its derivative uses a function numpy cannot evaluate ({exc}); "
                "installing SciPy provides most special functions"
            ) from None
        except (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError):
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
    # the inputs are exact (the rule gets the very same numbers): scale 0
    _, bound_y = ref.forward_rounding(v, np.zeros_like(v))
    # np.zeros, not zeros_like: fresh zero pages cost nothing until written,
    # and these are written only on the few rows whose bounds are needed
    return Values(y, jacobian, hessian, np.where(np.isfinite(bound_y), bound_y, 2 * np.abs(y)),
                  np.zeros(jacobian.shape), None if hessian is None else np.zeros(hessian.shape))


# Rows per call whose rounding scales are evaluated in mpmath (float64
# overflows in the derivative as written: exp(1000)/Σ exp); beyond that, the
# fallback below.
MPMATH_ROUNDING_ROWS = 256


def _rounding_scales(rounding: CompiledScales, values: np.ndarray, scales: np.ndarray, exact: np.ndarray,
                     budget: list[int]) -> np.ndarray:
    """(rows, entries) rounding scales in float64; rows where the float64 walk
    does not reproduce the exact values (an intermediate overflows or
    underflows: exp(1000)/Σ exp, exp(606)·exp(-935)) are walked again in
    mpmath (while ``budget[0]`` lasts)."""
    walked, flat = rounding(values, scales)
    with np.errstate(all="ignore"):
        wrong = ~(np.isfinite(flat) & (np.abs(walked - exact) <= 1e-6 * np.abs(exact)))
    for row in np.flatnonzero((wrong & np.isfinite(exact)).any(axis=1)):
        if budget[0] <= 0:
            break
        budget[0] -= 1
        _, again = rounding.at_row_mpmath(values[row], scales[row])
        flat[row] = np.where(wrong[row], again, flat[row])
    return flat


def _pack_derivatives(values: Values, ref: ReferenceFunctions) -> np.ndarray:
    """The inverse of :func:`_unpack_derivatives`: (batch, entries) in the order of the expressions."""
    batch = values.jacobian.shape[0]
    flat = [values.jacobian.reshape(batch, -1)]
    if ref.order == 2:
        rows, cols = np.triu_indices(ref.d)
        flat.append(values.hessian[:, :, rows, cols].reshape(batch, -1))
    return np.concatenate(flat, axis=1)


def derivative_bounds(ref: ReferenceFunctions, v: np.ndarray, values: Values,
                      budget: list[int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The rounding scales of the derivatives as written at the rows v (their
    exact ``values``): the larger of the derivatives written in terms of x
    and, where an output is a log, in terms of y (its rounding included).
    Where float64 overflows in the expression as written, the rows are
    evaluated in mpmath (up to ``budget[0]`` rows, which is decremented).
    Where the scale is still unknown (a function with no numeric rule, the
    budget spent), a rounding of each entry and of the output it belongs to
    (a stable rule's terms are of that size); never an infinite allowance."""
    budget = [MPMATH_ROUNDING_ROWS] if budget is None else budget
    exact = _pack_derivatives(values, ref)
    flat = _rounding_scales(ref.derivative_rounding, v, np.zeros_like(v), exact, budget)
    if ref.derivative_rounding_y is not None:
        with np.errstate(all="ignore"):
            extended = np.concatenate([v, values.y], axis=1)
            own = np.concatenate([np.zeros_like(v), np.abs(values.y)], axis=1)
        in_y = _rounding_scales(ref.derivative_rounding_y, extended, own, exact, budget)
        flat = np.fmax(flat, in_y)  # NaN in one of them: the other
    bound_jacobian, bound_hessian = _unpack_derivatives(flat, ref)
    abs_y = np.abs(values.y)
    with np.errstate(all="ignore"):
        bound_jacobian = np.where(np.isfinite(bound_jacobian), bound_jacobian,
                                  2 * np.abs(values.jacobian) + abs_y[:, :, None])
        if bound_hessian is not None:
            bound_hessian = np.where(np.isfinite(bound_hessian), bound_hessian,
                                     2 * np.abs(values.hessian) + abs_y[:, :, None, None])
    return bound_jacobian, bound_hessian


def _norm(w: np.ndarray) -> np.ndarray:
    """Row 2-norms without overflow or underflow (entries up to 1e305 and down to 1e-305)."""
    largest = np.max(np.abs(w), axis=1)
    with np.errstate(all="ignore"):
        scaled = w / np.where(largest > 0, largest, 1.0)[:, None]
    return largest * np.sqrt(np.sum(scaled * scaled, axis=1))


def float64_derivatives_fail(ref: ReferenceFunctions, v: np.ndarray) -> np.ndarray:
    """(rows,) True where float64 cannot evaluate the derivatives at a row
    (an intermediate overflows: exp(1000)/Σ exp): its central differences
    say nothing there, and the sensitivity is taken from mpmath."""
    return ~np.isfinite(_numpy_values(ref.numpy_derivatives, v)).all(axis=1)


def sensitivity_numpy(ref: ReferenceFunctions, v: np.ndarray, jacobian: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """How much the derivative tensors T (the Jacobian, and the Hessian) move
    when the rule's inputs are rounded, per unit roundoff:
    Σ_j |∂T/∂x_j| |x_j|  (x, for a rule that recomputes from x)
    + Σ_k |∂T/∂y_k| |y_k|  (y, for a rule that uses the forward's output).

    ∂T/∂y_k is the derivative of T along the x-direction that moves y_k alone
    (the pseudo-inverse of the Jacobian): a rule written in terms of y_k is the
    same function of it. Central differences: only a magnitude is needed."""
    batch = v.shape[0]
    s_jac = np.zeros((batch, ref.m, ref.d))
    s_hess = None if ref.order == 1 else np.zeros((batch, ref.m, ref.d, ref.d))

    def add_difference(up: np.ndarray, down: np.ndarray, weight: np.ndarray) -> None:
        ju, hu = _unpack_derivatives(_numpy_values(ref.numpy_derivatives, up), ref)
        jd, hd = _unpack_derivatives(_numpy_values(ref.numpy_derivatives, down), ref)
        with np.errstate(all="ignore"):
            w = weight.reshape(batch, 1, 1)
            s_jac[:] += np.nan_to_num(np.abs(ju - jd) * w, nan=0.0, posinf=0.0)
            if s_hess is not None:
                s_hess[:] += np.nan_to_num(np.abs(hu - hd) * w[..., None], nan=0.0, posinf=0.0)

    for j in range(ref.n):
        ju, hu = _unpack_derivatives(
            relative_sensitivity(lambda rows: _numpy_values(ref.numpy_derivatives, rows), v, j), ref)
        s_jac += np.nan_to_num(ju, nan=0.0, posinf=0.0)
        if s_hess is not None:
            s_hess += np.nan_to_num(hu, nan=0.0, posinf=0.0)
    with np.errstate(all="ignore"):
        clean = np.where(np.isfinite(jacobian), jacobian, 0.0)
        # rows normalised first: outputs whose gradients differ by 1e17 in
        # size (sigmoid at 40 and at 0) must not be cut off as rank deficiency
        # (by the largest entry, not the 2-norm: e^-702 squared underflows)
        row_norm = np.max(np.abs(clean), axis=2, keepdims=True)
        normalised = clean / np.where(row_norm > 0, row_norm, 1.0)
        inverse = np.linalg.pinv(normalised) / np.where(row_norm > 0, row_norm, np.inf).transpose(0, 2, 1)
    columns = list(ref.diff)
    for k in range(ref.m):
        w = np.nan_to_num(inverse[:, :, k])
        norm = _norm(w)
        usable = (norm > 0) & np.isfinite(y[:, k]) & (y[:, k] != 0)
        if not usable.any():
            continue
        with np.errstate(all="ignore"):
            unit = np.where(usable[:, None], w / np.where(norm > 0, norm, 1.0)[:, None], 0.0)
            reach = np.maximum(np.sum(np.abs(unit * v[:, columns]), axis=1), 1e-8)
            epsilon = SENSITIVITY_STEP * reach
            move = np.zeros_like(v)
            move[:, columns] = unit * epsilon[:, None]
            # ΔT / Δy_k with Δy_k = 2 ε / |w| (J w = e_k), times |y_k|
            weight = np.where(usable, norm * np.abs(y[:, k]) / (2 * epsilon), 0.0)
        add_difference(v + move, v - move, weight)
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
    digits: int = MPMATH_START_DIGITS  # the working precision that settled it


def _agree(a: list, b: list) -> bool:
    for p, q in zip(a, b):
        if p != q and abs(p - q) > MPMATH_AGREEMENT * max(abs(p), abs(q)):
            return False
    return True


def _evaluate_adaptively(fn: Callable[..., Any], v_row: np.ndarray, what: str) -> tuple[list, int]:
    """fn at v_row in mpmath, digits doubled until two evaluations agree."""
    import mpmath

    digits, previous = MPMATH_START_DIGITS, None
    while True:
        with mpmath.workdps(digits):
            args = [mpmath.mpf(float(v)) for v in v_row]
            try:
                values = [_mp_real(v, what, v_row) for v in fn(*args)]
            except (InputError, BudgetExceeded):
                raise
            except Exception:  # noqa: BLE001 - mpmath lacks a function, a pole, ...
                raise InputError(f"forward or its derivatives cannot be evaluated at x = {_format_row(v_row)}") from None
        if previous is not None and _agree(previous, values):
            return values, digits
        if digits >= MPMATH_MAX_DIGITS:
            return values, digits
        previous, digits = values, 2 * digits


def evaluate_mpmath_forward(ref: ReferenceFunctions, v_row: np.ndarray) -> np.ndarray:
    """The forward values of one row, correctly rounded to float64."""
    y, _ = _evaluate_adaptively(ref.mpmath_forward, v_row, "forward")
    return np.array([to_float(v) for v in y])


def evaluate_mpmath_row(ref: ReferenceFunctions, v_row: np.ndarray) -> MpRow:
    """Values and derivatives of one row, correct to 25 digits or more; InputError where undefined."""
    m, d = ref.m, ref.d
    y, y_digits = _evaluate_adaptively(ref.mpmath_forward, v_row, "forward")
    flat, flat_digits = _evaluate_adaptively(ref.mpmath_derivatives, v_row, "the derivatives")
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
    return MpRow(y, jacobian, hessian, max(y_digits, flat_digits))


def to_float(value: Any) -> float:
    # float() of an mpf beyond the float64 range gives +-inf, which the caller
    # reports as a value float64 cannot represent.
    return float(value)


def mp_row_arrays(row: MpRow) -> Values:
    """The float64 rounding of one MpRow, as a batch of one (its bounds unset: 0)."""
    y = np.array([[to_float(v) for v in row.y]])
    jac = np.array([[[to_float(v) for v in r] for r in row.jacobian]])
    hess = None if row.hessian is None else np.array([[[[to_float(v) for v in r] for r in k] for k in row.hessian]])
    return Values(y, jac, hess, np.zeros_like(y), np.zeros_like(jac), None if hess is None else np.zeros_like(hess))


def sensitivity_mpmath_row(ref: ReferenceFunctions, v_row: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The sensitivity of one row in mpmath, for rows where float64 cannot give it."""
    import mpmath

    s_jac = np.zeros((1, ref.m, ref.d))
    s_hess = None if ref.order == 1 else np.zeros((1, ref.m, ref.d, ref.d))
    with mpmath.workdps(SENSITIVITY_DIGITS):
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
