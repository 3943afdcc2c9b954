"""check_backward on the corpus: every correct rule passes, every planted bug is caught."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy

from tests.backward_check.corpus import BUGS, CORRECT, softmax_backward, softmax_forward, tanh_forward
from symderiv.backward_check.reference import input_symbols
from symderiv.backward_check.api import check_backward


def _independent_jvp(forward, x_row, gy_row):
    """sum_k gy_k dy_k/dx_i by mpmath's high-precision numerical differentiation.

    Independent of check_backward's reference (which differentiates symbolically).
    """
    xs = input_symbols(len(x_row))
    produced = forward(list(xs))
    exprs = produced if isinstance(produced, list) else [produced]
    weighted = sympy.lambdify(xs, exprs, modules="mpmath")
    with mpmath.workdps(40):
        point = [mpmath.mpf(v) for v in x_row]
        out = []
        for i in range(len(x_row)):
            def along_i(t, i=i):
                args = list(point)
                args[i] = t
                return mpmath.fsum(mpmath.mpf(g) * v for g, v in zip(gy_row, weighted(*args)))

            out.append(float(mpmath.diff(along_i, point[i])))
    return np.array(out)


@pytest.mark.parametrize("case", CORRECT, ids=lambda c: c.name)
def test_correct_rule_passes(case):
    result = check_backward(case.forward, case.backward, case.n, dtype=case.dtype, domain=case.domain)
    assert result.ok, result.report()
    assert result.counterexample is None
    assert result.max_error_over_tolerance <= 1.0
    assert result.random_rows == sum(result.batch_sizes)
    assert result.rows_checked > result.random_rows  # special points and the adaptive search


@pytest.mark.parametrize("case", BUGS, ids=lambda c: c.name)
def test_planted_bug_is_caught(case):
    result = check_backward(case.forward, case.backward, case.n, dtype=case.dtype, domain=case.domain)
    assert not result.ok, f"{case.name} ({case.bug}) was not caught:\n{result.report()}"
    assert result.reason
    if result.counterexample is not None and result.counterexample.failure:
        # the rule raised or returned NaN: the counterexample is the example
        # (or the batch) it misbehaved on, with the exact gradient there
        c = result.counterexample
        rows = 1 if c.row is not None else c.batch_size
        xs, gys = np.reshape(c.x, (rows, -1)), np.reshape(c.gy, (rows, -1))
        independent = np.concatenate([_independent_jvp(case.forward, x, gy) for x, gy in zip(xs, gys)])
        np.testing.assert_allclose(c.expected, independent, rtol=1e-10, atol=1e-13)
        assert c.failure in result.reason
    elif result.counterexample is not None:
        c = result.counterexample
        # The reported exact gradient is right (independent high-precision
        # numerical differentiation) and the rule's value really is off.
        independent = _independent_jvp(case.forward, c.x, c.gy)
        np.testing.assert_allclose(c.expected, independent, rtol=1e-10, atol=1e-13)
        assert abs(c.got[c.coordinate] - c.expected[c.coordinate]) == pytest.approx(c.abs_error)
        assert c.abs_error > c.tolerance


def test_corpus_covers_the_required_bug_kinds():
    kinds = {case.bug for case in BUGS}
    for required in (
        "wrong formula",
        "wrong sign",
        "missing term",
        "diagonal-only Jacobian",
        "relative scale error 1e-7",
        "reduction over the wrong axis",
        "missing keepdims",
        "one row's statistics for the batch",
        "ignores gy",
    ):
        assert required in kinds
    assert len(BUGS) >= 10
    families = " ".join(case.name for case in BUGS)
    for family in ("softmax", "log-softmax", "logsumexp", "sigmoid", "tanh", "layer norm", "x/||x||", "cross-entropy"):
        assert family in families


def test_missing_keepdims_is_caught_even_when_batch_equals_n():
    # With batch == n the broadcast does not raise: the values are wrong instead.
    case = next(c for c in BUGS if c.bug == "missing keepdims")
    raising = check_backward(case.forward, case.backward, case.n)
    assert "raised ValueError" in raising.reason
    silent = check_backward(case.forward, case.backward, case.n, batch=case.n)
    assert not silent.ok
    assert "differs from the exact gradient" in silent.reason


@pytest.mark.parametrize("scale_error", [1e-7, 1e-9, 1e-11])
def test_float64_catches_tiny_relative_scale_errors(scale_error):
    def scaled(x, y, gy):
        return softmax_backward(x, y, gy) * (1 + scale_error)

    assert not check_backward(softmax_forward, scaled, 4).ok


def test_float32_tolerance_is_float32_sized():
    # float32 has u = 1.2e-7: a 1e-3 scale error is caught, a 1e-7 one is
    # below float32 resolution and (honestly) not.
    def scaled(factor):
        def rule(x, y, gy):
            return (softmax_backward(x, y, gy) * np.float32(factor)).astype(np.float32)

        return rule

    caught = check_backward(softmax_forward, scaled(1 + 1e-3), 4, dtype=np.float32)
    assert not caught.ok
    below_resolution = check_backward(softmax_forward, scaled(1 + 1e-7), 4, dtype=np.float32)
    assert below_resolution.ok, below_resolution.report()
    assert below_resolution.unit_roundoff == float(np.finfo(np.float32).eps)
    assert below_resolution.dtype == "float32"


def test_equivalent_forms_agree_on_large_dynamic_range_with_mpmath_settlement():
    case = next(c for c in CORRECT if c.name == "softmax, inputs up to 1e3")
    result = check_backward(case.forward, case.backward, case.n, domain=case.domain)
    assert result.ok, result.report()
    # float64 exp overflows there: those rows were settled with mpmath.
    assert result.rows_settled_with_mpmath > 0


def test_cancellation_in_the_float64_reference_is_settled_with_mpmath():
    # d/dx (exp(x) - 1 - x) = exp(x) - 1: lambdified in float64 at x ~ 1e-9 it
    # loses half its digits; the rule with expm1 is accurate. Only the
    # 50-digit reference can tell that the rule is right.
    def forward(xs):
        return [sympy.exp(x) - 1 - x for x in xs]

    def rule(x, y, gy):
        return gy * np.expm1(x)

    result = check_backward(forward, rule, 3, domain=(1e-9, 2e-9))
    assert result.ok, result.report()
    assert result.rows_settled_with_mpmath > 0

    def off_by_1e6(x, y, gy):
        return gy * np.expm1(x) * (1 + 1e-6)

    assert not check_backward(forward, off_by_1e6, 3, domain=(1e-9, 2e-9)).ok


def test_scalar_output_and_tanh_elementwise_fields():
    result = check_backward(tanh_forward, lambda x, y, gy: gy * (1 - y**2), 3)
    assert (result.n, result.m) == (3, 3)
    assert result.ok


# -- the extended corpus: named inputs, second order, small intervals ----------------------------

from tests.backward_check.corpus import EXTENDED  # noqa: E402
from symderiv import check_double_backward  # noqa: E402


def _run(case):
    from symderiv import check_hvp, check_jvp

    check = {"jvp": check_jvp, "hvp": check_hvp}.get(case.kind, check_double_backward if case.order == 2 else check_backward)
    return check(case.forward, case.backward, case.n, inputs=case.inputs, dtype=case.dtype, domain=case.domain)


@pytest.mark.parametrize("case", [c for c in EXTENDED if c.bug is None], ids=lambda c: c.name)
def test_extended_correct_rule_passes(case):
    result = _run(case)
    assert result.ok, result.report()


@pytest.mark.parametrize("case", [c for c in EXTENDED if c.bug is not None], ids=lambda c: c.name)
def test_extended_planted_bug_is_caught(case):
    result = _run(case)
    assert not result.ok, f"{case.name} ({case.bug}) was not caught:\n{result.report()}"
    assert result.reason


def test_extended_corpus_covers_each_group_with_bugs_and_correct_rules():
    for group in ("named inputs", "second order", "small interval", "forward mode", "Hessian-vector products"):
        members = [c for c in EXTENDED if c.group == group]
        assert sum(c.bug is None for c in members) >= 3 and sum(c.bug is not None for c in members) >= 3, group
