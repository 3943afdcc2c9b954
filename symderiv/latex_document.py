"""The standalone LaTeX writeup: every proof as an ``align*`` chain, checked, plus the numbers.

Layout of a chain (one ``align*`` per chain, so nothing depends on a wide
left-hand side)::

    &  lhs                       && (what the chain computes)
    &= step 2                    && justification  [verdict]
    &\\quad + rest of step 2     &&
    &\\neq step 3                && justification  [verdict]

Justifications sit in a fixed-width ``\\parbox`` column; sums wider than the
math column are broken between terms (``latex_terms`` gives the terms in print
order), so pdflatex reports no overfull boxes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from symderiv.errors import InputError
from symderiv.numeric.elementary import LATEX_OPERATOR_NAMES
from symderiv.printing.tex_text import escape_text

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{array}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5ex}
\newcommand{\just}[1]{\parbox[t]{4.3cm}{\raggedright\footnotesize #1}}
"""

#: widest right-hand side (in estimated characters) before a sum is broken across lines
MATH_WIDTH_BUDGET = 46

SECTIONS = (
    ("P1", "Problem 1: a scalar that reaches the loss along two paths"),
    ("P2", "Problem 2: softmax and its backward rule"),
    ("extra", "Further backpropagation identities"),
)

INSTALL_HINT = "apt-get install -y texlive-latex-base texlive-latex-recommended"

VERDICT_TEXT = {
    "proved": r"\checkmark\ proved",
    "holds": r"holds numerically",
    "false": r"\textbf{false}",
    "unchecked": r"unchecked",
}


# ------------------------------------------------------------------ widths


# upright operator macros: the elementary table's, \ln (log's other macro) and the n-ary \max, \min
_OPERATOR_NAMES = LATEX_OPERATOR_NAMES | {"ln", "max", "min"}


def _brace_group(text: str, start: int) -> tuple[str, int]:
    """The content of the {...} group opening at text[start]; returns (content, index after)."""
    depth = 0
    for position in range(start, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : position], position + 1
    return text[start + 1 :], len(text)


def visible_width(latex_text: str) -> float:
    """Rough width of math LaTeX in characters (fractions count their wider part)."""
    width = 0.0
    position = 0
    text = latex_text.replace(r"\left", "").replace(r"\right", "")
    while position < len(text):
        char = text[position]
        if text.startswith(r"\frac", position) or text.startswith(r"\dfrac", position):
            position = text.index("{", position)
            numerator, position = _brace_group(text, position)
            denominator, position = _brace_group(text, position)
            width += max(visible_width(numerator), visible_width(denominator)) + 1
            continue
        if text.startswith(r"\begin{matrix}", position):
            end = text.find(r"\end{matrix}", position)
            body = text[position + len(r"\begin{matrix}") : end]
            rows = body.split(r"\\")
            columns = [row.split("&") for row in rows]
            widest = [0.0] * max(len(c) for c in columns)
            for row in columns:
                for j, cell in enumerate(row):
                    widest[j] = max(widest[j], visible_width(cell))
            width += sum(widest) + 2 * len(widest)
            position = end + len(r"\end{matrix}")
            continue
        if char == "\\":
            match = re.match(r"\\([a-zA-Z]+|.)", text[position:])
            name = match.group(1)
            position += len(match.group(0))
            if name in ("sqrt",) and position < len(text) and text[position] == "{":
                content, position = _brace_group(text, position)
                width += visible_width(content) + 1.5
            elif name in ("mathit", "text", "mathrm", "operatorname"):
                content, position = _brace_group(text, position) if position < len(text) and text[position] == "{" else ("", position)
                width += len(content)
            elif name in ("quad",):
                width += 2
            elif name in _OPERATOR_NAMES:
                width += len(name) + 0.5
            elif name in (",", ";", ":", "!", " "):
                width += 0.3
            else:
                width += 1.2
            continue
        if char in "_^":
            position += 1
            if position < len(text) and text[position] == "{":
                content, position = _brace_group(text, position)
            else:
                content, position = text[position : position + 1], position + 1
            width += 0.7 * visible_width(content)
            continue
        if char in "{} ":
            position += 1
            continue
        width += 3.0 if char in "+-=<>" else 1.0
        position += 1
    return width


def _break_sum(expr, first_relation: str) -> list[str]:
    """Rows for one step: ``relation rhs`` split between terms when too wide."""
    from symderiv.printing.latex import latex, latex_terms

    whole = latex(expr)
    if visible_width(whole) <= MATH_WIDTH_BUDGET:
        return [f"{first_relation} {whole}"]
    terms = latex_terms(expr)
    if len(terms) < 2:
        return [f"{first_relation} {whole}"]
    rows: list[str] = []
    current = ""
    for position, (sign, text) in enumerate(terms):
        if position == 0:
            piece = ("- " if sign == "-" else "") + text
        else:
            piece = f" {sign} {text}"
        if current and visible_width(current + piece) > MATH_WIDTH_BUDGET:
            rows.append(current)
            current = f"{sign} {text}"
        else:
            current += piece
    rows.append(current)
    first = f"{first_relation} {rows[0]}"
    return [first] + [rf"\quad {row}" for row in rows[1:]]


# ------------------------------------------------------------------ pieces








def _verdict_marker(result) -> str:
    text = VERDICT_TEXT.get(result.verdict, escape_text(result.verdict))
    return rf"[{text}]"


def _chains(proof) -> list[list[tuple[int, Any]]]:
    """Split the steps into chains: lists of (1-based index, Step)."""
    chains: list[list[tuple[int, Any]]] = []
    for position, step in enumerate(proof.steps, start=1):
        if position == 1 or step.relation == "start":
            chains.append([])
        chains[-1].append((position, step))
    return chains


def render_proof(proof, result=None, heading: str = r"\subsection*") -> str:
    """One proof: heading, claim, an ``align*`` per chain, the checker's verdicts."""

    by_index = {r.index: r for r in result.steps} if result is not None else {}
    lines = [f"{heading}{{{escape_text(proof.title)}}}", "", escape_text(proof.claim), ""]
    if proof.for_each_n is not None:
        shown = proof.display_n or min(proof.sizes)
        lines.append(
            f"Shown for $n = {shown}$; checked for every $n = {min(proof.sizes)}, \\dots, {max(proof.sizes)}$."
        )
        lines.append("")
    for chain in _chains(proof):
        (_, first), rest = chain[0], chain[1:]
        lines.append(r"\begin{align*}")
        first_pieces = _break_sum(first.expr, "")
        rows = [rf"&{first_pieces[0]} && \just{{{escape_text(first.why)}}}"]
        rows.extend(rf"&{piece} &&" for piece in first_pieces[1:])
        for index, step in rest:
            relation = r"\neq" if step.relation == "!=" else "="
            pieces = _break_sum(step.expr, relation)
            verdict = by_index.get(index)
            marker = f" {_verdict_marker(verdict)}" if verdict is not None else ""
            rows.append(rf"&{pieces[0]} && \just{{{escape_text(step.why)}{marker}}}")
            rows.extend(rf"&{piece} &&" for piece in pieces[1:])
        lines.append(" \\\\\n".join(rows))
        lines.append(r"\end{align*}")
    if result is not None:
        lines.append(_result_paragraph(proof, result))
    lines.append("")
    return "\n".join(lines)


def _result_paragraph(proof, result) -> str:
    equal = [r for r in result.steps if r.relation == "="]
    differ = [r for r in result.steps if r.relation == "!="]
    parts = []
    if result.ok:
        exact = sum(1 for r in result.steps if r.verdict == "proved")
        parts.append(
            f"\\emph{{Checked:}} {exact} of {len(result.steps)} claims proved by exact algebra"
            f" and confirmed at {result.points} random points"
        )
        if equal:
            parts[-1] += f" (largest scaled error {_number(result.max_error)})"
        parts[-1] += "."
    else:
        failed = [r for r in result.steps if r.verdict == "false"]
        if failed:
            parts.append(f"\\emph{{Check failed}} at step {failed[0].index}.")
        else:  # nothing refuted: a claim could not be decided (no point gave both steps a value)
            undecided = next(r for r in result.steps if r.verdict not in ("proved", "holds"))
            parts.append(f"\\emph{{Check undecided}} at step {undecided.index}: {escape_text(undecided.reason)}.")
    for item in differ + [r for r in equal if r.verdict == "false"]:
        if item.counterexample is None:
            continue
        parts.append(_counterexample_sentence(item))
    return "\n\n".join(parts)


def _number(value: float) -> str:
    text = f"{value:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"${mantissa} \\cdot 10^{{{int(exponent)}}}$"
    return f"${text}$"


def _counterexample_sentence(item) -> str:
    example = item.counterexample
    values = ", ".join(f"${_symbol_latex(name)} = {value:.6g}$" for name, value in example.assignment)
    functions = ", ".join(f"${_symbol_latex(name.split('(')[0])}({_args_latex(name)}) = {body}$" for name, body in example.functions_latex)
    where = ", ".join(part for part in (values, functions) if part) or "every point"
    kind = "differ" if item.relation == "!=" else "disagree"
    if not example.has_values:
        return (
            f"Step {item.index} and the step before it {kind} at {where}: "
            f"there the step before it minus step {item.index} is exactly ${example.exact_difference}$."
        )
    return (
        f"Step {item.index} and the step before it {kind} at {where}: "
        f"{_number(example.previous_value)} versus {_number(example.step_value)}."
    )


def _symbol_latex(name: str) -> str:
    import sympy as sp

    from symderiv.printing.latex import latex

    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        return latex(sp.Symbol(name))
    match = re.fullmatch(r"([A-Za-z]+)\[([0-9,]+)\]", name)
    if match:
        return f"{match.group(1)}_{{{match.group(2)}}}"
    return r"\text{" + escape_text(name) + "}"


def _args_latex(name: str) -> str:
    inner = name[name.index("(") + 1 : -1] if "(" in name else ""
    return inner


# ------------------------------------------------------------------ numbers


#: concrete instances of Problem 1 for the numeric comparison table: (g, h, f, x)
def _table_case_expressions():
    import sympy as sp

    x, y, z = sp.symbols("x y z")
    return (
        (x**2, x**3, y**2 + y * z, 1.0),
        (sp.sin(x), sp.exp(x / 2), y * z + y**2 / 2, 0.7),
        (x**2, x, sp.exp(y) * z, -0.4),
    )


def chain_numbers(g, h, loss, x_value: float):
    """SymPy vs the engine vs finite differences at one point (Problem 1 in numbers)."""
    from symderiv.problems.chain_numbers import compare_chain_at

    return compare_chain_at(g, h, loss, x_value)


def comparison_table() -> str:
    """SymPy vs the engine vs central finite differences, on a few concrete instances."""
    from symderiv.printing.latex import latex

    blocks = [
        r"\subsection*{Numbers: SymPy, the engine and finite differences}",
        "",
        "Each instance runs through the numpy engine on the 4-node graph "
        r"$x \to \{y = g(x),\ z = h(x)\} \to \ell = f(y, z)$ "
        "(exact second order by differentiating the backward pass) and through the "
        "naive second-order rule, next to SymPy's exact values and central finite differences.",
        "",
    ]
    for g, h, loss, x_value in _table_case_expressions():
        numbers = chain_numbers(g, h, loss, x_value)
        caption = f"$g(x) = {latex(g)}$, $h(x) = {latex(h)}$, $f(y, z) = {latex(loss)}$, at $x = {x_value:g}$."
        rows = [
            (r"$d\ell/dx$", numbers.first_sympy, numbers.first_engine, numbers.first_finite_difference),
            (r"$d^2\ell/dx^2$", numbers.second_sympy, numbers.second_engine_exact, second_difference(g, h, loss, x_value)),
            (r"naive, 4 nodes", numbers.naive_formula, numbers.second_engine_naive, None),
            (r"naive, fine-grained graph", None, numbers.second_engine_naive_fine_grained, None),
        ]
        blocks.append(r"\begin{center}")
        blocks.append(r"\begin{tabular}{l r r r}")
        blocks.append(r"\hline")
        blocks.append(r"quantity & SymPy & engine & finite differences \\")
        blocks.append(r"\hline")
        for label, sympy_value, engine_value, fd_value in rows:
            cells = [_cell(v) for v in (sympy_value, engine_value, fd_value)]
            blocks.append(f"{label} & {' & '.join(cells)} \\\\")
        blocks.append(r"\hline")
        blocks.append(r"\end{tabular}")
        blocks.append(r"\end{center}")
        verdict = "agrees" if numbers.first_order_matches else "DISAGREES"
        naive_verdict = "equals" if numbers.naive_second_order_matches else "differs from"
        blocks.append(
            caption + f" First order: the engine {verdict} with SymPy and finite differences; "
            f"the naive second-order value {naive_verdict} the exact one."
        )
        blocks.append("")
    return "\n".join(blocks)


def second_difference(g, h, loss, x_value: float) -> float:
    """d²ℓ/dx² by mpmath's numerical differentiation at HIGH_PRECISION_DIGITS
    (:func:`symderiv.numeric.differences.high_precision_derivative`): no float rounding."""
    import numpy as np
    import sympy as sp

    from symderiv.numeric.differences import high_precision_derivative

    x, y, z = sp.symbols("x y z")
    composed = loss.xreplace({y: g, z: h})
    return float(high_precision_derivative(composed, x, np.array([x_value]), 2)[0])


def _cell(value) -> str:
    if value is None:
        return "---"
    return f"${value:.10g}$".replace("e-", r"\mathrm{e}{-}").replace("e+", r"\mathrm{e}{+}")


# ------------------------------------------------------------------ document


@dataclass(frozen=True)
class Writeup:
    """A rendered document and the proof results it shows."""

    tex: str
    results: tuple
    all_as_expected: bool


def build_document(selection: Sequence[str] | None = None, points: int = 200, seed: int = 0, numbers: bool = True) -> Writeup:
    """The full writeup (or the selected proofs) as a standalone amsmath document."""
    from symderiv.proofkit import check_proof, load_proofs

    proofs = load_proofs(list(selection) if selection else None)
    results = [check_proof(p, points=points, seed=seed) for p in proofs]
    body = [
        PREAMBLE,
        r"\title{Backpropagation, checked: derivations verified by symderiv}",
        r"\author{generated by \texttt{symderiv latex}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        "",
        "Notation: subscripts are partial derivatives taken at $(g(x), h(x))$, "
        r"so $f_y = \partial f/\partial y$ and $f_{yz} = \partial^2 f/\partial y\,\partial z$; "
        "primes are ordinary derivatives in $x$. "
        "Every step below was checked by machine: proved equal to the step before it by exact "
        "algebra in a normal form (jets of the abstract functions; "
        r"$e_k = e^{x_k}$ and $Z = \sum_k e^{x_k}$ for softmax; canonical indexed sums for symbolic $n$), "
        "and evaluated at random points, with abstract functions replaced by random concrete ones, "
        r"as a second witness. A $\neq$ step is shown by a point where the two sides differ.",
        "",
    ]
    known = {key for key, _ in SECTIONS}
    for key, section_title in SECTIONS:
        # a proof naming a section the document does not have (problem="P3") goes
        # with the further identities: checked and shown, never silently left out
        members = [(p, r) for p, r in zip(proofs, results) if p.problem == key or (key == "extra" and p.problem not in known)]
        if not members and not (key == "P1" and numbers and selection is None):
            continue
        body.append(f"\\section{{{escape_text(section_title)}}}")
        body.append("")
        for proof, result in members:
            body.append(render_proof(proof, result))
        if key == "P1" and numbers and selection is None:
            body.append(comparison_table())
    body.append(r"\end{document}")
    tex = "\n".join(body) + "\n"
    return Writeup(tex=tex, results=tuple(results), all_as_expected=all(r.as_expected for r in results))


# ------------------------------------------------------------------ fragments


def chain_fragment(g=None, h=None, loss=None) -> str:
    """The Problem 1 derivation as align blocks, for ``symderiv chain --latex``.

    g and h are SymPy expressions in ``Symbol('x')``, loss in ``Symbol('y')``,
    ``Symbol('z')``; a None is the abstract function. Every step is checked.
    """
    from symderiv.proofkit import check_proof

    proof = chain_proof(g, h, loss)
    return render_proof(proof, check_proof(proof, points=64), heading=r"\paragraph")


def chain_proof(g=None, h=None, loss=None):
    """Problem 1 for the given (possibly abstract) g, h, f as a checkable Proof."""
    import sympy as sp

    from symderiv.problems.notation import EXACT_SECOND_DERIVATIVE, NAIVE_SECOND_ORDER, ell, f, gx, hx, partial, x, y, z
    from symderiv.proofkit import Proof, Step

    G = gx if g is None else g
    H = hx if h is None else h
    F = f(y, z) if loss is None else loss

    def part(*variables):
        if loss is None:
            return partial(f, *variables, at=(G, H))
        return sp.diff(F, *variables).xreplace({y: G, z: H})

    def dx(expr, order):
        return sp.Derivative(expr, (x, order)) if expr in (gx, hx) else sp.diff(expr, x, order)

    g1, g2, h1, h2 = dx(G, 1), dx(G, 2), dx(H, 1), dx(H, 2)
    fy, fz, fyy, fyz, fzz = part(y), part(z), part(y, y), part(y, z), part(z, z)
    five = fyy * g1**2 + 2 * fyz * g1 * h1 + fzz * h1**2 + fy * g2 + fz * h2
    naive = fyy * g2 + fzz * h2
    ell_x = ell(x)
    definition = (ell_x, F.xreplace({y: G, z: H}))
    steps = [
        Step(sp.Derivative(ell_x, x), "first derivative", "start"),
        Step(fy * g1 + fz * h1, "chain rule"),
        Step(sp.Derivative(ell_x, (x, 2)), "second derivative", "start"),
        Step(five, "five-term form"),
        Step(NAIVE_SECOND_ORDER if (g is None and h is None and loss is None) else naive, "naive second-order backprop", "start"),
        Step(five if (g is not None or h is not None or loss is not None) else EXACT_SECOND_DERIVATIVE, "exact second derivative", "!="),
    ]
    if g is not None and h is not None and loss is not None:
        ell_concrete = F.xreplace({y: G, z: H})
        steps.insert(2, Step(sp.diff(ell_concrete, x), "differentiate"))
        steps.insert(5, Step(sp.diff(ell_concrete, x, 2), "differentiate twice"))
    return Proof(
        name="chain",
        title="Problem 1 for the given functions",
        claim="First and second derivative of the loss, and the naive second-order value.",
        problem="P1",
        steps=tuple(steps),
        definitions=(definition,),
        domain=((x, *_sampling_interval(F.xreplace({y: G, z: H}), x)),),
    )


_CANDIDATE_INTERVALS = ((0.3, 1.7), (-1.7, -0.3), (2.0, 4.0), (5.5, 7.5), (10.5, 12.5), (-7.5, -5.5), (50.0, 60.0))


def _sampling_interval(loss_of_x, x) -> tuple[float, float]:
    """An interval where ℓ(x) (with the concrete parts) is real and finite, for the numeric witness."""
    import numpy as np
    import sympy as sp
    from sympy.core.function import AppliedUndef

    from symderiv.numeric.tolerance import is_real

    if loss_of_x.atoms(AppliedUndef):
        return _CANDIDATE_INTERVALS[0]  # abstract parts are instantiated with functions defined everywhere
    function = sp.lambdify([x], loss_of_x, modules="numpy", docstring_limit=0)
    for low, high in _CANDIDATE_INTERVALS:
        grid = np.linspace(low, high, 17) + 0j
        with np.errstate(all="ignore"):
            values = np.broadcast_to(np.asarray(function(grid), dtype=complex), grid.shape)
        if np.all(is_real(values)):
            return (low, high)
    return _CANDIDATE_INTERVALS[0]


def softmax_fragment(n: int) -> str:
    """The Problem 2 derivations for a given n as align blocks, for ``symderiv softmax --latex``."""
    import importlib

    from symderiv.proofkit import check_proof

    if not isinstance(n, int) or n < 1 or n > 64:
        raise InputError(f"--n must be an integer between 1 and 64 for --latex (got {n})")
    blocks = []
    if n <= 4:
        jacobian = importlib.import_module("symderiv.proofs.p2_softmax_jacobian").jacobian_proof(n)
        blocks.append(render_proof(jacobian, check_proof(jacobian, points=64), heading=r"\paragraph"))
    vjp = importlib.import_module("symderiv.proofs.p2_softmax_vjp_fixed_n").vjp_proof(n)
    if n <= 6:
        blocks.append(render_proof(vjp, check_proof(vjp, points=64), heading=r"\paragraph"))
    else:
        result = check_proof(vjp, points=64)
        status = "proved" if result.ok else "FAILED"
        symbolic = importlib.import_module("symderiv.proofs.p2_softmax_vjp_symbolic_n").PROOF
        blocks.append(render_proof(symbolic, check_proof(symbolic, points=64), heading=r"\paragraph"))
        blocks.append(f"For $n = {n}$ the fixed-size identity was checked entry by entry: {status}.")
    return "\n".join(blocks)


# ------------------------------------------------------------------ pdf


@dataclass(frozen=True)
class PdfBuild:
    pdf_path: str
    log_path: str
    overfull_boxes: int
    warnings: tuple[str, ...]


class LatexCompileError(RuntimeError):
    """pdflatex failed on a document symderiv generated (a bug in symderiv)."""


#: CPU seconds pdflatex may use (a limit of the child process; the wall-clock
#: timeout is only a backstop for a pdflatex that waits on something)
PDFLATEX_CPU_SECONDS = 60


def compile_pdf(tex_path: str | Path, timeout_s: int = 120, *, force: bool = False) -> PdfBuild:
    """Run pdflatex on ``tex_path``; the PDF and log are written beside it.

    pdflatex runs without shell escape (``-no-shell-escape``) in a fresh
    temporary directory on a copy named ``document.tex``, so the user's file
    name never reaches TeX (``a%b.tex`` would be read as TeX); only the
    finished PDF and log are copied out, atomically, and an existing PDF or log
    is replaced only with ``force`` (see :mod:`symderiv.files`)."""
    import tempfile

    from symderiv.files import copy_atomically

    executable = shutil.which("pdflatex")
    if executable is None:
        raise InputError(f"--pdf needs pdflatex, which is not installed; install it with: {INSTALL_HINT}")
    tex_path = Path(tex_path)
    pdf_path, log_path = tex_path.with_suffix(".pdf"), tex_path.with_suffix(".log")
    with tempfile.TemporaryDirectory(prefix="symderiv-pdf-") as work:
        shutil.copyfile(tex_path, Path(work) / "document.tex")
        try:
            completed = subprocess.run(
                [executable, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "document.tex"],
                cwd=work,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                preexec_fn=_limit_child_cpu,
            )
        except subprocess.TimeoutExpired:
            raise LatexCompileError(f"pdflatex did not finish within {timeout_s} s") from None
        work_log = Path(work) / "document.log"
        log = work_log.read_text(errors="replace") if work_log.exists() else completed.stdout.decode(errors="replace")
        work_pdf = Path(work) / "document.pdf"
        if completed.returncode != 0 or not work_pdf.exists():
            first_error = next((line for line in log.splitlines() if line.startswith("!")), "no error line in the log")
            raise LatexCompileError(f"pdflatex failed on {tex_path.name}: {first_error}")
        copy_atomically(work_pdf, pdf_path, "--pdf", force=force)
        copy_atomically(work_log, log_path, "--pdf", force=force)
    warnings = tuple(line for line in log.splitlines() if "Warning" in line or line.startswith("Overfull") or line.startswith("Underfull"))
    overfull = sum(1 for line in log.splitlines() if line.startswith("Overfull \\hbox"))
    return PdfBuild(str(pdf_path), str(log_path), overfull, warnings)


def _limit_child_cpu() -> None:  # pragma: no cover - runs in the pdflatex child
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (PDFLATEX_CPU_SECONDS, PDFLATEX_CPU_SECONDS))
