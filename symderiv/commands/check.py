"""`symderiv check FILE [--let DECL ...] [--assume FACT ...] [--json] [--html R.html] [--annotate OUT.pdf]`: verify every equation in a writeup.

Exit status: 0 no step is false, 1 some step is false, 2 unreadable file or bad option.
Budgets are CPU seconds (``--timeout`` per step, ``--time-budget`` per file), so a
verdict does not depend on how busy the machine is.
"""

from __future__ import annotations

import argparse
import json
import sys

from symderiv.commands import check_outputs
from symderiv.files import read_text_file
from symderiv.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError

# Each step has its own CPU bound (--timeout) and the file a CPU budget; the dispatcher's
# wall-clock guard would make a verdict depend on the machine's load, so it is disabled.
TIME_LIMIT_S = None
#: the ``symderiv check`` process re-executes itself once with this PYTHONHASHSEED (see cli.py): hash
#: randomisation changes SymPy's term order, and so the work a step needs and a near-budget verdict
FIXED_HASH_SEED = "0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="Markdown (.md) or LaTeX (.tex) writeup")
    parser.add_argument(
        "--let", dest="lets", action="append", default=[], metavar="DECL",
        help=r'declaration in LaTeX, repeatable: "g = g(x)", "\ell = \ell(g, h)", '
             r'"Z = \sum_{k=1}^n \exp(x_k)", "\sigma(t) = \frac{1}{1+\exp(-t)}"; shapes of vectors and '
             r'matrices: "W: m x n", "x: n"',
    )
    parser.add_argument(
        "--assume", dest="assume", action="append", default=[], metavar="FACT",
        help=r'a fact the proofs may use and counterexamples must respect, repeatable: "x > 0", "\sum_i y_i = 1"',
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object with an 'equations' list")
    parser.add_argument("--timeout", "--step-timeout", dest="timeout", type=float, default=5.0, metavar="SECONDS",
                        help="CPU seconds per step; a step that needs more is reported unchecked (default 5)")
    parser.add_argument("--time-budget", type=float, default=300.0, metavar="SECONDS",
                        help="CPU seconds for the whole file; later steps are reported unchecked (default 300)")
    parser.add_argument("--latex", action="store_true", help="read FILE as LaTeX whatever its extension")
    check_outputs.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    text = read_text_file(args.file)
    if not (0 < args.timeout <= 600):
        raise InputError("--timeout must be in (0, 600] seconds")
    if not (0 < args.time_budget <= 86400):
        raise InputError("--time-budget must be in (0, 86400] seconds")
    is_latex = args.latex or args.file.lower().endswith((".tex", ".ltx", ".latex"))
    outputs = check_outputs.prepare(args, is_latex)  # fail on a bad --html/--annotate before checking

    from symderiv.writeup.verdicts import check_text

    report = check_text(text, is_latex, list(args.lets), args.file,
                        step_seconds=args.timeout, budget_seconds=args.time_budget, assume=list(args.assume))
    check_outputs.write_html(outputs, report)  # before the printout: a closed stdout must not lose it
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_human(report)
    check_outputs.write_annotated(outputs, report, text, args.file)
    return EXIT_CHECK_FAILED if report.any_false else EXIT_OK




# ":=" is checked as "="; "" marks a block that could not be read (no relation to show).
_RELATION_SHOWN = {"=": " = ", ":=": " = ", "\\neq": " \\neq ", "": ""}
_MARK = {"proved": "proved   ", "holds": "holds    ", "false": "FALSE    ", "unchecked": "unchecked"}


def _print_human(report) -> None:
    out = sys.stdout
    for warning in report.warnings:
        out.write(f"warning: {warning}\n")
    if not report.equations:
        if report.displays:
            out.write(f"{report.path}: {report.displays} display{'s' if report.displays > 1 else ''}, "
                      "none holds an equation to check\n")
        else:
            out.write(f"{report.path}: no equations found\n")
        return
    for step in report.equations:
        _print_step(out, step)
    counts = report.counts()
    out.write(f"\n{len(report.equations)} steps: {counts['proved']} proved, {counts['holds']} hold numerically, "
              f"{counts['false']} false, {counts['unchecked']} unchecked\n")
    if not report.checkable:
        out.write(f"{report.path}: no checkable step (every step is unchecked; the reasons say why)\n")


def _print_step(out, step) -> None:
    relation = _RELATION_SHOWN.get(step.relation, f" {step.relation} ")
    condition = f"   [case {step.condition}]" if step.condition else ""
    out.write(f"line {step.line:>4}  {_MARK[step.verdict]}  {_clip(step.lhs_source)}{relation}"
              f"{_clip(step.rhs_source)}{condition}\n")
    if step.reason:
        out.write(f"{'':17}{step.reason}\n")
    in_file = [m for m in step.meanings if m.source.startswith("line ")]
    if in_file and step.verdict != "unchecked":  # a verdict that rests on the file's own definitions says so
        out.write(f"{'':17}using  " + ";  ".join(f"{m.name}: {m.kind} ({m.source})" for m in in_file) + "\n")
    example = step.counterexample
    if example is not None:
        if example.functions:
            out.write(f"{'':17}with   " + ";  ".join(definition for _, definition in example.functions) + "\n")
        if example.point:
            out.write(f"{'':17}at     " + ",  ".join(f"{name} = {value}" for name, value in example.point) + "\n")
        how = "exact rational arithmetic" if example.exact else f"checked with {example.precision_digits}-digit arithmetic"
        out.write(f"{'':17}lhs = {example.lhs_value},  rhs = {example.rhs_value}   ({how})\n")
        if example.restrictions:
            out.write(f"{'':17}where  " + ";  ".join(example.restrictions) + " (checked at this point)\n")
    if step.difference is not None:
        out.write(f"{'':17}lhs - rhs = {step.difference}\n")


def _clip(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 5] + " ..."
