"""A row's justification and a declared function's named value (found when the index and matrix
readings met on jackey8616's logistic regression: two correct lines reported false)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from symderiv.writeup.report import FALSE, PROVED, UNCHECKED
from symderiv.writeup.verdicts import check_text

BECAUSE = r"""$$
\begin{align*}
\frac{d}{dx}\left(x^2 + \ln x\right) &= 2x + \frac{d}{dx}\ln x \quad JUSTIFY \frac{d}{dx}x^2 = 2x \\
&= 2x + \frac{1}{x} \\
&= \frac{2x^2 + 1}{x} \\
&= 2x - \frac{1}{x}
\end{align*}
$$
"""


def _by_line(report):
    found: dict = {}
    for step in report.equations:
        found.setdefault(step.line, []).append(step)
    return found


@pytest.mark.parametrize("justify", [r"\because", r"\text{since }", r"\text{because }", r"\text{by }"])
def test_the_next_row_continues_the_claim_not_its_justification(justify):
    report = check_text(BECAUSE.replace("JUSTIFY", justify), False, [], "because.md")
    lines = _by_line(report)
    assert sorted(s.verdict for s in lines[3]) == [PROVED, PROVED]  # the claim and its justification
    assert [s.verdict for s in lines[4]] == [PROVED]  # 2x + d/dx ln x = 2x + 1/x (it was 2x = 2x + 1/x)
    assert [s.verdict for s in lines[5]] == [PROVED]
    (wrong,) = lines[6]
    assert wrong.verdict == FALSE
    # by hand: (2x^2 + 1)/x and 2x - 1/x differ by 2/x
    x = Fraction(dict(wrong.counterexample.point)["x"].replace(r"\frac{", "").replace("}{", "/").rstrip("}"))
    assert (2 * x * x + 1) / x - (2 * x - 1 / x) == 2 / x != 0


LOGISTIC = r"""For each sample, $\sigma(z^{(i)}) = p^{(i)} = \frac{1}{1 + e^{-z^{(i)}}}$.

$$ J = -\frac{1}{n}\sum_{i=1}^{n} y^{(i)} \ln p^{(i)} $$

$$ \frac{d p^{(i)}}{d z^{(i)}} = p^{(i)} (1 - p^{(i)}) $$
"""


def test_a_declared_function_equal_to_a_new_name_names_its_value():
    sigma = r"\sigma(t) = \frac{1}{1 + \exp(-t)}"
    report = check_text(LOGISTIC, False, [sigma], "logistic.md")
    verdicts = [(s.line, s.verdict) for s in report.equations]
    assert (1, FALSE) not in verdicts
    assert (1, PROVED) in verdicts  # p^{(i)} = 1/(1 + e^{-z^{(i)}}) with p^{(i)} = sigma(z^{(i)})
    assert (5, PROVED) in verdicts  # the logistic derivative, through p's definition
    without = check_text(LOGISTIC, False, [], "logistic.md")
    assert all(s.verdict in (PROVED, UNCHECKED) for s in without.equations)
