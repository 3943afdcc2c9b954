"""Superscript indices on names (issue 14, item 1) and typo hints (item 5).

Each reading is checked on a small realistic writeup; the values the verdicts rest on are checked against
SymPy independently (the derivative of a logistic sigmoid, a sum written out).
"""

from __future__ import annotations

import pytest
import sympy as sp

from symderiv.writeup.indices import index_letters_declaration
from symderiv.writeup.report import FALSE, HOLDS, PROVED, UNCHECKED
from symderiv.writeup.typos import one_edit
from symderiv.writeup.verdicts import check_text

LOGISTIC = r"\sigma(t) = \frac{1}{1+\exp(-t)}"


def steps(text: str, lets=()):
    return check_text(text, False, list(lets)).equations


def by_line(text: str, lets=()):
    found = {}
    for step in steps(text, lets):
        found.setdefault(step.line, []).append(step)
    return found


def one(latex: str, lets=()):
    (step,) = steps(f"$$ {latex} $$", lets)
    return step


LAYER_WRITEUP = r"""
Each neuron applies the sigmoid: $a^l_j = \sigma(z^l_j)$.

$$z^{l+1}_k = \sum_j w^{l+1}_{kj} a^l_j + b^{l+1}_k$$

$$\frac{\partial z^{l+1}_k}{\partial z^l_j} = w^{l+1}_{kj} \sigma'(z^l_j)$$

$$\frac{\partial z^{l+1}_k}{\partial b^{l+1}_k} = 1$$

$$\frac{\partial z^{l+1}_k}{\partial w^{l+1}_{kj}} = a^l_j$$

$$\frac{\partial z^{l+1}_k}{\partial w^{l+1}_{kj}} = \sigma(z^l_k)$$

$$\frac{\partial (a^l_j)^2}{\partial z^l_j} = 2 a^l_j (1 - a^l_j) a^l_j$$
"""


def test_layer_indices_are_names_and_the_backprop_steps_are_proved():
    found = by_line(LAYER_WRITEUP, [LOGISTIC])
    assert found[2][0].verdict == UNCHECKED and found[2][0].reason_kind == "definition"
    assert found[4][0].verdict == UNCHECKED and found[4][0].reason_kind == "definition"
    assert found[6][0].verdict == PROVED
    assert found[8][0].verdict == PROVED
    assert found[10][0].verdict == PROVED
    wrong = found[12][0]  # k for j: \sigma(z^l_k) is another neuron's activation
    assert wrong.verdict == FALSE
    # (a^l_j)^2 is a power of the indexed name: 2 a σ'(z) with σ' = σ(1 - σ) (checked by SymPy here)
    t = sp.Symbol("t")
    logistic = 1 / (1 + sp.exp(-t))
    assert sp.simplify(sp.diff(logistic ** 2, t) - 2 * logistic * (1 - logistic) * logistic) == 0
    assert found[14][0].verdict == PROVED


def test_layer_l_and_l_plus_1_are_different_symbols():
    step = one(r"\frac{\partial a^{l+1}_j}{\partial a^l_j} = 1")
    assert step.verdict == UNCHECKED and step.reason_kind == "declaration needed"
    assert "{a^{l+1}}_{j}" in step.reason and "{a^{l}}_{j}" in step.reason


def test_the_same_layer_written_with_and_without_braces_is_one_name():
    assert one(r"a^l_j - a^{l}_j = 0").verdict == PROVED
    assert one(r"w^{l + 1}_{jk} - w^{l+1}_{jk} = 0").verdict == PROVED


def test_a_power_of_an_indexed_name_needs_brackets():
    # a^2 on a name the document uses with layer indices: a power or layer 2? unchecked, as before
    found = by_line("$$a^l_j = b^l_j$$\n\n$$a^2 = a a$$\n")
    assert found[3][0].verdict == UNCHECKED and found[3][0].reason_kind == "superscript index"
    assert one(r"(a^l_j)^2 - a^l_j a^l_j = 0").verdict == PROVED


def test_the_backprop_error_is_not_a_kronecker_delta():
    # \delta^l_j (one index, a layer superscript) is a name; \delta_{jk} is Kronecker's delta
    found = by_line(r"""
$$\sum_k \delta_{jk} \delta^l_k = \delta^l_j$$

$$\sum_k \delta_{jk} \delta^l_k = \delta^l_k$$
""")
    assert found[2][0].verdict == PROVED
    assert found[4][0].verdict == FALSE


SAMPLE_WRITEUP = r"""
The mean squared error over $n$ samples is

$$J = \frac{1}{n}\sum_{i=1}^{n}(\hat{y}^{(i)} - y^{(i)})^2$$

$$\frac{1}{n}\sum_{i=1}^{n}(\hat{y}^{(i)} - y^{(i)})^2 = \frac{1}{n}\sum_{i=1}^{n}\left((\hat{y}^{(i)})^2 - 2\hat{y}^{(i)}y^{(i)} + (y^{(i)})^2\right)$$

$$\sum_{i=1}^{n} y^{(i)} = y^{(1)} + \sum_{i=2}^{n} y^{(i)}$$

$$\sum_{i=1}^{n} y^{(i)} = n y^{(i)}$$

$$\frac{d}{d \hat{y}^{(i)}} (\hat{y}^{(i)} - y^{(i)})^2 = 2(\hat{y}^{(i)} - y^{(i)})$$
"""


def test_sample_indices_are_bound_by_the_sums_over_them():
    found = by_line(SAMPLE_WRITEUP)
    assert found[4][0].reason_kind == "definition"
    assert found[6][0].verdict == PROVED
    assert found[8][0].verdict in (PROVED, HOLDS)  # the first term of the sum, y^{(1)}, is entry 1
    wrong = found[10][0]  # a sum over i is not n times one of its terms
    assert wrong.verdict == FALSE
    assert found[12][0].verdict == PROVED


def test_a_sum_over_a_layer_letter_is_not_read_as_a_constant():
    step = one(r"\sum_{l=1}^{L} a^{l} = L a^{l}")
    assert step.verdict == UNCHECKED and step.reason_kind == "superscript index"


def test_a_bracketed_superscript_on_a_function_stays_a_derivative_order():
    step = one(r"f^{(2)}(x) = f''(x)")
    assert step.verdict == UNCHECKED


def test_an_index_letter_declaration():
    assert index_letters_declaration("index: p, q") == {"p", "q"}
    assert index_letters_declaration(r"indices: \mu \nu") == {"mu", "nu"}
    assert index_letters_declaration("W: m x n") is None
    found = by_line("$$E^p = (t^p - o^p)^2$$\n\n$$\\frac{\\partial E^p}{\\partial o^p} = -2(t^p - o^p)$$\n",
                    ["index: p"])
    assert found[3][0].verdict == PROVED
    # without the declaration p is a power or an index: unchecked, never guessed
    found = by_line("$$E^p = (t^p - o^p)^2$$\n\n$$\\frac{\\partial E^p}{\\partial o^p} = -2(t^p - o^p)$$\n")
    assert found[3][0].verdict == UNCHECKED


def test_a_definition_of_one_layer_is_not_taken_as_a_claim_about_another():
    found = by_line(r"""
Since $a^L_j = \sigma(z^L_j)$ in the output layer:

$$\sum_j w_{kj} a^l_j = \sum_j w_{kj} \sigma(z^l_j)$$
""", [LOGISTIC])
    step = found[4][0]
    assert step.verdict == UNCHECKED and step.reason_kind == "superscript index"
    assert "a^{l}" in step.reason and "a^{L}" in step.reason


# --- typo hints ----------------------------------------------------------------------------------

def test_one_edit():
    assert one_edit("q", "g") and one_edit("x", "X") and one_edit("v", "w")
    assert not one_edit("x", "g") and not one_edit("q", "q") and not one_edit("b", "n")
    assert one_edit(r"\mathbf{u}", r"\mathbf{v}") and not one_edit(r"\mathbf{y}", r"\mathbf{p}")
    assert not one_edit(r"\mathbf{u}", "v") and not one_edit(r"\hat{u}", r"\mathbf{v}")
    assert one_edit("alpha", "alpah") and one_edit("lambda", "lamda") and not one_edit("alpha", "beta")


TYPO_WRITEUP = r"""
$$\frac{\partial \ell}{\partial g} = 2 g$$

$$\frac{\partial \ell}{\partial q} = 2 g$$

$$\frac{\partial \ell}{\partial h} = 1$$
"""


def test_a_typo_gets_a_hint_and_the_verdict_under_it_never_as_the_verdict():
    lets = [r"\ell = \ell(g, h)", r"\ell = g^2 + h"]
    found = by_line(TYPO_WRITEUP, [r"\ell = g^2 + h"])
    assert found[2][0].verdict == PROVED and found[6][0].verdict == PROVED
    step = found[4][0]
    assert step.verdict == UNCHECKED and step.reason_kind == "typo"
    assert "q is not declared — did you mean g?" in step.reason
    assert "with g for q the step is true" in step.reason
    del lets


def test_a_name_used_in_several_steps_is_notation_not_a_typo():
    found = by_line("$$u = x + 1$$\n\n$$v + 1 = u + 1$$\n\n$$v = u - 2$$\n\n$$w = v$$\n")
    assert all(step.reason_kind != "typo" for line in found.values() for step in line)


def test_only_names_the_declarations_use_are_suggested_and_indices_are_never_suspected():
    # independent one-line examples: v is one slip from w, but nothing declares w: false, as written
    found = by_line("$$\\frac{d}{dx} (w x + b) = v$$\n")
    assert found[1][0].verdict == FALSE
    # k is an index of the document (a subscript): never a typo for j
    found = by_line("$$y_j = x_j^2$$\n\n$$\\frac{\\partial y_j}{\\partial x_j} = 2 x_j$$\n\n$$k \\neq j$$\n")
    assert all(step.reason_kind != "typo" for line in found.values() for step in line)


@pytest.mark.parametrize("latex", [r"\frac{\partial \ell}{\partial q} = 2 q"])
def test_a_proved_step_keeps_its_verdict_whatever_the_name(latex):
    found = by_line(TYPO_WRITEUP.replace(r"\frac{\partial \ell}{\partial q} = 2 g", latex),
                    [r"\ell = g^2 + h + q^2"])
    assert found[4][0].verdict == PROVED


RNN_WRITEUP = r"""
The hidden state is $h^{(t)} = \tanh(w h^{(t-1)} + x^{(t)})$.

$$\frac{\partial h^{(t)}}{\partial h^{(t-1)}} = w (1 - (h^{(t)})^2)$$

$$\frac{\partial h^{(t)}}{\partial h^{(t-1)}} = w (1 + (h^{(t)})^2)$$
"""


def test_a_conventional_function_letter_never_applied_carries_indices():
    # h is f, g, h's h, but the text never writes h(...): h^{(t)} is a hidden state, not a derivative order
    found = by_line(RNN_WRITEUP)
    assert found[2][0].reason_kind == "definition"
    assert found[4][0].verdict == PROVED
    t, w, x = sp.symbols("t w x")  # d/dh tanh(w h + x) = w (1 - tanh^2), by SymPy
    assert sp.simplify(sp.diff(sp.tanh(w * t + x), t) - w * (1 - sp.tanh(w * t + x) ** 2)) == 0
    assert found[6][0].verdict == FALSE


def test_a_derivative_between_entries_of_a_summed_family_decides_nothing():
    # summed over t, h^{(t)} is entry t of one family: are the entries independent samples or a recurrence?
    found = by_line(r"""
$$L = \sum_{t=1}^{T} (h^{(t)})^2$$

$$\frac{\partial h^{(t)}}{\partial h^{(t-1)}} = 0$$

$$\frac{\partial L}{\partial h^{(t)}} = 2 h^{(t)}$$

$$\frac{\partial (h^{(t)})^2}{\partial h^{(t)}} = 2 h^{(t)}$$
""")
    for line in (4, 6):
        assert found[line][0].verdict == UNCHECKED and found[line][0].reason_kind == "superscript index"
    assert found[8][0].verdict == PROVED
