"""The HTML report of ``symderiv check``: a :class:`CheckReport` in, one self-contained HTML page out.

Contract:

- :func:`render_report` returns a complete document: inline CSS, MathML
  typeset by :mod:`symderiv.render.mathml`, no script, no external resource
  (nothing is fetched when the page is viewed). :func:`report_fragment` is the
  same content as one ``<div>`` (with its own scoped ``<style>``) for a
  Jupyter cell.
- At the top, a summary table: proved / holds / FALSE / unchecked, unchecked
  split by reason, each row linking to its steps. Then one section per step:
  source line (and column when known), the verdict as a badge (colour from
  the Okabe-Ito colour-blind-safe palette, and an icon and a word, so colour
  is never the only cue), the step typeset, its case condition, the reason,
  the counterexample (functions, point, both sides' values, the conditions
  checked there) and ``lhs - rhs``, all typeset.
- A formula latex2mathml cannot convert is shown as source in a ``<code>``
  element with a note; rendering never fails on the content of a report.
- The output depends only on the report (no clock, no random ids), so equal
  reports give byte-identical pages.
- Only the report's documented fields are read; fields added later are
  ignored, and fields that older reports lack (``column``, ``reason_kind``,
  ``meanings``, ``restrictions``, ...) are read with defaults.
"""

from __future__ import annotations

from html import escape

from symderiv.render.mathml import to_html

# verdict -> (icon, label, css class); the icon and label carry the verdict without colour
VERDICT_BADGES = {
    "proved": ("\u2713", "proved", "proved"),
    "holds": ("\u2248", "holds", "holds"),
    "false": ("\u2717", "FALSE", "false"),
    "unchecked": ("?", "unchecked", "unchecked"),
}
VERDICT_ORDER = ("proved", "holds", "false", "unchecked")
# relation as stored in StepResult -> LaTeX shown between the two sides
RELATION_LATEX = {"=": "=", ":=": ":=", "\\neq": "\\neq", "": ""}

STYLE = """
.symderiv-report{--proved:#0072B2;--holds:#007A5E;--false:#C34A00;--unchecked:#595959;
 font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a;
 max-width:60rem;margin:0 auto;padding:1rem}
.symderiv-report h1{font-size:1.4rem;margin:.2rem 0 .6rem;overflow-wrap:anywhere}
.symderiv-report h2{font-size:1.15rem;margin:1.6rem 0 .6rem}
.symderiv-report math{font-family:"Latin Modern Math","STIX Two Math","Cambria Math",math;font-size:1.25em}
.symderiv-report .totals{margin:.2rem 0 1rem}
.symderiv-report table.summary{border-collapse:collapse;width:100%;margin-bottom:1rem}
.symderiv-report table.summary th,.symderiv-report table.summary td{border-bottom:1px solid #ddd;
 padding:.35rem .5rem;text-align:left;vertical-align:top}
.symderiv-report table.summary td.count{text-align:right;font-variant-numeric:tabular-nums;width:3.5rem}
.symderiv-report table.summary tr.reason td:first-child{padding-left:2.2rem;color:#333}
.symderiv-report table.summary td.links a{margin-right:.5rem;white-space:nowrap}
.symderiv-report .badge{display:inline-block;border-radius:.3rem;padding:.05rem .5rem;font-weight:600;
 color:#fff;white-space:nowrap;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.symderiv-report .badge .icon{display:inline-block;min-width:1em;text-align:center;margin-right:.25rem}
.symderiv-report .badge.proved{background:var(--proved)}
.symderiv-report .badge.holds{background:var(--holds)}
.symderiv-report .badge.false{background:var(--false)}
.symderiv-report .badge.unchecked{background:var(--unchecked)}
.symderiv-report section.step{border:1px solid #ddd;border-left:.4rem solid var(--unchecked);
 border-radius:.3rem;padding:.5rem .8rem;margin:.8rem 0;break-inside:avoid}
.symderiv-report section.step.proved{border-left-color:var(--proved)}
.symderiv-report section.step.holds{border-left-color:var(--holds)}
.symderiv-report section.step.false{border-left-color:var(--false);border-left-style:double;border-left-width:.5rem}
.symderiv-report section.step.unchecked{border-left-style:dashed}
.symderiv-report .step-head{display:flex;flex-wrap:wrap;gap:.3rem .8rem;align-items:baseline}
.symderiv-report .where{font-variant-numeric:tabular-nums;color:#333;text-decoration:none}
.symderiv-report .where:hover{text-decoration:underline}
.symderiv-report .case{color:#333}
.symderiv-report .math-box{overflow-x:auto;overflow-y:hidden;max-width:100%;padding:.2rem 0}
.symderiv-report .math-box math[display=block]{margin:.3rem 0}
.symderiv-report .reason{margin:.3rem 0}
.symderiv-report .counterexample{background:#fbf3ec;border-radius:.3rem;padding:.4rem .7rem;margin:.4rem 0}
.symderiv-report .counterexample ul{margin:.2rem 0;padding-left:1.2rem}
.symderiv-report .counterexample li{overflow-x:auto;overflow-y:hidden}
.symderiv-report .label{font-weight:600}
.symderiv-report .math-source pre,.symderiv-report .math-source code{background:#f4f4f4;padding:.2rem .4rem;
 border-radius:.2rem;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;margin:.2rem 0}
.symderiv-report .math-source .note{display:block;font-size:.85rem;color:#595959}
.symderiv-report details{margin:.3rem 0}
.symderiv-report summary{cursor:pointer;color:#333}
.symderiv-report ul.warnings li{color:#7a4100}
.symderiv-report footer{margin-top:2rem;font-size:.85rem;color:#595959}
@media (max-width:40rem){.symderiv-report{padding:.5rem;font-size:15px}
 .symderiv-report table.summary .links{display:none}}
@media print{.symderiv-report{max-width:none;padding:0;font-size:11pt}
 .symderiv-report .math-box,.symderiv-report .counterexample li{overflow:visible}
 .symderiv-report a{color:inherit;text-decoration:none}
 .symderiv-report table.summary .links{display:table-cell}
 .symderiv-report details>*{display:block}
 .symderiv-report section.step{page-break-inside:avoid}}
"""


def render_report(report, title: str | None = None) -> str:
    """The whole page for ``report`` (a CheckReport)."""
    heading = title or f"symderiv check: {report.path}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="symderiv">\n'
        f"<title>{escape(heading)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{_report_div(report, heading)}\n</body>\n</html>\n"
    )


def report_fragment(report) -> str:
    """The report as one ``<div>`` with its scoped stylesheet (for a notebook cell)."""
    return f"<style>{STYLE}</style>\n{_report_div(report, f'symderiv check: {report.path}')}"


def _report_div(report, heading: str) -> str:
    from symderiv import __version__

    steps = tuple(report.equations)
    parts = [f'<div class="symderiv-report">\n<h1>{escape(heading)}</h1>']
    parts.append(_totals(report, steps))
    parts.append(_warnings(report))
    parts.append(_assumptions(report))
    if steps:
        parts.append(_summary_table(steps))
        parts.append("<h2>Steps</h2>")
        parts.extend(_step_section(index, step) for index, step in enumerate(steps, start=1))
    parts.append(f"<footer>Checked by symderiv {escape(__version__)}. "
                 "proved: exact algebra; holds: true at every sampled point, not proved; "
                 "FALSE: a checked counterexample; unchecked: not decided, with the reason.</footer>\n</div>")
    return "\n".join(part for part in parts if part)


def _totals(report, steps) -> str:
    if not steps:
        displays = getattr(report, "displays", 0)
        what = f"{displays} display(s), none holds an equation to check" if displays else "no equations found"
        return f'<p class="totals">{escape(what)}.</p>'
    counts = _counts(steps)
    text = (f"{len(steps)} steps: {counts['proved']} proved, {counts['holds']} hold numerically, "
            f"{counts['false']} false, {counts['unchecked']} unchecked")
    return f'<p class="totals">{escape(text)}.</p>'


def _counts(steps) -> dict[str, int]:
    totals = dict.fromkeys(VERDICT_ORDER, 0)
    for step in steps:
        totals[step.verdict] = totals.get(step.verdict, 0) + 1
    return totals


def _warnings(report) -> str:
    warnings = tuple(getattr(report, "warnings", ()))
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(warning)}</li>" for warning in warnings)
    return f'<h2>Warnings</h2>\n<ul class="warnings">{items}</ul>'


def _assumptions(report) -> str:
    facts = tuple(getattr(report, "assumptions", ()))
    if not facts:
        return ""
    items = "".join(f"<li>{to_html(fact)}</li>" for fact in facts)
    return f"<h2>Assumed</h2>\n<ul>{items}</ul>"


def badge(verdict: str) -> str:
    """The coloured badge of one verdict (icon + word)."""
    icon, label, css = VERDICT_BADGES.get(verdict, ("?", verdict, "unchecked"))
    return (f'<span class="badge {css}" data-verdict="{escape(verdict)}">'
            f'<span class="icon" aria-hidden="true">{icon}</span>{escape(label)}</span>')


def _summary_table(steps) -> str:
    rows = ['<table class="summary">',
            '<thead><tr><th>verdict</th><th>steps</th><th class="links">where</th></tr></thead><tbody>']
    for verdict in VERDICT_ORDER:
        chosen = [(i, s) for i, s in enumerate(steps, start=1) if s.verdict == verdict]
        rows.append(f'<tr class="verdict {verdict}"><td>{badge(verdict)}</td>'
                    f'<td class="count">{_count_link(chosen)}</td><td class="links">{_links(chosen)}</td></tr>')
        if verdict == "unchecked":
            for reason, members in _unchecked_by_reason(chosen):
                rows.append(f'<tr class="reason"><td>{escape(reason)}</td><td class="count">{_count_link(members)}</td>'
                            f'<td class="links">{_links(members)}</td></tr>')
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _unchecked_by_reason(chosen) -> list[tuple[str, list]]:
    groups: dict[str, list] = {}
    for index, step in chosen:
        groups.setdefault(getattr(step, "reason_kind", "") or "other", []).append((index, step))
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def _count_link(chosen) -> str:
    """The count, linking to the first of its steps (the only link left at phone width)."""
    return f'<a href="#step-{chosen[0][0]}">{len(chosen)}</a>' if chosen else "0"


def _links(chosen) -> str:
    return " ".join(f'<a href="#step-{index}">{escape(_where(step))}</a>' for index, step in chosen) or "\u2014"


def _where(step) -> str:
    column = getattr(step, "column", 0)
    return f"line {step.line}" + (f":{column}" if column else "")


def _step_section(index: int, step) -> str:
    verdict_css = VERDICT_BADGES.get(step.verdict, ("", "", "unchecked"))[2]
    head = [f'<a class="where" href="#step-{index}">{escape(_where(step))}</a>', badge(step.verdict)]
    if step.condition:
        head.append(f'<span class="case">case {_condition_html(step.condition)}</span>')
    parts = [f'<section class="step {verdict_css}" id="step-{index}" data-line="{step.line}">',
             f'<div class="step-head">{"".join(head)}</div>',
             f'<div class="math-box claim">{to_html(_step_latex(step), display=True)}</div>']
    if step.reason:
        parts.append(f'<p class="reason">{escape(step.reason)}</p>')
    if step.counterexample is not None:
        parts.append(_counterexample(step.counterexample))
    if step.difference is not None:
        parts.append('<div class="difference"><span class="label">lhs \u2212 rhs</span>'
                     f'<div class="math-box">{to_html(step.difference, display=True)}</div></div>')
    parts.append(_meanings(step))
    parts.append("</section>")
    return "\n".join(part for part in parts if part)


def _step_latex(step) -> str:
    """The step as written: both sides as in the file, joined by the relation."""
    lhs = step.lhs_source or step.lhs
    rhs = step.rhs_source or step.rhs
    relation = RELATION_LATEX.get(step.relation, step.relation)
    return " ".join(part for part in (lhs, relation, rhs) if part)


def _condition_html(condition: str) -> str:
    words = condition.split()
    if words and all(word.isalpha() and len(word) > 1 for word in words):  # "otherwise", "else"
        return f"<em>{escape(condition)}</em>"
    return to_html(condition)


def _counterexample(example) -> str:
    how = ("exact rational arithmetic" if getattr(example, "exact", False)
           else f"checked with {example.precision_digits}-digit arithmetic")
    items = []
    for _, definition in example.functions:
        items.append(f'<li><span class="label">with</span> {to_html(definition)}</li>')
    if example.point:
        point = ",\\quad ".join(f"{name} = {value}" for name, value in example.point)
        items.append(f'<li><span class="label">at</span> {to_html(point)}</li>')
    values = f"\\text{{lhs}} = {example.lhs_value},\\quad \\text{{rhs}} = {example.rhs_value}"
    items.append(f"<li>{to_html(values)}</li>")
    restrictions = tuple(getattr(example, "restrictions", ()))
    if restrictions:
        shown = ",\\quad ".join(restrictions)
        items.append(f'<li><span class="label">where</span> {to_html(shown)} (checked at this point)</li>')
    return (f'<div class="counterexample"><span class="label">Counterexample</span> ({escape(how)})'
            f'<ul>{"".join(items)}</ul></div>')


def _meanings(step) -> str:
    meanings = tuple(getattr(step, "meanings", ()))
    if not meanings:
        return ""
    items = "".join(
        f"<li>{to_html(getattr(m, 'name', ''))} \u2014 {escape(str(getattr(m, 'kind', '')))}"
        f" ({escape(str(getattr(m, 'source', '')))})</li>"
        for m in meanings
    )
    return f"<details><summary>where the symbols' meanings come from</summary><ul>{items}</ul></details>"
