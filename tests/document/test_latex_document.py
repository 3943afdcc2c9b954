"""The LaTeX writeup: structure, fragments, the CLI, and a real pdflatex build."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap

import pytest
import sympy as sp

from symderiv.cli import main
from symderiv.errors import InputError
from symderiv.latex_document import build_document, chain_fragment, compile_pdf, softmax_fragment, visible_width
from symderiv.proofkit import load_proofs

FIVE_TERMS = r"f_{yy} g'(x)^{2} + 2 f_{yz} g'(x) h'(x) + f_{zz} h'(x)^{2} + f_{y} g''(x) + f_{z} h''(x)"


@pytest.fixture(scope="module")
def writeup():
    return build_document(points=48, seed=3)


def _math_rows(tex: str) -> str:
    """The align bodies joined, continuation rows glued back (to compare with golden strings)."""
    bodies = re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", tex, re.S)
    joined = _drop_justifications(" ".join(bodies)).replace("&&", "")
    joined = re.sub(r"\\\\\s*&\\quad", "", joined)  # glue continuation rows
    return re.sub(r"\s+", " ", joined.replace("&", ""))


def _drop_justifications(text: str) -> str:
    out, position = [], 0
    while True:
        start = text.find(r"\just{", position)
        if start < 0:
            return "".join(out) + text[position:]
        out.append(text[position:start])
        depth, index = 0, start + len(r"\just")
        while True:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
            if depth == 0:
                break
        position = index


def test_document_has_a_section_per_problem_and_every_proof(writeup):
    tex = writeup.tex
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert r"\usepackage{amsmath,amssymb}" in tex
    sections = re.findall(r"\\section\{([^}]*)\}", tex)
    assert [s.split(":")[0] for s in sections] == ["Problem 1", "Problem 2", "Further backpropagation identities"]
    for proof in load_proofs(None):
        assert proof.title in tex
    proved = sum(1 for r in writeup.results for s in r.steps if s.verdict == "proved")
    assert tex.count(r"\checkmark\ proved") == proved
    assert r"\textbf{false}" not in tex and writeup.all_as_expected


def test_five_term_form_appears_in_the_writeup(writeup):
    rows = _math_rows(writeup.tex)
    assert FIVE_TERMS in rows


def test_comparison_table_has_engine_and_finite_differences(writeup):
    tex = writeup.tex
    assert r"quantity & SymPy & engine & finite differences \\" in tex
    # g = x², h = x³, f = y² + y·z at x = 1: dℓ/dx = 4x³ + 5x⁴ = 9, d²ℓ/dx² = 32, naive 4
    table = tex[tex.index(r"$g(x) = x^{2}$, $h(x) = x^{3}$") - 900 :]
    assert re.search(r"\$d\\ell/dx\$ & \$9\$ & \$9(\.0+\d*)?\$", table) or "$d\\ell/dx$ & $9$" in table
    assert "$d^2\\ell/dx^2$ & $32$" in table


def test_long_rows_are_broken_to_fit(writeup):
    for body in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", writeup.tex, re.S):
        for row in body.split("\\\\\n"):
            math = row.split("&&")[0]
            if r"\begin{matrix}" in math:
                continue
            assert visible_width(math) <= 60, row


def test_chain_fragment_abstract_and_concrete():
    abstract = chain_fragment()
    assert r"\begin{align*}" in abstract and r"\frac{d \ell}{d x}" in abstract
    assert FIVE_TERMS in _math_rows(abstract)
    assert r"\neq" in abstract and r"\textbf{false}" not in abstract
    x, y, z = sp.symbols("x y z")
    concrete = chain_fragment(x**2, x**3, y**2 + y * z)
    assert "f_{y}" not in concrete  # concrete partials are evaluated
    assert r"\textbf{false}" not in concrete and concrete.count(r"\checkmark") >= 4


def test_softmax_fragment():
    small = softmax_fragment(3)
    assert r"y_{1} (u_{1} - \mathit{gvdot})" in small
    assert r"\frac{\partial y_{1}}{\partial x_{2}}" in small
    large = softmax_fragment(12)
    assert r"\sum_{k=1}^{n}" in large and "$n = 12$" in large and "proved" in large
    with pytest.raises(InputError):
        softmax_fragment(0)


def test_cli_prints_selected_proofs(capsys):
    assert main(["latex", "sigmoid-derivative", "--points", "20"]) == 0
    out = capsys.readouterr().out
    assert r"\section{Further backpropagation identities}" in out and "Problem 1" not in out


def test_cli_bad_input_exits_2(capsys, tmp_path):
    assert main(["latex", "no-such-proof"]) == 2
    assert main(["latex", "-o", str(tmp_path / "out.txt")]) == 2
    assert main(["latex", "-o", str(tmp_path / "missing" / "out.tex")]) == 2
    assert main(["latex", "--points", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("symderiv: error:") == 4 and "Traceback" not in err


def test_cli_marks_a_failing_user_proof_and_exits_1(capsys, tmp_path):
    path = tmp_path / "wrong.py"
    path.write_text(
        textwrap.dedent(
            """
            import sympy as sp
            from symderiv.proofkit import Proof, Step
            x = sp.Symbol("x")
            PROOF = Proof(name="wrong", title="A wrong step", claim="d/dx x^3 = 2x^2",
                          steps=(Step(sp.Derivative(x**3, x), "start", "start"), Step(2 * x**2, "power rule")))
            """
        )
    )
    out_tex = tmp_path / "w.tex"
    assert main(["latex", str(path), "-o", str(out_tex)]) == 1
    tex = out_tex.read_text()
    assert r"\textbf{false}" in tex and "Step 2 and the step before it disagree" in tex
    assert "check failed" in capsys.readouterr().err


def test_missing_pdflatex_is_exit_2_with_install_hint(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["latex", "sigmoid-derivative", "--pdf", "-o", str(tmp_path / "a.tex")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install -y texlive-latex-base texlive-latex-recommended" in err
    with pytest.raises(InputError, match="pdflatex"):
        compile_pdf(tmp_path / "a.tex")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_full_writeup_compiles_without_errors_or_overfull_boxes(writeup, tmp_path):
    tex_path = tmp_path / "writeup.tex"
    tex_path.write_text(writeup.tex, encoding="utf-8")
    build = compile_pdf(tex_path)
    log = (tmp_path / "writeup.log").read_text(errors="replace")
    assert not [line for line in log.splitlines() if line.startswith("!")]
    assert build.overfull_boxes == 0 and "Overfull \\hbox" not in log
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not installed")
    subprocess.run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", build.pdf_path, str(tmp_path / "page")], check=True)
    (png,) = tmp_path.glob("page*.png")
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))
    gray = pixels[..., :3].mean(axis=2) if pixels.ndim == 3 else pixels
    ink = float((gray < 0.5).mean())
    assert 0.005 < ink < 0.5, ink  # text on a white page, not blank and not black


def test_a_chain_with_an_undecided_step_says_so_instead_of_crashing(capsys):
    """h = -3.3e16 (found by the CLI fuzz test): no sampled point gives the last claim a finite
    value, so it is unchecked and nothing is false; the paragraph once indexed the false steps."""
    assert main(["chain", "--h", "-3.307642109154153e+16", "--latex"]) == 0
    out = capsys.readouterr().out
    assert r"\emph{Check undecided} at step 6: no sampled point gives both steps a finite real value." in out
    assert "Check failed" not in out
