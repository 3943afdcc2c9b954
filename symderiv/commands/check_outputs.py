"""The files ``symderiv check`` can write besides its printout: ``--html`` and ``--annotate``.

Contract: :func:`prepare` runs before the check and fails fast (exit 2, one
line) on anything that would stop an output later: a missing extra or
pdflatex, a bad or existing path without ``--force``, ``--annotate`` on a
file that is not LaTeX. :func:`write` runs after the check and writes each
requested file atomically; the HTML report is written first (before the
printout), so a document that does not compile for ``--annotate`` still
leaves the report. Messages
about written files go to stderr, so ``--json`` output stays pure JSON.
Standard library only at import time (``symderiv --help`` stays light).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from symderiv.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--html", metavar="REPORT.html",
                        help="also write a self-contained HTML report with the mathematics typeset "
                             '(needs: pip install "symderiv[html]")')
    parser.add_argument("--annotate", metavar="OUT.pdf",
                        help="LaTeX files: compile your document with a margin mark beside each checked step")
    parser.add_argument("--force", action="store_true", help="overwrite existing --html / --annotate files")


@dataclass(frozen=True)
class Outputs:
    html: Path | None
    annotate: Path | None
    force: bool


def prepare(args: argparse.Namespace, is_latex: bool) -> Outputs:
    """Validate the requested outputs before any checking work (see the module contract)."""
    html_path = annotate_path = None
    if getattr(args, "html", None):
        from symderiv.render import mathml

        if not mathml.available():
            raise InputError(f"--html needs latex2mathml, which is not installed; install it with: {mathml.INSTALL_HINT}")
        html_path = _output_path("--html", args.html, ".html", args)
    if getattr(args, "annotate", None):
        import shutil

        from symderiv.latex_document import INSTALL_HINT

        if not is_latex:
            raise InputError(f"--annotate: {args.file} is not a LaTeX file (use --latex to read it as LaTeX)")
        if shutil.which("pdflatex") is None:
            raise InputError(f"--annotate needs pdflatex, which is not installed; install it with: {INSTALL_HINT}")
        annotate_path = _output_path("--annotate", args.annotate, ".pdf", args)
        if html_path is not None and html_path.resolve() == annotate_path.resolve():
            raise InputError("--html and --annotate name the same file")
    return Outputs(html_path, annotate_path, bool(getattr(args, "force", False)))


def _output_path(option: str, value: str, suffix: str, args: argparse.Namespace) -> Path:
    from symderiv.files import check_output_path

    path = check_output_path(value, option, suffix=suffix, force=args.force)
    if path.exists() and Path(args.file).exists() and path.samefile(args.file):
        raise InputError(f"{option} {value}: that is the file being checked")
    return path


def write_html(outputs: Outputs, report) -> None:
    """The HTML report, if requested."""
    if outputs.html is not None:
        from symderiv.files import write_atomically
        from symderiv.render.html import render_report

        write_atomically(outputs.html, render_report(report), "--html", force=outputs.force)
        sys.stderr.write(f"wrote {outputs.html}\n")


def write_annotated(outputs: Outputs, report, text: str, source_path: str) -> None:
    """The annotated PDF of the LaTeX document ``text``, if requested."""
    if outputs.annotate is not None:
        from symderiv.files import write_atomically
        from symderiv.render.annotate import AnnotateError, annotate_pdf

        try:
            pdf = annotate_pdf(report, text, source_dir=str(Path(source_path).resolve().parent))
        except AnnotateError as exc:
            raise InputError(f"--annotate: {exc}") from None
        write_atomically(outputs.annotate, pdf, "--annotate", force=outputs.force)
        sys.stderr.write(f"wrote {outputs.annotate}\n")
