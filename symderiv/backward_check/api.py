"""Check hand-written derivative rules against exact derivatives from SymPy.

``check_backward(forward, backward, n)`` builds n real SymPy symbols, asks
``forward`` for the output expressions, differentiates them exactly, and
compares ``backward(x, y, gy)`` (numpy in, numpy out, EDF's convention) with
the exact vector-Jacobian product on random minibatches, special points and
an adaptive search (:mod:`symderiv.backward_check.points`). With
``inputs={name: spec}`` instead of n, an op has several named inputs of any
shape, per example or shared across the batch, and integer labels
(:mod:`symderiv.backward_check.inputs`); the rule returns a cotangent for
every differentiable input.

The same conventions give the second-order and forward-mode checks:
``check_jvp`` (a forward-mode rule against J·ẋ), ``check_double_backward``
(the derivative of a backward rule along a tangent against SymPy's second
derivatives) and ``check_hvp`` (Hessian-vector products of a scalar
forward). The tolerance model is in :mod:`symderiv.backward_check.tolerance`.

A rule that raises, exceeds its CPU budget (``rule_cpu_budget`` seconds per
call: a rule that loops forever), returns the wrong shape, returns NaN/inf or
modifies its inputs in place is a *failed check* (``ok=False`` with the
reason); only bad arguments to the check itself (a forward that is not a
real SymPy expression of the inputs: ``zoo``, an undefined function, an
unevaluated ``Integral``; bad ``n``/``inputs``/``domain``/``dtype``; the
check's own work beyond ``cpu_budget`` seconds of CPU time) raise
:class:`symderiv.errors.InputError`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from symderiv.backward_check.core import (
    DEFAULT_CPU_BUDGET,
    DEFAULT_RULE_CPU_BUDGET,
    MAX_POINTS,
    _axis_lengths,
    _batch_sizes,
    _run,
    _validate_budget,
    _validate_domain,
    _validate_dtype,
    _validate_int,
    prepare,
)
from symderiv.backward_check.inputs import InputSpec, build_layout, labels, per_example, shared
from symderiv.backward_check.result import BackwardCheck, Counterexample
from symderiv.budget import BudgetExceeded, BudgetStillExceeded, cpu_time_limit
from symderiv.errors import InputError

__all__ = [
    "BackwardCheck",
    "Counterexample",
    "InputSpec",
    "assert_backward",
    "assert_double_backward",
    "assert_hvp",
    "assert_jvp",
    "check_backward",
    "check_double_backward",
    "check_hvp",
    "check_jvp",
    "labels",
    "per_example",
    "shared",
]

def _check(
    kind: str,
    forward: Callable[..., Any],
    rule: Callable[..., Any],
    n: int | None,
    inputs: Mapping[str, Any] | None,
    *,
    batch: int | Sequence[int] | None = None,
    points: int | None = None,
    seed: int = 0,
    dtype: Any = np.float64,
    domain: tuple[float, float] = (-3.0, 3.0),
    special_points: bool = True,
    adaptive: bool = True,
    cpu_budget: float = DEFAULT_CPU_BUDGET,
    rule_cpu_budget: float = DEFAULT_RULE_CPU_BUDGET,
) -> BackwardCheck:
    layout = build_layout(n, inputs)
    if points is not None:
        points = _validate_int(points, "points", 1, MAX_POINTS)
    resolved_dtype = _validate_dtype(dtype)
    low_high = _validate_domain(domain, resolved_dtype)
    seed = _validate_int(seed, "seed", 0, 2**63 - 1)
    cpu_budget = _validate_budget(cpu_budget, "cpu_budget")
    rule_cpu_budget = _validate_budget(rule_cpu_budget, "rule_cpu_budget")
    caller_errstate = np.geterr()
    try:
        # repeat_every: SymPy catches Exception in places; the repeats are
        # BudgetStillExceeded, a BaseException nothing there swallows.
        # symderiv's own numerics overflow and underflow on purpose (large
        # magnitudes, tiny values): whatever np.seterr the caller chose, they
        # run with errors ignored; the rule runs under the caller's state.
        with cpu_time_limit(cpu_budget, repeat_every=0.05), np.errstate(all="ignore"):
            setup = prepare(kind, forward, rule, layout, resolved_dtype, low_high, rule_cpu_budget)
            setup.caller_errstate = caller_errstate
            sizes = _batch_sizes(batch, points, _axis_lengths(setup))
            info = np.finfo(resolved_dtype)
            common = dict(
                n=layout.n, m=setup.m, dtype=str(resolved_dtype), domain=low_high,
                unit_roundoff=float(info.eps), tolerance_factor=setup.factor, kind=kind,
                op=getattr(forward, "__name__", type(forward).__name__),
                inputs="" if layout.legacy else layout.describe(),
            )
            return _run(setup, sizes, seed, bool(special_points), bool(adaptive), common)
    except (BudgetExceeded, BudgetStillExceeded):
        raise InputError(
            f"the check used its CPU budget of {cpu_budget:g} s (cpu_budget): use fewer inputs, outputs, "
            "points or smaller batches, or raise cpu_budget"
        ) from None


def check_backward(
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    n: int | None = None,
    *,
    inputs: Mapping[str, Any] | None = None,
    **options: Any,
) -> BackwardCheck:
    """Check a backward rule (VJP) against the exact derivative of ``forward``.

    Classic form: ``forward(xs)`` receives n real SymPy symbols and returns one
    expression or a list of m; ``backward(x, y, gy)`` receives numpy arrays x
    (batch, n), y (batch, m) (the forward output computed by symderiv in
    ``dtype``) and gy (batch, m), and returns gx (batch, n) with
    ``gx_i = sum_k gy_k * dy_k/dx_i``.

    Named form: ``inputs={name: spec}`` (see :mod:`symderiv.backward_check.inputs`);
    ``forward(**inputs)`` per example, ``backward(**arrays, y=, gy=)`` returns a
    cotangent for every differentiable input (a shared input's cotangent sums
    over the batch).

    Options: ``batch``, ``points`` (random minibatches, default 3), ``seed``,
    ``dtype``, ``domain`` (ends may be infinite), ``special_points`` and
    ``adaptive`` (default on), ``cpu_budget`` and ``rule_cpu_budget`` (CPU
    seconds). Returns a :class:`BackwardCheck`; never raises because of the
    rule under test.
    """
    if not callable(backward):
        raise InputError("backward must be callable: backward(x, y, gy) -> gx")
    return _check("backward", forward, backward, n, inputs, **options)


def check_jvp(forward: Callable[..., Any], jvp: Callable[..., Any], n: int | None = None, *,
              inputs: Mapping[str, Any] | None = None, **options: Any) -> BackwardCheck:
    """Check a forward-mode rule against the exact Jacobian-vector product J·ẋ.

    Classic form: ``jvp(x, y, x_dot) -> y_dot`` (batch, m). Named form:
    ``jvp(**arrays, y=, tangents={name: ẋ}) -> ẏ`` (batch, *output shape);
    tangents of shared inputs have the shared shape. Options as
    :func:`check_backward`.
    """
    return _check("jvp", forward, jvp, n, inputs, **options)


def check_double_backward(forward: Callable[..., Any], double_backward: Callable[..., Any], n: int | None = None, *,
                          inputs: Mapping[str, Any] | None = None, **options: Any) -> BackwardCheck:
    """Check the derivative of a backward rule along a tangent.

    The exact value is d/dt backward(x + t·ẋ, gy + t·ġy) at t = 0, i.e.
    ``Σ_k ġy_k ∂y_k/∂x_i + Σ_k Σ_j gy_k ∂²y_k/∂x_i∂x_j ẋ_j`` from SymPy's second
    derivatives (the engine's ``second_order_vjp``; the first term alone is
    ``vjp(ġy)``, the second ``vjp_tangent``). Classic form:
    ``double_backward(x, y, gy, x_dot, gy_dot) -> (batch, n)``; named form:
    ``double_backward(**arrays, y=, gy=, tangents=, gy_dot=)`` returning one
    value per differentiable input as ``backward`` does.
    """
    return _check("double_backward", forward, double_backward, n, inputs, **options)


def check_hvp(forward: Callable[..., Any], hvp: Callable[..., Any], n: int | None = None, *,
              inputs: Mapping[str, Any] | None = None, **options: Any) -> BackwardCheck:
    """Check Hessian-vector products of a scalar forward: the Hessian of
    Σ_examples forward(example) times the tangent. Classic form:
    ``hvp(x, y, x_dot) -> (batch, n)``; named form: ``hvp(**arrays, y=,
    tangents=)`` returning one value per differentiable input.
    """
    return _check("hvp", forward, hvp, n, inputs, **options)


def _asserting(check: Callable[..., BackwardCheck]) -> Callable[..., BackwardCheck]:
    def assert_check(forward: Callable[..., Any], rule: Callable[..., Any], n: int | None = None, **options: Any) -> BackwardCheck:
        result = check(forward, rule, n, **options)
        if not result.ok:
            raise AssertionError("\n" + result.report())
        return result

    assert_check.__name__ = check.__name__.replace("check_", "assert_")
    assert_check.__doc__ = (
        f"Like :func:`{check.__name__}`, but raise ``AssertionError`` with the report on failure.\n\n"
        "Returns the :class:`BackwardCheck` when the rule passes."
    )
    return assert_check


assert_backward = _asserting(check_backward)
assert_jvp = _asserting(check_jvp)
assert_double_backward = _asserting(check_double_backward)
assert_hvp = _asserting(check_hvp)
