"""Result dataclasses of ``symderiv check`` (printed by the CLI, never here).

A :class:`CheckReport` holds everything a renderer needs (the CLI's text and
JSON today; an HTML report or a notebook display later): for each step its
source position (line and column of the relation sign, the character span of
the step in the file), the verdict, the reason (with its category and, when a
construct was not read, that construct's line and column), the conditions it
was checked under, a checked counterexample, the simplified difference, and
where the meaning of each symbol it uses came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from symderiv.algebra.verdict import Counterexample, StepVerdict, Verdict

PROVED, HOLDS, FALSE, UNCHECKED = Verdict.PROVED, Verdict.HOLDS, Verdict.FALSE, Verdict.UNCHECKED

__all__ = ["FALSE", "HOLDS", "PROVED", "UNCHECKED", "CheckReport", "Counterexample", "Meaning", "StepResult"]


@dataclass(frozen=True)
class Meaning:
    """Where a symbol's meaning came from: ``kind`` (definition, function of x, variable, ...) and ``source``."""

    name: str  # LaTeX
    kind: str
    source: str  # "--let", "line 12", "convention", "undeclared", "known function"

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source}


@dataclass(frozen=True, kw_only=True)
class StepResult(StepVerdict):
    """A step of a writeup and its verdict: where it is in the file, how it was read, under what."""

    line: int
    lhs: str  # LaTeX of the parsed expression (or as written when it could not be parsed)
    rhs: str
    condition: str | None = None  # the case condition as shown ("i = j", "otherwise")
    difference: str | None = None  # lhs - rhs, simplified, LaTeX
    seconds: float = 0.0  # CPU seconds spent on the step
    work_units: int = 0  # work spent deciding it (symderiv.budget.work_units): what its budget counts
    lhs_source: str = ""  # as written in the file (whitespace collapsed)
    rhs_source: str = ""
    column: int = 0  # of the relation sign
    span: tuple[int, int] = (0, 0)  # character offsets of the step in the file
    reason_at: tuple[int, int] | None = None  # (line, column) of the construct named by the reason
    conditions: tuple[str, ...] = ()  # every condition and fact the step was checked under
    meanings: tuple[Meaning, ...] = ()  # where the meaning of each symbol in the step came from
    role: str = "claim"  # claim | definition | fact | condition

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "column": self.column,
            "span": list(self.span),
            "lhs": self.lhs,
            "rhs": self.rhs,
            "lhs_source": self.lhs_source,
            "rhs_source": self.rhs_source,
            "relation": self.relation,
            "condition": self.condition,
            "conditions": list(self.conditions),
            "role": self.role,
            "verdict": self.verdict,
            "counterexample": None if self.counterexample is None else self.counterexample.as_dict(),
            "difference": self.difference,
            "reason": self.reason,
            "reason_kind": self.reason_kind,
            "reason_at": None if self.reason_at is None else list(self.reason_at),
            "meanings": [m.as_dict() for m in self.meanings],
            "cpu_seconds": self.seconds,
            "work_units": self.work_units,
        }


@dataclass(frozen=True)
class CheckReport:
    path: str
    equations: tuple[StepResult, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    symbols: tuple[Meaning, ...] = ()  # every symbol of the document and where its meaning came from
    assumptions: tuple[str, ...] = ()  # --assume facts
    displays: int = 0  # display blocks in the file
    cpu_seconds: float = 0.0

    @property
    def any_false(self) -> bool:
        return any(step.verdict == FALSE for step in self.equations)

    def _repr_html_(self) -> str:  # Jupyter; the renderer is imported only when a notebook asks
        from symderiv.render.notebook import check_report_html

        return check_report_html(self)

    @property
    def checkable(self) -> bool:
        """Some step got a verdict other than unchecked."""
        return any(step.verdict != UNCHECKED for step in self.equations)

    def counts(self) -> dict[str, int]:
        totals = {PROVED: 0, HOLDS: 0, FALSE: 0, UNCHECKED: 0}
        for step in self.equations:
            totals[step.verdict] += 1
        return totals

    def unchecked_by_kind(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for step in self.equations:
            if step.verdict == UNCHECKED:
                totals[step.reason_kind or "other"] = totals.get(step.reason_kind or "other", 0) + 1
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))

    def as_dict(self) -> dict:
        return {
            "file": self.path,
            "equations": [step.as_dict() for step in self.equations],
            "warnings": list(self.warnings),
            "symbols": [m.as_dict() for m in self.symbols],
            "assumptions": list(self.assumptions),
            "displays": self.displays,
            "summary": self.counts(),
            "unchecked_by_reason": self.unchecked_by_kind(),
        }
