"""The review of issue 12: realistic writeups in ``tests/writeups/review/``, each line marked as right or wrong.

A line marked ``<!-- correct -->`` is never reported FALSE; on one marked ``<!-- wrong -->`` some
step (the wrong one) is neither proved nor holds; ``<!-- expect: VERDICT -->`` pins one verdict on that line. The markers come from the
mathematics (checked by hand), never from symderiv's output.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from symderiv.writeup.report import FALSE, HOLDS, PROVED
from symderiv.writeup.verdicts import check_text

REVIEW = Path(__file__).resolve().parents[1] / "writeups" / "review"
FILES = sorted(p for p in REVIEW.iterdir() if p.suffix in (".md", ".tex") and p.name != "README.md")


def markers(text: str) -> dict:
    found = {}
    for number, line in enumerate(text.split("\n"), start=1):
        for marker in re.findall(r"<!--\s*(correct|wrong|expect:\s*\w+)\s*-->|%\s*(correct|wrong|expect:\s*\w+)\s*$",
                                 line):
            found.setdefault(number, []).append(" ".join((marker[0] or marker[1]).replace(":", " ").split()))
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_review_writeup_verdicts_respect_the_mathematics(path):
    text = path.read_text()
    report = check_text(text, path.suffix == ".tex", [])
    by_line: dict = {}
    for step in report.equations:
        by_line.setdefault(step.line, []).append(step)
    marked = markers(text)
    assert marked, "a review writeup marks its lines"
    for line, kinds in marked.items():
        found = by_line.get(line, [])
        shown = [(s.verdict, s.lhs_source, s.rhs_source, s.reason) for s in found]
        for kind in kinds:
            if kind == "correct":
                assert all(s.verdict != FALSE for s in found), (path.name, line, shown)
            elif kind == "wrong":
                assert found and any(s.verdict not in (PROVED, HOLDS) for s in found), (path.name, line, shown)
            else:
                verdict = kind.split()[1].lower()
                assert any(s.verdict == verdict for s in found), (path.name, line, verdict, shown)
