"""The witness layer: exact points and the 50-digit confirmation, against independent references.

Every counterexample of the one exact search is recomputed here with SymPy at the printed point
(parsed back from its text), never read from the search's own values."""

import math

import numpy as np
import pytest
import sympy as sp

from symderiv.algebra.verdict import Counterexample
from symderiv.algebra.witness import SIMPLE_VALUES, evaluate_exactly, rational_counterexample

x, y = sp.symbols("x y", real=True)
w = sp.Symbol("w", real=True)


def test_a_difference_of_1e_30_is_confirmed_and_an_identity_is_not():
    state, left, right = evaluate_exactly(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1 + sp.Rational(1, 10**30), {x: sp.Rational(1, 3)})
    assert state == "differ" and abs(right - left - sp.Rational(1, 10**30)) < sp.Rational(1, 10**45)
    assert evaluate_exactly(sp.sin(x) ** 2 + sp.cos(x) ** 2, sp.Integer(1), {x: sp.Rational(1, 3)})[0] == "equal"


def test_undefined_and_complex_values_are_never_a_counterexample():
    assert evaluate_exactly(1 / x, sp.Integer(0), {x: 0})[0] == "undefined"
    assert evaluate_exactly(sp.sqrt(x), sp.Integer(0), {x: -1})[0] == "undefined"


def _point(example: Counterexample, *symbols) -> dict:
    """The printed point read back: {symbol: Rational} (values printed as text or floats)."""
    by_name = {str(s): s for s in symbols}
    return {by_name[name]: sp.Rational(str(value)) for name, value in example.point}


@pytest.mark.parametrize("lhs, rhs", [
    (x * (w * x - 3), x * (w * x + 3)),  # a wrong sign: lhs - rhs = -6x
    ((x + 1) ** 2, x**2 + 2 * x + 1 + x / sp.Integer(10) ** 40),  # invisible in float64
    (1 / (x - sp.Rational(1, 2)) + y, y + 1 / (x + 1)),  # a pole at the first simple value
    (x**2 / (x + y), x - y + y**2 / (x + y) + sp.Rational(1, 7)),
])
def test_the_exact_search_reports_a_point_where_sympy_finds_the_sides_differ(lhs, rhs):
    example = rational_counterexample(lhs=lhs, rhs=rhs)
    assert example is not None and example.exact and example.has_values
    point = _point(example, x, y, w)
    left, right = lhs.xreplace(point), rhs.xreplace(point)  # the reference: SymPy at the printed point
    assert left.is_Rational and right.is_Rational and left != right
    assert sp.Rational(example.exact_difference) == left - right
    assert (sp.Rational(example.lhs_value), sp.Rational(example.rhs_value)) == (left, right) or \
        (float(example.lhs_value), float(example.rhs_value)) == pytest.approx((float(left), float(right)), rel=1e-14)
    assert all(value in {sp.Rational(v) for v in SIMPLE_VALUES} for value in point.values())


def test_a_polynomial_that_vanishes_on_the_whole_simple_grid_is_caught_by_the_complete_grid():
    vanishing = sp.Mul(*[x - sp.Rational(v) for v in SIMPLE_VALUES])  # degree 9, zero at every simple value
    example = rational_counterexample(lhs=vanishing + x, rhs=x)
    point = _point(example, x)
    assert vanishing.xreplace(point) != 0 and sp.Rational(example.exact_difference) == vanishing.xreplace(point)
    assert point[x] == 4  # the complete grid 1..10: 1, 2 and 3 are roots


def test_points_respect_the_stated_intervals_and_the_callers_conditions():
    example = rational_counterexample(lhs=x * y, rhs=x * y + x - y, intervals={x: (0.2, 0.4), y: (2.0, 5.0)})
    point = _point(example, x, y)
    assert sp.Rational(1, 5) < point[x] < sp.Rational(2, 5) and 2 < point[y] < 5
    assert point[x] - point[y] != 0
    # a condition that only x = 3 satisfies: the point reported is that one, with the value it fixes
    fixed = sp.Symbol("z", real=True)
    example = rational_counterexample(lhs=x**2, rhs=x, admissible=lambda p: {**p, fixed: 2 * p[x]} if p[x] == 3 else None)
    assert _point(example, x, fixed) == {x: 3, fixed: 6}


def test_random_integer_points_come_from_the_generator_and_are_reproducible():
    # zero at every simple value, and of degree 14 (no complete grid above 12): random integers decide
    lhs = sp.Mul(*[x - sp.Rational(v) for v in SIMPLE_VALUES]) * sp.Mul(*[x - k for k in range(4, 9)])
    first = rational_counterexample(lhs=lhs + 1, rhs=sp.Integer(1), rng=np.random.default_rng(3), random_points=50)
    again = rational_counterexample(lhs=lhs + 1, rhs=sp.Integer(1), rng=np.random.default_rng(3), random_points=50)
    assert first == again
    value = _point(first, x)[x]
    assert lhs.xreplace({x: value}) != 0 and sp.Rational(first.exact_difference) == lhs.xreplace({x: value})


def test_a_witness_stands_where_the_sides_have_no_value_only_when_asked():
    f = sp.Function("f")
    lhs, rhs = f(x) + x, f(x) + x + x / sp.Integer(10) ** 40
    assert rational_counterexample(lhs=lhs, rhs=rhs, difference=sp.expand(lhs - rhs)) is None
    example = rational_counterexample(lhs=lhs, rhs=rhs, difference=sp.expand(lhs - rhs), require_values=False)
    assert not example.has_values and math.isnan(example.lhs_value)
    point = _point(example, x)
    assert sp.Rational(example.exact_difference) == sp.expand(lhs - rhs).xreplace(point) != 0


def test_a_difference_that_cancels_to_a_rational_function_is_decided_at_50_digits():
    example = rational_counterexample(lhs=sp.sin(x), rhs=sp.sin(x) + x)
    point = _point(example, x)
    assert sp.Rational(example.exact_difference) == -point[x] and not example.exact
    assert float(example.rhs_value) - float(example.lhs_value) == pytest.approx(float(point[x]), rel=1e-14)
    assert float(example.lhs_value) == pytest.approx(math.sin(float(point[x])), rel=1e-14)


def test_a_rewrite_the_sides_do_not_confirm_is_no_counterexample():
    # sqrt(x^2) - x is 0 for x > 0 and -2x for x < 0: never 3 at a simple value
    assert rational_counterexample(lhs=sp.sqrt(x**2), rhs=x, difference=sp.Integer(3)) is None
    example = rational_counterexample(lhs=sp.sqrt(x**2), rhs=x, difference=-2 * x)
    point = _point(example, x)
    assert point[x] < 0 and sp.sqrt(point[x] ** 2) - point[x] == -2 * point[x]
    assert not example.exact and example.precision_digits == 50


@pytest.mark.parametrize("lhs, rhs", [
    (sp.sin(x), x),  # no rational function
    (x * sp.Symbol("n", integer=True), x * sp.Symbol("n", integer=True) + x),  # a size takes integer values only
    (sp.IndexedBase("a")[sp.Symbol("i", integer=True)], sp.IndexedBase("a")[sp.Symbol("i", integer=True)] + x),
])
def test_what_is_not_a_rational_function_of_plain_variables_gets_no_exact_witness(lhs, rhs):
    assert rational_counterexample(lhs=lhs, rhs=rhs) is None
    assert rational_counterexample(lhs=x + 1, rhs=x + 1) is None  # and an identity gets none either


def test_indexed_variables_are_printed_with_their_index():
    a = sp.IndexedBase("a", real=True)
    example = rational_counterexample(lhs=a[1] * a[2], rhs=a[1] + a[2])
    names = [name for name, _ in example.point]
    assert names == ["a_{1}", "a_{2}"]
    values = [sp.Rational(value) for _, value in example.point]
    assert values[0] * values[1] != values[0] + values[1]


def _spy(monkeypatch, module, name: str) -> list:
    """Record the module of every caller of ``module.name`` (still calling the original)."""
    import inspect

    calls = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(inspect.currentframe().f_back.f_globals["__name__"])
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_the_proof_checker_and_check_use_the_one_search_and_the_one_instantiation(monkeypatch):
    from symderiv.algebra import instantiation, witness
    from symderiv.proofkit import Proof, Step, check_proof
    from symderiv.writeup.verdicts import check_text

    searches = _spy(monkeypatch, witness, "rational_counterexample")
    instantiations = _spy(monkeypatch, instantiation, "instantiate")
    draws = _spy(monkeypatch, instantiation, "drawn_templates")
    g = sp.Function("g")
    wrong = Proof(name="p", title="t", claim="c",
                  steps=(Step(x * (w * x - 3), "start", "start"), Step(x * (w * x + 3), "sign")))
    assert check_proof(wrong, points=8).steps[0].verdict == "false"
    chain = Proof(name="q", title="t", claim="c",
                  steps=(Step(sp.Derivative(g(x) ** 2, x), "start", "start"), Step(2 * g(x) * sp.Derivative(g(x), x), "chain")))
    assert check_proof(chain, points=8).steps[0].verdict == "proved"
    report = check_text("$$ x(x+1) = x^2 $$\n$$ \\frac{d}{dx} g(x)^2 = g(x) g'(x) $$\n", False, [])
    assert [s.verdict for s in report.equations] == ["false", "false"]
    assert {"symderiv.proofkit.checker", "symderiv.writeup.counterexamples"} <= set(searches)
    assert {"symderiv.proofkit.checker", "symderiv.writeup.numeric", "symderiv.writeup.counterexamples"} <= set(instantiations)
    assert {"symderiv.proofkit.checker", "symderiv.algebra.instantiation"} <= set(draws)
