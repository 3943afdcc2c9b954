"""`symderiv check FILE.tex --annotate OUT.pdf` (symderiv.render.annotate).

The annotated PDF is read back with poppler: ``pdftotext -layout`` puts text
that shares a baseline on one output line, so a mark beside a display shows
up on the display's own line; ``pdftoppm`` renders page 1 to PNG (under
pytest's tmp dir) for a person to look at. Skipped where pdflatex or poppler
is missing (.ci/run installs both).
"""

from __future__ import annotations

import re

import shutil
import subprocess
from pathlib import Path

import pytest

from symderiv.cli import main
from symderiv.render.annotate import AnnotateError, annotated_source
from symderiv.writeup.verdicts import check_text

WRITEUPS = Path(__file__).parents[1] / "writeups"
needs_tex = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("pdflatex", "pdftotext", "pdftoppm")),
    reason="pdflatex and poppler-utils (pdftotext, pdftoppm) are not installed",
)


def _run(capsys, *argv):
    code = main(["check", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _layout_text(pdf: Path) -> list[str]:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout.splitlines()


def _render_page(pdf: Path, prefix: Path) -> Path:
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(prefix)], check=True)
    (png,) = prefix.parent.glob(prefix.name + "*.png")
    assert png.stat().st_size > 5_000
    return png


def _chain_with_amsmath(tmp_path: Path) -> Path:
    """tests/writeups/chain.tex with the \\usepackage{amsmath} its align* needs (it does not compile as given)."""
    text = (WRITEUPS / "chain.tex").read_text()
    fixed = tmp_path / "chain 100% fixed.tex"  # a file name TeX could not take: it never reaches TeX
    fixed.write_text(text.replace("\\begin{document}", "\\usepackage{amsmath}\n\\begin{document}", 1))
    return fixed


@needs_tex
def test_marks_sit_on_the_lines_of_their_displays(capsys, tmp_path):
    source = _chain_with_amsmath(tmp_path)
    pdf = tmp_path / "annotated.pdf"
    code, out, err = _run(capsys, source, "--annotate", pdf)
    assert code == 1 and f"wrote {pdf}" in err  # exit 1: the document has a false step
    lines = _layout_text(pdf)
    _render_page(pdf, tmp_path / "chain-page")
    product = next(line for line in lines if "g′ h + gh′" in line.replace("g' h", "g′ h") or "gh′" in line and "(gh)" in line)
    assert "✓ proved" in product
    factor = next(line for line in lines if "(x − 1)(x + 1)" in line)
    assert "✓ proved" in factor
    quotient = [line for line in lines if "× false [3]" in line]
    assert len(quotient) == 1 and "=" in quotient[0] and "✓" not in quotient[0]
    # the list at the end: the counterexample of step 3 with its point and values
    listing = "\n".join(lines[lines.index(next(l for l in lines if "symderiv check: every step" in l)):])
    assert "[3] line 15: × false" in listing and "at x = " in listing and "rhs = 8.0" in listing
    assert listing.count("✓ proved") == 3


@needs_tex
def test_a_real_writeup_is_annotated(capsys, tmp_path):
    source = WRITEUPS / "real" / "collas-khalis-backprop.tex"
    pdf = tmp_path / "collas.pdf"
    code, _, err = _run(capsys, source, "--annotate", pdf)
    assert code in (0, 1) and f"wrote {pdf}" in err
    report = check_text(source.read_text(), True, [], str(source))
    annotated = annotated_source(report, source.read_text())
    assert len(annotated.marked) > 0.8 * len(report.equations)
    lines = _layout_text(pdf)
    marks = [line for line in lines if line.rstrip().endswith(("? unchecked", "✓ proved", "≈ holds"))
             or "× false [" in line]
    body_marks = [line for line in marks if line.strip() not in ("? unchecked", "✓ proved")]
    # most marks share their line with the display they annotate (text to their left)
    assert len(body_marks) >= 0.8 * len(marks) > 10
    _render_page(pdf, tmp_path / "collas-page")


@needs_tex
def test_a_document_that_does_not_compile_is_one_line_and_the_html_still_works(capsys, tmp_path):
    pytest.importorskip("latex2mathml")
    html = tmp_path / "report.html"
    pdf = tmp_path / "out.pdf"
    code, out, err = _run(capsys, WRITEUPS / "chain.tex", "--html", html, "--annotate", pdf)
    assert code == 2 and "FALSE" in out
    errors = [line for line in err.splitlines() if line.startswith("symderiv: error")]
    assert errors == ["symderiv: error: --annotate: the document does not compile with pdflatex as given: "
                      "line 7: LaTeX Error: Environment align* undefined."]
    assert html.read_text().startswith("<!DOCTYPE html>") and not pdf.exists()


@needs_tex
def test_no_shell_escape_and_no_file_written_outside_the_temporary_directory(capsys, tmp_path):
    source = tmp_path / "evil.tex"
    source.write_text("\\documentclass{article}\n\\begin{document}\n\\immediate\\write18{touch pwned}\n"
                      "\\immediate\\openout5=../escaped.txt \\immediate\\write5{x}\\immediate\\closeout5\n"
                      "$$ (x+1)^2 = x^2 + 2x + 1 $$\n\\end{document}\n")
    pdf = tmp_path / "evil.pdf"
    code, _, err = _run(capsys, source, "--annotate", pdf)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert not (tmp_path / "escaped.txt").exists() and not Path(tmp_path.parent / "escaped.txt").exists()
    assert code in (0, 2) and len([l for l in err.splitlines() if "error" in l]) <= 1


def test_annotate_needs_a_latex_file_and_refuses_to_overwrite(capsys, tmp_path):
    code, out, err = _run(capsys, WRITEUPS / "planted_errors.md", "--annotate", tmp_path / "x.pdf")
    assert code == 2 and out == "" and "not a LaTeX file" in err
    existing = tmp_path / "x.pdf"
    existing.write_bytes(b"%PDF old")
    code, out, err = _run(capsys, WRITEUPS / "chain.tex", "--annotate", existing)
    assert code == 2 and out == "" and "--force" in err and existing.read_bytes() == b"%PDF old"


def test_marks_are_not_injected_where_they_could_change_the_document():
    text = ("\\documentclass{article}\n% $a = b$ in the preamble\n\\begin{document}\n"
            "$$ a \\not= b $$\n"      # line 4: \not takes the next token
            "% $$ c = d $$\n"         # line 5: a comment
            "$$ e = f $$\n"           # line 6: marked
            "\\end{document}\n")
    report = check_text(text, True, [], "t.tex")
    by_line = {step.line: index for index, step in enumerate(report.equations, start=1)}
    annotated = annotated_source(report, text)
    assert by_line[6] in annotated.marked
    # line 4 (a \\not= claim, read as \\neq) may be marked, but only before \\not, never between \\not and =
    assert by_line.get(4) is None or by_line[4] in annotated.unmarked \
        or re.search(r"\\SymderivMark\{\d+\}\{[^{}]*\}\\not\s*=", annotated.tex)
    assert not re.search(r"\\not\s*\\SymderivMark", annotated.tex)
    assert "\\not=" in annotated.tex and "\\SymderivMark{1}" in annotated.tex
    assert annotated.tex.index("\\SymderivMark{1}") > annotated.tex.index("\\begin{document}")
    with pytest.raises(AnnotateError, match="begin"):
        annotated_source(report, "just $a = b$")
