"""The elementary-function table and the one rounding model built on it.

Every function the expression parser accepts must have a rounding rule, a jet
rule and derivative formulas equal to SymPy's; the yes/no lines of ``chain``
must agree with the exact facts (decided here independently in mpmath) at
extreme points: values near 1e±12, exact zeros, cancellation.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from symderiv.problems.chain import derive_chain
from symderiv.problems.chain_numbers import compare_chain, fine_grained_naive_terms
from symderiv.numeric.elementary import ELEMENTARY, PARSER_NAMES
from symderiv.algebra.expressions import FUNCTION_NAMES, parse_expression
from symderiv.numeric.rounding import Jet, has_rule, jet_of, node_jet, rounding_scale

x, y, z = sp.symbols("x y z")
POINTS = np.array([0.3, 0.7, 1.1, 1.9])
EPS = np.finfo(np.float64).eps


def test_the_parser_accepts_exactly_the_table():
    assert set(FUNCTION_NAMES) == set(PARSER_NAMES)
    for entry in ELEMENTARY:
        for spelling in entry.parser_spellings:
            assert parse_expression(f"{spelling}(x)", ["x"]) == entry.sympy_of(x)


PARSED = [entry for entry in ELEMENTARY if entry.parser_spellings]


@pytest.mark.parametrize("entry", PARSED, ids=lambda e: e.name)
def test_every_function_has_a_rounding_rule(entry):
    missing = [type(node).__name__ for node in sp.preorder_traversal(entry.sympy_of(x)) if not has_rule(node)]
    assert not missing, f"{entry.name}: no rounding rule for {missing}"
    # and a jet rule: jet_of raises on a node it cannot propagate
    jet = jet_of(entry.sympy_of(x), {x: Jet.variable(POINTS)}, POINTS.shape)
    for order, values in enumerate((jet.v0, jet.v1, jet.v2)):
        exact = sp.lambdify([x], sp.diff(entry.sympy_of(x), x, order), "mpmath")
        with mpmath.workdps(30):
            reference = np.array([float(exact(mpmath.mpf(float(p)))) for p in POINTS])
        np.testing.assert_allclose(values, reference, rtol=1e-13)
    for scale, values in ((jet.m0, jet.v0), (jet.m1, jet.v1), (jet.m2, jet.v2)):
        assert np.all(np.isfinite(scale)) and np.all(scale >= np.abs(values) * (1 - 1e-12))


@pytest.mark.parametrize("entry", ELEMENTARY, ids=lambda e: e.name)
def test_derivatives_as_evaluated_are_sympys_derivatives(entry):
    t = sp.Symbol("t")
    for order, formula in enumerate(entry.derivatives(t), start=1):
        assert sp.simplify(formula - sp.diff(entry.sympy_of(t), t, order)) == 0


@pytest.mark.parametrize("entry", ELEMENTARY, ids=lambda e: e.name)
def test_numpy_and_scalar_forms_match_sympy(entry):
    exact = sp.lambdify([x], entry.sympy_of(x), "mpmath")
    for point in entry.samples:
        with mpmath.workdps(30):
            reference = float(exact(mpmath.mpf(float(point))))
        assert entry.scalar(float(point)) == pytest.approx(reference, rel=1e-15)
        assert float(entry.numpy(np.array([point]))[0]) == pytest.approx(reference, rel=1e-15)


def test_the_scale_is_that_of_the_form_evaluated_not_of_a_simplified_one():
    # 1 − (1 + tan²x) loses every digit near 0; −tan²x loses none
    at = np.array([1e-6])
    evaluated = rounding_scale(sp.Add(1, -(1 + sp.tan(x) ** 2), evaluate=False), [x], [at])
    simplified = rounding_scale(-sp.tan(x) ** 2, [x], [at])
    assert evaluated[0] > 1.0 and simplified[0] < 1e-11


def test_the_scale_bounds_the_actual_rounding_error():
    rng = np.random.default_rng(7)
    cases = ["x - tan(x)", "exp(x) - 1 - x", "log(1 + x) - x", "sigmoid(x) - 1/2", "sqrt(1 + x) - 1", "tanh(x) - x"]
    for text in cases:
        expr = parse_expression(text, ["x"])
        at = rng.uniform(-1e-3, 1e-3, 20) * 10.0 ** rng.integers(-6, 0, 20)
        computed = sp.lambdify([x], expr, "numpy")(at)
        exact_fn = sp.lambdify([x], expr, "mpmath")
        with mpmath.workdps(50):
            exact = np.array([float(exact_fn(mpmath.mpf(float(p)))) for p in at])
        scale = rounding_scale(expr, [x], [at])
        assert np.all(np.abs(computed - exact) <= 64 * EPS * scale), text


def test_function_node_jets_match_sympy():
    g = sp.sin(x) * sp.exp(x)
    jet = node_jet(g, [x], [Jet.variable(POINTS)])
    np.testing.assert_allclose(jet.v2, sp.lambdify([x], sp.diff(g, x, 2))(POINTS), rtol=1e-14)


def _exact_fact(lhs, rhs, at) -> bool:
    """lhs == rhs at x = at, decided in mpmath at 80 digits independently of symderiv."""
    left, right = (sp.lambdify([x], e, "mpmath") for e in (lhs, rhs))
    with mpmath.workdps(80):
        a, b = left(mpmath.mpf(at)), right(mpmath.mpf(at))
        return abs(a - b) <= mpmath.mpf(10) ** -60 * (abs(a) + abs(b))


EXTREME_CASES = [
    ("x", "x", "1e12*y*z", 1.0),  # values near 1e12
    ("x", "x", "1e-12*y*z + exp(y)", 0.5),  # a term near 1e-12
    ("x", "x", "y - z", 0.8),  # exactly zero derivatives
    ("x", "2*x", "(2*y - z)**2", 0.3),  # exact zero by cancellation
    ("x", "(x - tan(x))", "(2.5 - z)", -1.7771549485892285e-06),  # cancellation inside h'
    ("sin(x)", "cos(x)", "y**2 + z**2", 1e12),  # sin² + cos² = 1 at a huge x
    ("exp(x)", "x", "log(y)*z", 1e-12),
    ("(0.3 - 4)", "(log(4) + (x)**(-2))", "(log(z) + tanh(z))", -1.1390647670358801e-06),
]


@pytest.mark.parametrize("g, h, loss, at", EXTREME_CASES)
def test_yes_no_lines_equal_the_exact_facts_at_extreme_points(g, h, loss, at):
    derivation = derive_chain(parse_expression(g, ["x"]), parse_expression(h, ["x"]), parse_expression(loss, ["y", "z"]))
    comparison = compare_chain(derivation, np.array([at]))
    # no false alarm: every reference agrees here
    assert comparison.first.ok and comparison.second.ok and comparison.naive_rule.ok
    assert comparison.naive_rule_fine.ok
    assert comparison.first_order_matches and comparison.second_order_matches
    naive_fine = sp.Add(*fine_grained_naive_terms(derivation))
    assert comparison.naive_equals_exact == _exact_fact(derivation.naive, derivation.second_canonical, at)
    assert comparison.naive_depends_on_cut == (not _exact_fact(derivation.naive, naive_fine, at))


def test_a_wrong_engine_value_is_still_caught():
    # the tolerance must not swallow a real error: perturb the engine by a relative 1e-9
    from symderiv.numeric.compare import agree

    derivation = derive_chain(sp.sin(x), x**2, y * z + sp.exp(y))
    comparison = compare_chain(derivation, np.array([0.5]))
    wrong = comparison.first_engine * (1 + 1e-9)
    scale = rounding_scale(derivation.first, [x], [np.array([0.5])])
    assert not agree(wrong, comparison.first_sympy, scale, exact=(derivation.first, [x], np.array([[0.5]]))).ok


def test_compiled_scales_equal_scale_of_for_many_expressions_at_once():
    # one post-order for all expressions (shared subexpressions walked once),
    # the same values and scales as walking each expression on its own
    from symderiv.numeric.rounding import CompiledScales, scale_of

    total = sp.exp(x) + sp.exp(y) + sp.exp(z)
    exprs = [sp.exp(x) / total - 1, sp.log(1 + sp.exp(x)) - x, sp.tan(x) * y - z**2, sp.Max(x, y) + 1, sp.Integer(3)]
    rng = np.random.default_rng(3)
    values = rng.uniform(-3, 3, (17, 3))
    own = rng.uniform(0, 1, (17, 3))
    compiled_values, compiled_scales = CompiledScales(exprs, [x, y, z])(values, own)
    for k, expr in enumerate(exprs):
        point = {s: (values[:, j], own[:, j]) for j, s in enumerate((x, y, z))}
        v, m = scale_of(expr, point, (17,))
        np.testing.assert_allclose(compiled_values[:, k], v, rtol=1e-15)
        np.testing.assert_allclose(compiled_scales[:, k], m, rtol=1e-15)


def test_compiled_scales_bound_the_rounding_of_a_cancelling_derivative():
    # d/dx (log(1 + e^x) - x) = e^x/(1 + e^x) - 1: at x = 30 float64 keeps
    # only ~3 digits of 9.4e-14; the scale (inputs exact) says so
    from symderiv.numeric.rounding import CompiledScales

    expr = sp.diff(sp.log(1 + sp.exp(x)) - x, x)
    at = np.array([[30.0], [-2.0], [0.5]])
    _, scales = CompiledScales([expr], [x])(at, np.zeros_like(at))
    computed = sp.lambdify([x], expr, "numpy")(at[:, 0])
    with mpmath.workdps(60):
        exact = np.array([float(mpmath.mpf(-1) / (1 + mpmath.exp(mpmath.mpf(p)))) for p in at[:, 0]])
    assert np.all(np.abs(computed - exact) <= 4 * EPS * scales[:, 0])
    assert scales[0, 0] > 1.0 > 1e6 * abs(exact[0])  # the scale is that of the terms, not of the result


def test_the_mpmath_evaluator_walks_the_same_steps_as_the_numpy_one():
    # one walk, two evaluators: where float64 is in range they agree; where an
    # intermediate overflows (exp(1000)/Σ exp) float64 gives NaN and mpmath
    # the scale the model defines, checked here against the closed form
    from symderiv.numeric.rounding import CompiledScales

    total = sp.exp(x) + sp.exp(y) + sp.exp(z)
    exprs = [sp.exp(x) / total - 1, sp.log(1 + sp.exp(x)) - x, sp.tan(x) * y - z**2, sp.sqrt(x**2 + 1) * y]
    compiled = CompiledScales(exprs, [x, y, z])
    rng = np.random.default_rng(5)
    values = rng.uniform(-3, 3, (6, 3))
    own = rng.uniform(0, 1, (6, 3))
    v64, m64 = compiled(values, own)
    for row in range(6):
        v, m = compiled.at_row_mpmath(values[row], own[row])
        np.testing.assert_allclose(v, v64[row], rtol=1e-12)
        np.testing.assert_allclose(m, m64[row], rtol=1e-12)
    at = np.array([[1000.0, 999.0, 0.0]])
    _, scales64 = CompiledScales([exprs[0]], [x, y, z])(at, np.zeros_like(at))
    assert not np.isfinite(scales64).all()
    value, scale = compiled.at_row_mpmath(at[0], np.zeros(3))
    p = 1 / (1 + np.exp(-1.0) + np.exp(-1000.0))  # exp(x)/Σ exp at this row
    # m(e^x · S^-1 - 1) = 2p + p·(m(S)/S) + 1 with m(S) = S: 3p + 1
    assert value[0] == pytest.approx(p - 1, rel=1e-12)
    assert scale[0] == pytest.approx(3 * p + 1, rel=1e-12)
