"""``symderiv.check_writeup``: the Python API of ``symderiv check``.

Contract: ``check_writeup(text_or_path, lets=(), assume=(), timeout=5.0, budget=300.0, latex=None)``
returns a :class:`~symderiv.writeup.report.CheckReport` (frozen dataclasses: every step with its
line and column, character span, verdict, reason and its category and position, conditions,
counterexample, simplified difference, and where each symbol's meaning came from). It never
prints and never exits.

- ``text_or_path``: an ``os.PathLike`` is a file; a ``str`` is a file when it names an existing
  file and holds no newline, otherwise it is the writeup's text. Files are read as the CLI reads
  them (regular files only, at most 5 MB, UTF-8); a bad file or a bad declaration raises
  :class:`symderiv.errors.InputError`.
- ``lets``/``assume``: the ``--let``/``--assume`` texts. ``timeout``: CPU seconds per step;
  ``budget``: CPU seconds for the file. ``latex``: read as LaTeX (default: from the file's
  extension; Markdown for text).

Budgets count work (:mod:`symderiv.budget`). Unlike the CLI, which re-executes itself with a
fixed ``PYTHONHASHSEED`` and starts from cold caches, a call here runs in the caller's process:
its hash seed and what SymPy has already cached or imported change the work a step needs, so a
step near its budget may be decided here and unchecked by the CLI, or the reverse (docs/check.md,
"Python API").
"""

from __future__ import annotations

import os
from pathlib import Path

from symderiv.errors import InputError

LATEX_SUFFIXES = (".tex", ".ltx", ".latex")


def check_writeup(text_or_path, lets=(), assume=(), timeout: float = 5.0, budget: float = 300.0,
                  latex: bool | None = None):
    from symderiv.files import read_text_file
    from symderiv.writeup.verdicts import check_text

    if not (0 < timeout <= 600):
        raise InputError("timeout must be in (0, 600] seconds")
    if not (0 < budget <= 86400):
        raise InputError("budget must be in (0, 86400] seconds")
    path = _as_path(text_or_path)
    if path is not None:
        text = read_text_file(str(path))
        name = str(path)
        is_latex = latex if latex is not None else path.suffix.lower() in LATEX_SUFFIXES
    else:
        if not isinstance(text_or_path, str):
            raise InputError(f"expected a str or a path, not {type(text_or_path).__name__}")
        text, name = text_or_path, "<text>"
        is_latex = bool(latex)
    return check_text(text, is_latex, [str(d) for d in lets], name, step_seconds=float(timeout),
                      budget_seconds=float(budget), assume=[str(a) for a in assume])


def _as_path(value) -> Path | None:
    if isinstance(value, os.PathLike):
        return Path(value)
    if isinstance(value, str) and "\n" not in value and len(value) < 4096:
        try:
            if os.path.isfile(value):
                return Path(value)
        except (OSError, ValueError):
            return None
    return None


__all__ = ["check_writeup"]
