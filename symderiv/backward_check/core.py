"""The check loop shared by check_backward, check_jvp, check_double_backward and check_hvp.

Contract: :func:`prepare` builds the exact reference once (SymPy,
lambdified) and :func:`_run` runs the rule under test on minibatches:
``points`` random batches, the special points of
:mod:`symderiv.backward_check.points` in batches of at most 64 rows, and
``ADAPTIVE_ROUNDS`` adaptive batches around the worst row so far. Each batch
(:func:`check_batch`) is judged entry by entry against the tolerance model;
the worst entry over all batches decides the verdict and becomes the
counterexample. A rule that raises, loops past its CPU budget, returns the
wrong shape, NaN/inf or modifies an argument in place is a *failed check*
with the reason, and its counterexample is the example it misbehaved on
(found by re-running the rule one row at a time when the failure does not
name it), or the whole batch. Bad arguments, a forward that cannot be
evaluated, or symderiv's own work exceeding its CPU budget raise
:class:`InputError`. Budgets count CPU time (:mod:`symderiv.budget`), never
wall-clock time; where CPU timers are unavailable (not the main thread) the
calls run unbounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from symderiv.backward_check import kinds
from symderiv.backward_check.inputs import Layout
from symderiv.backward_check.points import (
    Point,
    kink_directions,
    kink_functions,
    sampling_box,
    special_points,
)
from symderiv.backward_check.reference import (
    Values,
    call_forward,
    evaluate_mpmath_forward,
    evaluate_mpmath_row,
    evaluate_numpy,
    MPMATH_ROUNDING_ROWS,
    derivative_bounds,
    float64_derivatives_fail,
    mp_row_arrays,
    output_expressions,
    reference_functions,
    sensitivity_mpmath_row,
    sensitivity_numpy,
    validate_expressions,
    values_rows,
)
from symderiv.backward_check.result import BackwardCheck, Counterexample
from symderiv.backward_check.rule import RULE_NAMES, RuleFailure, call_rule, diff_columns, tangent_arrays
from symderiv.backward_check.tolerance import tolerance, tolerance_factor
from symderiv.errors import InputError

MAX_OUTPUTS = 64
MAX_BATCH = 4096
MAX_POINTS = 64
# Default batch sizes, distinct and different from every axis length of the
# inputs and outputs, so an axis or broadcasting mistake cannot line up by luck.
_DEFAULT_BATCH_CANDIDATES = (3, 5, 7, 4, 6, 9, 11, 13, 2, 8, 10, 12)
SPECIAL_BATCH_ROWS = 64
MAX_SHARED_SPECIAL_BATCHES = 16
ADAPTIVE_ROUNDS = 3
ADAPTIVE_BATCH_ROWS = 8
# Entries whose error exceeds this fraction of the tolerance are re-judged
# against an mpmath reference (float64 rounding in the reference itself must
# not decide a verdict); the sensitivity and rounding terms of the tolerance
# are computed only for rows above the smaller fraction (they cost 2(n + m)
# evaluations of the derivatives and a walk of their expressions; they only
# widen the tolerance, so rows below it pass without them).
_SETTLE_FRACTION = 0.25
_SENSITIVITY_FRACTION = 0.125
MAX_SETTLED_ROWS = 256
_FIRST_ROWS = 8
DEFAULT_CPU_BUDGET = 60.0
DEFAULT_RULE_CPU_BUDGET = 10.0
_SUPPORTED_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


@dataclass
class Setup:
    """Everything fixed for one call."""

    kind: str
    layout: Layout
    rule: Callable[..., Any]
    dtype: np.dtype
    domain: tuple[float, float]
    domains: np.ndarray  # (n, 2)
    boxes: np.ndarray  # (n, 2)
    refs: dict
    out_shape: tuple[int, ...]
    m: int
    factor: float
    rule_budget: float
    kinks: list = field(default_factory=list)
    criticals: list = field(default_factory=list)
    caller_errstate: dict = field(default_factory=dict)  # numpy's error state for the rule: the caller's
    settle_left: int = MAX_SETTLED_ROWS
    # rows whose rounding scales may still be evaluated in mpmath (a list: shared by reference)
    rounding_left: list = field(default_factory=lambda: [MPMATH_ROUNDING_ROWS])
    settled: int = 0
    skipped: int = 0

    @property
    def d(self) -> int:
        return len(self.layout.diff_index())

    @property
    def d_example(self) -> int:
        return sum(1 for i in self.layout.diff_index() if i < self.layout.n_example)


@dataclass
class Batch:
    v: np.ndarray  # (b, n) every real entry, rounded to the dtype
    labels: np.ndarray  # (b, number of label inputs)
    origin: list[str]
    source: str  # "random" | "special" | "adaptive"
    dirs: dict[str, np.ndarray] | None = None


# -- validation and preparation ----------------------------------------------------

def _validate_int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise InputError(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


def _validate_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype {dtype!r} is not a numpy dtype") from None
    if resolved not in _SUPPORTED_DTYPES:
        raise InputError(f"dtype {resolved} is not supported (use float16, float32 or float64)")
    return resolved


def _validate_domain(domain: Any, dtype: np.dtype, what: str = "domain") -> tuple[float, float]:
    try:
        low, high = (float(v) for v in domain)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a pair (low, high), got {domain!r}") from None
    if math.isnan(low) or math.isnan(high) or not low < high or low == math.inf or high == -math.inf:
        raise InputError(f"{what} must have low < high (ends may be infinite), got ({low:g}, {high:g})")
    limit = float(np.finfo(dtype).max)
    finite = [v for v in (low, high) if math.isfinite(v)]
    if any(abs(v) >= limit for v in finite) or (len(finite) == 2 and not math.isfinite(high - low)):
        raise InputError(f"{what} ({low:g}, {high:g}) exceeds the range of {dtype}")
    return low, high


def _validate_budget(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number of seconds, got {value!r}")
    if not 0 < float(value) <= 3600:
        raise InputError(f"{name} must be between 0 and 3600 seconds, got {value}")
    return float(value)


def _forward_outputs(forward: Callable[..., Any], layout: Layout) -> tuple[dict, tuple[int, ...]]:
    by_labels = {}
    shape: tuple[int, ...] | None = None
    for combo in layout.label_combinations():
        arguments = layout.forward_arguments(combo)
        if layout.legacy:
            produced = call_forward(forward, (arguments["x"],), {}, "forward(xs)")
        else:
            produced = call_forward(forward, (), arguments, "forward(**inputs)")
        exprs, out_shape = output_expressions(produced, layout.legacy)
        validate_expressions(exprs, layout.symbols)
        if shape is not None and out_shape != shape:
            raise InputError(f"forward returns shape {out_shape} for labels {combo}, {shape} for others")
        shape = out_shape
        by_labels[combo] = exprs
    return by_labels, shape or ()


def prepare(kind: str, forward, rule, layout: Layout, dtype, domain, rule_budget) -> Setup:
    if not callable(forward):
        raise InputError("forward must be callable and return sympy expression(s)")
    if not callable(rule):
        raise InputError(f"{RULE_NAMES[kind]} must be callable")
    by_labels, out_shape = _forward_outputs(forward, layout)
    m = len(next(iter(by_labels.values())))
    if m > MAX_OUTPUTS:
        raise InputError(f"forward returned {m} outputs; at most {MAX_OUTPUTS} are supported")
    if kind == "hvp" and m != 1:
        raise InputError(f"check_hvp needs a scalar forward (one output), got {m}; use check_double_backward")
    diff = layout.diff_index()
    refs = {combo: reference_functions(exprs, layout.symbols, diff, kinds.order(kind)) for combo, exprs in by_labels.items()}
    domains = np.empty((layout.n, 2))
    for name in layout.real_names():
        spec = layout.spec(name)
        own = domain if spec.domain is None else _validate_domain(spec.domain, dtype, f"domain of {name}")
        domains[layout.symbol_slice(name)] = own
    boxes = np.array([sampling_box(lo, hi) for lo, hi in domains])
    return Setup(
        kind=kind, layout=layout, rule=rule, dtype=dtype, domain=domain, domains=domains, boxes=boxes,
        refs=refs, out_shape=out_shape, m=m, factor=tolerance_factor(layout.n, m), rule_budget=rule_budget,
    )


# -- sampling ------------------------------------------------------------------------

def _round(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return values.astype(dtype).astype(np.float64)


def _random_batch(setup: Setup, rng: np.random.Generator, size: int, edge_heavy: bool) -> Batch:
    layout = setup.layout
    lo, hi = setup.boxes[:, 0], setup.boxes[:, 1]
    v = rng.uniform(lo, hi, size=(size, layout.n))
    if edge_heavy:
        # Half the entries within 1% of an end: large dynamic range within a
        # row is where unstable rules and unstable references break.
        width = 0.01 * (hi - lo)
        near = rng.random(v.shape) < 0.5
        at_high = rng.random(v.shape) < 0.5
        edges = np.where(at_high, hi - width * rng.random(v.shape), lo + width * rng.random(v.shape))
        v = np.where(near, edges, v)
    v[:, layout.n_example:] = v[0, layout.n_example:]  # shared entries: one value per batch
    return Batch(_round(v, setup.dtype), _random_labels(setup, rng, size), ["random"] * size, "random")


def _random_labels(setup: Setup, rng: np.random.Generator, size: int) -> np.ndarray:
    classes = [setup.layout.spec(n).classes for n in setup.layout.label_names()]
    if not classes:
        return np.zeros((size, 0), dtype=np.int64)
    return np.stack([rng.integers(0, c, size) for c in classes], axis=1)


def _directions(setup: Setup, rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    dtype, m, d, d_e = setup.dtype, setup.m, setup.d, setup.d_example
    dirs: dict[str, np.ndarray] = {}
    if setup.kind == "hvp":
        dirs["gy"], dirs["gy_dot"] = np.ones((size, m)), np.zeros((size, m))
    elif setup.kind != "jvp":
        dirs["gy"] = _round(rng.standard_normal((size, m)), dtype)
        if setup.kind == "double_backward":
            dirs["gy_dot"] = _round(rng.standard_normal((size, m)), dtype)
    if setup.kind != "backward":
        t = _round(rng.standard_normal((size, d)), dtype)
        t[:, d_e:] = t[0, d_e:]
        dirs["t"] = t
    return dirs


def _special_batches(setup: Setup, rng: np.random.Generator) -> list[Batch]:
    layout = setup.layout

    shared_base = _random_batch(setup, rng, 1, False).v[0, layout.n_example:].copy()

    def draw_row():
        row = _random_batch(setup, rng, 1, False)
        values = row.v[0].copy()
        values[layout.n_example:] = shared_base
        return values, tuple(int(v) for v in row.labels[0])

    exprs = [e for ref in setup.refs.values() for e in ref.forward_exprs]
    names = [str(s) for s in layout.symbols]
    points, criticals = special_points(
        layout.symbols, names, setup.boxes, setup.domains, exprs, draw_row, rng, setup.dtype
    )
    setup.criticals = criticals
    setup.kinks = kink_functions(layout.symbols, criticals)
    # one batch per distinct value of the shared entries (a special value of a
    # weight applies to the whole batch)
    groups: dict[bytes, list[Point]] = {}
    for p in points:
        groups.setdefault(p.values[layout.n_example:].tobytes(), []).append(p)
    base = shared_base.tobytes()
    # Every distinct value of the shared entries is a batch (a rule call) of
    # its own: at most MAX_SHARED_SPECIAL_BATCHES of them, zeros of critical
    # expressions first (they come first in the list of points).
    others = [key for key in groups if key != base][:MAX_SHARED_SPECIAL_BATCHES]
    batches = []
    for key in ([base] if base in groups else []) + others:
        group = groups[key]
        for start in range(0, len(group), SPECIAL_BATCH_ROWS):
            chunk = group[start:start + SPECIAL_BATCH_ROWS]
            v = _round(np.stack([p.values for p in chunk]), setup.dtype)
            labs = np.array([p.labels for p in chunk], dtype=np.int64).reshape(len(chunk), -1)
            batches.append(Batch(v, labs, [p.origin for p in chunk], "special"))
    return batches


def _adaptive_batch(setup: Setup, rng: np.random.Generator, centre: np.ndarray, labels: np.ndarray, radius: float) -> Batch:
    layout = setup.layout
    width = setup.boxes[:, 1] - setup.boxes[:, 0]
    v = centre[None, :] + radius * width * rng.standard_normal((ADAPTIVE_BATCH_ROWS, layout.n))
    v[0] = centre
    v = np.clip(v, setup.domains[:, 0], setup.domains[:, 1])
    v[:, layout.n_example:] = v[0, layout.n_example:]
    labs = np.repeat(labels[None, :], ADAPTIVE_BATCH_ROWS, axis=0)
    origin = [f"adaptive (radius {radius:g} of the domain)"] * ADAPTIVE_BATCH_ROWS
    return Batch(_round(v, setup.dtype), labs, origin, "adaptive")


# -- the exact reference on a batch ------------------------------------------------------

def _by_labels(setup: Setup, labels: np.ndarray):
    """(label combination, row indices) groups of a batch's label rows."""
    if labels.shape[1] == 0:
        yield next(iter(setup.refs)), np.arange(labels.shape[0])
        return
    combos = [tuple(int(v) for v in row) for row in labels]
    for combo in dict.fromkeys(combos):
        yield combo, np.array([i for i, c in enumerate(combos) if c == combo])


def _evaluate_at(setup: Setup, labels: np.ndarray, v: np.ndarray) -> Values:
    groups = list(_by_labels(setup, labels))
    if len(groups) == 1:  # one forward for the whole batch (no labels, or one label value)
        return evaluate_numpy(setup.refs[groups[0][0]], v)
    b, m, d = v.shape[0], setup.m, setup.d
    second = kinds.order(setup.kind) == 2
    out = Values(np.empty((b, m)), np.empty((b, m, d)), np.empty((b, m, d, d)) if second else None,
                 np.empty((b, m)), np.empty((b, m, d)), np.empty((b, m, d, d)) if second else None)
    for combo, rows in groups:
        part = evaluate_numpy(setup.refs[combo], v[rows])
        for name in ("y", "jacobian", "hessian", "bound_y", "bound_jacobian", "bound_hessian"):
            target = getattr(out, name)
            if target is not None:
                target[rows] = getattr(part, name)
    return out


def _finite_rows(values: Values) -> np.ndarray:
    ok = np.isfinite(values.y).all(axis=1) & np.isfinite(values.jacobian).all(axis=(1, 2))
    if values.hessian is not None:
        ok &= np.isfinite(values.hessian).all(axis=(1, 2, 3))
    return ok


def _labels_of(setup: Setup, batch: Batch, row: int) -> tuple:
    return tuple(int(v) for v in batch.labels[row]) if batch.labels.shape[1] else next(iter(setup.refs))


def _settle_row(setup: Setup, batch: Batch, values: Values, mp_rows: dict, row: int) -> None:
    """Replace one row's float64 reference by values correct to 25 digits (InputError if undefined)."""
    mp = evaluate_mpmath_row(setup.refs[_labels_of(setup, batch, row)], batch.v[row])
    exact = mp_row_arrays(mp)
    values.y[row], values.jacobian[row] = exact.y[0], exact.jacobian[0]
    if values.hessian is not None:
        values.hessian[row] = exact.hessian[0]
    mp_rows[row] = mp
    setup.settle_left -= 1
    setup.settled += 1


def _subset(batch: Batch, values: Values, mp_rows: dict, keep: np.ndarray):
    index = np.flatnonzero(keep)
    remap = {int(old): new for new, old in enumerate(index)}
    sub = Batch(batch.v[index], batch.labels[index], [batch.origin[i] for i in index], batch.source,
                None if batch.dirs is None else {k: a[index] for k, a in batch.dirs.items()})
    return sub, values_rows(values, index), {remap[r]: mp for r, mp in mp_rows.items() if r in remap}


def _settle_forward_values(setup: Setup, batch: Batch, values: Values, keep: np.ndarray) -> None:
    """The y handed to the rule must be right: where float64 evaluation of the
    forward as written may have lost more than a quarter of the dtype's unit
    roundoff (or a quarter of the tolerance factor of float64 roundings),
    the forward is settled in mpmath (log(1 + exp(x)) at x = -30, 1 - 1/(1 + exp(x))
    at x = -47, where float64 gives 9.348e-14 and 0)."""
    u64 = float(np.finfo(np.float64).eps)
    allowed = max(float(np.finfo(setup.dtype).eps), setup.factor * u64) / 4
    with np.errstate(all="ignore"):
        lost = ~(u64 * values.bound_y <= allowed * np.abs(values.y)).all(axis=1)
    for row in np.flatnonzero(lost & keep & _finite_rows(values)):
        if setup.settle_left <= 0:
            break
        try:
            values.y[row] = evaluate_mpmath_forward(setup.refs[_labels_of(setup, batch, int(row))], batch.v[row])
        except InputError:
            continue  # mpmath cannot evaluate it: the float64 value stands
        setup.settle_left -= 1
        setup.settled += 1


def _reference(setup: Setup, batch: Batch) -> tuple[Batch, Values, dict]:
    """The exact values on the batch; rows float64 cannot give are settled in
    mpmath. Undefined or unrepresentable rows are an InputError for random
    rows (the domain is wrong) and are skipped for special and adaptive ones."""
    values = _evaluate_at(setup, batch.labels, batch.v)
    mp_rows: dict = {}
    keep = np.ones(batch.v.shape[0], dtype=bool)
    for row in np.flatnonzero(~_finite_rows(values)):
        if setup.settle_left <= 0:
            keep[row] = False
            continue
        try:
            _settle_row(setup, batch, values, mp_rows, int(row))
        except InputError:
            if batch.source == "random":
                raise
            keep[row] = False
    _settle_forward_values(setup, batch, values, keep)
    limit = float(np.finfo(setup.dtype).max)
    too_big = ~(np.abs(values.y) <= limit).all(axis=1)
    if batch.source == "random" and (too_big & keep).any():
        row = int(np.flatnonzero(too_big & keep)[0])
        raise InputError(
            f"forward value at x = [{', '.join(f'{v:.6g}' for v in batch.v[row])}] is not representable "
            f"in {setup.dtype}; narrow the domain"
        )
    keep &= ~too_big
    setup.skipped += int((~keep).sum())
    if keep.all():
        return batch, values, mp_rows
    return _subset(batch, values, mp_rows, keep)


@dataclass
class _State:
    """One batch under judgement: the exact values and what the tolerance needs."""

    batch: Batch
    values: Values
    mp_rows: dict
    exact: np.ndarray = None  # (b, R) per-example results (shared ones summed later)
    lo: np.ndarray = None  # acceptance interval; equal to exact except on kinks
    hi: np.ndarray = None
    scale: np.ndarray = None
    allowance: np.ndarray = None  # the rounding of the derivative as written (symderiv.numeric.rounding)
    mass: np.ndarray = None
    s_jac: np.ndarray | None = None
    s_hess: np.ndarray | None = None
    has_sensitivity: np.ndarray = None  # (b,) bool
    kink: np.ndarray = None  # (b,) bool
    kink_what: list = None
    # rows left unjudged once a failure is confirmed (their tolerance or
    # reference not refined: never the counterexample, never in the figures)
    unjudged: np.ndarray = None


def _contract_rows(setup: Setup, st: _State, rows: np.ndarray) -> None:
    if not len(rows):
        return
    v = st.values
    # the whole batch (the common case) as views, not copies of (b, m, d) tensors
    sel = slice(None) if len(rows) == st.batch.v.shape[0] and np.array_equal(rows, np.arange(len(rows))) else rows
    s_jac = None if st.s_jac is None else st.s_jac[sel]
    s_hess = None if st.s_hess is None else st.s_hess[sel]
    dirs = {k: a[sel] for k, a in st.batch.dirs.items()}
    # the rounding scales are computed lazily, with the sensitivities
    with_bounds = bool(st.has_sensitivity[rows].any())
    c = kinds.contract(
        setup.kind, dirs, v.jacobian[sel], None if v.hessian is None else v.hessian[sel],
        v.bound_jacobian[sel] if with_bounds else None,
        None if v.bound_hessian is None or not with_bounds else v.bound_hessian[sel], s_jac, s_hess,
    )
    exact = c.value.copy()
    for i, row in enumerate(rows):
        mp = st.mp_rows.get(int(row))
        if mp is not None:
            exact[i] = kinds.contract_mpmath(setup.kind, {k: a[row] for k, a in st.batch.dirs.items()}, mp)
    st.exact[rows], st.scale[rows], st.allowance[rows], st.mass[rows] = exact, c.scale, c.allowance, c.mass
    kink_free = rows[~st.kink[rows]]
    st.lo[kink_free] = st.exact[kink_free]
    st.hi[kink_free] = st.exact[kink_free]


def _kink_intervals(setup: Setup, st: _State) -> np.ndarray:
    """On a kink the derivative is not defined: the rule passes when each result
    lies between the two one-sided limits (a subgradient), widened by how much
    they move over the probe step. Returns rows whose sides are not finite."""
    b = st.batch.v.shape[0]
    bad = np.zeros(b, dtype=bool)
    if not setup.kinks:
        return bad
    direction, steps, what = kink_directions(setup.kinks, st.batch.v, setup.dtype)
    st.kink = (np.linalg.norm(direction, axis=1) > 0) & (steps > 0)
    st.kink_what = what
    rows = np.flatnonzero(st.kink)
    if not len(rows):
        return bad
    step = steps[rows][:, None]
    dirs = {k: a[rows] for k, a in st.batch.dirs.items()}
    sides = []
    for sign in (-1.0, 1.0):
        labels = st.batch.labels[rows]
        near = _evaluate_at(setup, labels, st.batch.v[rows] + sign * step * direction[rows])
        far = _evaluate_at(setup, labels, st.batch.v[rows] + 2 * sign * step * direction[rows])
        a = kinds.contract(setup.kind, dirs, near.jacobian, near.hessian).value
        b2 = kinds.contract(setup.kind, dirs, far.jacobian, far.hessian).value
        sides.append((a, np.abs(a - b2)))
    (left, wl), (right, wr) = sides
    with np.errstate(invalid="ignore"):
        st.lo[rows] = np.minimum(left, right) - wl - wr
        st.hi[rows] = np.maximum(left, right) + wl + wr
    bad[rows] = ~(np.isfinite(st.lo[rows]).all(axis=1) & np.isfinite(st.hi[rows]).all(axis=1))
    return bad


def _new_state(setup: Setup, batch: Batch, values: Values, mp_rows: dict) -> _State:
    b = batch.v.shape[0]
    width = setup.m if kinds.results_are_outputs(setup.kind) else setup.d
    zeros = np.zeros((b, width))
    st = _State(batch, values, mp_rows, zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(),
                has_sensitivity=np.zeros(b, dtype=bool), kink=np.zeros(b, dtype=bool), kink_what=[""] * b,
                unjudged=np.zeros(b, dtype=bool))
    return st


def _add_sensitivity(setup: Setup, st: _State, rows: np.ndarray) -> None:
    rows = rows[~st.has_sensitivity[rows]]
    if not len(rows):
        return
    b, m, d = st.batch.v.shape[0], setup.m, setup.d
    if st.s_jac is None:
        st.s_jac = np.zeros((b, m, d))
        st.s_hess = None if kinds.order(setup.kind) == 1 else np.zeros((b, m, d, d))
    in_mpmath = np.zeros(len(rows), dtype=bool)
    for combo, local in _by_labels(setup, st.batch.labels[rows]):
        chosen = rows[local]
        bj, bh = derivative_bounds(setup.refs[combo], st.batch.v[chosen], values_rows(st.values, chosen),
                                   setup.rounding_left)
        st.values.bound_jacobian[chosen] = bj
        if bh is not None:
            st.values.bound_hessian[chosen] = bh
        sj, sh = sensitivity_numpy(setup.refs[combo], st.batch.v[chosen], st.values.jacobian[chosen], st.values.y[chosen])
        st.s_jac[rows[local]] = sj
        if sh is not None:
            st.s_hess[rows[local]] = sh
        in_mpmath[local] = float64_derivatives_fail(setup.refs[combo], st.batch.v[chosen])
    for row, again in zip(rows, in_mpmath):
        if again or not (np.isfinite(st.s_jac[row]).all() and (st.s_hess is None or np.isfinite(st.s_hess[row]).all())):
            sj, sh = sensitivity_mpmath_row(setup.refs[_labels_of(setup, st.batch, int(row))], st.batch.v[row])
            st.s_jac[row] = np.nan_to_num(sj[0], posinf=0.0)
            if sh is not None:
                st.s_hess[row] = np.nan_to_num(sh[0], posinf=0.0)
    st.has_sensitivity[rows] = True
    _contract_rows(setup, st, rows)


# -- judging a batch ------------------------------------------------------------------------

@dataclass
class Judgement:
    error: np.ndarray  # (b, R_e) per-example results
    tol: np.ndarray
    error_shared: np.ndarray  # (R_s,)
    tol_shared: np.ndarray
    expected_shared: np.ndarray

    def ratio_rows(self) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.nan_to_num(self.error / self.tol, nan=np.inf)

    def ratio_shared(self) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.nan_to_num(self.error_shared / self.tol_shared, nan=np.inf)

    def worst(self) -> float:
        values = [self.ratio_rows().max(initial=0.0), self.ratio_shared().max(initial=0.0)]
        return float(max(values))


def _per_example_width(setup: Setup) -> int:
    return setup.m if kinds.results_are_outputs(setup.kind) else setup.d_example


def judge(setup: Setup, st: _State, got: np.ndarray) -> Judgement:
    r = _per_example_width(setup)
    b = got.shape[0]
    with np.errstate(all="ignore"):
        error = np.maximum(0.0, np.maximum(st.lo - got, got - st.hi))
        error[st.unjudged] = 0.0
        tol = tolerance(st.scale[:, :r], st.allowance[:, :r], st.mass[:, :r], setup.dtype, setup.factor)
        lo_s, hi_s = st.lo[:, r:].sum(axis=0), st.hi[:, r:].sum(axis=0)
        got_s = got[0, r:]
        error_s = np.maximum(0.0, np.maximum(lo_s - got_s, got_s - hi_s))
        tol_s = tolerance(st.scale[:, r:].sum(axis=0), st.allowance[:, r:].sum(axis=0), st.mass[:, r:].sum(axis=0),
                          setup.dtype, setup.factor + 4.0 * b)
    expected_s = np.clip(got_s, lo_s, hi_s)
    return Judgement(error[:, :r], tol, error_s, tol_s, expected_s)


@dataclass
class BatchOutcome:
    batch: Batch
    state: _State
    got: np.ndarray
    y: np.ndarray  # what the rule was given (rounded to the dtype), float64
    judgement: Judgement


def _confirm(setup: Setup, st: _State, got: np.ndarray, j: Judgement, candidates: np.ndarray) -> tuple[Judgement, bool]:
    """Settle the worst failing row among ``candidates`` (its tolerance already
    refined) in mpmath; True when it still fails: a confirmed failure."""
    ratios = j.ratio_rows().max(axis=1, initial=0.0)
    failing = [int(r) for r in candidates[np.argsort(-ratios[candidates], kind="stable")] if ratios[r] > 1.0]
    if not failing:
        return j, False
    row = failing[0]
    if row not in st.mp_rows and not st.kink[row] and setup.settle_left > 0:
        try:
            _settle_row(setup, st.batch, st.values, st.mp_rows, row)
        except InputError:
            pass  # mpmath cannot evaluate it (a function it lacks): float64 stands
        else:
            _contract_rows(setup, st, np.array([row]))
            j = judge(setup, st, got)
    return j, bool(j.ratio_rows()[row].max(initial=0.0) > 1.0)


def _refine(setup: Setup, st: _State, got: np.ndarray, j: Judgement) -> Judgement:
    """Close calls: add the sensitivity and rounding terms, then settle rows
    with mpmath. The worst rows first: once one of them fails with its full
    tolerance against the exact values (a confirmed failure), the rows not
    yet refined cannot change the verdict and are left unjudged (2(n + m)
    evaluations per row saved), so the counterexample is always a confirmed one."""
    per_row = j.ratio_rows().max(axis=1, initial=0.0)
    shared_close = j.ratio_shared().max(initial=0.0) > _SENSITIVITY_FRACTION
    rows = np.arange(len(per_row)) if shared_close else np.flatnonzero(per_row > _SENSITIVITY_FRACTION)
    rows = rows[np.argsort(-per_row[rows], kind="stable")]
    for chunk in (rows[:_FIRST_ROWS], rows[_FIRST_ROWS:]):
        if len(chunk):
            _add_sensitivity(setup, st, chunk)
            j = judge(setup, st, got)
            if not shared_close:
                j, confirmed = _confirm(setup, st, got, j, chunk)
                if confirmed:
                    st.unjudged[rows[~st.has_sensitivity[rows]]] = True
                    j = judge(setup, st, got)
                    break
    per_row = j.ratio_rows().max(axis=1, initial=0.0)
    order = np.argsort(-per_row)
    if j.ratio_shared().max(initial=0.0) > _SETTLE_FRACTION:
        flagged = [int(r) for r in order]
    else:
        flagged = [int(r) for r in order if per_row[r] > _SETTLE_FRACTION]
    flagged = [r for r in flagged if r not in st.mp_rows and not st.kink[r]]
    for position, row in enumerate(flagged):
        if setup.settle_left <= 0:
            break
        try:
            _settle_row(setup, st.batch, st.values, st.mp_rows, row)
        except InputError:
            continue  # mpmath cannot evaluate it (a function it lacks): float64 stands
        _contract_rows(setup, st, np.array([row]))
        if position == 0 and not j.ratio_shared().size:
            j = judge(setup, st, got)
            worst = j.ratio_rows()[row].max(initial=0.0)
            if worst > 1.0:
                # confirmed against the exact values: rows above it that are
                # not settled are left unjudged
                later = np.array([r for r in flagged[1:] if r not in st.mp_rows], dtype=int)
                if len(later):
                    st.unjudged[later[j.ratio_rows()[later].max(axis=1, initial=0.0) > worst]] = True
                break
    if flagged:
        j = judge(setup, st, got)
    return j


def check_batch(setup: Setup, batch: Batch, rng: np.random.Generator) -> BatchOutcome | None:
    batch, values, mp_rows = _reference(setup, batch)
    if batch.v.shape[0] == 0:
        return None
    if batch.dirs is None:
        batch.dirs = _directions(setup, rng, batch.v.shape[0])
    st = _new_state(setup, batch, values, mp_rows)
    unusable = _kink_intervals(setup, st)
    if unusable.any():
        setup.skipped += int(unusable.sum())
        keep = ~unusable
        if not keep.any():
            return None
        sub, sub_values, sub_mp = _subset(batch, values, mp_rows, keep)
        return check_batch(setup, sub, rng)
    _contract_rows(setup, st, np.arange(batch.v.shape[0]))
    y = _round(st.values.y, setup.dtype)
    got = _call_rule_located(setup, st, batch, y)
    j = _refine(setup, st, got, judge(setup, st, got))
    corrected = _round(st.values.y, setup.dtype)
    if not np.array_equal(corrected, y):
        # The float64 forward was off by an ulp or more: give the rule the
        # correctly rounded y and run it again on the whole batch.
        y = corrected
        got = _call_rule_located(setup, st, batch, y)
        j = judge(setup, st, got)
    return BatchOutcome(batch, st, got, y, j)


_MAX_LOCATE_ROWS = 16


def _call_rule_located(setup: Setup, st: _State, batch: Batch, y: np.ndarray) -> np.ndarray:
    """call_rule; a RuleFailure leaves with the batch and, where one can be
    found, the example that triggers it (the rule re-run one row at a time)."""
    try:
        return call_rule(setup, batch, y)
    except RuleFailure as failure:
        b = batch.v.shape[0]
        if failure.row is None and b > 1:
            for r in range(min(b, _MAX_LOCATE_ROWS)):
                single = Batch(batch.v[r:r + 1], batch.labels[r:r + 1], batch.origin[r:r + 1], batch.source,
                               {k: a[r:r + 1] for k, a in batch.dirs.items()})
                try:
                    call_rule(setup, single, y[r:r + 1])
                except RuleFailure:
                    failure.row = r
                    break
        failure.outcome = BatchOutcome(batch, st, np.empty((b, 0)), y, None)
        raise


# -- the whole check ---------------------------------------------------------------------------

@dataclass
class _Tracker:
    point: int = 0
    rows: dict = field(default_factory=lambda: {"random": 0, "special": 0, "adaptive": 0})
    kink_rows: int = 0
    batch_sizes: list = field(default_factory=list)
    max_abs: float = 0.0
    max_rel: float = 0.0
    worst_ratio: float = -1.0
    worst: tuple | None = None  # (point, outcome, row or None, result index)
    centre: tuple | None = None  # (ratio, values, labels) of the worst per-example row
    by_input: dict = field(default_factory=dict)  # checked input (or "output") -> worst error/tolerance

    def add(self, outcome: BatchOutcome) -> None:
        j, b = outcome.judgement, outcome.batch.v.shape[0]
        self.rows[outcome.batch.source] += b
        self.kink_rows += int(outcome.state.kink.sum())
        if outcome.batch.source == "random":
            self.batch_sizes.append(b)
        errors = [j.error.max(initial=0.0), j.error_shared.max(initial=0.0)]
        self.max_abs = max(self.max_abs, float(max(errors)))
        self._relative(outcome)
        ratio_rows, ratio_shared = j.ratio_rows(), j.ratio_shared()
        if ratio_rows.size:
            row, col = (int(v) for v in np.unravel_index(int(np.argmax(ratio_rows)), ratio_rows.shape))
            if ratio_rows[row, col] > self.worst_ratio:
                self.worst_ratio, self.worst = float(ratio_rows[row, col]), (self.point, outcome, row, col)
            if self.centre is None or ratio_rows[row, col] > self.centre[0]:
                self.centre = (float(ratio_rows[row, col]), outcome.batch.v[row], outcome.batch.labels[row])
        if ratio_shared.size and ratio_shared.max() > self.worst_ratio:
            col = int(np.argmax(ratio_shared))
            self.worst_ratio, self.worst = float(ratio_shared[col]), (self.point, outcome, None, col)
        self.point += 1

    def note_inputs(self, setup: Setup, outcome: BatchOutcome) -> None:
        """The worst error/tolerance of each checked input (by result column), for the per-input verdicts."""
        j = outcome.judgement
        ratio_rows, ratio_shared = j.ratio_rows(), j.ratio_shared()
        columns = [(False, ratio_rows.max(axis=0))] if ratio_rows.size else []
        columns += [(True, ratio_shared)] if ratio_shared.size else []
        for shared, ratios in columns:
            for col, ratio in enumerate(ratios):
                name = _entity(setup, col, shared)[0]
                name = "x" if setup.layout.legacy and name != "output" else name
                self.by_input[name] = max(self.by_input.get(name, -1.0), float(ratio))

    def _relative(self, outcome: BatchOutcome) -> None:
        # Row-normwise relative error over rows whose exact result is
        # resolvable at all (larger than the row's tolerance).
        j, st = outcome.judgement, outcome.state
        r = j.error.shape[1]
        row_scale = np.abs(st.exact[:, :r]).max(axis=1, initial=0.0)
        # the exact value is known where float64 resolved it or mpmath settled it
        u64 = float(np.finfo(np.float64).eps)
        settled = np.isin(np.arange(len(row_scale)), list(st.mp_rows))
        resolvable = (row_scale > 0) & (settled | (row_scale > u64 * st.allowance[:, :r].max(axis=1, initial=0.0)))
        if resolvable.any():
            self.max_rel = max(self.max_rel, float((j.error.max(axis=1)[resolvable] / row_scale[resolvable]).max()))
        if j.error_shared.size:
            scale = np.abs(j.expected_shared).max()
            if scale > j.tol_shared.max():
                self.max_rel = max(self.max_rel, float(j.error_shared.max() / scale))


def _batch_sizes(batch: Any, points: int | None, avoid: set[int]) -> tuple[int, ...]:
    if batch is None:
        count = 3 if points is None else points
        preferred = [b for b in _DEFAULT_BATCH_CANDIDATES if b not in avoid] or list(_DEFAULT_BATCH_CANDIDATES)
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


def _axis_lengths(setup: Setup) -> set[int]:
    lengths = {setup.m, setup.layout.n_example or setup.layout.n} | set(setup.out_shape)
    for spec in setup.layout.specs:
        lengths |= set(spec.shape)
    return lengths


def _failed(setup: Setup, tracker: _Tracker, failure: RuleFailure, point: int, common: dict) -> BackwardCheck:
    """The rule misbehaved: a failed check whose counterexample is the
    example it misbehaved on (or the whole batch, when no single row does)."""
    outcome, counterexample = failure.outcome, None
    size = 0
    if outcome is not None:
        size = outcome.batch.v.shape[0]
        tracker.rows[outcome.batch.source] += size
        counterexample = _failure_counterexample(setup, outcome, failure, point)
    where = f", row {failure.row}" if failure.row is not None and "at row" not in failure.reason else ""
    return BackwardCheck(
        ok=False, reason=f"{failure.reason} (batch {point}, size {size}{where})", rows_checked=sum(tracker.rows.values()),
        max_abs_error=math.inf, max_rel_error=math.inf, max_error_over_tolerance=math.inf,
        counterexample=counterexample, **common, **_counts(setup, tracker),
    )


def _failure_counterexample(setup: Setup, outcome: BatchOutcome, failure: RuleFailure, point: int) -> Counterexample:
    st, batch, row = outcome.state, outcome.batch, failure.row
    name, index, cols = _entity(setup, 0, False)
    r = _per_example_width(setup)
    if row is None:
        expected = st.exact[:, [c for c in cols if c < r]].ravel()
    else:
        expected = st.exact[row, [c for c in cols if c < r]]
    shown = 0 if row is None else row
    origin = batch.origin[shown] + (f" (on {st.kink_what[shown]})" if st.kink[shown] else "")
    return Counterexample(
        point=point, batch_size=batch.v.shape[0], row=row, coordinate=0,
        x=_flat(batch.v, row), y=_flat(outcome.y, row),
        gy=_flat(batch.dirs["gy"], row) if setup.kind in ("backward", "double_backward") else (),
        expected=tuple(float(v) for v in expected), got=(), abs_error=math.inf, tolerance=math.nan,
        input="x" if setup.layout.legacy else name, index=index if not setup.layout.legacy else (),
        origin=origin, inputs=_example_inputs(setup, batch, row), directions=_directions_shown(setup, batch, row),
        failure=failure.reason,
    )


def _counts(setup: Setup, tracker: _Tracker) -> dict:
    return dict(
        batch_sizes=tuple(tracker.batch_sizes), rows_settled_with_mpmath=setup.settled,
        random_rows=tracker.rows["random"], special_rows=tracker.rows["special"],
        adaptive_rows=tracker.rows["adaptive"], kink_rows=tracker.kink_rows, rows_skipped=setup.skipped,
        critical_expressions=tuple(f"{g} ({what})" for g, what, _ in setup.criticals),
    )


def _batches(setup: Setup, rng: np.random.Generator, sizes, special: bool):
    for point, size in enumerate(sizes):
        yield _random_batch(setup, rng, size, edge_heavy=len(sizes) > 1 and point == len(sizes) - 1)
    if special:
        yield from _special_batches(setup, rng)


def _run(setup: Setup, sizes, seed: int, special: bool, adaptive: bool, common: dict) -> BackwardCheck:
    rng = np.random.default_rng(seed)
    tracker = _Tracker()
    current = [0, 0]

    def run_batch(batch: Batch) -> None:
        current[:] = [tracker.point, batch.v.shape[0]]
        outcome = check_batch(setup, batch, rng)
        if outcome is not None:
            tracker.add(outcome)
            tracker.note_inputs(setup, outcome)

    try:
        for batch in _batches(setup, rng, sizes, special):
            run_batch(batch)
            if tracker.worst_ratio > 1.0:
                break  # a conclusive failure: the first counterexample stands
        for round_ in range(ADAPTIVE_ROUNDS if adaptive else 0):
            if tracker.worst_ratio > 1.0 or tracker.centre is None:
                break
            _, centre, labels = tracker.centre
            run_batch(_adaptive_batch(setup, rng, centre, labels, 0.1 ** (round_ + 1)))
        if tracker.worst is None:
            raise InputError("no point of the domain could be checked: the forward is undefined or overflows everywhere tried")
        counterexample = None
        if tracker.worst_ratio > 1.0:
            counterexample = _counterexample(setup, tracker, rng)
    except RuleFailure as failure:
        return _failed(setup, tracker, failure, current[0], common)
    ok = tracker.worst_ratio <= 1.0
    reason = ""
    if not ok:
        c = counterexample
        where = f"row {c.row}" if c.row is not None else "summed over the batch"
        what = f"coordinate {c.coordinate}" if not c.inputs else f"{c.input}{list(c.index)}"
        label = _RESULT_LABEL[setup.kind]
        if c.inputs and setup.kind != "jvp":
            label = _NAMED_RESULT_LABEL[setup.kind].format(name=c.input)
        reason = (
            f"{label} by {c.abs_error:.3g} > tolerance "
            f"{c.tolerance:.3g} (batch {c.point}, {where}, {what}; {c.origin})"
        )
    return BackwardCheck(
        ok=ok, reason=reason, rows_checked=sum(tracker.rows.values()), max_abs_error=tracker.max_abs,
        max_rel_error=tracker.max_rel, max_error_over_tolerance=tracker.worst_ratio,
        counterexample=counterexample, input_ratios=tuple(tracker.by_input.items()),
        **common, **_counts(setup, tracker),
    )


_NAMED_RESULT_LABEL = {
    "backward": "the gradient of {name} differs from the exact value",
    "double_backward": "the double backward for {name} differs from the exact derivative of the backward",
    "hvp": "the HVP for {name} differs from the exact H x_dot",
}
_RESULT_LABEL = {
    "backward": "gx differs from the exact gradient",
    "jvp": "the JVP differs from the exact J x_dot",
    "double_backward": "the double backward differs from the exact derivative of the backward",
    "hvp": "the HVP differs from the exact H x_dot",
}


# -- the counterexample ------------------------------------------------------------------------

_MAX_SHRINK_ROWS = 16


def _counterexample(setup: Setup, tracker: _Tracker, rng: np.random.Generator) -> Counterexample:
    point, outcome, row, col = tracker.worst
    if row is None and outcome.batch.v.shape[0] > 1:
        # A shared input's gradient sums over the batch: a one-example batch
        # that fails on its own is easier to check by hand.
        for r in range(min(outcome.batch.v.shape[0], _MAX_SHRINK_ROWS)):
            b = outcome.batch
            single = Batch(b.v[r:r + 1], b.labels[r:r + 1], b.origin[r:r + 1], b.source, {k: a[r:r + 1] for k, a in b.dirs.items()})
            try:
                small = check_batch(setup, single, rng)
            except RuleFailure:
                continue
            if small is not None and small.judgement.worst() > 1.0:
                ratio_rows, ratio_shared = small.judgement.ratio_rows(), small.judgement.ratio_shared()
                if ratio_shared.size and ratio_shared.max() >= ratio_rows.max(initial=0.0):
                    return _build(setup, point, small, None, int(np.argmax(ratio_shared)), 0)
                return _build(setup, point, small, 0, int(np.argmax(ratio_rows[0])), 0)
    return _build(setup, point, outcome, row, col, None)


def _entity(setup: Setup, col: int, shared: bool) -> tuple[str, tuple[int, ...], list[int]]:
    """(name, index, columns of that input) of result column col."""
    if kinds.results_are_outputs(setup.kind):
        index = tuple(int(i) for i in np.unravel_index(col, setup.out_shape)) if setup.out_shape else ()
        return "output", index, list(range(setup.m))
    position = col + (_per_example_width(setup) if shared else 0)
    for name, cols in diff_columns(setup).items():
        if position in cols:
            shape = setup.layout.spec(name).shape
            index = tuple(int(i) for i in np.unravel_index(cols.index(position), shape)) if shape else ()
            return name, index, cols
    raise AssertionError("result column outside every input")  # pragma: no cover


def _example_inputs(setup: Setup, batch: Batch, row: int | None) -> dict[str, Any]:
    layout = setup.layout
    if layout.legacy:
        return {}
    rows = slice(None) if row is None else slice(row, row + 1)
    arrays = layout.rule_arrays(batch.v[rows], batch.v[0, layout.n_example:], batch.labels[rows], np.float64)
    out = {}
    for name, spec in zip(layout.names, layout.specs):
        value = arrays[name] if spec.shared or row is None else arrays[name][0]
        out[name] = value.tolist()
    return out


def _directions_shown(setup: Setup, batch: Batch, row: int | None) -> dict[str, Any]:
    dirs = batch.dirs

    def pick(a: np.ndarray) -> np.ndarray:
        return a if row is None else a[row]

    shown: dict[str, Any] = {}
    if "t" in dirs:
        if setup.layout.legacy:
            shown["x_dot"] = tuple(float(v) for v in pick(dirs["t"]).ravel())
        else:
            t = dirs["t"] if row is None else dirs["t"][row:row + 1]
            for name, value in tangent_arrays(setup, t).items():
                spec = setup.layout.spec(name)
                shown[f"tangent {name}"] = (value if spec.shared or row is None else value[0]).astype(np.float64).tolist()
    if setup.kind == "double_backward":
        shown["gy_dot"] = pick(dirs["gy_dot"]).tolist()
    return shown


def _flat(array: np.ndarray, row: int | None) -> tuple[float, ...]:
    return tuple(float(v) for v in (array.ravel() if row is None else array[row]))


def _build(setup: Setup, point: int, outcome: BatchOutcome, row: int | None, col: int, shrunk: int | None) -> Counterexample:
    st, j, batch = outcome.state, outcome.judgement, outcome.batch
    name, index, cols = _entity(setup, col, row is None)
    r = _per_example_width(setup)
    if row is None:
        got = outcome.got[0, cols]
        local = [c - r for c in cols]
        expected = j.expected_shared[local]
        abs_error, tol = j.error_shared[col], j.tol_shared[col]
        one_sided = None
        shown_row = 0
    else:
        got = outcome.got[row, cols]
        expected = np.clip(got, st.lo[row, cols], st.hi[row, cols]) if st.kink[row] else st.exact[row, cols]
        abs_error, tol = j.error[row, col], j.tol[row, col]
        one_sided = (tuple(st.lo[row, cols].tolist()), tuple(st.hi[row, cols].tolist())) if st.kink[row] else None
        shown_row = row
    position = cols.index(col + (0 if row is not None else r)) if not kinds.results_are_outputs(setup.kind) else col
    origin = batch.origin[shown_row] + (f" (on {st.kink_what[shown_row]})" if st.kink[shown_row] else "")
    return Counterexample(
        point=point,
        batch_size=batch.v.shape[0],
        row=row,
        coordinate=position,
        # a whole-batch counterexample (row None) shows every row, flattened
        x=_flat(batch.v, row),
        y=_flat(outcome.y, row),
        gy=_flat(batch.dirs["gy"], row) if setup.kind in ("backward", "double_backward") else (),
        expected=tuple(float(v) for v in expected),
        got=tuple(float(v) for v in got),
        abs_error=float(abs_error),
        tolerance=float(tol),
        input="x" if setup.layout.legacy and name != "output" else name,
        index=index,
        origin=origin,
        inputs=_example_inputs(setup, batch, row),
        directions=_directions_shown(setup, batch, row),
        one_sided=one_sided,
    )
