"""Issue 12, "never a false alarm": every construct is read with certainty or the step is unchecked.

Counterexamples are re-checked here independently (mpmath at 50 digits, exact Fractions, SymPy built
by hand) and substituted back into every condition and fact of their step.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fractions import Fraction

import mpmath
import pytest

from symderiv.cli import main
from symderiv.writeup.report import FALSE, HOLDS, PROVED, UNCHECKED
from symderiv.writeup.verdicts import check_text

LOGISTIC = r"\sigma(t) = \frac{1}{1+\exp(-t)}"


def steps(text: str, lets=(), assume=()):
    return check_text(text, False, list(lets), assume=list(assume)).equations


def one(latex: str, lets=(), assume=()):
    (step,) = steps(f"$$ {latex} $$", lets, assume)
    return step


def value(text: str) -> Fraction:
    """A point value as printed: an integer, a decimal or \\frac{p}{q}, possibly negative."""
    text = text.replace(" ", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("-")
    match = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", text)
    return sign * (Fraction(int(match.group(1)), int(match.group(2))) if match else Fraction(text))


# --- 1. a false verdict only when the reading is certain --------------------------------------

def test_layer_indices_are_read_as_names_never_as_powers():
    # issue 14: z^l_j is component j of the layer-l name z^{l} (tests/writeup/test_indices.py)
    step = one(r"z^l_j = \sum_k w^l_{jk} a^{l-1}_k + b^l_j")
    assert step.verdict == UNCHECKED and step.reason_kind == "definition" and "{z^{l}}_{j}" in step.reason
    # a superscript that is neither a layer/sample pattern nor declared: unchecked with the declaration
    step = one(r"\frac{\partial z^k_j}{\partial z^k_j} = 1 + z^k")
    assert step.verdict == UNCHECKED and step.reason_kind == "superscript index"
    assert "z^{k}" in step.reason and step.reason_at == (1, 35)
    assert '--let "z^{k}: index"' in step.reason


@pytest.mark.parametrize("latex", [r"x^{(i)} = y^{(i)}", r"a^{[l]} = b", r"\delta^{L} = a - y"])
def test_index_superscripts_make_names(latex):
    step = one(latex)
    assert step.verdict == UNCHECKED and step.reason_kind == "definition"


@pytest.mark.parametrize("latex", [r"W^T x = y", r"W^\top x = y", r"X^{\mathsf{T}} y = z"])
def test_superscripts_that_are_not_powers_are_never_read_as_powers(latex):
    step = one(latex)
    assert step.verdict == UNCHECKED and step.reason_kind in ("superscript index", "transpose")


def test_a_power_whose_letters_are_quantities_in_the_step_is_read():
    assert one(r"\frac{d}{dx} x^n = n x^{n-1}").verdict == PROVED
    assert one(r"\frac{d}{dx} x^n = n x^{n}").verdict == FALSE
    # n only in superscripts: an exponent or an index? unchecked, with the declaration that settles it
    step = one(r"\frac{d}{dx} x^n = x^{n-1}")
    assert step.verdict == UNCHECKED and '--let "x^{n}: power"' in step.reason


def test_declared_superscript_readings():
    # as separate names: z^{l} and z^{l+1} are different quantities
    step = one(r"z^{l+1} - z^{l} = 1", lets=["z^{l}: index"])
    assert step.verdict == FALSE
    step = one(r"x^{m} x^{k} = x^{m+k}", lets=["x^{m}: power"])
    assert step.verdict == PROVED


def test_a_single_letter_unknown_macro_is_not_a_variable():
    step = one(r"\b{x} = x x")
    assert step.verdict == UNCHECKED and "unknown macro \\b" in step.reason


@pytest.mark.parametrize("spelling", [r"\mathrm{sech}", r"\operatorname{sech}", r"\text{sech}", "sech"])
def test_sech_in_any_spelling_is_the_hyperbolic_secant(spelling):
    assert one(fr"{spelling}^2(x) = 1 - \tanh^2(x)").verdict == PROVED
    step = one(fr"{spelling}^2(x) = 1 + \tanh^2(x)")
    assert step.verdict == FALSE
    point = value(dict(step.counterexample.point)["x"])
    with mpmath.workdps(50):
        x = mpmath.mpf(point.numerator) / point.denominator
        assert mpmath.mpf(step.counterexample.lhs_value) == pytest.approx(mpmath.sech(x) ** 2, rel=1e-14)
        assert mpmath.mpf(step.counterexample.rhs_value) == pytest.approx(1 + mpmath.tanh(x) ** 2, rel=1e-14)


@pytest.mark.parametrize("name", [r"\text{sigmoid}", r"\mathrm{sigmoid}", "sigmoid", r"\operatorname{logistic}"])
def test_sigmoid_words_are_the_logistic_function(name):
    assert one(fr"{name}'(x) = {name}(x)(1 - {name}(x))").verdict == PROVED


def test_relu_keeps_its_kink():
    assert one(r"\mathrm{ReLU}(x) = \max(0, x)").verdict == PROVED
    # the derivative exists away from 0 only: agreement there is not a proof
    step = one(r"\frac{d}{dx}\mathrm{ReLU}(x) = \frac{d}{dx}\max(0, x)")
    assert step.verdict == HOLDS and "kink" in step.reason
    step = one(r"\mathrm{ReLU}'(x) = 1")
    assert step.verdict == FALSE
    x = value(dict(step.counterexample.point)["x"])
    assert x < 0  # a point where the derivative exists and is 0, never the kink itself
    assert value(step.counterexample.lhs_value) == 0


@pytest.mark.parametrize("latex, kind", [(r"\mathrm{foo}(x) = x", "unknown word"), (r"loss = x", "unknown word"),
                                         (r"\foo{x} = x", "unknown macro"), (r"\det(A) = 1", "not read yet")])
def test_unknown_words_and_macros_are_unchecked(latex, kind):
    step = one(latex)
    assert step.verdict == UNCHECKED and step.reason_kind == kind


def test_a_general_sigma_is_a_doubt_and_the_suggested_declaration_settles_it():
    step = one(r"\sigma'(x) = \sigma(x)(1-\sigma(x))")
    assert step.verdict == UNCHECKED and step.reason_kind == "uncertain reading"
    (suggestion,) = re.findall(r'--let "([^"]+)"', step.reason)
    assert one(r"\sigma'(x) = \sigma(x)(1-\sigma(x))", lets=[suggestion]).verdict == PROVED
    # false under both readings: a general sigma and the logistic one
    assert one(r"\sigma'(x) = \sigma(x)^2").verdict == FALSE


def test_bold_and_plain_letters_are_different_symbols_with_a_doubt():
    step = one(r"\mathbf{x} + x = 2x")
    assert step.verdict == UNCHECKED and "same symbol" in step.reason


def test_matrix_products_are_not_read_as_scalar_products():
    text = r"$$ W^T x = y $$ and $$ \frac{\partial L}{\partial x} = W \delta $$ $$ \delta W = W \delta $$"
    verdicts = [s.verdict for s in steps(text)]
    assert FALSE not in verdicts and PROVED not in verdicts


# --- 2. scope and binding ----------------------------------------------------------------------

@pytest.mark.parametrize("latex, verdict", [
    (r"\frac{d}{dt}\left(t^2\right) t = 2t \cdot t", PROVED),
    (r"\frac{d}{dt}(t^2) \cdot t = 2t^2", PROVED),
    (r"\frac{d}{dt}(t^2) t = 3t^2", FALSE),
    (r"\frac{d}{dx} x \sin x = \sin x + x \cos x", PROVED),
    (r"\sum_{k=1}^{n} a_k \cdot b_k = \sum_{k=1}^{n} b_k a_k", PROVED),
])
def test_operator_scope(latex, verdict):
    assert one(latex).verdict == verdict


def test_an_ambiguous_operator_scope_is_unchecked():
    step = one(r"\frac{d}{dx} x^2 \cdot y = 2 x y")
    assert step.verdict == UNCHECKED and step.reason_kind == "operator scope"


def test_a_bound_index_is_renamed_apart_from_a_free_one():
    assert one(r"\frac{\partial}{\partial x_j} \sum_j w_j x_j^2 = 2 w_j x_j").verdict == PROVED
    assert one(r"\frac{\partial}{\partial x_j} \sum_j w_j x_j^2 = 2 w_j x_j^2").verdict == FALSE


# --- 3. conditions and assumptions ---------------------------------------------------------------

def test_a_condition_beside_a_display_restricts_the_step_and_its_counterexample():
    assert one(r"\sqrt{x^2} = x, \quad x > 0").verdict in (PROVED, HOLDS)
    assert one(r"\sqrt{x^2} = -x \quad \text{if } x < 0").verdict in (PROVED, HOLDS)
    step = one(r"\sqrt{x^2} = -x \quad \text{if } x > 0")
    assert step.verdict == FALSE
    assert value(dict(step.counterexample.point)["x"]) > 0  # substituted back: the condition holds
    assert "x > 0" in step.counterexample.restrictions


def test_conditions_in_the_sentence_before_and_after_a_display():
    text = (r"If $i = j$, then $$ \frac{\partial x_j}{\partial x_i} = 1 $$ and "
            "\n\n" r"$$ \frac{\partial x_j}{\partial x_i} = 0 $$ for $i \neq j$.")
    found = steps(text)
    assert [s.verdict for s in found] == [PROVED, PROVED]
    assert found[0].conditions == ("i = j",) and found[1].conditions == (r"i \neq j",)


def test_a_cases_otherwise_row_is_the_negation_of_the_other_row():
    (first, second) = steps(r"$$ |x| = \begin{cases} x & x \geq 0 \\ -x & \text{otherwise} \end{cases} $$")
    assert first.verdict in (PROVED, HOLDS) and second.verdict in (PROVED, HOLDS)
    (first, second) = steps(r"$$ |x| = \begin{cases} x & x \geq 0 \\ x & \text{otherwise} \end{cases} $$")
    assert second.verdict == FALSE and value(dict(second.counterexample.point)["x"]) < 0


def test_an_assumed_fact_is_used_by_the_proof_and_respected_by_the_counterexample():
    claim = r"\sum_{k=1}^{n} t_k y_i - t_i = y_i - t_i"
    assert one(claim).verdict == FALSE
    assert one(claim, assume=[r"\sum_{k=1}^{n} t_k = 1"]).verdict == PROVED
    step = one(r"\sum_{k=1}^{n} t_k^2 = 1", assume=[r"\sum_{k=1}^{n} t_k = 1"])
    assert step.verdict == FALSE
    point = {name: value(v) for name, v in step.counterexample.point}
    n = int(point["n"])
    ts = [point[f"t_{{{k}}}"] for k in range(1, n + 1)]
    assert sum(ts) == 1  # the fact holds at the counterexample
    assert sum(t * t for t in ts) == value(step.counterexample.lhs_value) != 1


def test_a_fact_in_the_text_applies_to_its_section():
    text = (r"Since $\sum_{k=1}^{n} t_k = 1$, $$ \sum_{k=1}^{n} t_k y_i = y_i $$" "\n\n# Next\n\n"
            r"$$ \sum_{k=1}^{n} t_k y_i = y_i $$")
    found = steps(text)
    assert [s.verdict for s in found[-2:]] == [PROVED, FALSE]


def test_an_unreadable_condition_never_makes_a_step_false():
    step = one(r"\sqrt{x^2} = -x \quad \text{if } \mathbb{1}(x) = 0")
    assert step.verdict == UNCHECKED and step.reason_kind == "condition"


# --- 4. structure ----------------------------------------------------------------------------------

def test_arrays_boxes_chains_and_continued_displays_are_all_read():
    text = "\n\n".join([
        r"$$ \begin{array}{rcl} (a+b)^2 &=& a^2 + 2ab + b^2 \\ &=& b^2 + 2ab + a^2 \end{array} $$",
        r"$$ \boxed{ \frac{d}{dx} x^2 = 2x } $$",
        r"$$ a + b = b + a \Rightarrow 2(a + b) = 2a + 2b \implies a - a = 0 $$",
        r"$$ y = (x+1)^2 $$", r"$$ = x^2 + 2x + 1 $$",
        r"$$ \left. \frac{d}{dx} x^3 \right|_{x=2} = 12 $$",
    ])
    verdicts = [(s.line, s.verdict) for s in steps(text)]
    assert verdicts == [(1, PROVED), (1, PROVED), (3, PROVED), (5, PROVED), (5, PROVED), (5, PROVED),
                        (7, UNCHECKED), (9, PROVED), (11, PROVED)]
    assert one(r"\left. \frac{d}{dx} x^3 \right|_{x=2} = 11").verdict == FALSE


def test_a_relation_inside_an_unread_construct_is_reported(tmp_path, capsys):
    (step,) = steps(r"$$ \underbrace{a = b}_{\text{x}} $$")
    assert step.verdict == UNCHECKED and "underbrace" in step.reason


def test_a_file_with_displays_but_no_checkable_step_says_so(tmp_path, capsys):
    path = tmp_path / "only.md"
    path.write_text("$$ W^T x = y $$\n\n$$ \\sigma(z) $$\n")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == f"{path}: no checkable step (every step is unchecked; the reasons say why)"
    path.write_text("$$ \\sigma(z) $$\n")
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: 1 display, none holds an equation to check"


def test_an_unclosed_display_is_reported():
    (step,) = steps("text\n\n$$ a = b\n\nmore text")
    assert step.verdict == UNCHECKED and "never closed" in step.reason


# --- 5. declarations --------------------------------------------------------------------------------

def test_a_file_definition_refines_a_declared_dependency():
    text = r"Let $g(x) = x^2$. Then $$ \frac{dg}{dx} = 2x $$"
    found = steps(text, lets=["g = g(x)"])
    assert [s.verdict for s in found] == [UNCHECKED, PROVED] and "refines" in found[0].reason


def test_a_later_definition_applies_from_its_line_on():
    text = "$$ u = x $$\n$$ \\frac{du}{dx} = 1 $$\n$$ u = x^2 $$\n$$ \\frac{du}{dx} = 2x $$\n"
    assert [s.verdict for s in steps(text)] == [UNCHECKED, PROVED, UNCHECKED, PROVED]


def test_the_report_says_where_each_meaning_came_from():
    text = "<!-- symderiv: let g = g(x) -->\n$$ u = w x $$\n$$ \\frac{d}{dx}(u g) = w g + u g' $$\n"
    step = steps(text, lets=["w = 3"])[-1]
    meanings = {m.name: (m.kind, m.source) for m in step.meanings}
    assert meanings["u"] == ("definition", "line 2")
    assert meanings["w"] == ("definition", "--let")
    assert meanings["g"] == ("function of x", "line 1")
    assert meanings["x"] == ("independent variable", "undeclared")


def test_the_json_report_has_what_a_renderer_needs(tmp_path, capsys):
    path = tmp_path / "one.md"
    path.write_text("text\n\n$$ \\frac{d}{dx} x^2 = x $$\n")
    assert main(["check", str(path), "--json"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)["equations"]
    assert entry["line"] == 3 and entry["column"] == 21 and entry["span"] == [9, 29]
    assert {"reason_kind", "reason_at", "conditions", "meanings", "counterexample", "difference"} <= set(entry)


# --- 6. budgets --------------------------------------------------------------------------------------

def test_timeout_is_cpu_time_and_the_old_option_name_still_works(tmp_path, capsys):
    path = tmp_path / "slow.md"
    path.write_text(r"$$ \frac{d^{8}}{dx^{8}} \exp(\exp(\exp(\exp(x^{60})))) = 1 $$" "\n")
    for option in ("--timeout", "--step-timeout"):
        assert main(["check", str(path), option, "0.5", "--json"]) == 0
        (entry,) = json.loads(capsys.readouterr().out)["equations"]
        assert entry["verdict"] == UNCHECKED and "CPU time" in entry["reason"]


# --- the Python API -----------------------------------------------------------------------------------

def test_check_writeup_api_takes_text_or_a_path(tmp_path):
    import symderiv

    report = symderiv.check_writeup(r"$$ (a+b)^2 = a^2 + 2ab + b^2 $$")
    assert isinstance(report, symderiv.CheckReport) and report.counts()["proved"] == 1
    path = tmp_path / "w.tex"
    path.write_text("\\begin{equation} x^2 - 1 = (x-1)(x+1) \\end{equation}\n")
    for given in (path, str(path)):
        assert symderiv.check_writeup(given).equations[0].verdict == PROVED
    with pytest.raises(symderiv.errors.InputError if hasattr(symderiv, "errors") else Exception):
        symderiv.check_writeup("$$ x = x $$", lets=["g = (("])


def test_importing_symderiv_does_not_import_sympy():
    code = "import sys, symderiv; symderiv.check_writeup; assert 'sympy' not in sys.modules; print('ok')"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.stdout.strip() == "ok", completed.stderr


def test_softmax_components_are_read():
    assert one(r"\frac{\partial}{\partial o_i} \log \mathrm{softmax}(\mathbf{o})_j = \delta_{ij} "
               r"- \mathrm{softmax}(\mathbf{o})_i").verdict == PROVED
    assert one(r"\text{softmax}(z)_j = \frac{\exp(z_j)}{\sum_{k=1}^{n} \exp(z_k)}").verdict == PROVED
    assert one(r"\mathrm{softmax}(z) = y").verdict == UNCHECKED


def test_a_where_fact_that_is_not_a_definition_is_a_fact():
    text = (r"$$ \sum_{k=1}^{n} t_k y_i - t_i = y_i - t_i $$ where $\sum_{k=1}^{n} t_k = 1$." "\n\n"
            r"$$ \sum_{k=1}^{n} t_k^2 y_i = y_i $$")
    first, fact, last = steps(text)
    assert first.verdict == PROVED and fact.role == "fact" and fact.verdict == UNCHECKED
    assert last.verdict == FALSE
    point = {name: value(v) for name, v in last.counterexample.point}
    n = int(point["n"])
    assert sum(point[f"t_{{{k}}}"] for k in range(1, n + 1)) == 1


@pytest.mark.parametrize("written", [r",\ i \neq j", r", \; i \neq j", r"\quad (i \neq j)", r"\text{ for } i \neq j",
                                     r"\quad (\text{for } i \neq j)", r"\qquad \text{if } i \neq j."])
def test_conditions_beside_a_display_in_their_usual_spellings(written):
    step = one(r"\frac{\partial x_j}{\partial x_i} = 0 " + written)
    assert step.verdict == PROVED and step.conditions == (r"i \neq j",)


def test_a_function_word_applies_to_a_following_sum():
    assert one(r"\frac{\partial}{\partial z_i} \log \sum_j e^{z_j} = \frac{e^{z_i}}{\sum_j e^{z_j}}").verdict == PROVED
