"""`symderiv check` on vectors and matrices with declared shapes (symderiv/writeup/matrices.py, matrix_judge.py).

Expected verdicts are the textbook identities (and their single-mistake versions); every FALSE's
counterexample is re-checked here with SymPy explicit matrices built from the printed entries,
independently of the checker, and every derivative against SymPy's entrywise differentiation.
"""

from __future__ import annotations

import re

import pytest
import sympy as sp

from symderiv.errors import InputError
from symderiv.writeup.api import check_writeup
from symderiv.writeup.matrices import shape_declaration
from symderiv.writeup.report import FALSE, HOLDS, PROVED, UNCHECKED

LEAST_SQUARES = ["X: n x d", "w: d", "y: n", r"L = \frac{1}{2}(Xw - y)^T (Xw - y)"]


def verdicts(text: str, lets=()):
    return [(step.verdict, step) for step in check_writeup(text, lets=list(lets)).equations]


def only(text: str, lets=()):
    steps = check_writeup(text, lets=list(lets)).equations
    assert len(steps) == 1, steps
    return steps[0]


def number(cell: str):
    cell = cell.strip().replace(" ", "")
    sign = -1 if cell.startswith("-") else 1
    cell = cell.lstrip("-")
    fraction = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", cell)
    if fraction:
        return sign * sp.Rational(int(fraction.group(1)), int(fraction.group(2)))
    return sign * sp.Rational(cell)


def matrix(text: str) -> sp.Matrix:
    """The counterexample's LaTeX (a number or a bmatrix) as an explicit SymPy matrix."""
    inner = re.fullmatch(r"\s*\\begin\{bmatrix\}(.*)\\end\{bmatrix\}\s*", text, re.S)
    if not inner:
        return sp.Matrix([[number(text)]])
    rows = [row for row in inner.group(1).split("\\\\")]
    return sp.Matrix([[number(cell) for cell in row.split("&")] for row in rows])


def point(step) -> dict:
    return dict(step.counterexample.point)


@pytest.mark.parametrize("text, expected", [
    ("W: m x n", ("W", "m", "n")),
    (r"W: m \times n", ("W", "m", "n")),
    ("x: n", ("x", "n", "1")),
    (r"\mathbf{x} \in \mathbb{R}^{d}", (r"\mathbf{x}", "d", "1")),
    (r"W \in \mathbb{R}^{n_l \times 3}", ("W", "n_l", "3")),
    (r"\lambda: 1", ("lambda", "1", "1")),
])
def test_shape_declarations(text, expected):
    name, (rows, cols) = shape_declaration(text)
    assert (name, str(rows), str(cols)) == expected


@pytest.mark.parametrize("text", ["z^{l}: index", "x^{n}: power", "u = w x + b"])
def test_other_declarations_are_not_shapes(text):
    assert shape_declaration(text) is None


def test_transpose_of_a_product_is_proved_for_every_size():
    step = only("$$(AB)^T = B^T A^T$$", ["A: m x n", "B: n x p"])
    assert step.verdict == PROVED and "every size" in step.reason


def test_least_squares_gradient_in_denominator_layout_is_proved():
    step = only(r"$$\frac{\partial L}{\partial w} = X^T(Xw - y)$$", LEAST_SQUARES)
    assert step.verdict == PROVED, step.reason


def test_a_dropped_factor_in_a_gradient_is_false_with_a_checkable_counterexample():
    step = only(r"$$\nabla_w L = 2 X^T(Xw - y)$$", LEAST_SQUARES)
    assert step.verdict == FALSE
    at = point(step)
    X, w, y = matrix(at["X"]), matrix(at["w"]), matrix(at["y"])
    entries = sp.Matrix(sp.symbols(f"w0:{w.rows}"))
    loss = ((X * entries - y).T * (X * entries - y))[0, 0] / 2
    gradient = sp.Matrix([sp.diff(loss, e) for e in entries]).subs(dict(zip(entries, w)))
    assert gradient == matrix(step.counterexample.lhs_value)
    assert 2 * X.T * (X * w - y) == matrix(step.counterexample.rhs_value)
    assert gradient != 2 * X.T * (X * w - y)


def test_matrices_do_not_commute():
    step = only("$$WX = XW$$", ["W: n x n", "X: n x n"])
    assert step.verdict == FALSE
    at = point(step)
    W, X = matrix(at["W"]), matrix(at["X"])
    assert W * X != X * W
    assert (W * X, X * W) == (matrix(step.counterexample.lhs_value), matrix(step.counterexample.rhs_value))


def test_a_shape_mismatch_is_unchecked_never_false():
    step = only("$$WX = XW$$", ["W: m x n", "X: n x m"])
    assert step.verdict == UNCHECKED and step.reason_kind == "matrix shape"
    assert "m x m" in step.reason and "n x n" in step.reason


def test_a_missing_transpose_is_unchecked_with_the_shapes():
    step = only(r"$$\frac{\partial L}{\partial w} = X(Xw - y)$$", LEAST_SQUARES)
    assert step.verdict == UNCHECKED and step.reason_kind == "matrix shape"
    assert "n x d" in step.reason


def test_numerator_layout_is_a_shape_mismatch_not_false():
    step = only(r"$$\frac{\partial f}{\partial x} = a^T$$", ["a: n", "x: n", "f = a^T x"])
    assert step.verdict == UNCHECKED and step.reason_kind == "matrix shape"


def test_an_undeclared_name_beside_matrices_is_unchecked_never_a_scalar():
    step = only("$$W x = x W$$", ["x: n"])
    assert step.verdict == UNCHECKED and step.reason_kind == "declaration needed"
    assert '--let "W: m x n"' in step.reason


def test_shapes_stated_in_the_writeup_are_read():
    text = (r"Let $W \in \mathbb{R}^{m \times n}$ and $X \in \mathbb{R}^{n \times m}$." "\n\n"
            "$$WX = XW$$\n\n$$(WX)^T = X^T W^T$$\n")
    steps = check_writeup(text).equations
    assert [s.verdict for s in steps] == [UNCHECKED, PROVED]
    assert steps[0].reason_kind == "matrix shape"


def test_softmax_backward_rule_in_matrix_form():
    lets = ["s: n", "g: n"]
    rule = r"$$(\mathrm{diag}(s) - s s^T) g = s \odot g - s (s^T g)$$"
    assert only(rule, lets).verdict == HOLDS
    wrong = only(rule.replace(r"- s (s^T g)", r"+ s (s^T g)"), lets)
    assert wrong.verdict == FALSE
    at = point(wrong)
    s, g = matrix(at["s"]), matrix(at["g"])
    assert (sp.diag(*s) - s * s.T) * g != s.multiply_elementwise(g) + s * (s.T * g)


@pytest.mark.parametrize("claim, expected", [
    (r"u \otimes v = u v^T", PROVED),
    (r"u \cdot v = v^T u", HOLDS),
    (r"\mathrm{tr}(u v^T) = u^T v", HOLDS),
    (r"\nabla_u R = \lambda u", PROVED),
    (r"\nabla_u R = 2 \lambda u", FALSE),
    (r"u \circ v = v \odot u", PROVED),
])
def test_vector_identities(claim, expected):
    step = only(f"$${claim}$$", ["u: n", "v: n", r"R = \frac{\lambda}{2} u^T u"])
    assert step.verdict == expected, step.reason


def test_logistic_regression_gradient_with_the_sigmoid_elementwise():
    lets = ["X: m x d", "w: d", "y: m", r"\sigma(t) = \frac{1}{1 + \exp(-t)}",
            r"J = -\frac{1}{m}(y^T \log(\sigma(Xw)) + (1 - y)^T \log(1 - \sigma(Xw)))"]
    step = only(r"$$\nabla_w J = \frac{1}{m} X^T(\sigma(Xw) - y)$$", lets)
    assert step.verdict == HOLDS and "broadcast" in step.reason, step.reason  # 1 - y: 1 minus every entry
    wrong = only(r"$$\nabla_w J = \frac{1}{m} X^T(\sigma(Xw) + y)$$", lets)
    assert wrong.verdict == FALSE
    at = point(wrong)
    X, w, y, m = matrix(at["X"]), matrix(at["w"]), matrix(at["y"]), int(at["m"])
    entries = sp.Matrix(sp.symbols(f"w0:{w.rows}"))
    sigma = lambda t: 1 / (1 + sp.exp(-t))  # noqa: E731
    p = (X * entries).applyfunc(sigma)
    loss = -sum(y[i] * sp.log(p[i]) + (1 - y[i]) * sp.log(1 - p[i]) for i in range(m)) / m
    gradient = sp.Matrix([sp.diff(loss, e) for e in entries]).subs(dict(zip(entries, w)))
    claimed = X.T * ((X * w).applyfunc(sigma) + y) / m
    assert any(abs(sp.N(a - b, 30)) > 1e-20 for a, b in zip(gradient, claimed))


def test_a_bad_shape_declaration_is_an_input_error():
    with pytest.raises(InputError):
        check_writeup("$$a = a$$", lets=["W: m x 0"])


# --- explicit matrices and elided patterns ---------------------------------------------------------

COLUMN = r"\begin{bmatrix} y_1 \\ \vdots \\ y_n \end{bmatrix}"
ROW = r"\begin{bmatrix} y_1 & \cdots & y_n \end{bmatrix}"
DIAGONAL = r"\begin{bmatrix} y_1 & \cdots & 0 \\ \vdots & \ddots & \vdots \\ 0 & \cdots & y_n \end{bmatrix}"


@pytest.mark.parametrize("claim, expected", [
    (rf"\mathbf{{y}} = {COLUMN}", HOLDS),  # y_k is the k-th entry of the declared vector
    (rf"\mathbf{{y}}^T \mathbf{{y}} = {ROW} {COLUMN}", HOLDS),
    (rf"\mathrm{{diag}}(\mathbf{{y}}) = {DIAGONAL}", HOLDS),
    (rf"\mathbf{{y}}^T = {COLUMN}", UNCHECKED),  # a row against a column: a shape mismatch
    (rf"\mathbf{{y}}^T \mathbf{{y}} = {ROW} {COLUMN} + 1", FALSE),
])
def test_elided_vectors_and_diagonals_are_read_as_their_pattern(claim, expected):
    step = only(f"$${claim}$$", [r"\mathbf{y}: n"])
    assert step.verdict == expected, step.reason


@pytest.mark.parametrize("column, why", [
    (r"\begin{bmatrix} y_2 \\ \vdots \\ y_n \end{bmatrix}", "pattern is not clear"),
    (r"\begin{bmatrix} y_1 \\ \vdots \\ y_{n-1} \end{bmatrix}", "not a number or a letter"),
    (r"\begin{bmatrix} y_1 \\ \vdots \end{bmatrix}", "first and last entries"),
    (r"\begin{bmatrix} y_1 & 1 \\ \vdots & \vdots \\ y_n & 1 \end{bmatrix}", "not a diagonal pattern"),
])
def test_an_ambiguous_pattern_is_unchecked_with_the_reason(column, why):
    step = only(rf"$$\mathbf{{y}} = {column}$$", [r"\mathbf{y}: n"])
    assert step.verdict == UNCHECKED and why in step.reason, step.reason


def test_an_explicit_matrix_is_compared_entry_by_entry():
    assert only(r"$$(AB)^T = \begin{bmatrix} 1 & 0 \\ 0 & 1 \end{bmatrix} (AB)^T$$", ["A: 2 x 3", "B: 3 x 2"]).verdict \
        == PROVED
    diagonal = r"\begin{bmatrix} A_{11}^2 + A_{21}^2 & X \\ X & A_{12}^2 + A_{22}^2 \end{bmatrix}"
    assert only(f"$$A^T A = {diagonal.replace('X', 'A_{11} A_{12} + A_{21} A_{22}')}$$", ["A: 2 x 2"]).verdict == HOLDS
    step = only(f"$$A^T A = {diagonal.replace('X', '0')}$$", ["A: 2 x 2"])
    assert step.verdict == FALSE  # the off-diagonal A_11 A_12 + A_21 A_22 is missing
    A = matrix(point(step)["A"])
    assert A.T * A != sp.diag(A[0, 0] ** 2 + A[1, 0] ** 2, A[0, 1] ** 2 + A[1, 1] ** 2)


def test_lowercase_entries_beside_a_declared_capital_are_unchecked():
    step = only(r"$$A^T A = \begin{bmatrix} a_{11}^2 + a_{21}^2 & 0 \\ 0 & a_{12}^2 + a_{22}^2 \end{bmatrix}$$",
                ["A: 2 x 2"])
    assert step.verdict == UNCHECKED and step.reason_kind == "uncertain reading"


def test_numerator_layout_when_declared():
    lets = ["a: n", "x: n", "f = a^T x"]
    assert only(r"$$\frac{\partial f}{\partial x} = a$$", lets).verdict == PROVED
    assert only(r"$$\frac{\partial f}{\partial x} = a^T$$", lets + ["layout: numerator"]).verdict == PROVED
    assert only(r"$$\frac{\partial f}{\partial x} = a$$", lets + ["layout: numerator"]).reason_kind == "matrix shape"


def test_huge_declared_sizes_are_refused_not_written_out():
    step = only("$$W^T W = (W^T W)^T$$", ["W: 999 x 999"])
    assert step.verdict == UNCHECKED and step.reason_kind == "too large"


def test_entries_belong_to_the_declared_vector_of_their_letter():
    text = (r"$$\begin{bmatrix} \beta_1 \\ \vdots \\ \beta_n \end{bmatrix} = \boldsymbol{\beta}$$" "\n\n"
            r"$$\begin{bmatrix} x_1 \\ \vdots \\ x_n \end{bmatrix} = \mathbf{x}$$")
    steps = check_writeup(text, lets=[r"\boldsymbol{\beta}: n", r"\mathbf{x}: n", r"\tilde{\mathbf{x}}: n"]).equations
    assert [s.verdict for s in steps] == [HOLDS, UNCHECKED]
    assert steps[1].reason_kind == "uncertain reading"  # x_k: of \mathbf{x} or of \tilde{\mathbf{x}}?


@pytest.mark.parametrize("claim, why", [
    (r"W^{99} = W", "power from 1 to 8"),
    (r"\begin{bmatrix} x_1 \\ \ddots \\ x_n \end{bmatrix} = x", "in a column"),
    (r"\begin{bmatrix} W & W \\ W & W \end{bmatrix} = W", "block matrices"),
    (r"\|W\| = W", "not squared"),
    (r"\frac{\partial W}{\partial W} = 1", "only scalars"),
    (r"\mathrm{tr}(I) = \mathrm{tr}(W)", "the size of the identity I is not forced"),
])
def test_what_is_not_read_in_a_matrix_step_is_unchecked_with_the_reason(claim, why):
    step = only(f"$${claim}$$", ["W: 3 x 3", "x: n"])
    assert step.verdict == UNCHECKED and why in step.reason, step.reason


# --- names with a layer or sample label: W^{(2)}, a^L, w^{l+1} --------------------------------------

LAYERS = [r"\sigma(t) = \frac{1}{1 + \exp(-t)}", "z^L: n", "a^L: n", "y: n", r"w^{l+1}: n_{l+1} x n_l",
          r"\delta^{l+1}: n_{l+1}", "z^l: n_l"]
OUTPUT_LAYER = "$$a^L = \\sigma(z^L)$$\n\n$$C = \\frac{1}{2} \\|y - a^L\\|^2$$\n\n"


@pytest.mark.parametrize("text, expected", [
    (r"\mathbf{W}^{(1)}: h x d", (r"\mathbf{W}^{(1)}", "h", "d")),
    (r"W^{[l]}: n_l x n_{l-1}", ("W^{(l)}", "n_l", "n_{l-1}")),  # (l) and [l]: the same label
    (r"\delta^{(l)}: n_l", ("delta^{(l)}", "n_l", "1")),
    (r"w^{l+1}: n_{l+1} x n_l", ("w^{l+1}", "n_{l+1}", "n_l")),
    ("a^L: n", ("a^{L}", "n", "1")),
])
def test_a_name_with_a_layer_or_sample_label_can_have_a_shape(text, expected):
    name, (rows, cols) = shape_declaration(text)
    assert (name, str(rows), str(cols)) == expected


@pytest.mark.parametrize("claim, expected", [
    (r"(\mathbf{W}^{(2)} \mathbf{h})^\top \mathbf{g} = \mathbf{h}^\top {\mathbf{W}^{(2)}}^\top \mathbf{g}", PROVED),
    (r"(\mathbf{W}^{(2)} \mathbf{h})^\top \mathbf{g} = \mathbf{h}^\top \mathbf{W}^{(2)\top} \mathbf{g}", PROVED),
    (r"(\mathbf{W}^{(2)} \mathbf{h})^\top \mathbf{g} = \mathbf{h}^\top \mathbf{W}^{(2)} \mathbf{g}", UNCHECKED),
    (r"(\mathbf{W}^{(2)} \mathbf{h})^\top \mathbf{g} = 2 \mathbf{h}^\top {\mathbf{W}^{(2)}}^\top \mathbf{g}", FALSE),
    (r"\mathbf{W}^{(2)} \mathbf{W}^{(1)} \mathbf{x} = \mathbf{W}^{(2)} (\mathbf{W}^{(1)} \mathbf{x})", PROVED),
])
def test_labelled_matrices_are_distinct_names(claim, expected):
    lets = [r"\mathbf{W}^{(1)}: h x d", r"\mathbf{W}^{(2)}: q x h", r"\mathbf{x}: d", r"\mathbf{h}: h",
            r"\mathbf{g}: q"]
    step = only(f"$${claim}$$", lets)
    assert step.verdict == expected, step.reason
    if expected == UNCHECKED:
        assert "inner sizes" in step.reason  # a missing transpose is a shape mismatch, never false


def test_the_output_error_in_vector_form_with_sigma_prime_elementwise():
    """Nielsen's BP1 for the quadratic cost: dC/dz^L = (a^L - y) ⊙ σ'(z^L), against SymPy by hand."""
    text = OUTPUT_LAYER + "$$\\frac{\\partial C}{\\partial z^L} = (a^L - y) \\odot \\sigma'(z^L)$$\n"
    steps = check_writeup(text, lets=LAYERS).equations
    assert [s.verdict for s in steps] == [UNCHECKED, UNCHECKED, HOLDS], [s.reason for s in steps]
    assert steps[0].reason.startswith("definition of a^{L}")
    wrong = check_writeup(text.replace("(a^L - y)", "(a^L + y)"), lets=LAYERS).equations[-1]
    assert wrong.verdict == FALSE
    at = point(wrong)
    z, y = matrix(at["z^{L}"]), matrix(at["y"])
    entries = sp.Matrix(sp.symbols(f"z0:{z.rows}"))
    sigma = lambda t: 1 / (1 + sp.exp(-t))  # noqa: E731
    cost = sum((y[i] - sigma(entries[i])) ** 2 for i in range(z.rows)) / 2
    gradient = sp.Matrix([sp.diff(cost, e) for e in entries]).subs(dict(zip(entries, z)))
    claimed = sp.Matrix([(sigma(z[i]) + y[i]) * sigma(z[i]) * (1 - sigma(z[i])) for i in range(z.rows)])
    assert any(abs(sp.N(a - b, 30)) > 1e-20 for a, b in zip(gradient, claimed))


def test_a_derivative_by_a_defined_name_is_by_the_intermediate_variable():
    """dC/da^L with a^L = σ(z^L) defined: a^L is the variable, as ∂C/∂a^L_j is read for scalars."""
    right = only_last(OUTPUT_LAYER + "$$\\frac{\\partial C}{\\partial a^L} = a^L - y$$\n", LAYERS)
    assert right.verdict in (PROVED, HOLDS), right.reason
    wrong = only_last(OUTPUT_LAYER + "$$\\frac{\\partial C}{\\partial a^L} = y - a^L$$\n", LAYERS)
    assert wrong.verdict == FALSE


def test_error_propagation_with_sigma_prime_and_a_diagonal():
    claim = r"((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l) = \mathrm{diag}(\sigma'(z^l)) (w^{l+1})^T \delta^{l+1}"
    assert only(f"$${claim}$$", LAYERS).verdict == HOLDS
    missing = r"(w^{l+1} \delta^{l+1}) \odot \sigma'(z^l) = \mathrm{diag}(\sigma'(z^l)) (w^{l+1})^T \delta^{l+1}"
    step = only(f"$${missing}$$", LAYERS)
    assert step.verdict == UNCHECKED and "n_{l+1}" in step.reason


def test_a_definition_of_a_declared_name_must_have_its_shape():
    step = only_last("$$a^L = \\sigma(z^l)$$\n", LAYERS)
    assert step.verdict == UNCHECKED and "which one is meant" in step.reason, step.reason


def test_a_prime_on_a_general_function_of_a_matrix_is_unchecked():
    step = only(r"$$\frac{\partial C}{\partial z^L} = (a^L - y) \odot \phi'(z^L)$$", LAYERS)
    assert step.verdict == UNCHECKED


def only_last(text: str, lets=()):
    return check_writeup(text, lets=list(lets)).equations[-1]


# --- determinants: vmatrix and \det ------------------------------------------------------------------

@pytest.mark.parametrize("claim, expected", [
    (r"\begin{vmatrix} a & b \\ c & d \end{vmatrix} = ad - bc", PROVED),
    (r"\begin{vmatrix} a & b \\ c & d \end{vmatrix} = ad + bc", FALSE),
    # a determinant is a number, never the matrix itself (this was reported proved)
    (r"\begin{vmatrix} a & b \\ c & d \end{vmatrix} = \begin{bmatrix} a & b \\ c & d \end{bmatrix}", UNCHECKED),
    (r"\begin{Vmatrix} a & b \\ c & d \end{Vmatrix} = ad - bc", UNCHECKED),
    (r"\begin{vmatrix} a & b \end{vmatrix} = a", UNCHECKED),
])
def test_a_vmatrix_is_a_determinant(claim, expected):
    step = only(f"$${claim}$$")
    assert step.verdict == expected, step.reason
    if expected == FALSE:  # re-checked by hand: ad - bc against ad + bc at the printed point
        at = {name: number(value) for name, value in point(step).items()}
        a, b, c, d = (at.get(n, 0) for n in "abcd")
        assert sp.Matrix([[a, b], [c, d]]).det() != a * d + b * c


@pytest.mark.parametrize("claim, expected", [
    (r"\det(A B) = \det(A) \det(B)", HOLDS),
    (r"\det(A^T) = \det(A)", PROVED),
    (r"\det(2 A) = 2 \det(A)", FALSE),
    (r"\begin{vmatrix} A_{11} & A_{12} \\ A_{21} & A_{22} \end{vmatrix} = \det(A)", UNCHECKED),  # n is symbolic
])
def test_det_of_declared_matrices(claim, expected):
    step = only(f"$${claim}$$", ["A: n x n", "B: n x n"])
    assert step.verdict in ((expected, PROVED) if expected == HOLDS else (expected,)), step.reason
    if expected == FALSE:
        at = point(step)
        A = matrix(at["A"])
        assert (2 * A).det() != 2 * A.det()


def test_det_of_a_matrix_that_is_not_square_is_a_shape_mismatch():
    step = only(r"$$\det(A) = 0$$", ["A: m x n"])
    assert step.verdict == UNCHECKED and "not square" in step.reason, step.reason


# --- the identity I and the ones vector \mathbf{1}: sizes forced by the step or declared -------------

IMPLICIT_LETS = ["A: n x n", "X: n x d", "x: n", r"\mu = \frac{1}{n} X^T \mathbf{1}"]


@pytest.mark.parametrize("claim, expected", [
    (r"A I = A", PROVED),
    (r"(A + I)^T = A^T + I", PROVED),
    (r"x^T I x = x^T x", PROVED),
    (r"\mathbf{1}^T X = \mathbf{1}^T X I", PROVED),  # I is d x d here, \mathbf{1} has length n
    (r"X - \mathbf{1} \mu^T = (I - \frac{1}{n} \mathbf{1}\mathbf{1}^T) X", PROVED),  # centering
    (r"\mu^T = \frac{1}{n} \mathbf{1}^T X", PROVED),
    (r"\mathbf{1}^T x = \mathrm{tr}(\mathrm{diag}(x))", HOLDS),
    (r"(A + 2I) x = A x + x", FALSE),
    (r"X - \mathbf{1} \mu^T = (I - \mathbf{1}\mathbf{1}^T) X", FALSE),
    (r"\mathbf{1} X = X", UNCHECKED),  # a column vector times an n x d matrix: no size makes it fit
])
def test_identity_and_ones_take_the_sizes_the_step_forces(claim, expected):
    step = only(f"$${claim}$$", IMPLICIT_LETS)
    assert step.verdict == expected, step.reason
    if expected == FALSE and "mu" in claim:  # by hand: the centred X against X - 1 1^T X at the point
        at = point(step)
        X, n = matrix(at["X"]), int(at["n"])
        ones = sp.ones(n, 1)
        assert X - ones * (X.T * ones / n).T != (sp.eye(n) - ones * ones.T) * X


def test_an_identity_whose_size_nothing_forces_is_unchecked_with_the_declaration():
    step = only(r"$$\mathrm{tr}(I) = \mathrm{tr}(A)$$", ["A: n x n"])
    assert step.verdict == UNCHECKED and '--let "I: n x n"' in step.reason, step.reason
    declared = only(r"$$\mathrm{tr}(I) = n$$", ["A: n x n", "I: n x n"])
    assert declared.verdict == PROVED, declared.reason


def test_an_inverse_times_its_matrix_is_the_identity():
    assert only(r"$$W^{-1} W = I$$", ["W: 3 x 3"]).verdict == PROVED
    assert only(r"$$W^{-1} W = 2 I$$", ["W: 3 x 3"]).verdict == FALSE


def test_a_declared_identity_must_be_square():
    step = only(r"$$A I = A$$", ["A: n x n", "I: n x m"])
    assert step.verdict == UNCHECKED and "square" in step.reason, step.reason
