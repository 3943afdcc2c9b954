"""check_backward: verify a hand-written backward rule against exact derivatives.

``check_backward(forward, backward, n)`` builds n real SymPy symbols, asks
``forward`` for the output expressions, differentiates them exactly, and
compares ``backward(x, y, gy)`` (numpy in, numpy out, EDF's convention) with
the exact Jacobian-vector product on several random minibatches. The
tolerance model is documented in :mod:`symderiv.backward_check_tolerance`.

A backward that raises, returns the wrong shape, returns NaN/inf or modifies
its inputs in place is a *failed check* (``ok=False`` with the reason); only
bad arguments to ``check_backward`` itself (a forward that is not a SymPy
expression of the inputs, a bad ``n``/``domain``/``dtype``) raise
:class:`symderiv.errors.InputError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from symderiv.backward_check_reference import (
    ReferenceFunctions,
    evaluate_mpmath,
    evaluate_numpy,
    forward_expressions,
    reference_functions,
)
from symderiv.backward_check_tolerance import tolerance_factor, tolerances
from symderiv.errors import InputError

__all__ = ["BackwardCheck", "Counterexample", "check_backward", "assert_backward"]

# Bounds that keep one call to a few seconds at most (the Jacobian has n*m
# symbolic entries; mpmath rows cost milliseconds each).
MAX_INPUTS = 32
MAX_OUTPUTS = 64
MAX_BATCH = 4096
MAX_POINTS = 64

# Batch sizes tried by default, first the ones that are not n or m; distinct
# sizes per point so an axis or broadcasting mistake cannot line up by luck.
_DEFAULT_BATCH_CANDIDATES = (3, 5, 7, 4, 6, 9, 11, 13, 2, 8, 10, 12)

# Entries whose error exceeds this fraction of the tolerance are re-judged
# against a 50-digit mpmath reference (float64 rounding in the reference
# itself must not decide a verdict).
_SETTLE_FRACTION = 0.25
_MAX_SETTLED_ROWS = 64

_SUPPORTED_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Counterexample:
    """The worst row found: inputs, exact and returned gradients, tolerance."""

    point: int
    batch_size: int
    row: int
    coordinate: int
    x: tuple[float, ...]
    y: tuple[float, ...]
    gy: tuple[float, ...]
    expected: tuple[float, ...]
    got: tuple[float, ...]
    abs_error: float
    tolerance: float


@dataclass(frozen=True, repr=False)
class BackwardCheck:
    """Result of :func:`check_backward`; ``repr`` is a readable report."""

    ok: bool
    reason: str
    n: int
    m: int
    dtype: str
    domain: tuple[float, float]
    batch_sizes: tuple[int, ...]
    rows_checked: int
    rows_settled_with_mpmath: int
    max_abs_error: float
    max_rel_error: float
    max_error_over_tolerance: float
    unit_roundoff: float
    tolerance_factor: float
    counterexample: Counterexample | None

    def __bool__(self) -> bool:
        return self.ok

    def report(self) -> str:
        """Multi-line human-readable summary (also the ``repr``)."""
        verdict = "ok" if self.ok else "FAILED"
        lines = [f"BackwardCheck: {verdict}" + ("" if self.ok else f": {self.reason}")]
        lines.append(
            f"  checked {self.rows_checked} rows; batch sizes "
            f"{list(self.batch_sizes)}; n={self.n}, m={self.m}, dtype={self.dtype}, "
            f"domain=[{self.domain[0]:g}, {self.domain[1]:g}]"
        )
        lines.append(
            f"  max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g}, "
            f"max error/tolerance {self.max_error_over_tolerance:.3g}"
        )
        lines.append(
            f"  tolerance = {self.tolerance_factor:g} * u * scale (u = {self.unit_roundoff:.3g}, "
            "scale = sum_k |gy_k| (|J_ki| + |x-sensitivity of J_ki| + |y_k|)); "
            f"{self.rows_settled_with_mpmath} rows settled with 50-digit mpmath"
        )
        c = self.counterexample
        if c is not None:
            lines.append(
                f"  counterexample: batch {c.point} (size {c.batch_size}), row {c.row}, "
                f"worst coordinate {c.coordinate}: |got - expected| = {c.abs_error:.3g} "
                f"> tolerance {c.tolerance:.3g}"
            )
            for name in ("x", "y", "gy", "expected", "got"):
                values = getattr(c, name)
                lines.append(f"    {name:<8} = [" + ", ".join(f"{v:.17g}" for v in values) + "]")
        return "\n".join(lines)

    __repr__ = report
    __str__ = report


class _RuleFailure(Exception):
    """Internal: the backward under test misbehaved (not a bug of the caller)."""

    def __init__(self, reason: str, counterexample: Counterexample | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.counterexample = counterexample


def _validate_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype {dtype!r} is not a numpy dtype") from None
    if resolved not in _SUPPORTED_DTYPES:
        raise InputError(f"dtype {resolved} is not supported (use float16, float32 or float64)")
    return resolved


def _validate_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise InputError(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


def _validate_domain(domain: Any, dtype: np.dtype) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in domain)
    except (TypeError, ValueError):
        raise InputError(f"domain must be a pair (low, high), got {domain!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise InputError(f"domain must be finite with low < high, got ({low:g}, {high:g})")
    if max(abs(low), abs(high)) >= float(np.finfo(dtype).max) or not math.isfinite(high - low):
        raise InputError(f"domain ({low:g}, {high:g}) exceeds the range of {dtype}")
    return low, high


def _batch_sizes(batch: Any, points: int | None, n: int, m: int) -> tuple[int, ...]:
    if batch is None:
        count = 3 if points is None else points
        preferred = [b for b in _DEFAULT_BATCH_CANDIDATES if b not in (n, m)]
        return tuple(preferred[i % len(preferred)] for i in range(count))
    if isinstance(batch, (int, np.integer)) and not isinstance(batch, (bool, np.bool_)):
        sizes = [batch]
    else:
        try:
            sizes = list(batch)
        except TypeError:
            raise InputError(f"batch must be an integer or a sequence of integers, got {batch!r}") from None
        if not sizes:
            raise InputError("batch must not be empty")
    sizes = [_validate_int(b, "batch size", 1, MAX_BATCH) for b in sizes]
    count = len(sizes) if points is None else points
    return tuple(sizes[i % len(sizes)] for i in range(count))


def _sample_inputs(
    rng: np.random.Generator, batch: int, n: int, domain: tuple[float, float], edge_heavy: bool
) -> np.ndarray:
    low, high = domain
    x = rng.uniform(low, high, size=(batch, n))
    if edge_heavy:
        # Half the entries within 1% of an end of the domain: large dynamic
        # range within a row (one entry at each end) is where unstable rules
        # and unstable references break.
        width = 0.01 * (high - low)
        near_edge = rng.random((batch, n)) < 0.5
        at_high = rng.random((batch, n)) < 0.5
        edge_values = np.where(at_high, high - width * rng.random((batch, n)), low + width * rng.random((batch, n)))
        x = np.where(near_edge, edge_values, x)
    return x


def _row_tuple(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _call_backward(
    backward: Callable[..., Any], x: np.ndarray, y: np.ndarray, gy: np.ndarray, n: int
) -> np.ndarray:
    """Run the rule on copies; every way it can misbehave becomes a _RuleFailure."""
    args = {"x": x.copy(), "y": y.copy(), "gy": gy.copy()}
    try:
        result = backward(args["x"], args["y"], args["gy"])
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any exception (even exit) is a verdict, not a crash
        message = str(exc).splitlines()[0] if str(exc) else ""
        raise _RuleFailure(f"backward raised {type(exc).__name__}: {message}".rstrip(": ")) from None
    for name, original in (("x", x), ("y", y), ("gy", gy)):
        if not np.array_equal(args[name], original, equal_nan=True):
            raise _RuleFailure(f"backward modified its argument {name} in place")
    if result is None:
        raise _RuleFailure("backward returned None (expected an array of shape (batch, n))")
    try:
        got = np.asarray(result)
    except Exception as exc:  # noqa: BLE001
        raise _RuleFailure(f"backward returned something that is not an array: {type(exc).__name__}") from None
    expected_shape = (x.shape[0], n)
    if got.shape != expected_shape:
        raise _RuleFailure(f"backward returned shape {got.shape}, expected {expected_shape}")
    if np.iscomplexobj(got) or not (np.issubdtype(got.dtype, np.floating) or np.issubdtype(got.dtype, np.integer)):
        raise _RuleFailure(f"backward returned dtype {got.dtype}, expected a real floating array")
    got = got.astype(np.float64)
    bad = np.argwhere(~np.isfinite(got))
    if bad.size:
        row, col = (int(v) for v in bad[0])
        raise _RuleFailure(
            f"backward returned a non-finite value ({got[row, col]}) at row {row}, coordinate {col}"
        )
    return got


@dataclass
class _BatchOutcome:
    abs_error: np.ndarray  # (batch, n)
    tolerance: np.ndarray  # (batch, n)
    expected: np.ndarray
    got: np.ndarray
    y: np.ndarray
    settled: int


def _check_one_batch(
    ref: ReferenceFunctions,
    backward: Callable[..., Any],
    x64: np.ndarray,
    gy64: np.ndarray,
    dtype: np.dtype,
) -> _BatchOutcome:
    n = ref.n
    rows = evaluate_numpy(ref, x64)
    y64, jac, sens = rows.y.copy(), rows.jacobian.copy(), rows.jacobian_sensitivity.copy()
    finite = (
        np.isfinite(y64).all(axis=1)
        & np.isfinite(jac).all(axis=(1, 2))
        & np.isfinite(sens).all(axis=(1, 2))
    )
    expected = np.einsum("bk,bki->bi", gy64, jac)
    settled_rows: set[int] = set()

    def settle(selected: np.ndarray) -> None:
        # Replace float64 reference values of these rows by mpmath ones.
        precise, exact = evaluate_mpmath(ref, x64, gy64, selected, rows.jacobian_sensitivity)
        y64[selected] = precise.y
        jac[selected] = precise.jacobian
        sens[selected] = precise.jacobian_sensitivity
        expected[selected] = exact
        settled_rows.update(int(r) for r in selected)

    unstable = np.flatnonzero(~finite)
    if unstable.size:
        settle(unstable)
    _require_representable(y64, dtype, x64)
    x_d, y_d, gy_d = x64.astype(dtype), y64.astype(dtype), gy64.astype(dtype)
    got = _call_backward(backward, x_d, y_d, gy_d, n)

    def judge() -> tuple[np.ndarray, np.ndarray]:
        tol = tolerances(gy64, y_d.astype(np.float64), jac, sens, dtype)
        with np.errstate(all="ignore"):
            return np.abs(got - expected), tol

    error, tol = judge()
    # Close calls are re-judged against the 50-digit reference, worst row
    # first: one row that still fails settles a failing verdict; a passing
    # verdict needs every flagged row settled.
    worst_per_row = (error / tol).max(axis=1)
    flagged = [int(r) for r in np.argsort(-worst_per_row) if worst_per_row[r] > _SETTLE_FRACTION]
    flagged = [r for r in flagged if r not in settled_rows][:_MAX_SETTLED_ROWS]
    if flagged:
        try:
            settle(np.array(flagged[:1]))
            error, tol = judge()
            if (error[flagged[0]] / tol[flagged[0]]).max() <= 1.0 and len(flagged) > 1:
                settle(np.array(flagged[1:]))
                error, tol = judge()
        except InputError:
            # mpmath cannot evaluate these expressions (a function it lacks):
            # the finite float64 reference stands.
            pass
        corrected_y = y64.astype(dtype)
        if not np.array_equal(corrected_y, y_d):
            # The float64 forward was off by an ulp or more: give the rule the
            # correctly rounded y and run it again on the whole batch.
            y_d = corrected_y
            got = _call_backward(backward, x_d, y_d, gy_d, n)
            error, tol = judge()
    return _BatchOutcome(error, tol, expected, got, y_d.astype(np.float64), len(settled_rows))


def _require_representable(y64: np.ndarray, dtype: np.dtype, x64: np.ndarray) -> None:
    limit = float(np.finfo(dtype).max)
    too_big = ~(np.abs(y64) <= limit)
    if too_big.any():
        row = int(np.argwhere(too_big)[0][0])
        raise InputError(
            f"forward value at x = [{', '.join(f'{v:.6g}' for v in x64[row])}] is not representable "
            f"in {dtype}; narrow the domain"
        )


def check_backward(
    forward: Callable[[list], Any],
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
    n: int,
    *,
    batch: int | Sequence[int] | None = None,
    points: int | None = None,
    seed: int = 0,
    dtype: Any = np.float64,
    domain: tuple[float, float] = (-3.0, 3.0),
) -> BackwardCheck:
    """Check ``backward(x, y, gy) -> gx`` against the exact derivative of ``forward``.

    ``forward(xs)`` receives n real SymPy symbols and returns one expression or
    a list of m. ``backward`` receives numpy arrays x (batch, n), y (batch, m)
    (the forward output computed by symderiv in ``dtype``) and gy (batch, m),
    and must return gx (batch, n) with ``gx_i = sum_k gy_k * dy_k/dx_i``.

    ``points`` minibatches are drawn (default 3) with sizes from ``batch``
    (default: distinct sizes different from n and m); x is uniform in
    ``domain`` (the last batch puts half its entries near the ends), gy is
    standard normal. Returns a :class:`BackwardCheck`; never raises because of
    the rule under test.
    """
    n = _validate_int(n, "n", 1, MAX_INPUTS)
    if points is not None:
        points = _validate_int(points, "points", 1, MAX_POINTS)
    if not callable(forward):
        raise InputError("forward must be callable: forward(xs) -> sympy expression(s)")
    if not callable(backward):
        raise InputError("backward must be callable: backward(x, y, gy) -> gx")
    resolved_dtype = _validate_dtype(dtype)
    low_high = _validate_domain(domain, resolved_dtype)
    seed = _validate_int(seed, "seed", 0, 2**63 - 1)
    exprs = forward_expressions(forward, n)
    m = len(exprs)
    if m > MAX_OUTPUTS:
        raise InputError(f"forward returned {m} outputs; at most {MAX_OUTPUTS} are supported")
    sizes = _batch_sizes(batch, points, n, m)
    ref = reference_functions(exprs, n)
    rng = np.random.default_rng(seed)
    info = np.finfo(resolved_dtype)

    common = dict(
        n=n,
        m=m,
        dtype=str(resolved_dtype),
        domain=low_high,
        batch_sizes=sizes,
        unit_roundoff=float(info.eps),
        tolerance_factor=tolerance_factor(n, m),
    )
    max_abs = 0.0
    max_rel = 0.0
    worst_ratio = -1.0
    worst: Counterexample | None = None
    rows_checked = 0
    settled = 0
    for point, size in enumerate(sizes):
        edge_heavy = len(sizes) > 1 and point == len(sizes) - 1
        # The rule sees x and gy rounded to dtype; the reference uses exactly
        # those rounded values, so input rounding never counts as an error.
        x64 = _sample_inputs(rng, size, n, low_high, edge_heavy).astype(resolved_dtype).astype(np.float64)
        gy64 = rng.standard_normal((size, m)).astype(resolved_dtype).astype(np.float64)
        try:
            outcome = _check_one_batch(ref, backward, x64, gy64, resolved_dtype)
        except _RuleFailure as failure:
            return BackwardCheck(
                ok=False,
                reason=f"{failure.reason} (batch {point}, size {size})",
                rows_checked=rows_checked,
                rows_settled_with_mpmath=settled,
                max_abs_error=math.inf,
                max_rel_error=math.inf,
                max_error_over_tolerance=math.inf,
                counterexample=failure.counterexample,
                **common,
            )
        rows_checked += size
        settled += outcome.settled
        error, tol = outcome.abs_error, outcome.tolerance
        max_abs = max(max_abs, float(error.max()))
        # Row-normwise relative error, over rows whose exact gradient is
        # resolvable at all (larger than the row's tolerance): where it
        # underflows, only the absolute tolerance means anything.
        row_scale = np.abs(outcome.expected).max(axis=1)
        resolvable = row_scale > tol.max(axis=1)
        if resolvable.any():
            row_rel = error.max(axis=1)[resolvable] / row_scale[resolvable]
            max_rel = max(max_rel, float(row_rel.max()))
        ratio = error / tol
        row, coordinate = (int(v) for v in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
        if ratio[row, coordinate] > worst_ratio:
            worst_ratio = float(ratio[row, coordinate])
            worst = Counterexample(
                point=point,
                batch_size=size,
                row=row,
                coordinate=coordinate,
                x=_row_tuple(x64[row]),
                y=_row_tuple(outcome.y[row]),
                gy=_row_tuple(gy64[row]),
                expected=_row_tuple(outcome.expected[row]),
                got=_row_tuple(outcome.got[row]),
                abs_error=float(error[row, coordinate]),
                tolerance=float(tol[row, coordinate]),
            )
    ok = worst_ratio <= 1.0
    reason = ""
    if not ok and worst is not None:
        reason = (
            f"gx differs from the exact gradient by {worst.abs_error:.3g} > tolerance "
            f"{worst.tolerance:.3g} (batch {worst.point}, row {worst.row}, coordinate {worst.coordinate})"
        )
    return BackwardCheck(
        ok=ok,
        reason=reason,
        rows_checked=rows_checked,
        rows_settled_with_mpmath=settled,
        max_abs_error=max_abs,
        max_rel_error=max_rel,
        max_error_over_tolerance=worst_ratio,
        counterexample=None if ok else worst,
        **common,
    )


def assert_backward(
    forward: Callable[[list], Any],
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
    n: int,
    **options: Any,
) -> BackwardCheck:
    """Like :func:`check_backward`, but raise ``AssertionError`` with the report on failure.

    Returns the :class:`BackwardCheck` when the rule passes.
    """
    result = check_backward(forward, backward, n, **options)
    if not result.ok:
        raise AssertionError("\n" + result.report())
    return result
