"""The witness layer: exact points and the 50-digit confirmation, against hand-computed values."""

import sympy as sp

from symderiv.algebra.witness import evaluate_exactly, polynomial_nonzero_point

x, y = sp.symbols("x y", real=True)


def test_a_difference_of_1e_30_is_confirmed_and_an_identity_is_not():
    state, left, right = evaluate_exactly(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1 + sp.Rational(1, 10**30), {x: sp.Rational(1, 3)})
    assert state == "differ" and abs(right - left - sp.Rational(1, 10**30)) < sp.Rational(1, 10**45)
    assert evaluate_exactly(sp.sin(x) ** 2 + sp.cos(x) ** 2, sp.Integer(1), {x: sp.Rational(1, 3)})[0] == "equal"


def test_undefined_and_complex_values_are_never_a_counterexample():
    assert evaluate_exactly(1 / x, sp.Integer(0), {x: 0})[0] == "undefined"
    assert evaluate_exactly(sp.sqrt(x), sp.Integer(0), {x: -1})[0] == "undefined"


def test_a_nonzero_polynomial_gets_the_first_grid_point_where_it_does_not_vanish():
    # (x - 1)(y - 1) vanishes on x = 1 and on y = 1: the first grid point off both is (2, 2)
    point = polynomial_nonzero_point(sp.expand((x - 1) * (y - 1)))
    assert point == {x: 2, y: 2}
    assert polynomial_nonzero_point(sp.sin(x)) is None and polynomial_nonzero_point(sp.Integer(0)) is None
