"""Result dataclasses of ``symderiv check`` (printed by the CLI, never here)."""

from __future__ import annotations

from dataclasses import dataclass, field

PROVED = "proved"
HOLDS = "holds"
FALSE = "false"
UNCHECKED = "unchecked"


@dataclass(frozen=True)
class Counterexample:
    functions: tuple[tuple[str, str], ...]  # (name, LaTeX definition) e.g. ("g", "g(x) = x^{2}")
    point: tuple[tuple[str, str], ...]  # (LaTeX name, value)
    lhs_value: str
    rhs_value: str
    precision_digits: int
    exact: bool = False  # values computed in exact rational arithmetic (shown rounded)

    def as_dict(self) -> dict:
        return {
            "functions": dict(self.functions),
            "point": dict(self.point),
            "lhs_value": self.lhs_value,
            "rhs_value": self.rhs_value,
            "verified_digits": self.precision_digits,
            "exact": self.exact,
        }


@dataclass(frozen=True)
class StepResult:
    line: int
    lhs: str  # LaTeX as written (normalised whitespace)
    rhs: str
    relation: str
    verdict: str
    reason: str = ""
    condition: str | None = None
    counterexample: Counterexample | None = None
    difference: str | None = None  # lhs - rhs, simplified, LaTeX
    seconds: float = 0.0
    lhs_source: str = ""  # as written in the file (whitespace collapsed)
    rhs_source: str = ""

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "lhs": self.lhs,
            "rhs": self.rhs,
            "lhs_source": self.lhs_source,
            "rhs_source": self.rhs_source,
            "relation": self.relation,
            "condition": self.condition,
            "verdict": self.verdict,
            "counterexample": None if self.counterexample is None else self.counterexample.as_dict(),
            "difference": self.difference,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class CheckReport:
    path: str
    equations: tuple[StepResult, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def any_false(self) -> bool:
        return any(step.verdict == FALSE for step in self.equations)

    def counts(self) -> dict[str, int]:
        totals = {PROVED: 0, HOLDS: 0, FALSE: 0, UNCHECKED: 0}
        for step in self.equations:
            totals[step.verdict] += 1
        return totals

    def as_dict(self) -> dict:
        return {
            "file": self.path,
            "equations": [step.as_dict() for step in self.equations],
            "warnings": list(self.warnings),
            "summary": self.counts(),
        }
