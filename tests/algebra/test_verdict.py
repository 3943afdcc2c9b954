"""The one verdict vocabulary: the proof checker's and check's results speak it."""

import json

from symderiv.algebra.verdict import Counterexample, StepVerdict, Verdict
from symderiv.proofkit import Counterexample as ProofCounterexample, StepResult as ProofStep
from symderiv.writeup.report import Counterexample as CheckCounterexample, StepResult as CheckStep


def test_one_counterexample_and_one_step_verdict():
    assert ProofCounterexample is CheckCounterexample is Counterexample
    assert issubclass(ProofStep, StepVerdict) and issubclass(CheckStep, StepVerdict)


def test_a_verdict_is_its_word():
    assert Verdict.FALSE == "false" and f"{Verdict.HOLDS}" == "holds"
    assert json.dumps({"v": Verdict.PROVED}) == '{"v": "proved"}'


def test_a_counterexample_reads_as_before():
    example = Counterexample(point=(("x", 1.0),), lhs_value=-2.0, rhs_value=4.0, exact_difference="-6")
    assert example.describe() == "at x = 1: previous step = -2, this step = 4 (exactly, previous − this = -6)"
    assert (example.assignment, example.previous_value, example.step_value) == ((("x", 1.0),), -2.0, 4.0)
    assert not Counterexample(point=(), exact_difference="1").has_values
