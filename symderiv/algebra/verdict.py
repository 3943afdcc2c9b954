"""The verdict vocabulary shared by the proof checker and ``symderiv check``.

Contract:

- :class:`Verdict`: what is claimed about a step. ``proved`` (an exact
  argument), ``holds`` (equal at every point tested, no exact argument),
  ``false`` (a counterexample was found *and confirmed*: exactly, or at 50
  digits; float64 evidence alone never makes a step false) and ``unchecked``
  (undecided, with a reason). A ``str`` enum: ``Verdict.PROVED == "proved"``,
  and it prints and serialises as the plain word.
- :class:`Counterexample`: one point where a claim fails (or, for a ``!=``
  claim, where the two sides differ), with every value a person needs to
  check it by hand: the variables' values, the concrete functions chosen for
  abstract ones, both sides' values and how they were computed.
- :class:`StepVerdict`: the decision about one step, with nothing about where
  the step came from. The proof checker's and ``check``'s step results extend
  it with their own positions (a step index, a line and column).

Nothing here imports SymPy or numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PROVED = "proved"
    HOLDS = "holds"
    FALSE = "false"
    UNCHECKED = "unchecked"


#: how bad a verdict is, for merging the verdicts of one step over several instances (sizes n)
SEVERITY = {Verdict.PROVED: 0, Verdict.HOLDS: 1, Verdict.UNCHECKED: 2, Verdict.FALSE: 3}


@dataclass(frozen=True, kw_only=True)
class Counterexample:
    """Where two expressions differ, as a person checks it.

    ``point``: (variable, value); values are floats (the proof checker's random
    points) or exact text ("3/7", a 50-digit decimal). ``functions``: (name,
    definition) of the concrete functions substituted for abstract ones (plain
    text; ``functions_latex`` the same in LaTeX when both are shown).
    ``lhs_value``/``rhs_value``: the two sides there (floats, or text with as
    many digits as it takes to see them differ). ``exact``: the values were
    computed in exact rational arithmetic; otherwise ``precision_digits`` says
    at how many digits they were confirmed (0: float64). ``exact_difference``:
    lhs − rhs in exact arithmetic, when float64 cannot show it.
    ``restrictions``: the conditions and facts checked to hold at the point.
    """

    point: tuple[tuple[str, Any], ...]
    functions: tuple[tuple[str, str], ...] = ()
    lhs_value: Any = math.nan
    rhs_value: Any = math.nan
    exact: bool = False
    precision_digits: int = 0
    exact_difference: str = ""
    functions_latex: tuple[tuple[str, str], ...] = ()
    restrictions: tuple[str, ...] = ()

    @property
    def has_values(self) -> bool:
        """Both sides have a value at the point (not so where an unknown function f(x) remains)."""
        return not any(isinstance(v, float) and math.isnan(v) for v in (self.lhs_value, self.rhs_value))

    # the proof checker's names: a step is compared with the previous one
    @property
    def assignment(self) -> tuple[tuple[str, Any], ...]:
        return self.point

    @property
    def previous_value(self) -> Any:
        return self.lhs_value

    @property
    def step_value(self) -> Any:
        return self.rhs_value

    def describe(self, lhs: str = "previous step", rhs: str = "this step", gap: str = "previous − this") -> str:
        """One line: the point, the functions, both sides' values (named ``lhs``, ``rhs``) and,
        when known, their exact difference (named ``gap``)."""
        parts = [f"{name} = {_shown(value, 6)}" for name, value in self.point]
        parts += [f"{name} = {body}" for name, body in self.functions]
        where = ", ".join(parts) if parts else "(no variables)"
        if not self.has_values:  # an exact witness where the sides have no value (unknown functions)
            return (f"at {where}: {gap} = {self.exact_difference} exactly "
                    "(the steps themselves have no numeric value there)")
        text = f"at {where}: {lhs} = {_shown(self.lhs_value, 12)}, {rhs} = {_shown(self.rhs_value, 12)}"
        if self.exact_difference:
            text += f" (exactly, {gap} = {self.exact_difference})"
        return text

    def as_dict(self) -> dict:
        return {
            "functions": dict(self.functions),
            "point": dict(self.point),
            "lhs_value": self.lhs_value,
            "rhs_value": self.rhs_value,
            "verified_digits": self.precision_digits,
            "exact": self.exact,
            "restrictions_checked": list(self.restrictions),
        }


def _shown(value: Any, digits: int) -> str:
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True, kw_only=True)
class StepVerdict:
    """The decision about one claimed relation between two expressions.

    ``relation``: ``=`` or ``!=``. ``exact``: an exact argument settled it
    (proved, or a nonzero exact difference). ``reason``/``reason_kind``: why,
    in words and as a category for summaries ("proved", "holds", "kink", …).
    ``counterexample``: present when the verdict is ``false`` (for ``=``) or
    ``proved`` (for ``!=``, the witness that the sides differ).
    ``max_error``: the largest scaled error (``=``) or difference (``!=``)
    seen at the numeric points, 0.0 when none was evaluated.
    """

    relation: str
    verdict: Verdict
    exact: bool = False
    reason: str = ""
    reason_kind: str = ""
    counterexample: Counterexample | None = None
    max_error: float = 0.0
