"""The one decision of a claimed relation between two exact expressions.

Contract: :func:`decide` settles ``lhs = rhs`` (or ``lhs != rhs``) given a
:class:`Setting`, which supplies what is particular to where the claim comes
from: the normal form (its :meth:`Setting.zero` test, the one graded zero
test of :mod:`symderiv.algebra.zero` on the normal forms' difference), the
sampler (:meth:`Setting.sample`, with the conditions and assumptions of the
step), and the searches for counterexamples. The rules, the same for the
proof checker and ``symderiv check``:

- **proved** only by an exact argument: the zero test proves the difference 0.
- **false** only with a *confirmed* counterexample: found in exact rational
  arithmetic, or confirmed at 50 digits where every condition holds. Float64
  disagreement alone is not enough (the step is then ``unchecked``, with the
  reason), nor is "no point could be evaluated".
- **holds**: equal at every sampled point, no exact argument found.
- **unchecked**: otherwise, with the reason.

Cheap exact work comes first (expand, then an exact nonzero rational
difference, then the rational grade), then the numbers, then the costly
rewrites (only for claims the numbers did not refute), then a search below
float64 resolution. ``!=`` is decided as ``=`` and inverted: a confirmed
counterexample proves the sides differ; equal sides make the claim false.

The caller bounds the CPU time (the zero tests also carry their own budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from symderiv.algebra.verdict import Counterexample, StepVerdict, Verdict
from symderiv.algebra.zero import Grade
from symderiv.numeric.precision import HIGH_PRECISION_DIGITS


@dataclass(frozen=True)
class Sampled:
    """The numeric comparison: ``evaluated`` points where both sides are defined and real,
    whether they ``agree`` within the tolerance at every one, the largest scaled error there."""

    evaluated: int
    agree: bool
    max_error: float = 0.0
    detail: Any = None  # the setting's own record (for its reasons)


class Setting(Protocol):
    """Where a claim comes from: how to test its difference exactly, sample it, and find witnesses."""

    def zero(self, grade: Grade) -> bool:
        """lhs − rhs (every entry) proved zero in the setting's normal form by the zero test up to ``grade``
        (:func:`symderiv.algebra.zero.zero_test`)."""

    def exact_counterexample(self) -> Counterexample | None:
        """A point where lhs − rhs is a nonzero rational number (exact arithmetic), or None."""

    def sample(self) -> Sampled:
        """Both sides at the setting's sample points (only where every condition holds)."""

    def counterexample(self, sampled: Sampled) -> Counterexample | None:
        """A counterexample confirmed at 50 digits (or exactly) where the numbers disagree, or None."""

    def remainder_counterexample(self) -> Counterexample | None:
        """An exact point where the difference left by the last zero test is a nonzero rational number."""

    def probe(self) -> tuple[Counterexample | None, int]:
        """A search at 50 digits below float64 resolution: (confirmed counterexample or None, points tried)."""

    def qualifier(self, exact: bool) -> str:
        """What a proof (``exact``) or an agreement used (assumptions, conditions), appended to the reason."""

    def undefined_reason(self) -> tuple[str, str]:
        """Why no point was evaluated, and the kind of that reason."""

    def holds_reason(self, sampled: Sampled, probed: int) -> str:
        """What agreement was seen, for a ``holds``."""


def decide(relation: str, setting: Setting) -> StepVerdict:
    """The verdict on ``lhs relation rhs`` (``=`` or ``!=``) in ``setting``."""
    equal = _decide_equal(setting)
    return equal if relation == "=" else inverted(equal)


def _verdict(verdict: Verdict, reason: str, kind: str, *, exact: bool = False,
             counterexample: Counterexample | None = None, max_error: float = 0.0) -> StepVerdict:
    return StepVerdict(relation="=", verdict=verdict, exact=exact, reason=reason, reason_kind=kind,
                       counterexample=counterexample, max_error=max_error)


def _decide_equal(setting: Setting) -> StepVerdict:
    if setting.zero(Grade.EXPAND):
        return _verdict(Verdict.PROVED, "exact: the difference expands to 0" + setting.qualifier(True), "proved",
                        exact=True)
    # A nonzero rational function of plain variables is not identically zero, however small its
    # coefficients (x versus x + 10^{-30} x): decided exactly, with an exact counterexample.
    exact = setting.exact_counterexample()
    if exact is not None:
        return _verdict(Verdict.FALSE, "exact: lhs - rhs is a nonzero rational function; counterexample in exact "
                        "rational arithmetic", "false", exact=True, counterexample=exact)
    if setting.zero(Grade.RATIONAL):
        return _verdict(Verdict.PROVED, "exact: the difference simplifies to 0" + setting.qualifier(True), "proved",
                        exact=True)
    sampled = setting.sample()
    if sampled.evaluated and not sampled.agree:
        found = setting.counterexample(sampled)
        if found is None:
            return _verdict(Verdict.UNCHECKED, "float64 evaluation disagrees but no counterexample was confirmed at "
                            f"{HIGH_PRECISION_DIGITS} digits where every condition holds", "no counterexample",
                            max_error=sampled.max_error)
        return _verdict(Verdict.FALSE, f"counterexample verified at {HIGH_PRECISION_DIGITS} digits", "false", counterexample=found,
                        max_error=sampled.max_error)
    if not sampled.evaluated:
        return _verdict(Verdict.UNCHECKED, *setting.undefined_reason())
    if setting.zero(Grade.SIMPLIFY):
        return _verdict(Verdict.PROVED, "exact: the difference simplifies to 0" + setting.qualifier(True), "proved",
                        exact=True, max_error=sampled.max_error)
    # sin^2 + cos^2 versus 1 + 10^{-45}: the difference simplifies to a nonzero rational
    # function, which decides the step even where 50 digits cannot show it.
    decided = setting.remainder_counterexample()
    if decided is not None:
        return _verdict(Verdict.FALSE, "exact: lhs - rhs simplifies to a nonzero rational function", "false",
                        exact=True, counterexample=decided, max_error=sampled.max_error)
    # float64 agreement cannot see a relative difference below its tolerance: probe a few
    # points with 50-digit arithmetic before saying "holds".
    found, probed = setting.probe()
    if found is not None:
        return _verdict(Verdict.FALSE, f"counterexample verified at {HIGH_PRECISION_DIGITS} digits (below float64 resolution)",
                        "false",
                        counterexample=found, max_error=sampled.max_error)
    return _verdict(Verdict.HOLDS, setting.holds_reason(sampled, probed) + setting.qualifier(False), "holds",
                    max_error=sampled.max_error)


def inverted(equal: StepVerdict) -> StepVerdict:
    """``lhs != rhs`` from the decision of ``lhs = rhs``."""
    def verdict(v: Verdict, reason: str, kind: str, counterexample=None) -> StepVerdict:
        return StepVerdict(relation="!=", verdict=v, exact=equal.exact, reason=reason, reason_kind=kind,
                           counterexample=counterexample, max_error=equal.max_error)

    if equal.verdict == Verdict.PROVED:
        return verdict(Verdict.FALSE, "the two sides are identically equal", "false")
    if equal.verdict == Verdict.HOLDS:
        # agreement at samples is no proof of equality, so the != is not false for sure
        return verdict(Verdict.UNCHECKED, f"the two sides agree at every sampled point ({equal.reason}), "
                       "but they are not proved equal", "inequality")
    if equal.verdict == Verdict.FALSE:
        return verdict(Verdict.PROVED, "the sides differ at a verified point", "proved", equal.counterexample)
    return verdict(equal.verdict, equal.reason, equal.reason_kind)
