"""``symderiv latex [NAME ...] [-o FILE.tex] [--pdf]``: the checked derivations as a LaTeX document.

Without NAME, every built-in proof (and the numeric comparison table); a NAME
is a built-in proof name or the path of your own proof file (Python, run with
your rights). Without ``-o`` the document goes to stdout; ``--pdf`` compiles
it with pdflatex (no shell escape, in a temporary directory) and keeps the
.tex and .log beside the PDF. Every output path is checked before the proofs
run, an existing file is replaced only with ``--force``, and files are written
whole or not at all (:mod:`symderiv.files`). Exit 0 when every proof
checks as expected, 1 when one does not (the document is still written, with
the failing step marked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from symderiv.commands._common import ascii_int
from symderiv.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError

CPU_LIMIT_S = 300
PRELOAD = ("numpy", "sympy", "mpmath")
MAX_POINTS = 100_000
DEFAULT_PDF_STEM = "symderiv-writeup"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="proofs to include: built-in names or paths to your own proof files (default: all built-ins; "
        "a proof file is Python and runs with your rights: only files you trust)",
    )
    parser.add_argument("-o", "--output", metavar="FILE.tex", help="write the document here instead of stdout")
    parser.add_argument(
        "--pdf",
        action="store_true",
        help=f"also compile with pdflatex (without -o: ./{DEFAULT_PDF_STEM}.tex and .pdf)",
    )
    parser.add_argument("--force", action="store_true", help="replace output files that already exist")
    parser.add_argument("--points", type=ascii_int, default=200, metavar="N", help="random points per numeric witness (default 200)")
    parser.add_argument("--seed", type=ascii_int, default=0, metavar="S", help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.points <= MAX_POINTS:
        raise InputError(f"--points: {args.points} is outside 1..{MAX_POINTS}")
    if args.seed < 0:
        raise InputError("--seed must be >= 0")
    output = _output_path(args)
    if args.pdf:
        import shutil

        from symderiv.latex_document import INSTALL_HINT

        if shutil.which("pdflatex") is None:  # say so before spending seconds on the proofs
            raise InputError(f"--pdf needs pdflatex, which is not installed; install it with: {INSTALL_HINT}")
    from symderiv.latex_document import build_document, compile_pdf

    writeup = build_document(args.names or None, points=args.points, seed=args.seed)
    if output is None:
        sys.stdout.write(writeup.tex)
    else:
        from symderiv.files import write_atomically

        write_atomically(output, writeup.tex, "-o", force=args.force)
        print(f"wrote {output}")
    if args.pdf:
        build = compile_pdf(output, force=args.force)
        note = f" ({build.overfull_boxes} overfull boxes)" if build.overfull_boxes else ""
        print(f"wrote {build.pdf_path}{note}")
    for result in writeup.results:
        if not result.as_expected:
            print(f"symderiv: check failed: {result.summary}", file=sys.stderr)
    return EXIT_OK if writeup.all_as_expected else EXIT_CHECK_FAILED


def _output_path(args: argparse.Namespace) -> Path | None:
    """The .tex to write (None: stdout), every file it implies checked now, not
    after seconds of proofs: .tex, and with --pdf the .pdf and .log beside it."""
    from symderiv.files import check_output_path

    if args.output is None and not args.pdf:
        return None
    path = Path(args.output) if args.output is not None else Path(f"{DEFAULT_PDF_STEM}.tex")
    if path.suffix != ".tex":
        raise InputError(f"-o: {path} must end in .tex")
    check_output_path(path, "-o", force=args.force)
    if args.pdf:
        for companion in (path.with_suffix(".pdf"), path.with_suffix(".log")):
            check_output_path(companion, "--pdf", force=args.force)
    return path
