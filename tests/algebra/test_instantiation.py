"""The one instantiation of abstract functions, against SymPy's own differentiation.

Each instantiated expression is compared with the same derivative taken by SymPy of the concrete
functions written out by hand here (an independent reference): the instantiation must be
consistent with every derivative the expression names."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symderiv.algebra import instantiation
from symderiv.algebra.instantiation import (abstract_functions, candidate_templates, described, drawn_templates,
                                            generic_templates, instantiate, simple_choices, simple_templates)

x = sp.Symbol("x", real=True)
f, g, h = sp.Function("f"), sp.Function("g"), sp.Function("h")


def test_abstract_functions_are_found_in_matrices_with_their_largest_arity():
    found = abstract_functions([sp.Matrix([[f(x, g(x))], [h(x)]]), g(x) + 1, 3])
    assert found == {f: 2, g: 1, h: 1}


def test_the_generic_family_is_a_polynomial_plus_sine_plus_exponential():
    templates, coefficients = generic_templates({g: 1, f: 2})
    t = sp.Symbol("t")
    unary = templates[g](t)
    polynomial = unary.replace(lambda e: isinstance(e, (sp.sin, sp.exp)), lambda e: sp.Integer(0))
    assert unary.has(sp.sin) and unary.has(sp.exp) and sp.degree(polynomial, t) == instantiation.TEMPLATE_DEGREES[1] == 6
    assert len(sp.Add.make_args(templates[f](t, x))) == 15 + 2  # monomials of degree <= 4 in two variables, sin, exp
    assert len(coefficients) == (7 + 3) + (15 + 4)


def test_a_drawn_member_is_reproducible_with_nonzero_quarter_coefficients():
    functions = {g: 1, f: 2}
    first, again = drawn_templates(functions, np.random.default_rng(7)), drawn_templates(functions, np.random.default_rng(7))
    assert first == again and first != drawn_templates(functions, np.random.default_rng(8))
    generic = generic_templates(functions)[0]
    for func, template in first.items():
        # every term keeps its coefficient (none drawn as 0), and so does every rate of the exponential
        values = [term.as_coeff_Mul()[0] for term in sp.Add.make_args(template.expr)]
        values += [term.as_coeff_Mul()[0] for e in template.expr.atoms(sp.exp) for term in sp.Add.make_args(e.args[0])]
        assert len(values) == len(sp.Add.make_args(generic[func].expr)) + len(template.variables)
        assert all(v != 0 and abs(v) <= 1 and (4 * v).is_Integer for v in values)


def test_no_member_satisfies_the_linear_ode_a_cubic_plus_sine_would():
    # g'''''' = -g'''' holds for every cubic + c·sin t; a drawn member violates it (SymPy differentiates)
    t = sp.Symbol("t", real=True)
    for seed in range(5):
        body = drawn_templates({g: 1}, np.random.default_rng(seed))[g](t)
        assert abs(sp.N((sp.diff(body, t, 6) + sp.diff(body, t, 4)).xreplace({t: sp.Rational(1, 3)}), 50)) > 1e-6


def _zero_at_50_digits(difference) -> bool:
    """Zero at three rational points to 40 digits (and defined there): mpmath through SymPy's evalf."""
    values = [sp.N(difference.xreplace({x: sp.Rational(p, 7)}), 50) for p in (-5, 2, 9)]
    return all(v.is_number and abs(v) < sp.Float(10) ** -40 for v in values)


def test_instantiation_is_consistent_with_every_derivative_the_expression_names():
    templates = {**simple_templates({f: 2, g: 1, h: 1}, ("sum_squared", "sin(t)", "exp(t)")),
                 **drawn_templates({h: 1}, np.random.default_rng(1))}
    F, G, H = (templates[fn] for fn in (f, g, h))
    y1, y2 = sp.symbols("y1 y2", real=True)
    # the reference: the same second derivative taken by SymPy of the concrete composition
    reference = sp.diff(F(G(x), H(x)), x, 2)
    for expr in (sp.diff(f(g(x), h(x)), x, 2),  # SymPy's Subs forms of the chain rule
                 sp.Derivative(f(g(x), h(x)), x, 2)):
        assert _zero_at_50_digits(instantiate(expr, templates) - reference)
    # ∂f/∂y at (g(x), h(x)) written as a derivative with respect to g(x)
    partial = sp.Derivative(f(g(x), h(x)), g(x))
    expected = sp.diff(F(y1, y2), y1).xreplace({y1: G(x), y2: H(x)})
    assert _zero_at_50_digits(instantiate(partial, templates) - expected)
    # unevaluated, the derivatives stay for the caller, and evaluate to the same thing
    kept = instantiate(sp.Derivative(g(x), x), templates, evaluate=False)
    assert kept.has(sp.Derivative) and sp.expand(kept.doit() - sp.diff(G(x), x)) == 0


def test_a_matrix_is_instantiated_entry_by_entry():
    templates = simple_templates({g: 1}, ("t**2",))
    out = instantiate(sp.Matrix([g(x), sp.Derivative(g(x), x)]), templates)
    assert out == sp.Matrix([x**2, 2 * x])


def test_simple_candidates_come_first_then_drawn_members():
    functions = {f: 2, g: 1}
    candidates = candidate_templates(functions, np.random.default_rng(0), simple=3, drawn=2)
    assert len(candidates) == 5
    t1, t2 = sp.symbols("t_1 t_2", real=True)
    assert candidates[0][f](t1, t2) == t1 * t2 and candidates[0][g](x) == x**2
    assert [choice for choice in simple_choices(functions, 3)] == [("prod", "t**2"), ("prod", "t**3"), ("prod", "sin(t)")]
    assert all(candidate[g](x).has(sp.exp) for candidate in candidates[3:])
    assert candidate_templates({}, np.random.default_rng(0)) == [{}]  # nothing to instantiate: one empty choice


@pytest.mark.parametrize("printer, expected", [(sp.sstr, ("f(t_1, t_2)", "t_1*t_2")), (sp.latex, ("f(t_{1}, t_{2})", "t_{1} t_{2}"))])
def test_templates_are_described_with_their_parameters(printer, expected):
    (shown,) = described(simple_templates({f: 2}, ("prod",)), printer)
    assert shown == expected


def test_partials_at_coinciding_arguments_stay_apart():
    """g = h = t²: f_gg and f_gh are both taken at (x², x²). Left as SymPy Subs objects they
    compare equal there and merged in a sum (d²(g·h)/dx² came out 4x² instead of 12x²)."""
    templates = simple_templates({f: 2, g: 1, h: 1}, ("prod", "t**2", "t**2"))
    second = sp.diff(f(g(x), h(x)), x, 2)
    assert sp.expand(instantiate(second, templates)) == sp.diff(x**4, x, 2) == 12 * x**2
    # equal arguments share a slot: the derivative with respect to g of f(g, g) is the total one
    assert instantiate(sp.Derivative(f(g(x), g(x)), g(x)), templates) == 2 * x**2
    with pytest.raises(ValueError, match="not an argument"):
        instantiate(sp.Derivative(f(g(x), x), h(x)), templates)
