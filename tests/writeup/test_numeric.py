"""The numeric witness (random instantiations) and the exact-proof helpers, against SymPy directly."""

from __future__ import annotations

import numpy as np
import sympy as sp

from symderiv.algebra import indexed_sums
from symderiv.algebra import instantiation
from symderiv.writeup import numeric
from symderiv.writeup.report import FALSE, PROVED, UNCHECKED
from symderiv.writeup.verdicts import check_text

x = sp.Symbol("x", real=True)
g, h, f = sp.Function("g"), sp.Function("h"), sp.Function("f")


def _second_derivative_pair(naive: bool):
    G, H = sp.symbols("G H", real=True)
    exact = sp.diff(f(g(x), h(x)), x, 2)
    at = lambda e: e.subs({G: g(x), H: h(x)})  # noqa: E731
    if naive:
        claimed = at(sp.diff(f(G, H), G, 2)) * sp.diff(g(x), x, 2) + at(sp.diff(f(G, H), H, 2)) * sp.diff(h(x), x, 2)
    else:
        claimed = (at(sp.diff(f(G, H), G, 2)) * sp.diff(g(x), x) ** 2
                   + 2 * at(sp.diff(f(G, H), G, H)) * sp.diff(g(x), x) * sp.diff(h(x), x)
                   + at(sp.diff(f(G, H), H, 2)) * sp.diff(h(x), x) ** 2
                   + at(sp.diff(f(G, H), G)) * sp.diff(g(x), x, 2) + at(sp.diff(f(G, H), H)) * sp.diff(h(x), x, 2))
    return exact, claimed


def test_random_instantiations_accept_the_true_second_derivative_and_reject_the_naive_one():
    rng = np.random.default_rng(1)
    for naive, agrees in ((False, True), (True, False)):
        pair = _second_derivative_pair(naive)
        functions = instantiation.abstract_functions(pair)
        assert functions == {f: 2, g: 1, h: 1}
        templates, coefficients = instantiation.generic_templates(functions)
        configurations = numeric.configurations(list(pair), [], rng)
        outcome = numeric.compare([pair], templates, coefficients, configurations, rng)
        assert outcome.agree is agrees
        if agrees:
            assert outcome.samples == numeric.SAMPLES_PER_CONFIGURATION


def test_generic_templates_are_polynomials_plus_sine_plus_exponential_with_free_coefficients():
    templates, coefficients = instantiation.generic_templates({g: 1, f: 2})
    t = sp.Symbol("t")
    unary = templates[g](t)
    assert unary.has(sp.sin) and unary.has(sp.exp)
    polynomial = unary.replace(lambda e: isinstance(e, (sp.sin, sp.exp)), lambda e: sp.Integer(0))
    assert sp.degree(polynomial, t) == instantiation.TEMPLATE_DEGREES[1] == 6
    binary = templates[f](t, x)
    # 15 monomials of total degree <= 4 in two variables, plus the sine and exponential terms
    assert len(sp.Add.make_args(binary)) == 17
    # coefficients: 7 + sin + exp + 1 rate for g; 15 + sin + exp + 2 rates for f
    assert len(coefficients) == (7 + 3) + (15 + 4)


def test_configurations_respect_index_conditions_and_sizes():
    i, j, k = sp.symbols("i j k", integer=True)
    n = sp.Symbol("n", real=True)
    xs = sp.IndexedBase("x", real=True)
    expr = sp.Sum(xs[k], (k, 1, n)) + xs[i] * xs[j]
    rng = np.random.default_rng(0)
    found = numeric.configurations([expr], [("ne", i, j)], rng)
    assert found
    for configuration in found:
        values = configuration.mapping()
        assert values[i] != values[j] and 1 <= values[i] <= values[n] and 1 <= values[j] <= values[n]
    assert {c.mapping()[n] for c in found} == set(numeric.SIZES) - {1} == {2, 3, 4, 7, 12}  # n = 1 admits no i != j


def test_delta_sums_resolve_under_the_range_assumption():
    i, k = sp.symbols("i k", integer=True)
    n = sp.Symbol("n", real=True)
    a, xs = sp.IndexedBase("a", real=True), sp.IndexedBase("x", real=True)
    expr = sp.Sum(sp.KroneckerDelta(i, k) * a[k] + xs[i] * a[k], (k, 1, n))
    result = indexed_sums.normalize_sums(indexed_sums.canonical_sums(expr))
    k0 = sp.Symbol("_k0", integer=True)
    assert sp.expand(result - (a[i] + xs[i] * sp.Sum(a[k0], (k0, 1, n)))) == 0


def test_counterexample_point_is_confirmed_at_high_precision():
    # The sides differ by 1e-12 relative: float64 sees it, 50-digit arithmetic must confirm it.
    report = check_text(r"$$ 3 x = 3 x + \frac{x}{1000000000000} $$", False, [])
    (step,) = report.equations
    assert step.verdict == FALSE
    lhs, rhs = sp.Float(step.counterexample.lhs_value, 30), sp.Float(step.counterexample.rhs_value, 30)
    x = lhs / 3
    assert abs((rhs - lhs) - x / 10**12) <= abs(x) * sp.Float("1e-24")


def test_holds_when_only_numbers_agree():
    # log(exp(a) + exp(b)) - log(exp(a)) = log(1 + exp(b - a)) needs log rules SymPy will not apply blindly.
    report = check_text(r"$$ \log(\exp(a) + \exp(b)) - a = \log(1 + \exp(b - a)) $$", False, [])
    (step,) = report.equations
    assert step.verdict in ("holds", PROVED)
    if step.verdict == "holds":
        assert "random points" in step.reason


def test_inequality_claims():
    report = check_text(r"$$ (a+b)^2 \neq a^2 + b^2 $$ and $$ (a+b)^2 \neq a^2 + 2ab + b^2 $$", False, [])
    # \neq is read as "never equal": (a+b)^2 and a^2 + b^2 differ, but meet where a = 0, so the first is
    # unchecked (it would be proved only under "not identically equal"); identical sides are false.
    assert [s.verdict for s in report.equations] == [UNCHECKED, FALSE]
    assert "a = 0" in report.equations[0].reason or "b = 0" in report.equations[0].reason \
        or "not decided" in report.equations[0].reason
    report = check_text(r"$$ (a+1)^2 \neq a^2 $$ and $$ x^2 + 1 \neq 0 $$", False, [])
    assert [s.verdict for s in report.equations] == [UNCHECKED, PROVED]


def test_cases_otherwise_and_text_definitions():
    from pathlib import Path

    path = Path(__file__).parents[1] / "writeups" / "cases_and_definitions.md"
    report = check_text(path.read_text(), False, [], str(path))
    table = {}
    for step in report.equations:
        table.setdefault(step.line, []).append((step.verdict, step.condition))
    assert table[3] == [(UNCHECKED, None), (PROVED, None), (PROVED, None)]
    # k is bound by the sum on the left: the condition i = k cannot refer to it, so the second
    # case (false if k were a free index) is unchecked, and says why.
    assert table[5] == [(PROVED, "i = k"), (UNCHECKED, r"i \neq k")]
    assert "bound by a sum" in [s for s in report.equations if s.line == 5][1].reason
    assert table[7] == [(PROVED, "i = j"), (PROVED, r"i \neq j")]
    assert table[9] == [(PROVED, None), (PROVED, None)]
    assert table[11] == [(UNCHECKED, None), (PROVED, None)]
    assert table[13] == [(PROVED, None), (UNCHECKED, None)]  # 2x \neq 2: equal at x = 1 ("never equal"?)
