"""Jupyter displays (symderiv.render.notebook): what ``_repr_html_`` / ``_repr_latex_`` produce.

The HTML is read back (sections, badges, MathML equal to latex2mathml's
conversion of the printed LaTeX); the LaTeX is checked for its rows and
verdicts and re-typeset with latex2mathml to show it is well-formed; the
verdicts shown are the results' own. The hooks must not import the renderers
until a display is asked for.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("latex2mathml", reason="the [html] extra (latex2mathml) is not installed")

from tests.render.support import parse_html, sample_report  # noqa: E402

from symderiv.render.mathml import typeset  # noqa: E402


def _sections(tree):
    return [s for s in tree.find_all("section") if "step" in s.attrs.get("class", "")]


def _badges(tree):
    return [b.attrs["data-verdict"] for b in tree.find_all("span", "badge")]


def test_check_report_html_is_the_report_fragment():
    report = sample_report()
    page = report._repr_html_()
    tree = parse_html(page)
    assert page.startswith("<style>") and "<html" not in page
    assert [s.find_all("span", "badge")[0].attrs["data-verdict"] for s in _sections(tree)] == [
        step.verdict for step in report.equations]
    assert len(tree.find_all("math")) >= len(report.equations)


def test_check_writeup_api_when_present(tmp_path):
    import symderiv

    if "check_writeup" not in getattr(symderiv, "_LAZY", {}) and not hasattr(symderiv, "check_writeup"):
        pytest.skip("symderiv.check_writeup lands with the check rework (issue 12)")
    source = tmp_path / "tiny.md"
    source.write_text("$$(x+1)^2 = x^2 + 2x + 1$$\n\n$$(x+1)^2 = x^2 + 1$$\n")
    report = symderiv.check_writeup(source)
    tree = parse_html(report._repr_html_())
    assert [s.find_all("span", "badge")[0].attrs["data-verdict"] for s in _sections(tree)] == [
        step.verdict for step in report.equations] == ["proved", "false"]


def test_proof_result_shows_each_step_typeset_with_its_verdict():
    from symderiv.printing.latex import latex
    from symderiv.proofkit import check_proof, load_proofs

    (proof,) = load_proofs(["sigmoid-derivative"])
    result = check_proof(proof, points=16)
    assert result.proof is proof
    tree = parse_html(result._repr_html_())
    sections = _sections(tree)
    assert len(sections) == len(proof.steps)
    verdicts = {r.index: r.verdict for r in result.steps}
    for index, (section, step) in enumerate(zip(sections, proof.steps), start=1):
        assert _badges(section) == ([verdicts[index]] if index in verdicts else [])
        (math,) = section.find_all("math")
        expected = typeset(latex(step.expr) if index == 1 or step.relation == "start"
                           else f"= {latex(step.expr)}", display=True)
        assert _tokens(math) == _tokens(parse_html(expected.mathml))
    latex_text = result._repr_latex_()
    assert latex_text.startswith("$$\\begin{aligned}") and latex_text.endswith("\\end{aligned}$$")
    assert latex_text.count("[proved]") == sum(1 for r in result.steps if r.verdict == "proved") > 0
    assert _well_formed(latex_text)


def test_a_false_step_shows_its_counterexample():
    from symderiv.proofkit import Proof, Step, check_proof
    import sympy as sp

    x = sp.Symbol("x")
    wrong = Proof(name="wrong", title="A wrong step", claim="(x+1)^2 = x^2 + 1",
                  steps=(Step((x + 1) ** 2, "start", "start"), Step(x**2 + 1, "forgot 2x")))
    result = check_proof(wrong, points=8)
    tree = parse_html(result._repr_html_())
    assert _badges(tree) == ["false"]
    box = tree.find_all("div", "counterexample")[0].all_text()
    assert result.steps[0].counterexample.describe() in box
    assert "[false]" in result._repr_latex_()


def test_result_without_its_proof_still_displays():
    from dataclasses import replace

    from symderiv.proofkit import check_proof, load_proofs

    (proof,) = load_proofs(["sigmoid-derivative"])
    result = replace(check_proof(proof, points=8), proof=None)
    tree = parse_html(result._repr_html_())
    assert _badges(tree) == [r.verdict for r in result.steps] and not tree.find_all("math")


def test_chain_derivation_display():
    from symderiv.problems.chain import derive_chain

    derivation = derive_chain()
    tree = parse_html(derivation._repr_html_())
    assert _badges(tree) == ["proved", "proved"]
    assert len(tree.find_all("math")) == 5 and 'class="math-source"' not in derivation._repr_html_()
    latex_text = derivation._repr_latex_()
    assert latex_text.count("\\\\\n") == 4 and latex_text.count("[proved]") == 2
    assert "f_{y}(g(x), h(x))" in latex_text  # partials of f(y, z) taken at (g(x), h(x)), in the project's notation
    assert _well_formed(latex_text)


def test_chain_verdict_shown_is_the_derivations_own():
    import sympy as sp

    from symderiv.problems.chain import derive_chain

    x, y, z = sp.symbols("x y z")
    derivation = derive_chain(sp.sin(x), x**2, y * z)
    shown = _badges(parse_html(derivation._repr_html_()))
    expected = ["proved" if v == "proved" else "unchecked" for v in (derivation.first_verdict, derivation.second_verdict)]
    assert shown == expected


def test_softmax_display():
    from symderiv.problems.softmax import SoftmaxIdentityProof, prove_softmax_identity

    proof = prove_softmax_identity(3)
    assert _badges(parse_html(proof._repr_html_())) == ["proved"] * 3
    assert proof._repr_latex_().count("[proved]") == 3
    broken = SoftmaxIdentityProof(3, True, True, False, 0.0)
    assert _badges(parse_html(broken._repr_html_())) == ["proved", "proved", "false"]
    assert "[FALSE]" in broken._repr_latex_()


def _well_formed(latex_text: str) -> bool:
    """Braces balance (escaped ones aside) and every row has the same columns."""
    depth = 0
    body = latex_text.replace("\\{", "").replace("\\}", "")
    for char in body:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    rows = body.split("\\begin{aligned}")[1].split("\\end{aligned}")[0].split("\\\\")
    return depth == 0 and len({row.replace("\\&", "").count("&") for row in rows}) == 1


def _tokens(tree):
    return [(e.tag, e.text) for e in tree.iter() if e.tag in ("mi", "mn", "mo", "mtext") and e.text.strip()]


def test_hooks_import_no_renderer_until_displayed():
    code = (
        "import sys\n"
        "import symderiv.writeup.report, symderiv.proofkit.types, symderiv.problems.chain, symderiv.problems.softmax\n"
        "import symderiv.backward_check.result\n"
        "assert not [m for m in sys.modules if m.startswith('symderiv.render') or m.startswith('latex2mathml')], "
        "sorted(m for m in sys.modules if 'render' in m or 'latex2mathml' in m)\n"
        "from symderiv.writeup.report import CheckReport\n"
        "CheckReport(path='x', equations=())._repr_html_()\n"
        "assert 'symderiv.render.notebook' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _values_table(tree) -> dict[str, list]:
    """The counterexample's values as displayed, by name, parsed back to numbers."""
    import json

    (box,) = tree.find_all("div", "counterexample")
    rows = box.find_all("tr")
    return {row.find_all("th")[0].all_text(): json.loads(row.find_all("code")[0].all_text()) for row in rows}


def _input_verdicts(tree) -> dict[str, str]:
    return {row.attrs["data-input"]: _badges(row)[0] for row in tree.find_all("tr", "input")}


def test_backward_check_display_classic_form():
    import numpy as np
    import sympy

    from symderiv import check_backward

    def softmax(xs):
        total = sum(sympy.exp(x) for x in xs)
        return [sympy.exp(x) / total for x in xs]

    def diagonal_only(x, y, gy):
        return gy * y * (1 - y)

    result = check_backward(softmax, diagonal_only, 4)
    tree = parse_html(result._repr_html_())
    assert tree.find_all("h2")[0].all_text() == "check_backward: softmax"
    assert _badges(tree.find_all("p", "totals")[0]) == ["false"]
    assert _input_verdicts(tree) == {"x": "false"}
    shown = _values_table(tree)
    assert list(shown) == ["x", "y", "gy", "expected", "got"]
    # the displayed values are the counterexample: y = softmax(x), expected = Jᵀgy = y ⊙ (gy − y·gy), got = the rule's
    x, gy = np.array(shown["x"]), np.array(shown["gy"])
    y = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(shown["y"], y, rtol=1e-14)
    np.testing.assert_allclose(shown["expected"], y * (gy - y @ gy), rtol=1e-13)
    np.testing.assert_allclose(shown["got"], gy * y * (1 - y), rtol=1e-13)
    assert abs(np.array(shown["got"]) - np.array(shown["expected"])).max() > 0.1


def test_backward_check_display_named_inputs():
    import numpy as np

    from symderiv import check_backward, shared

    def affine(x, W, b):
        return x * W + b

    def averaged_weight_gradient(x, W, b, y, gy):
        return {"x": gy @ W.T, "W": x.T @ gy / len(x), "b": gy.sum(axis=0)}

    def right(x, W, b, y, gy):
        return {"x": gy @ W.T, "W": x.T @ gy, "b": gy.sum(axis=0)}

    inputs = {"x": 3, "W": shared(3, 2), "b": shared(2)}
    wrong = check_backward(affine, averaged_weight_gradient, inputs=inputs)
    tree = parse_html(wrong._repr_html_())
    assert tree.find_all("h2")[0].all_text() == "check_backward: affine"
    # W is wrong; x and b were within the tolerance only on the rows seen before the check stopped
    assert _input_verdicts(tree) == {"x": "unchecked", "W": "false", "b": "unchecked"}
    shown = _values_table(tree)
    x, gy = np.array(shown["x"]), np.array(shown["gy"])
    expected = (x.T @ gy).ravel()  # Σ_b x_bᵀ gy_b, by hand from the displayed rows
    np.testing.assert_allclose(shown["expected dW"], expected, rtol=1e-13)
    np.testing.assert_allclose(shown["got dW"], expected / len(x), rtol=1e-13)

    good = check_backward(affine, right, inputs=inputs)
    tree = parse_html(good._repr_html_())
    assert _badges(tree.find_all("p", "totals")[0]) == ["holds"]
    assert _input_verdicts(tree) == {"x": "holds", "W": "holds", "b": "holds"}
    assert not tree.find_all("div", "counterexample")
    assert [row.find_all("td")[3].all_text() for row in tree.find_all("tr", "input")] == [
        "per example (3,)", "shared (3, 2)", "shared (2,)"]
