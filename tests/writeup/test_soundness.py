"""Regression tests for the review of `symderiv check` (wrong verdicts, hostile files, nits).

Every counterexample is re-checked here independently (exact Fractions or
direct summation), never by comparing with symderiv's own printed verdict.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from symderiv.cli import main
from symderiv.algebra import instantiation
from symderiv.writeup import numeric
from symderiv.writeup.latex_parser import parse_side
from symderiv.writeup.meaning import Context, Converter
from symderiv.writeup.report import FALSE, PROVED, UNCHECKED
from symderiv.writeup.verdicts import check_text
from tests.support import cpu_bound


def one_step(latex: str, lets=()):
    report = check_text(f"$$ {latex} $$", False, list(lets))
    (step,) = report.equations
    return step, report


def value(text: str) -> Fraction:
    """A point value as printed: an integer or \\frac{p}{q}, possibly negative."""
    text = text.replace(" ", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("-")
    match = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", text)
    return sign * (Fraction(int(match.group(1)), int(match.group(2))) if match else Fraction(int(text)))


# --- 1. files that are not regular files ------------------------------------------------------

def _run_check(path, timeout=30):
    """``symderiv check PATH`` in a subprocess; a process that blocks (a FIFO opened
    for reading waits for a writer forever) fails the test by its timeout."""
    return subprocess.run([sys.executable, "-m", "symderiv", "check", str(path)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_rejected_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    completed = _run_check(fifo)
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"symderiv: error: {fifo}: not a regular file"
    assert completed.stdout == ""


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_device_is_rejected_without_reading_it():
    completed = _run_check("/dev/zero")
    assert completed.returncode == 2
    assert "not a regular file" in completed.stderr and len(completed.stderr.strip().splitlines()) == 1


def test_a_directory_is_rejected(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_at_most_the_size_limit_plus_one_byte_is_read(tmp_path, capsys, monkeypatch):
    from symderiv import files

    monkeypatch.setattr(files, "MAX_INPUT_BYTES", 10)
    reads = []
    real_fdopen = os.fdopen

    class CountingHandle:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def fileno(self):
            return self.handle.fileno()

        def read(self, size=-1):
            reads.append(size)
            return self.handle.read(size)

    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: CountingHandle(real_fdopen(fd, mode, *a, **k)))
    path = tmp_path / "small.md"
    path.write_text("$$ x = x $$\n")  # 12 bytes: st_size says too large before reading
    assert main(["check", str(path)]) == 2
    assert "too large" in capsys.readouterr().err
    path.write_text("$$x=x$$")
    assert main(["check", str(path)]) == 0
    assert reads == [11]


# --- 2. wrong verdicts --------------------------------------------------------------------------

def test_a_delta_sum_from_2_is_not_proved_and_fails_at_i_equal_1():
    step, _ = one_step(r"\sum_{k=2}^{n} \delta_{ik} a_k = a_i")
    assert step.verdict == FALSE
    point = dict(step.counterexample.point)
    i, n = int(point["i"]), int(point["n"])
    a = {int(k): value(v) for k, v in ((name[3:-1], v) for name, v in point.items() if name.startswith("a_{"))}
    lhs = sum((a.get(k, 0) for k in range(2, n + 1) if k == i), Fraction(0))  # the delta picks k = i
    assert lhs != a[i] and i < 2
    assert Fraction(step.counterexample.lhs_value) == lhs
    assert Fraction(step.counterexample.rhs_value) == a[i]


def test_a_delta_sum_with_a_constant_upper_limit_is_false_beyond_it():
    for seed in range(5):  # free indices are enumerated, not left to a lucky draw
        report = check_text(r"$$ \sum_{k=1}^{3} \delta_{ik} a_k = a_i $$", False, [], seed=seed)
        (step,) = report.equations
        assert step.verdict == FALSE and int(dict(step.counterexample.point)["i"]) > 3


def test_a_delta_sum_over_the_full_range_is_proved_under_the_stated_assumption():
    step, _ = one_step(r"\sum_{k=1}^{n} \delta_{ik} a_k = a_i")
    assert step.verdict == PROVED and "assuming 1 <= i <= n" in step.reason


def test_tiny_polynomial_differences_are_decided_exactly():
    step, _ = one_step(r"x + y = x + y + 10^{-30} x")
    assert step.verdict == FALSE and step.counterexample.exact
    point = dict(step.counterexample.point)
    x, y = value(point["x"]), value(point["y"])
    assert x != 0
    # the values are shown with enough digits to differ, and they are right
    assert step.counterexample.lhs_value != step.counterexample.rhs_value
    assert Fraction(step.counterexample.rhs_value) == x + y + x / 10**30
    assert Fraction(step.counterexample.lhs_value) == x + y


@pytest.mark.parametrize("claim", [r"w = w - \eta g", r"x = x + 10^{-30} x", r"\theta_i = \theta_i - \alpha \delta_i"])
def test_a_name_on_both_sides_of_a_definition_shaped_step_is_never_false(claim):
    r"""``w = w - \eta g`` is an update rule (or an equation to solve), not an identity."""
    step, _ = one_step(claim)
    assert step.verdict == UNCHECKED and "both sides" in step.reason


def test_a_true_inequality_with_a_tiny_gap_is_proved():
    step, _ = one_step(r"x \neq x + 10^{-30}")
    assert step.verdict == PROVED
    step, _ = one_step(r"x \neq x + 10^{-30} - 10^{-30}")
    assert step.verdict == FALSE


def test_fifty_digit_confirmation_sees_a_relative_difference_of_1e_minus_30():
    step, _ = one_step(r"\exp(x) = \exp(x) + 10^{-30} \exp(x)")
    assert step.verdict == FALSE
    point = value(dict(step.counterexample.point)["x"])
    x = sp.Rational(point.numerator, point.denominator)
    assert sp.Float(step.counterexample.rhs_value, 50) - sp.Float(step.counterexample.lhs_value, 50) == \
        pytest.approx(float(sp.exp(x) / 10**30), rel=1e-6)


def test_a_difference_that_simplifies_to_a_tiny_constant_is_false():
    step, _ = one_step(r"\sin(x)^2 + \cos(x)^2 = 1 + 10^{-45}")
    assert step.verdict == FALSE
    step, _ = one_step(r"\sin(x)^2 + \cos(x)^2 = 1")
    assert step.verdict == PROVED


def test_symbolic_sizes_beyond_4_are_sampled():
    assert {7, 12} <= set(numeric.SIZES)
    step, _ = one_step(r"\sum_{k=1}^{n} (k-1)(k-2)(k-3)(k-4) = 0")
    assert step.verdict == FALSE
    n = int(dict(step.counterexample.point)["n"])
    exact = sum((k - 1) * (k - 2) * (k - 3) * (k - 4) for k in range(1, n + 1))
    assert exact != 0 and Fraction(step.counterexample.lhs_value) == exact


def test_random_instantiations_do_not_all_satisfy_a_linear_ode():
    # g'''''' = -g'''' holds for every cubic + c sin: the family must not be that small.
    x = sp.Symbol("x", real=True)
    g = sp.Function("g")
    pair = (sp.diff(g(x), x, 6), -sp.diff(g(x), x, 4))
    functions = instantiation.abstract_functions(pair)
    templates, coefficients = instantiation.generic_templates(functions)
    rng = np.random.default_rng(0)
    outcome = numeric.compare([pair], templates, coefficients, [numeric.Configuration(())], rng)
    assert not outcome.agree
    step, _ = one_step(r"\frac{d^6 g}{dx^6} = -\frac{d^4 g}{dx^4}", ["g = g(x)"])
    assert step.verdict == FALSE
    # the counterexample's function really violates the claim
    (name, definition), = step.counterexample.functions
    assert name == "g" and definition.endswith("e^{x}")
    point = value(dict(step.counterexample.point)["x"])
    assert float(sp.exp(sp.Rational(point.numerator, point.denominator))) == pytest.approx(
        float(step.counterexample.lhs_value), rel=1e-12)


@pytest.mark.parametrize("claim", [r"h(h+1) = h^2 + h", r"f(1 - f) = f - f^2", r"g(g - 2) + 1 = (g - 1)^2"])
def test_a_conventional_function_letter_used_bare_is_a_variable(claim):
    step, _ = one_step(claim)
    assert step.verdict == PROVED


def test_a_name_is_never_both_a_function_and_a_variable_in_a_counterexample():
    step, report = one_step(r"f'(x) = f + 1")  # the prime makes f a function, the bare f a variable
    assert step.verdict == UNCHECKED and "both as a function" in step.reason
    # and a false step's counterexample keeps functions and point names apart
    report = check_text(r"$$ h(h+1) = h^2 $$ $$ \frac{d}{dx} h(x) = h(x) $$", False, [])
    for result in report.equations:
        if result.counterexample is not None:
            functions = {name for name, _ in result.counterexample.functions}
            variables = {name for name, _ in result.counterexample.point}
            assert not functions & variables


@pytest.mark.parametrize("claim", [r"\sum_{i=1}^{n} \sum_{j=1}^{n} \delta_{ij} = n",
                                   r"\sum_{k=1}^{n} \sum_{j=1}^{n} \delta_{jk} = n"])
def test_double_delta_sums_are_proved_without_internal_errors(claim):
    step, _ = one_step(claim)
    assert step.verdict == PROVED and "Error" not in step.reason


def test_a_bare_size_on_one_side_is_evaluated():
    # rhs = n alone used to reach the numeric stage as a Python int
    step, _ = one_step(r"\sum_{k=1}^{n} \sum_{j=1}^{n} \delta_{jk} + 1 = n")
    assert step.verdict == FALSE and "Error" not in step.reason


def test_delta_with_a_numeric_subscript_is_the_kronecker_delta():
    context = Context()
    k = sp.Symbol("k", integer=True)
    assert Converter(context).expression(parse_side(r"\delta_{1k}")) == sp.KroneckerDelta(1, k)
    assert Converter(context).expression(parse_side(r"\delta_{5k}")) == sp.KroneckerDelta(5, k)
    assert Converter(context).expression(parse_side(r"\delta_{12}")) == 0
    step, report = one_step(r"\sum_{k=1}^{3} \delta_{5k} a_k = a_5")
    assert step.verdict == FALSE and not any("delta" in w for w in report.warnings)
    assert dict(step.counterexample.point).keys() == {"a_{5}"}
    step, _ = one_step(r"\sum_{k=1}^{n} \delta_{1k} a_k = a_1")
    assert step.verdict == PROVED


def test_empty_sums_in_counterexamples_are_zero():
    assert numeric.expand_sums(sp.Sum(sp.IndexedBase("a")[sp.Symbol("k", integer=True)],
                                      (sp.Symbol("k", integer=True), 5, 1))) == 0
    k = sp.Symbol("k", integer=True)
    assert numeric.expand_sums(sp.Sum(k, (k, 5, 1))) == 0  # SymPy's doit gives -9
    step, _ = one_step(r"x_1 + x_2 = x_2 + x_1 + \sum_{k=5}^{n} a_k")
    assert step.verdict == FALSE
    point = {name: value(v) for name, v in step.counterexample.point}
    n = int(point["n"])
    lhs = point["x_{1}"] + point["x_{2}"]
    rhs = lhs + sum((point[f"a_{{{k}}}"] for k in range(5, n + 1)), Fraction(0))  # empty when n < 5
    assert Fraction(step.counterexample.lhs_value) == lhs
    assert Fraction(step.counterexample.rhs_value) == rhs


def test_sums_with_numeric_limits_use_the_empty_sum_convention():
    step, _ = one_step(r"\sum_{k=5}^{1} k = 0")
    assert step.verdict == PROVED
    step, _ = one_step(r"\prod_{k=5}^{1} k = 1")
    assert step.verdict == PROVED


# --- 3. nits --------------------------------------------------------------------------------------

def test_a_geq_step_is_shown_with_its_relation(tmp_path, capsys):
    path = tmp_path / "geq.md"
    path.write_text("$$\\sum_{i=1}^{n} x_i^2 \\geq 0$$\n")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert r"\sum_{i=1}^{n} x_i^2 \geq 0" in out and r"x_i^2 = 0" not in out


def test_an_oversized_math_block_is_reported_unchecked(tmp_path, capsys):
    path = tmp_path / "deep.md"
    path.write_text("text\n\n$$" + "(" * 5000 + "x" + ")" * 5000 + " = x$$\n")
    assert main(["check", str(path), "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    (entry,) = data["equations"]
    assert entry["line"] == 3 and entry["verdict"] == UNCHECKED and "longer than 5000" in entry["reason"]


@pytest.mark.parametrize("lets, names", [(["y = y + 1"], "y -> y"),
                                         (["a = b + 1", "b = a"], "a -> b -> a"),
                                         (["u = v^2", "v = w + 1", "w = \\sin(u)"], "u -> v -> w -> u")])
def test_cyclic_let_declarations_are_rejected(tmp_path, capsys, lets, names):
    path = tmp_path / "ok.md"
    path.write_text("$$ x = x $$\n")
    argv = ["check", str(path)]
    for declaration in lets:
        argv += ["--let", declaration]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == \
        f"symderiv: error: --let declarations refer to each other in a cycle: {names}"


def test_acyclic_let_declarations_are_accepted(tmp_path, capsys):
    path = tmp_path / "ok.md"
    path.write_text("$$ \\frac{d s}{d x} = w \\sigma(u) (1 - \\sigma(u)) $$\n")
    argv = ["check", str(path), "--let", r"\sigma(t) = \frac{1}{1 + \exp(-t)}", "--let", "u = w x + b",
            "--let", r"s = \sigma(u)", "--let", "g = g(x)"]
    assert main(argv) == 0
    assert "1 proved" in capsys.readouterr().out


def test_an_inner_range_ending_at_the_outer_variable_keeps_that_variable_bound():
    # canonical renaming used to rename i in the body only, leaving the inner limit's i free
    step, _ = one_step(r"\sum_{i=1}^{n}\sum_{j=1}^{i} a_j = \sum_{j=1}^{n} (n - j + 1) a_j")
    assert step.verdict in (PROVED, "holds")
    step, _ = one_step(r"\sum_{i=1}^{n}\sum_{j=1}^{i} a_j = \sum_{j=1}^{n} (n - j) a_j")
    assert step.verdict == FALSE
    point = {name: value(v) for name, v in step.counterexample.point}
    assert "i" not in point
    n = int(point["n"])
    a = {j: point[f"a_{{{j}}}"] for j in range(1, n + 1)}
    assert Fraction(step.counterexample.lhs_value) == sum(a[j] for i in range(1, n + 1) for j in range(1, i + 1))
    assert Fraction(step.counterexample.rhs_value) == sum((n - j) * a[j] for j in range(1, n + 1))


def test_long_numeric_ranges_are_summed_in_closed_form_or_reported_quickly():
    with cpu_bound(10.0):
        step, _ = one_step(r"\sum_{k=1}^{100000} k = 5000050000")
        assert step.verdict == PROVED
        step, _ = one_step(r"\sum_{k=1}^{100000} k = 5000050001")
        assert step.verdict == FALSE
        step, _ = one_step(r"\sum_{i=1}^{3000} \sum_{j=i}^{3000} a_j = 1")
        assert step.verdict == UNCHECKED and "more than" in step.reason


def test_two_sizes_are_also_sampled_with_different_values():
    # with m = n in every sample, sum_{i<=m} sum_{j<=n} delta_ij = n would pass; it fails for m < n
    step, _ = one_step(r"\sum_{i=1}^{m}\sum_{j=1}^{n}\delta_{ij} = n")
    assert step.verdict == FALSE
    point = dict(step.counterexample.point)
    m, n = int(point["m"]), int(point["n"])
    assert Fraction(step.counterexample.lhs_value) == min(m, n) != n
    step, _ = one_step(r"\sum_{i=1}^{n} \sum_{j=2}^{n} \delta_{ij} = n - 1")
    assert step.verdict in (PROVED, "holds")


@pytest.mark.parametrize(
    "latex", [r"\frac{d y}{d x} = 0", r"\frac{\partial \ell}{\partial x} = 0", r"\frac{d^2 s}{d x^2} = 0"]
)
def test_derivative_of_an_undeclared_symbol_is_not_silently_zero(latex):
    """SymPy differentiates a bare symbol to 0; a verifier must not turn a missing
    declaration into 'proved'."""
    (step,) = check_text(f"$$ {latex} $$", False, []).equations
    assert step.verdict == "unchecked"
    assert "does not depend on x through any declaration" in step.reason
    declared = check_text(f"$$ {latex} $$", False, [r"y = y(x)", r"\ell = \ell(x)", r"s = s(x)"]).equations[0]
    assert declared.verdict == "false"
