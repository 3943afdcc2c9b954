"""The one table of elementary functions: every column present, each checked
against an independent reference (SymPy's derivative, mpmath values, and the
LaTeX reader of ``symderiv check``, whose reading is evaluated at the point of
a counterexample it prints and compared with mpmath)."""

from __future__ import annotations

import re
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

from symderiv.numeric.elementary import BY_NAME, ELEMENTARY, LATEX_OPERATOR_NAMES, READER_WORDS
from symderiv.printing.latex import latex
from symderiv.writeup.notation import KNOWN_FUNCTIONS
from symderiv.writeup.report import FALSE
from symderiv.writeup.verdicts import check_text

x = sp.Symbol("x", real=True)
#: a few roundings: numpy's functions are within ~1 ulp, the reciprocal composites (coth = 1/tanh) round once more
ULPS_4 = 4 * float(np.finfo(np.float64).eps)
IDS = {"ids": lambda e: e.name}


@pytest.mark.parametrize("entry", ELEMENTARY, **IDS)
def test_every_entry_has_every_column(entry):
    assert entry.name and entry.reader_words and entry.samples
    assert entry.latex.count("{}") == 1 and entry.latex_head.startswith("\\")
    assert all(word == word.lower() for word in entry.reader_words)
    assert isinstance(entry.sympy_of(x), sp.Expr) and callable(entry.numpy) and callable(entry.scalar)
    assert len(entry.derivatives(x)) == 3
    assert entry.sympy_class is None or isinstance(entry.sympy_of(x), entry.sympy_class)


def test_names_and_words_are_unique_and_the_reader_uses_the_table():
    assert len(BY_NAME) == len(ELEMENTARY)
    assert sum(len(e.reader_words) for e in ELEMENTARY) == len(READER_WORDS)
    for word, entry in READER_WORDS.items():
        assert KNOWN_FUNCTIONS[word] == entry.name
    assert {"sin", "exp", "arctan"} <= LATEX_OPERATOR_NAMES and "sqrt" not in LATEX_OPERATOR_NAMES


@pytest.mark.parametrize("entry", ELEMENTARY, **IDS)
def test_derivatives_equal_sympys(entry):
    t = sp.Symbol("t", real=True)
    for order, formula in enumerate(entry.derivatives(t), start=1):
        assert sp.simplify(formula - sp.diff(entry.sympy_of(t), t, order)) == 0


@pytest.mark.parametrize("entry", ELEMENTARY, **IDS)
def test_numpy_equals_lambdify_and_mpmath_at_the_samples(entry):
    points = np.array(entry.samples)
    lambdified = sp.lambdify([x], entry.sympy_of(x), "numpy")(points)
    exact = sp.lambdify([x], entry.sympy_of(x), "mpmath")
    with mpmath.workdps(30):
        reference = np.array([float(exact(mpmath.mpf(float(p)))) for p in points])
    np.testing.assert_allclose(entry.numpy(points), lambdified, rtol=ULPS_4, atol=0)
    np.testing.assert_allclose(entry.numpy(points), reference, rtol=ULPS_4, atol=0)
    np.testing.assert_allclose([entry.scalar(float(p)) for p in points], reference, rtol=ULPS_4, atol=0)


def _reading_at_a_point(spelled: str) -> tuple[Fraction, float]:
    """(point, value) of what the LaTeX reader makes of ``spelled`` (in x): the
    false step 1 + F = 2 + F makes it print a counterexample with F's value."""
    (step,) = check_text(f"$$ 1 + {spelled} = 2 + {spelled} $$", False, []).equations
    assert step.verdict == FALSE, (spelled, step.reason)
    text = dict(step.counterexample.point)["x"].replace(" ", "")
    sign = -1 if text.startswith("-") else 1
    match = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", text.lstrip("-"))
    point = sign * (Fraction(int(match.group(1)), int(match.group(2))) if match else Fraction(text.lstrip("-")))
    return point, float(mpmath.mpf(step.counterexample.lhs_value)) - 1.0


def _assert_read_as(entry, spelled: str) -> None:
    point, value = _reading_at_a_point(spelled)
    exact = sp.lambdify([x], entry.sympy_of(x), "mpmath")
    with mpmath.workdps(50):
        expected = float(exact(mpmath.mpf(point.numerator) / point.denominator))
    # the counterexample prints 15 significant digits of 1 + F
    assert value == pytest.approx(expected, rel=1e-13, abs=1e-13), (spelled, point)


@pytest.mark.parametrize("entry", ELEMENTARY, **IDS)
def test_the_latex_spelling_and_the_printed_form_read_back_as_the_function(entry):
    _assert_read_as(entry, entry.latex_of("x"))
    printed = latex(entry.sympy_of(x))
    _assert_read_as(entry, printed)
    if entry.sympy_class is not None and entry.name not in ("exp", "abs"):  # printed as e^{x} and |x|
        assert printed.startswith(entry.latex_head), printed


@pytest.mark.parametrize("word", sorted(READER_WORDS))
def test_every_reader_word_is_read_as_its_function(word):
    _assert_read_as(READER_WORDS[word], rf"\operatorname{{{word}}}(x)")
