"""Golden strings for the key LaTeX fragments, and the printer's notation rules."""

from __future__ import annotations

import sympy as sp

from symderiv.printing.latex import latex, latex_terms
from symderiv.problems.notation import (
    EXACT_SECOND_DERIVATIVE,
    NAIVE_SECOND_ORDER,
    as_partials,
    d,
    ell_x,
    f,
    f_y,
    f_yz,
    gx,
    hx,
    partial,
    x,
    y,
    z,
)

FIVE_TERMS = r"f_{yy} g'(x)^{2} + 2 f_{yz} g'(x) h'(x) + f_{zz} h'(x)^{2} + f_{y} g''(x) + f_{z} h''(x)"


def test_five_term_second_derivative_golden():
    assert latex(EXACT_SECOND_DERIVATIVE) == FIVE_TERMS


def test_five_terms_print_in_canonical_order_from_sympys_raw_derivative():
    # SymPy's own d²/dx² f(g(x), h(x)) comes out nested and in its own order
    raw = sp.expand(as_partials(sp.diff(f(gx, hx), x, 2)))
    assert latex(raw) == FIVE_TERMS
    assert [sign for sign, _ in latex_terms(raw)] == ["+"] * 5


def test_naive_formula_golden():
    assert latex(NAIVE_SECOND_ORDER) == r"f_{yy} g''(x) + f_{zz} h''(x)"


def test_mixed_partials_print_in_the_order_taken():
    assert latex(f_yz) == "f_{yz}"
    assert latex(partial(f, z, y)) == "f_{zy}"  # the step "f_zy = f_yz" must be visible


def test_softmax_rule_golden():
    i, k, n = sp.symbols("i k n", integer=True)
    Y, U = sp.IndexedBase("y"), sp.IndexedBase("u")
    gvdot = sp.Symbol("gvdot")
    assert latex(Y[i] * (U[i] - gvdot)) == r"y_{i} (u_{i} - \mathit{gvdot})"
    assert latex(sp.Sum(U[k] * sp.Derivative(Y[k], sp.IndexedBase("x")[i]), (k, 1, n))) == (
        r"\sum_{k=1}^{n} u_{k} \frac{\partial y_{k}}{\partial x_{i}}"
    )
    j = sp.Symbol("j", integer=True)
    assert latex(Y[j] * (sp.KroneckerDelta(i, j) - Y[i])) == r"y_{j} (\delta_{ij} - y_{i})"


def test_softmax_rule_fixed_n_golden():
    ys, us = sp.symbols("y_1:4"), sp.symbols("u_1:4")
    gvdot = sp.Symbol("gvdot")
    rule = sp.Matrix([ys[i] * (us[i] - gvdot) for i in range(3)])
    assert latex(rule) == (
        r"\left[\begin{matrix}y_{1} (u_{1} - \mathit{gvdot})\\y_{2} (u_{2} - \mathit{gvdot})"
        r"\\y_{3} (u_{3} - \mathit{gvdot})\end{matrix}\right]"
    )


def test_leibniz_for_the_loss_primes_for_g_and_h():
    assert latex(d(ell_x)) == r"\frac{d \ell}{d x}"
    assert latex(d(ell_x, 2)) == r"\frac{d^{2} \ell}{d x^{2}}"
    assert latex(d(gx, 2) * d(hx)) == "g''(x) h'(x)"
    assert latex(d(f(gx, hx))) == r"\frac{d}{d x} f(g(x), h(x))"


def test_brackets_only_where_needed():
    assert latex(f(gx, hx)) == "f(g(x), h(x))"
    assert latex(x * (1 + y)) == "x (y + 1)"
    assert latex(x * (1 + 1 / y)) == r"x \left(1 + \frac{1}{y}\right)"
    assert r"\left(" not in latex(f_y * (d(gx) ** 2 - d(gx, 2)))


def test_symbol_names():
    assert latex(sp.Symbol("delta2_x")) == r"\delta^{2}_{x}"
    assert latex(sp.Symbol("delta_y")) == r"\delta_{y}"
    assert latex(sp.Symbol("ell")) == r"\ell"


def test_sympy_latex_still_parses_the_same_expression_tree():
    # the printer never changes the expression, only how it reads
    expr = EXACT_SECOND_DERIVATIVE
    latex(expr)
    assert expr == EXACT_SECOND_DERIVATIVE
    assert latex(y * z) == "y z"
