"""``symderiv check FILE.tex --annotate OUT.pdf``: the user's own document with a mark beside each checked step.

Contract:

- :func:`annotated_source` takes a :class:`CheckReport` and the document's
  text and returns an :class:`AnnotatedSource`: a copy of the document with
  (a) a few macros added just before ``\\begin{document}``, (b) a call
  ``\\SymderivMark{k}{mark}`` inserted just before the relation sign of each
  source line's first checked step (the report's line and column), and (c) a
  list of every step's verdict, reason and counterexample added just before
  ``\\end{document}``. Marks: ✓ proved, ≈ holds, × false [k] (the numbered
  entry of the list holds the counterexample), ? unchecked. A step is not
  marked (it is still listed) where inserting could change the document's
  meaning: in the preamble, after a ``%`` comment sign, where the column does
  not point at the relation, or after a command that takes the next token as
  its argument (``\\not=``, ``\\mathrel=``).
- The mark itself is a zero-width box: it does not move anything in the
  document. pdfTeX records where each mark's line is (``\\pdfsavepos``) on a
  first run; the second run shifts the mark from there into the right margin.
- :func:`compile_annotated` runs pdflatex twice on the copy in a fresh
  temporary directory under the fixed name ``document.tex`` (the user's file
  name never reaches TeX), without shell escape, non-interactive, with the
  document's own directory on ``TEXINPUTS`` so its ``\\input`` files and
  figures are found, each run bounded by CPU time (``RLIMIT_CPU``) and a
  wall-clock guard against a blocked process. It returns the PDF's bytes or
  raises :class:`AnnotateError` with one line: the document does not compile
  with pdflatex as given (pdflatex's first error), or the marks could not be
  placed although it does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from symderiv.printing.tex_text import escape_text as latex_text

CPU_SECONDS_PER_RUN = 60
WALL_SECONDS_PER_RUN = 300
JOB = "document"

MARKS = {  # verdict -> (glyph in TeX, word)
    "proved": (r"{\usefont{U}{msa}{m}{n}\symbol{"'"'"58}}", "proved"),
    "holds": (r"$\approx$", "holds"),
    "false": (r"{\boldmath$\times$}", "false"),
    "unchecked": ("?", "unchecked"),
}

# Added before \begin{document}. \SymderivMark is \protected, so it survives moving
# arguments (section titles, captions) unexpanded; \write in a box that amsmath only
# measures is never shipped, so each mark records the position of its final copy.
PREAMBLE = r"""
%% ---- added by symderiv check --annotate ----
\makeatletter
\newwrite\symderiv@out
\def\symderiv@at#1#2{\expandafter\gdef\csname symderiv@x@#1\endcsname{#2}}
\InputIfFileExists{symderiv-marks.pos}{}{}
\immediate\openout\symderiv@out=symderiv-marks.pos\relax
\newdimen\symderiv@shift
\def\symderiv@margin{\dimexpr 1in+\hoffset+\oddsidemargin+\textwidth+0.6em\relax}
\protected\def\SymderivMark#1#2{\pdfsavepos
  \write\symderiv@out{\string\symderiv@at{#1}{\the\pdflastxpos}}%
  \ifcsname symderiv@x@#1\endcsname
    \symderiv@shift=\dimexpr\symderiv@margin-\csname symderiv@x@#1\endcsname sp\relax
    \rlap{\hskip\symderiv@shift\smash{\normalfont\footnotesize\sffamily\mdseries\upshape #2}}%
  \fi}
\makeatother
\pdfgentounicode=1 \input glyphtounicode
%% ---- end of symderiv's additions ----
"""

_BEGIN = re.compile(r"^[^%\n]*?(\\begin\s*\{document\})", re.MULTILINE)
_END = re.compile(r"^[^%\n]*?(\\end\s*\{document\})", re.MULTILINE)
_GRABS_NEXT_TOKEN = re.compile(r"\\(?:not|mathrel|buildrel|stackrel|overset|underset|mathop|mathbin)\s*$")
_RELATION_START = {"=": ("=",), ":=": (":=", "="), "\\neq": ("\\neq", "\\ne", "\\not")}


class AnnotateError(Exception):
    """The annotated PDF cannot be made; the message is one line."""


@dataclass(frozen=True)
class AnnotatedSource:
    tex: str
    marked: tuple[int, ...]  # step numbers (1-based) that got a margin mark
    unmarked: tuple[int, ...]  # steps listed at the end only


def annotated_source(report, text: str) -> AnnotatedSource:
    """The document with marks and the verdict list added (see the module contract)."""
    begin, end = _BEGIN.search(text), _END.search(text)
    if begin is None or end is None or end.start(1) < begin.end(1):
        raise AnnotateError(r"the file has no \begin{document} ... \end{document}: --annotate needs a whole LaTeX document")
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    steps = tuple(report.equations)
    insertions: list[tuple[int, str]] = []
    marked: list[int] = []
    for line, members in _by_line(steps).items():
        offset = _mark_offset(text, starts, members[0][1], begin.end(1), end.start(1))
        if offset is None:
            continue
        insertions.append((offset, rf"\SymderivMark{{{len(insertions) + 1}}}{{{_mark_text(members)}}}"))
        marked.extend(index for index, _ in members)
    pieces, previous = [], 0
    insertions.append((end.start(1), _verdict_list(steps, set(marked))))
    insertions.insert(0, (begin.start(1), PREAMBLE))
    for offset, addition in sorted(insertions, key=lambda item: item[0]):
        pieces.append(text[previous:offset])
        pieces.append(addition)
        previous = offset
    pieces.append(text[previous:])
    unmarked = tuple(i for i in range(1, len(steps) + 1) if i not in set(marked))
    return AnnotatedSource("".join(pieces), tuple(sorted(marked)), unmarked)


def _by_line(steps) -> dict[int, list[tuple[int, object]]]:
    groups: dict[int, list] = {}
    for index, step in enumerate(steps, start=1):
        groups.setdefault(step.line, []).append((index, step))
    return groups


def _mark_offset(text: str, starts: list[int], step, body_start: int, body_end: int) -> int | None:
    """Where the step's mark goes (just before its relation sign), or None where that is not safe."""
    column = getattr(step, "column", 0)
    if not column or not 1 <= step.line <= len(starts):
        return None
    line_start = starts[step.line - 1]
    offset = line_start + column - 1
    if not body_start <= offset < body_end:
        return None
    before = text[line_start:offset]
    if re.search(r"(?<!\\)%", before) or _GRABS_NEXT_TOKEN.search(before):
        return None
    if not text.startswith(_RELATION_START.get(step.relation, (step.relation or "\0",)), offset):
        return None
    return offset


def _mark_text(members) -> str:
    if len(members) == 1:
        index, step = members[0]
        glyph, word = MARKS.get(step.verdict, MARKS["unchecked"])
        return f"{glyph}\\,{word}" + (f" [{index}]" if step.verdict == "false" else "")
    return r"\,".join(MARKS.get(s.verdict, MARKS["unchecked"])[0] + (f"[{i}]" if s.verdict == "false" else "")
                      for i, s in members)


def _verdict_list(steps, marked: set[int]) -> str:
    lines = ["", "%% ---- added by symderiv check --annotate ----", r"\par\bigskip\begingroup\sloppy\small",
             r"\noindent\textbf{symderiv check: every step}\par\smallskip"]
    for index, step in enumerate(steps, start=1):
        glyph, word = MARKS.get(step.verdict, MARKS["unchecked"])
        where = f"line {step.line}" + ("" if index in marked else " (not marked in the margin)")
        entry = [rf"\noindent[{index}] {latex_text(where)}: {glyph}\,{word}"]
        if step.reason:
            entry.append(rf" --- {latex_text(step.reason)}")
        example = step.counterexample
        if example is not None and step.verdict == "false":
            entry.append(_counterexample(example))
        lines.append("".join(entry) + r"\par")
    lines += [r"\endgroup", "%% ---- end of symderiv's additions ----", ""]
    return "\n".join(lines)


def _counterexample(example) -> str:
    parts = []
    for _, definition in example.functions:
        parts.append(f"with ${_math(definition)}$")
    if example.point:
        parts.append("at $" + ",\\ ".join(f"{_math(name)} = {_math(value)}" for name, value in example.point) + "$")
    parts.append(f"lhs $= {_math(example.lhs_value)}$, rhs $= {_math(example.rhs_value)}$")
    how = "exact rational arithmetic" if getattr(example, "exact", False) else f"{example.precision_digits}-digit arithmetic"
    return r"\\ \hspace*{1.5em}" + "; ".join(parts) + f" ({how})."


def _math(latex: str) -> str:
    """SymPy's LaTeX as written, or, when its braces do not balance (a clipped printout), as text."""
    depth = 0
    for char in latex.replace("\\{", "").replace("\\}", ""):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth == 0 and "$" not in latex and "%" not in latex.replace("\\%", ""):
        return latex
    return r"\text{" + latex_text(latex) + "}"


def compile_annotated(tex: str, source_dir: str | None = None) -> bytes:
    """Two pdflatex runs on ``tex`` in a temporary directory; the PDF's bytes (see the module contract)."""
    import os
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="symderiv-annotate-") as work:
        (Path(work) / f"{JOB}.tex").write_text(tex, encoding="utf-8")
        env = dict(os.environ, openout_any="p", shell_escape="f")
        if source_dir:
            env["TEXINPUTS"] = f"{source_dir}{os.pathsep}"
        for _ in range(2):
            failure = _run_pdflatex(work, env)
            if failure:
                raise AnnotateError(failure)
        return (Path(work) / f"{JOB}.pdf").read_bytes()


def _run_pdflatex(work: str, env: dict) -> str:
    import resource
    import shutil
    import subprocess
    from pathlib import Path

    def limit_cpu():  # in the child: CPU seconds, not wall-clock, bound the run
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS_PER_RUN, CPU_SECONDS_PER_RUN))

    executable = shutil.which("pdflatex")
    if executable is None:
        return "pdflatex is not installed"
    command = [executable, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
               "-file-line-error", f"{JOB}.tex"]
    try:
        completed = subprocess.run(command, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=WALL_SECONDS_PER_RUN, preexec_fn=limit_cpu)
    except subprocess.TimeoutExpired:
        return f"pdflatex did not finish within {WALL_SECONDS_PER_RUN} s"
    if completed.returncode != 0 or not (Path(work) / f"{JOB}.pdf").exists():
        return _first_error(completed.stdout.decode("utf-8", "replace"), completed.returncode)
    return ""


def _first_error(log: str, code: int) -> str:
    if code < 0:
        return f"pdflatex was stopped by signal {-code} (CPU limit {CPU_SECONDS_PER_RUN} s?)"
    for line in log.splitlines():
        if line.startswith("!") or re.match(rf"^\./{JOB}\.tex:\d+: ", line):
            return re.sub(rf"^\./{JOB}\.tex:", "line ", line.strip())[:200]
    return f"pdflatex failed (exit {code})"


def annotate_pdf(report, text: str, source_dir: str | None = None) -> bytes:
    """The annotated PDF of ``text``; if it fails, says whether the document itself compiles."""
    annotated = annotated_source(report, text)
    try:
        return compile_annotated(annotated.tex, source_dir)
    except AnnotateError as annotated_failure:
        try:
            compile_annotated(text, source_dir)
        except AnnotateError as original_failure:
            raise AnnotateError(f"the document does not compile with pdflatex as given: {original_failure}") from None
        raise AnnotateError(f"the document compiles, but not with the marks added ({annotated_failure}); "
                            "the report itself (text, --json, --html) is unaffected") from None
