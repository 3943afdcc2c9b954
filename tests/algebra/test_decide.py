"""The one decision: its rules, and that the proof checker and check both decide through it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from symderiv.algebra import decide as decide_module
from symderiv.algebra.decide import Sampled, decide
from symderiv.algebra.verdict import Counterexample, Verdict
from symderiv.algebra.zero import Grade

WITNESS = Counterexample(point=(("x", "1"),), lhs_value="1", rhs_value="2", exact=True)


class FakeSetting:
    """Answers as told: ``zero_from`` the first grade that proves zero (None: never)."""

    def __init__(self, zero_from=None, exact=None, sampled=Sampled(10, True), confirmed=None, remainder=None,
                 probed=None):
        self.zero_from, self.exact, self.sampled = zero_from, exact, sampled
        self.confirmed, self.remainder, self.probed = confirmed, remainder, probed
        self.asked: list = []

    def zero(self, grade):
        self.asked.append(grade)
        return self.zero_from is not None and grade >= self.zero_from

    def exact_counterexample(self):
        return self.exact

    def sample(self):
        return self.sampled

    def counterexample(self, sampled):
        return self.confirmed

    def remainder_counterexample(self):
        return self.remainder

    def probe(self):
        return self.probed, 3

    def qualifier(self, exact):
        return " [q]" if exact else ""

    def undefined_reason(self):
        return "nowhere defined", "undefined"

    def holds_reason(self, sampled, probed):
        return f"equal at {sampled.evaluated} points"


@pytest.mark.parametrize("grade", [Grade.EXPAND, Grade.RATIONAL, Grade.SIMPLIFY])
def test_proved_only_by_the_zero_test(grade):
    decided = decide("=", FakeSetting(zero_from=grade))
    assert decided.verdict == Verdict.PROVED and decided.exact and decided.reason.endswith("[q]")


def test_float64_disagreement_alone_is_not_false():
    decided = decide("=", FakeSetting(sampled=Sampled(10, False, 0.5)))
    assert decided.verdict == Verdict.UNCHECKED and decided.reason_kind == "no counterexample"
    decided = decide("=", FakeSetting(sampled=Sampled(10, False, 0.5), confirmed=WITNESS))
    assert decided.verdict == Verdict.FALSE and decided.counterexample is WITNESS


def test_no_point_evaluated_is_unchecked_never_false():
    decided = decide("=", FakeSetting(sampled=Sampled(0, True)))
    assert (decided.verdict, decided.reason) == (Verdict.UNCHECKED, "nowhere defined")


def test_an_exact_counterexample_decides_before_any_sampling():
    setting = FakeSetting(exact=WITNESS, sampled=None)
    decided = decide("=", setting)
    assert decided.verdict == Verdict.FALSE and decided.exact and setting.asked == [Grade.EXPAND]


def test_below_float64_resolution_and_holds():
    assert decide("=", FakeSetting(remainder=WITNESS)).verdict == Verdict.FALSE
    assert decide("=", FakeSetting(probed=WITNESS)).verdict == Verdict.FALSE
    decided = decide("=", FakeSetting())
    assert (decided.verdict, decided.reason) == (Verdict.HOLDS, "equal at 10 points")


def test_inequality_is_equality_inverted():
    assert decide("!=", FakeSetting(zero_from=Grade.EXPAND)).verdict == Verdict.FALSE
    # agreement at every sample is no proof that the sides are equal: a != is then not FALSE
    agreeing = decide("!=", FakeSetting())
    assert agreeing.verdict == Verdict.UNCHECKED and "not proved equal" in agreeing.reason
    differ = decide("!=", FakeSetting(sampled=Sampled(10, False), confirmed=WITNESS))
    assert differ.verdict == Verdict.PROVED and differ.counterexample is WITNESS
    assert decide("!=", FakeSetting(sampled=Sampled(0, True))).verdict == Verdict.UNCHECKED


def _spy(monkeypatch) -> list:
    calls = []
    original = decide_module.decide

    def spy(relation, setting):
        calls.append(type(setting).__name__)
        return original(relation, setting)

    monkeypatch.setattr(decide_module, "decide", spy)
    return calls


def test_the_proof_checker_and_check_decide_through_the_same_function(monkeypatch, tmp_path: Path):
    import symderiv.writeup.judge as judge
    from symderiv.proofkit import Proof, Step, check_proof
    from symderiv.writeup.verdicts import check_text

    calls = _spy(monkeypatch)
    monkeypatch.setattr(judge, "decide", decide_module.decide)
    x = sp.Symbol("x", real=True)
    proof = Proof(name="p", title="t", claim="c",
                  steps=(Step((x + 1) ** 2, "start", "start"), Step(x**2 + 2 * x + 1, "expand")))
    assert check_proof(proof, points=8).steps[0].verdict == Verdict.PROVED
    report = check_text("$$ (x+1)^2 = x^2 + 2x + 1 $$\n", False, [])
    assert [s.verdict for s in report.equations] == [Verdict.PROVED]
    assert calls == ["_StepSetting", "_WriteupSetting"]


def test_a_proof_step_with_no_point_to_evaluate_is_unchecked_not_false():
    """Before the one decision, the proof checker said "false" here: the normal forms differ, but
    no point of the domain gives either step a real value, so there is no counterexample to show."""
    from symderiv.proofkit import Proof, Step, check_proof

    x = sp.Symbol("x", real=True)
    proof = Proof(name="p", title="t", claim="c",
                  steps=(Step(sp.sqrt(-1 - x**2), "start", "start"), Step(sp.sqrt(-2 - x**2), "differs")))
    (step,) = check_proof(proof, points=16).steps
    assert step.verdict == Verdict.UNCHECKED and step.counterexample is None
