"""The LaTeX grammar and its meaning, against SymPy built by hand (never by parsing strings)."""

from __future__ import annotations

import pytest
import sympy as sp

from symderiv.algebra import indexed_sums
from symderiv.writeup.declarations import add_declaration
from symderiv.writeup.latex_parser import Unsupported, parse_side
from symderiv.writeup.meaning import Context, Converter
from symderiv.writeup.resolve import Resolver

x = sp.Symbol("x", real=True)
a, b = sp.Symbol("a", real=True), sp.Symbol("b", real=True)
G, H = sp.Symbol("g", real=True), sp.Symbol("h", real=True)
g, h, ell = sp.Function("g"), sp.Function("h"), sp.Function("ell")


def full(text: str, *lets: str):
    context = Context()
    for declaration in lets:
        add_declaration(context, declaration)
    return Resolver(context).full(Converter(context).expression(parse_side(text)))


TWO_PATHS = ("g = g(x)", "h = h(x)", r"\ell = \ell(g, h)")


def at_x(expr):
    return expr.subs({G: g(x), H: h(x)})


@pytest.mark.parametrize(
    "latex, expected",
    [
        (r"\frac{a}{b}", a / b),
        (r"\dfrac12 a", a / 2),
        (r"2a \cdot b - a / b", 2 * a * b - a / b),
        (r"a^2 b", a**2 * b),
        (r"\exp^2(a)", sp.exp(a) ** 2),
        (r"\sin^2 a + \cos^2 a", sp.sin(a) ** 2 + sp.cos(a) ** 2),
        (r"\log a \ln b", sp.log(a) * sp.log(b)),
        (r"\sqrt{a} + \sqrt[3]{b}", sp.sqrt(a) + sp.root(b, 3)),
        (r"\left( a + b \right)^{2}", (a + b) ** 2),
        (r"\bigl[ a - b \bigr] \, a", (a - b) * a),
        (r"a \times b \text{ for all } ", a * b),
        (r"e^{a}", sp.exp(a)),
        (r"\tanh(a)", sp.tanh(a)),
    ],
)
def test_elementary_expressions(latex, expected):
    assert sp.simplify(full(latex) - expected) == 0


def test_leibniz_total_and_partial_derivatives_follow_declarations():
    L = ell(G, H)
    # d ell / dx is the total derivative through g and h
    assert sp.expand(full(r"\frac{d\ell}{dx}", *TWO_PATHS) - sp.diff(ell(g(x), h(x)), x)) == 0
    # d ell / d g is the partial in the first argument, at (g(x), h(x))
    assert sp.expand(full(r"\frac{\partial \ell}{\partial g}", *TWO_PATHS) - at_x(sp.diff(L, G))) == 0
    mixed = full(r"\frac{\partial^2 \ell}{\partial g \partial h}", *TWO_PATHS)
    assert sp.expand(mixed - at_x(sp.diff(L, G, H))) == 0
    second = full(r"\frac{\partial^2 \ell}{\partial g^2}", *TWO_PATHS)
    assert sp.expand(second - at_x(sp.diff(L, G, 2))) == 0
    assert second != 0  # SymPy's own LaTeX parser reads this as a product of symbols named 'partial'


def test_operator_form_and_primes():
    operator = full(r"\frac{d}{dx}\left( g h \right)", *TWO_PATHS)
    assert sp.expand(operator - sp.diff(g(x) * h(x), x)) == 0
    assert sp.expand(full(r"g''(x) + h'", *TWO_PATHS) - (sp.diff(g(x), x, 2) + sp.diff(h(x), x))) == 0


def test_subscript_partial_notation():
    lets = ("y = g(x)", "z = h(x)", r"\ell = f(y, z)")
    Y, Z = sp.Symbol("y", real=True), sp.Symbol("z", real=True)
    f = sp.Function("f")
    expected = sp.diff(f(Y, Z), Y, Z).subs({Y: g(x), Z: h(x)})
    assert sp.expand(full(r"f_{yz}", *lets) - expected) == 0


def test_concrete_function_definition_and_intermediate_variable():
    lets = (r"\sigma(t) = \frac{1}{1 + \exp(-t)}", "u = w x + b", r"s = \sigma(u)")
    w, bb = sp.Symbol("w", real=True), sp.Symbol("b", real=True)
    logistic = 1 / (1 + sp.exp(-(w * x + bb)))
    assert sp.simplify(full(r"\frac{ds}{dx}", *lets) - sp.diff(logistic, x)) == 0
    # ds/du treats u as the variable, then substitutes u = w x + b
    U = sp.Symbol("u_", real=True)
    by_u = sp.diff(1 / (1 + sp.exp(-U)), U).subs(U, w * x + bb)
    assert sp.simplify(full(r"\frac{ds}{du}", *lets) - by_u) == 0


def test_sums_indices_and_kronecker_delta():
    i, j, k = (sp.Symbol(c, integer=True) for c in "ijk")
    n = sp.Symbol("n", real=True)
    xs = sp.IndexedBase("x", real=True)
    expr = full(r"\sum_{k=1}^{n} \exp(x_k) + \delta_{ij} + y_{ij}")
    expected = sp.Sum(sp.exp(xs[k]), (k, 1, n)) + sp.KroneckerDelta(i, j) + sp.IndexedBase("y", real=True)[i, j]
    # The summation variable is a fresh symbol spelled k, never the free index k.
    (total,) = expr.atoms(sp.Sum)
    bound = total.limits[0][0]
    assert bound.name == "k" and bound != k
    assert expr.xreplace({bound: k}) == expected
    squares = full(r"\sum_{k=1}^{3} k^2")
    assert squares.xreplace({squares.limits[0][0]: k}) == sp.Sum(k**2, (k, 1, 3))


def test_a_bound_index_never_captures_a_free_index_of_the_same_letter():
    j = sp.Symbol("j", integer=True)
    w, xs = sp.IndexedBase("w", real=True), sp.IndexedBase("x", real=True)
    expr = full(r"\frac{\partial}{\partial x_j} \sum_j w_j x_j^2")
    # d/dx_j sum_k w_k x_k^2 = sum_k 2 w_k x_k delta_jk, which collapses to 2 w_j x_j

    collapsed = indexed_sums.normalize_sums(indexed_sums.canonical_sums(expr))
    assert sp.expand(collapsed - 2 * w[j] * xs[j]) == 0


def test_gradient_symbols_and_matrices():
    expr = full(r"\nabla \log y_j + \nabla X")
    j = sp.Symbol("j", integer=True)
    assert expr == sp.IndexedBase(r"\nabla \log y", real=True)[j] + sp.Symbol(r"\nabla X", real=True)
    assert full(r"\begin{bmatrix} a & b \\ 1 & 2 \end{bmatrix}") == sp.Matrix([[a, b], [1, 2]])


def test_implicit_application_only_for_functions():
    w = sp.Symbol("w", real=True)
    assert full(r"w(a + b)") == w * (a + b)
    assert full(r"g(a)") == g(a)  # conventional function letter


@pytest.mark.parametrize(
    "latex, fragment",
    [
        (r"\foo{x}", "unknown macro"),
        (r"x^{9^{9^{9}}}", "exponent"),
        (r"12345678901234567890", "digits"),
        ("{" * 40 + "x" + "}" * 40, "nesting"),
        (r"\begin{bmatrix} a \\ \vdots \end{bmatrix}", "elided"),
        (r"\frac{d^2 y}{dx}", "order"),
        (r"a +", "cannot parse"),
        ("x" * 3000, "too long"),
    ],
)
def test_unsupported_input_says_why(latex, fragment):
    with pytest.raises(Unsupported, match=fragment):
        full(latex)
