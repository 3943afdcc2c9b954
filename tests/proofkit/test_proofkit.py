"""The proof checker: built-in proofs, verdicts, corrupted steps, user proof files."""

from __future__ import annotations

import dataclasses
import importlib
import textwrap

import pytest
import sympy as sp

from symderiv.errors import InputError
from symderiv.proofkit import BUILTIN_PROOFS, Proof, Step, check_proof, load_proofs


@pytest.fixture(scope="module")
def builtin_results():
    return {p.name: (p, check_proof(p, points=64, seed=1)) for p in load_proofs(None)}


def test_every_builtin_is_importable_as_symderiv_proofs_module():
    for name, module in BUILTIN_PROOFS:
        loaded = importlib.import_module(f"symderiv.proofs.{module}")
        assert loaded.PROOF.name == name


def test_every_builtin_proof_is_proved_exactly(builtin_results):
    for name, (proof, result) in builtin_results.items():
        assert result.ok and result.expected_ok, result.summary
        assert all(s.verdict == "proved" for s in result.steps), [s.describe() for s in result.steps]
        assert result.max_error < 1e-9, name


def test_required_claims_are_present(builtin_results):
    names = set(builtin_results)
    assert {
        "p1a-backprop-first-order",
        "p1b-second-derivative",
        "p1b-naive-differs",
        "p2-softmax-jacobian",
        "p2-softmax-vjp-fixed-n",
        "p2-softmax-vjp-symbolic-n",
    } <= names
    fixed = builtin_results["p2-softmax-vjp-fixed-n"][0]
    assert fixed.sizes == tuple(range(1, 33))
    symbolic = builtin_results["p2-softmax-vjp-symbolic-n"][0]
    assert symbolic.method == "indexed" and symbolic.size_symbol.is_Symbol
    assert any(isinstance(s.expr, sp.Sum) for s in symbolic.steps)


def test_naive_differs_gives_both_values_of_the_counterexample(builtin_results):
    proof, result = builtin_results["p1b-naive-differs"]
    differ = [s for s in result.steps if s.relation == "!="]
    assert differ and all(s.verdict == "proved" for s in differ)
    # the concrete counterexample g = x², h = x³, f = y² + y·z at x = 1: naive 4, exact 32
    concrete = next(s for s in differ if s.counterexample.assignment == ())
    assert (concrete.counterexample.previous_value, concrete.counterexample.step_value) == (4.0, 32.0)
    x = sp.Symbol("x")
    assert sp.diff(x**4 + x**5, x, 2).subs(x, 1) == 32  # independent reference


def _replace_step(proof: Proof, index: int, expr) -> Proof:
    steps = list(proof.steps)
    steps[index - 1] = dataclasses.replace(steps[index - 1], expr=expr)
    return dataclasses.replace(proof, steps=tuple(steps))


def _first_false_step(result):
    """The corrupted step is the first false one (the step after it may fail too)."""
    false = [s for s in result.steps if s.verdict == "false"]
    assert false, [s.describe() for s in result.steps]
    assert all(s.verdict == "proved" for s in result.steps if s.index < false[0].index)
    return false[0]


def test_dropping_the_mixed_term_is_caught_at_that_step():
    from symderiv.problems.notation import f_y, f_yy, f_z, f_zz, g1, g2, h1, h2

    proof = load_proofs(["p1b-second-derivative"])[0]
    dropped = f_yy * g1**2 + f_zz * h1**2 + f_y * g2 + f_z * h2  # no 2·f_yz·g′·h′
    result = check_proof(_replace_step(proof, 5, dropped), points=64)
    bad = _first_false_step(result)
    assert bad.index == 5 and bad.justification == proof.steps[4].why
    example = bad.counterexample
    assert example is not None and abs(example.previous_value - example.step_value) > 1e-6
    assert [name for name, _ in example.assignment] == ["x"]
    assert {name for name, _ in example.functions} == {"f(t_1, t_2)", "g(t)", "h(t)"}
    assert "step 5" in result.summary and "counterexample" in result.summary
    assert not result.ok


def test_flipping_a_sign_in_the_softmax_rule_is_caught_for_the_smallest_n():
    module = importlib.import_module("symderiv.proofs.p2_softmax_vjp_fixed_n")
    proof = module.vjp_proof(4)
    ys = sp.symbols("y_1:5")
    us = sp.symbols("u_1:5")
    flipped = sp.Matrix([ys[i] * (us[i] + module.gvdot) for i in range(4)])
    result = check_proof(_replace_step(proof, 3, flipped), points=32)
    bad = _first_false_step(result)
    assert bad.index == 3 and "gvdot" in bad.justification
    names = [name for name, _ in bad.counterexample.assignment]
    assert "entry" in names and {"x_1", "u_1"} <= set(names)


def test_swapping_an_index_in_the_symbolic_proof_is_caught():
    proof = load_proofs(["p2-softmax-vjp-symbolic-n"])[0]
    module = importlib.import_module("symderiv.proofs.p2_softmax_vjp_symbolic_n")
    i, k, n, u, y = module.i, module.k, module.n, module.u, module.y
    swapped = u[i] * y[i] - y[i] * sp.Sum(u[k] * y[i], (k, 1, n))  # y_k -> y_i inside the sum
    result = check_proof(_replace_step(proof, 6, swapped), points=32)
    bad = _first_false_step(result)
    assert bad.index == 6 and "linearity" in bad.justification
    assignment = dict(bad.counterexample.assignment)
    assert assignment["n"] >= 2  # with n = 1 the swap is harmless; a witness needs n ≥ 2


def test_a_wrong_not_equal_claim_is_false_and_an_unprovable_truth_only_holds():
    x = sp.Symbol("x")
    proof = Proof(
        name="trig",
        title="t",
        claim="c",
        steps=(
            Step(sp.sin(x) ** 2 + sp.cos(x) ** 2, "start", "start"),
            Step(sp.Integer(1), "Pythagoras"),  # true, but not a rational-function identity
            Step(sp.Integer(1), "claimed to differ", "!="),
        ),
    )
    result = check_proof(proof, points=50)
    assert [s.verdict for s in result.steps] == ["holds", "false"]
    assert not result.ok


def test_user_proof_file_loads_and_checks(tmp_path):
    path = tmp_path / "my_proof.py"
    path.write_text(
        textwrap.dedent(
            """
            import sympy as sp
            from symderiv.proofkit import Proof, Step

            x = sp.Symbol("x")
            PROOF = Proof(
                name="square-rule",
                title="Derivative of a square",
                claim="d/dx (x^2 + 1)^2 = 4x(x^2 + 1)",
                steps=(
                    Step(sp.Derivative((x**2 + 1) ** 2, x), "definition", "start"),
                    Step(2 * (x**2 + 1) * 2 * x, "chain rule"),
                    Step(4 * x**3 + 4 * x, "expand"),
                ),
            )
            """
        )
    )
    (proof,) = load_proofs([str(path)])
    result = check_proof(proof)
    assert result.ok and [s.verdict for s in result.steps] == ["proved", "proved"]


@pytest.mark.parametrize(
    "source, message",
    [
        ("PROOF = (\n", "syntax error"),
        ("x = 1\n", "defines no PROOF"),
        ("PROOF = 3\n", "PROOF is a int"),
        ("raise RuntimeError('boom')\n", "line 1: RuntimeError: boom"),
        (
            "import sympy as sp\nfrom symderiv.proofkit import Proof, Step\n"
            "PROOF = Proof(name='a', title='t', claim='c', steps=(Step(sp.Integer(1), 'w', '<'), Step(sp.Integer(1), 'w')))\n",
            "relation '<'",
        ),
        (
            "from symderiv.proofkit import Proof, Step\n"
            "PROOF = Proof(name='a', title='t', claim='c', steps=(Step('x + 1', 'w', 'start'), Step('x', 'w')))\n",
            "step 1 is not a SymPy expression",
        ),
    ],
)
def test_malformed_proof_files_are_one_line_input_errors(tmp_path, source, message):
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(InputError) as info:
        load_proofs([str(path)])
    text = str(info.value)
    assert message in text and "\n" not in text and str(path) in text


def test_unknown_names_and_missing_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="unknown proof 'nope'"):
        load_proofs(["nope"])
    with pytest.raises(InputError, match="no such proof file"):
        load_proofs([str(tmp_path / "missing.py")])
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    with pytest.raises(InputError, match="ending in .py"):
        load_proofs([str(text_file)])


def test_a_difference_too_small_for_float64_is_still_false(tmp_path):
    """x and x + 10^-40·x agree in float64 at every point, but their exact
    difference is a nonzero polynomial: '=' is false and '!=' is proved."""
    import sympy as sp

    from symderiv.proofkit import Proof, Step, check_proof

    x = sp.Symbol("x")
    tiny = x + sp.Rational(1, 10**40) * x
    equal = Proof(name="tiny", title="tiny", claim="x = x + 1e-40 x", steps=(Step(x, "start"), Step(tiny, "tiny")))
    result = check_proof(equal, points=50)
    assert not result.ok
    step = result.steps[-1]
    assert step.verdict == "false"
    example = step.counterexample
    at = {x: sp.Rational(repr(value)) for name, value in example.assignment if name == "x"}
    # the reference: SymPy's exact difference at the printed point
    assert sp.Rational(example.exact_difference) == (x - tiny).xreplace(at) != 0
    assert f"previous − this = {example.exact_difference}" in example.describe()
    different = Proof(
        name="tiny-ne", title="tiny", claim="x != x + 1e-40 x",
        steps=(Step(x, "start"), Step(tiny, "tiny", relation="!=")),
    )
    assert check_proof(different, points=50).steps[-1].verdict == "proved"


def test_a_wrong_step_whose_difference_drops_a_symbol_gets_a_full_counterexample(tmp_path, capsys):
    """The wrong proof of docs/proofs.md: x·(w·x − 3) then x·(w·x + 3). Their exact
    difference, −6x, has no w; the witness must still give w a value and both
    steps' values there (this crashed with a TypeError once)."""
    from symderiv.cli import main

    path = tmp_path / "my_wrong_proof.py"
    path.write_text(
        textwrap.dedent(
            """
            import sympy as sp
            from symderiv.proofkit import Proof, Step

            x, w = sp.Symbol("x"), sp.Symbol("w")
            PROOF = Proof(
                name="mse-gradient",
                title="Gradient of the squared error of a linear model",
                claim="dl/dw = x (w x - 3)",
                steps=(
                    Step(sp.Derivative((w * x - 3) ** 2 / 2, w), "the loss", "start"),
                    Step((w * x - 3) * sp.Derivative(w * x - 3, w), "chain rule"),
                    Step(x * (w * x + 3), "d(w x - 3)/dw = x"),
                ),
            )
            """
        )
    )
    assert main(["verify", "--proof", str(path)]) == 1
    out = capsys.readouterr().out
    (witness,) = [line for line in out.splitlines() if "FAILED at step 3" in line]
    # the values printed must be the two steps at the printed point, recomputed here exactly
    from fractions import Fraction

    point = {"w": Fraction(1, 2), "x": Fraction(1, 2)}
    assert "counterexample at w = 0.5, x = 0.5" in witness
    previous = point["x"] * (point["w"] * point["x"] - 3)
    this = point["x"] * (point["w"] * point["x"] + 3)
    assert f"previous step = {float(previous):.12g}, this step = {float(this):.12g}" in witness
    assert f"previous − this = {previous - this}" in witness


@pytest.mark.parametrize("hidden", ["unknown function", "pole at 1"])
def test_an_exact_witness_stands_even_where_the_steps_have_no_value(hidden):
    """The difference x/10^40 is invisible in float64 and exactly nonzero, so
    '=' is false and '!=' proved, whether or not the steps themselves can be
    evaluated at the witness (f(x) unknown; 1/(w − 1) with w first tried at 1).
    Returning no witness there once turned such a step into a pass."""
    import math

    import sympy as sp

    from symderiv.latex_document import _counterexample_sentence
    from symderiv.proofkit import Proof, Step, check_proof

    x, w = sp.Symbol("x"), sp.Symbol("w")
    base = sp.Function("f")(x) + x if hidden == "unknown function" else 1 / (w - 1) + x
    wrong = base + x / sp.Integer(10) ** 40
    equal = Proof(name="tiny", title="t", claim="c", steps=(Step(base, "start"), Step(wrong, "tiny")))
    step = check_proof(equal, points=50).steps[-1]
    assert step.verdict == "false"
    example = step.counterexample
    values = dict(example.assignment)
    assert sp.Rational(example.exact_difference) == -sp.Rational(repr(values["x"])) / 10**40  # SymPy: base − wrong
    if hidden == "unknown function":
        assert not example.has_values and math.isnan(example.previous_value)
        at = {x: sp.Rational(repr(value)) for name, value in example.assignment if name == "x"}
        assert sp.Rational(example.exact_difference) == (base - wrong).xreplace(at) != 0  # SymPy, exactly
        assert f"previous − this = {example.exact_difference}" in example.describe()
        assert "no numeric value" in example.describe()
        assert f"exactly ${example.exact_difference}" in _counterexample_sentence(step)
    else:
        # w = 1 is the pole: another value is taken, and the printed values are the steps' values there
        assert values["w"] != 1 and example.has_values
        expected = 1 / (values["w"] - 1) + values["x"]
        assert example.previous_value == pytest.approx(expected, rel=1e-15)
        assert example.step_value == pytest.approx(expected, rel=1e-15)
    different = Proof(
        name="tiny-ne", title="t", claim="c", steps=(Step(base, "start"), Step(wrong, "tiny", relation="!=")),
    )
    assert check_proof(different, points=50).steps[-1].verdict == "proved"
