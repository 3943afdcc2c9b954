"""Jupyter displays: the bodies of ``_repr_html_`` / ``_repr_latex_`` of the result classes.

Contract: each function takes one result dataclass and returns text; the
result classes' hooks import this module only when a notebook asks for a
display, so holding a result costs nothing. HTML uses the same stylesheet,
badges and MathML as the ``check --html`` report (:mod:`symderiv.render.html`);
without latex2mathml the formulas appear as LaTeX source with a note instead
of failing. LaTeX is one ``$$ \\begin{aligned} ... \\end{aligned} $$`` block
that Jupyter's MathJax typesets.

- :func:`check_report_html`: a ``CheckReport`` (``symderiv check``'s result).
- :func:`proof_result_html` / :func:`proof_result_latex`: a ``ProofResult``
  (``check_proof``), the steps typeset when the result carries its proof.
- :func:`chain_html` / :func:`chain_latex`: a ``ChainDerivation`` (Problem 1), from its
  ``display_lines()`` (a foundation knows nothing of the problems: the derivation says
  what to show).
- :func:`softmax_html` / :func:`softmax_latex`: a ``SoftmaxIdentityProof`` (Problem 2).
- :func:`backward_check_html`: a ``BackwardCheck`` (``check_backward`` and its
  siblings): the op, the overall verdict, each checked input's verdict (≈ holds:
  within the tolerance at every row of a passed check, a numeric verdict;
  ✗ FALSE: beyond it; ? unchecked: within it on the rows a failed check saw
  before it stopped), and a failure's counterexample, every value as the text
  report prints it.
"""

from __future__ import annotations

from html import escape

from symderiv.render.html import STYLE, badge, report_fragment
from symderiv.printing.tex_text import escape_plain
from symderiv.render.mathml import to_html


def check_report_html(report) -> str:
    return report_fragment(report)


def _panel(title: str, body: list[str]) -> str:
    return (f"<style>{STYLE}</style>\n<div class=\"symderiv-report\">\n<h2>{escape(title)}</h2>\n"
            + "\n".join(body) + "\n</div>")


# ---------------------------------------------------------------- proofs


def _proof_rows(result) -> list[tuple[object, str, str, object]]:
    """(step result or None, relation LaTeX, expression LaTeX or '', justification) per step."""
    from symderiv.printing.latex import latex

    proof = getattr(result, "proof", None)
    if proof is None:  # a result made without its proof: the verdicts, no formulas
        return [(r, "=" if r.relation == "=" else r"\neq", "", r.justification) for r in result.steps]
    by_index = {r.index: r for r in result.steps}
    rows = []
    for index, step in enumerate(proof.steps, start=1):
        relation = "" if index == 1 or step.relation == "start" else ("=" if step.relation == "=" else r"\neq")
        rows.append((by_index.get(index), relation, latex(step.expr), step.why))
    return rows


def proof_result_html(result) -> str:
    status = "as expected" if result.as_expected else "NOT as expected"
    body = [f'<p class="totals">{escape(result.summary)} ({escape(status)}; '
            f"{result.points} random points, largest scaled error {result.max_error:.3g}).</p>"]
    for step_result, relation, expr_latex, why in _proof_rows(result):
        verdict = step_result.verdict if step_result is not None else ""
        head = [f'<span class="where">{escape(why)}</span>']
        if step_result is not None:
            head.insert(0, f'<span class="where">step {step_result.index}</span>')
            head.append(badge(verdict))
        css = verdict if verdict in ("proved", "holds", "false", "unchecked") else "start"
        parts = [f'<section class="step {css}">', f'<div class="step-head">{"".join(head)}</div>']
        if expr_latex:
            shown = f"{relation} {expr_latex}" if relation else expr_latex
            parts.append(f'<div class="math-box claim">{to_html(shown, display=True)}</div>')
        example = getattr(step_result, "counterexample", None)
        if example is not None and verdict == "false":
            parts.append(f'<div class="counterexample"><span class="label">Counterexample</span> '
                         f"{escape(example.describe())}</div>")
        parts.append("</section>")
        body.append("\n".join(parts))
    return _panel(result.title, body)


def proof_result_latex(result) -> str:
    rows = []
    for step_result, relation, expr_latex, why in _proof_rows(result):
        mark = f" [{step_result.verdict}]" if step_result is not None else ""
        text = escape_plain(f"{why}{mark}")
        if expr_latex:
            rows.append(f"& {relation} {expr_latex} && \\text{{{text}}}")
        else:
            rows.append(f"& \\text{{step {step_result.index}: }} && \\text{{{text}}}")
    return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"




# ---------------------------------------------------------------- Problem 1


def _chain_rows(derivation) -> list[tuple[str, str, str, str]]:
    """(label, lhs LaTeX, rhs LaTeX, verdict) per displayed identity, from the derivation itself."""
    return [(label, lhs, rhs, "proved" if verdict == "proved" else ("unchecked" if verdict else ""))
            for label, lhs, rhs, verdict in derivation.display_lines()]


def chain_html(derivation) -> str:
    body = []
    for label, lhs, rhs, verdict in _chain_rows(derivation):
        head = f'<span class="where">{escape(label)}</span>' + (badge(verdict) if verdict else "")
        body.append(f'<section class="step {verdict or "start"}"><div class="step-head">{head}</div>'
                    f'<div class="math-box claim">{to_html(f"{lhs} = {rhs}", display=True)}</div></section>')
    abstract = ", ".join(derivation.abstract) or "none"
    body.insert(0, f'<p class="totals">Abstract functions: {escape(abstract)}; partials of f are taken at '
                   "(y, z) = (g(x), h(x)). proved: SymPy's derivative minus the displayed form expands to 0.</p>")
    return _panel("Problem 1: a scalar reaching the loss along two paths", body)


def chain_latex(derivation) -> str:
    rows = []
    for label, lhs, rhs, verdict in _chain_rows(derivation):
        note = escape_plain(label + (f" [{verdict}]" if verdict else ""))
        rows.append(f"{lhs} &= {rhs} && \\text{{{note}}}")
    return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"


# ---------------------------------------------------------------- Problem 2


def _softmax_lines(proof) -> list[tuple[str, str, bool]]:
    return [
        (r"J = \operatorname{diag}(y) - y y^{\top}", "Jacobian, entry by entry", proof.jacobian_matches_diag_minus_outer),
        (r"J^{\top} = J", "symmetric", proof.jacobian_symmetric),
        (r"J^{\top} u = y \odot (u - (y \cdot u)\,\mathbf{1})", "backward rule (VJP)", proof.vjp_identity_holds),
    ]


def softmax_html(proof) -> str:
    body = [f'<p class="totals">Softmax over n = {proof.n} inputs, exact rational arithmetic '
            f"({proof.seconds:.2f} s).</p>"]
    for formula, label, holds in _softmax_lines(proof):
        verdict = "proved" if holds else "false"
        body.append(f'<section class="step {verdict}"><div class="step-head"><span class="where">'
                    f"{escape(label)}</span>{badge(verdict)}</div>"
                    f'<div class="math-box claim">{to_html(formula, display=True)}</div></section>')
    return _panel(f"Problem 2: softmax, n = {proof.n}", body)


def softmax_latex(proof) -> str:
    rows = [f"{formula} && \\text{{{escape_plain(label)} [{'proved' if holds else 'FALSE'}]}}"
            for formula, label, holds in _softmax_lines(proof)]
    return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"


# ---------------------------------------------------------------- check_backward


_CHECK_TITLES = {"backward": "check_backward", "jvp": "check_jvp",
                 "double_backward": "check_double_backward", "hvp": "check_hvp"}


def _input_descriptions(described: str) -> dict[str, str]:
    """``"x: per example (3,); W: shared (3, 2)"`` -> {"x": "per example (3,)", "W": "shared (3, 2)"}."""
    pairs = (part.partition(": ") for part in described.split("; ") if part)
    return {name: what for name, _, what in pairs}


def _input_rows(result) -> str:
    descriptions = _input_descriptions(result.inputs)
    rows = ['<table class="summary inputs">', "<thead><tr><th>input</th><th>verdict</th>"
            "<th>max error/tolerance</th><th>kind</th></tr></thead><tbody>"]
    for name, ratio in result.input_ratios:
        # A failed check stops at its first failing batch: an input within the
        # tolerance there was not checked in full (no special points, no search).
        verdict = "false" if ratio > 1.0 else ("holds" if result.ok else "unchecked")
        rows.append(f'<tr class="input {verdict}" data-input="{escape(name)}"><td><code>{escape(name)}</code></td>'
                    f"<td>{badge(verdict)}</td><td>{ratio:.3g}</td><td>{escape(descriptions.get(name, ''))}</td></tr>")
    rows.append("</tbody></table>")
    if not result.ok:
        rows.append('<p class="note">The check stops at its first failing batch: an input marked unchecked was '
                    "within the tolerance on the rows checked, which is not a full check.</p>")
    return "\n".join(rows)


def backward_check_html(result) -> str:
    verdict = "holds" if result.ok else "false"
    rows = (f"{result.rows_checked} rows ({result.random_rows} random, {result.special_rows} special, "
            f"{result.adaptive_rows} adaptive; {result.kink_rows} on kinks, {result.rows_skipped} skipped)")
    told = ("agrees with the exact derivatives from SymPy within the tolerance on" if result.ok
            else f"FAILED: {result.reason}; checked")
    body = [f'<p class="totals">{badge(verdict)} {escape(told)} {escape(rows)}; n={result.n}, m={result.m}, '
            f"dtype={escape(result.dtype)}, domain=[{result.domain[0]:g}, {result.domain[1]:g}]; "
            f"max error/tolerance {result.max_error_over_tolerance:.3g} "
            f"(tolerance = {result.tolerance_factor:g} &middot; u &middot; scale, u = {result.unit_roundoff:.3g}).</p>"]
    if result.input_ratios:
        body.append(_input_rows(result))
    shown = result.display_counterexample()  # a foundation knows nothing of the domains: the result says what to show
    if shown is not None:
        heading, named_values = shown
        values = "".join(f'<tr><th>{escape(name)}</th><td><code>{escape(value)}</code></td></tr>'
                         for name, value in named_values)
        body.append(f'<div class="counterexample"><span class="label">Counterexample</span> '
                    f'{escape(heading.removeprefix("counterexample "))}<table class="values">{values}</table></div>')
    title = _CHECK_TITLES.get(result.kind, result.kind)
    return _panel(f"{title}: {result.op}" if result.op else title, body)
