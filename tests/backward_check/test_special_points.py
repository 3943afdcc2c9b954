"""Special points and the adaptive search: rules wrong only on a tiny set are caught.

Each planted rule is right at random points and wrong only at a kink, only
at 0, only near a pole, only beyond the float32 overflow threshold of an
unshifted exp, or only in a narrow region; each is caught, and the correct
rules of the same functions raise no alarm.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from symderiv import check_backward

# -- kinks -------------------------------------------------------------------------------


def relu(xs):
    return [sympy.Max(0, x) for x in xs]


@pytest.mark.parametrize("value_at_zero", [0.0, 0.5, 1.0])
def test_relu_with_any_subgradient_at_zero_passes(value_at_zero):
    result = check_backward(relu, lambda x, y, gy: gy * np.heaviside(x, value_at_zero), 3)
    assert result.ok, result.report()
    assert result.kink_rows > 0  # x = 0 was tried and judged one-sidedly
    assert any("Max(0, x0)" in c for c in result.critical_expressions)


def test_relu_wrong_only_at_the_kink_is_caught():
    result = check_backward(relu, lambda x, y, gy: gy * np.heaviside(x, 2.0), 3)
    assert not result.ok
    c = result.counterexample
    assert c.one_sided is not None and c.x[c.coordinate] == 0.0
    lo, hi = c.one_sided
    assert min(0.0, c.gy[c.coordinate]) == pytest.approx(lo[c.coordinate], abs=1e-6)
    assert max(0.0, c.gy[c.coordinate]) == pytest.approx(hi[c.coordinate], abs=1e-6)
    assert c.got[c.coordinate] == 2 * c.gy[c.coordinate]


def test_abs_wrong_just_left_of_the_kink_is_caught_and_random_rows_miss_it():
    def forward(xs):
        return [sympy.Abs(x - 1) for x in xs]

    def shifted_sign(x, y, gy):  # sign(x - 1 + 1e-4): wrong on (1 - 1e-4, 1)
        return gy * np.sign(x - 1 + 1e-4)

    assert check_backward(forward, lambda x, y, gy: gy * np.sign(x - 1), 2).ok
    assert check_backward(forward, shifted_sign, 2, special_points=False, adaptive=False).ok
    result = check_backward(forward, shifted_sign, 2)
    assert not result.ok and "within 1e-06 of the kink of Abs(x" in result.counterexample.origin


def test_max_of_two_inputs_and_a_piecewise_boundary():
    def max_forward(xs):
        return sympy.Max(xs[0], xs[1])

    def max_rule(x, y, gy):
        first = (x[:, 0] >= x[:, 1]).astype(float)
        return gy * np.stack([first, 1 - first], axis=1)

    assert check_backward(max_forward, max_rule, 2).ok

    def huber(xs):
        return [sympy.Piecewise((x**2 / 2, sympy.Abs(x) <= 1), (sympy.Abs(x) - sympy.Rational(1, 2), True)) for x in xs]

    def huber_rule(x, y, gy):
        return gy * np.clip(x, -1, 1)

    assert check_backward(huber, huber_rule, 2).ok
    off_by_one_boundary = check_backward(huber, lambda x, y, gy: gy * np.clip(x, -1.001, 1.001), 2)
    assert not off_by_one_boundary.ok


# -- 0, poles, overflow ----------------------------------------------------------------------------


def test_a_rule_wrong_only_at_zero_is_caught():
    def forward(xs):
        return [sympy.sqrt(x**2 + 1) for x in xs]

    def cancelled(x, y, gy):  # x/sqrt(x²+1) "simplified" through x²/x: 0/0 at x = 0
        return gy * x**2 / (x * np.sqrt(x * x + 1))

    with np.errstate(invalid="ignore"):
        assert check_backward(forward, cancelled, 3, special_points=False).ok
        result = check_backward(forward, cancelled, 3)
    assert not result.ok and "non-finite value (nan)" in result.reason


def test_a_rule_wrong_only_near_a_pole_is_caught():
    def forward(xs):
        return [1 / (x - 1) for x in xs]

    def epsilon_in_denominator(x, y, gy):  # "safe" division, off by 1e-18/(x-1)^2 relative
        return -gy / ((x - 1) ** 2 + 1e-18)

    assert check_backward(forward, lambda x, y, gy: -gy / (x - 1) ** 2, 2).ok
    assert check_backward(forward, epsilon_in_denominator, 2, special_points=False, adaptive=False).ok
    result = check_backward(forward, epsilon_in_denominator, 2)
    assert not result.ok
    c = result.counterexample
    assert "of the base of" in c.origin and abs(c.x[c.coordinate] - 1) <= 1e-3


def softmax(xs):
    total = sum(sympy.exp(x) for x in xs)
    return [sympy.exp(x) / total for x in xs]


def shifted_softmax_rule(x, y, gy):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    s = e / e.sum(axis=1, keepdims=True)
    return s * (gy - np.sum(s * gy, axis=1, keepdims=True))


def unshifted_softmax_rule(x, y, gy):
    e = np.exp(x)  # overflows in float32 beyond x ≈ 88.7
    s = e / e.sum(axis=1, keepdims=True)
    return s * (gy - np.sum(s * gy, axis=1, keepdims=True))


def test_an_unshifted_exp_is_caught_beyond_the_float32_overflow_threshold():
    everywhere = (-np.inf, np.inf)
    correct = check_backward(softmax, shifted_softmax_rule, 3, dtype=np.float32, domain=everywhere)
    assert correct.ok, correct.report()
    with np.errstate(all="ignore"):
        random_only = check_backward(softmax, unshifted_softmax_rule, 3, dtype=np.float32, domain=everywhere,
                                     special_points=False, adaptive=False)
        assert random_only.ok  # random rows stay within [-3, 3]
        result = check_backward(softmax, unshifted_softmax_rule, 3, dtype=np.float32, domain=everywhere)
    assert not result.ok and "non-finite value" in result.reason


def test_special_values_stay_inside_each_domain():
    seen = []

    def spy(x, y, gy):
        seen.append(x.copy())
        return gy / x

    result = check_backward(lambda xs: [sympy.log(x) for x in xs], spy, 2, domain=(0.2, 3.0))
    assert result.ok and result.special_rows > 0
    values = np.concatenate(seen)
    assert values.min() >= np.float64(np.float64(0.2)) and values.max() <= 3.0
    assert 0.2 in values and 3.0 in values and 1.0 in values


def test_undefined_special_points_are_skipped_and_counted():
    def forward(xs):  # undefined at x = 0 (every entry), finite elsewhere
        norm = sympy.sqrt(sum(x**2 for x in xs))
        return [x / norm for x in xs]

    def rule(x, y, gy):
        norm = np.sqrt(np.sum(x * x, axis=1, keepdims=True))
        return (gy - y * np.sum(gy * y, axis=1, keepdims=True)) / norm

    result = check_backward(forward, rule, 3)
    assert result.ok, result.report()
    assert result.rows_skipped >= 1


# -- the adaptive search -------------------------------------------------------------------------------


def test_the_adaptive_search_adds_catches_of_a_narrow_region_of_error_over_seeds():
    # relative error up to 3e-12 in a region of width ~0.1 around 1.7: random
    # rows hit it in some seeds; the adaptive rows (drawn around the worst
    # row so far) only ever add catches, and add several over seeds 0-9
    def rule(x, y, gy):
        return gy * np.cos(x) * (1 + 3e-12 * np.exp(-((x - 1.7) ** 2) / 0.005))

    def forward(xs):
        return [sympy.sin(x) for x in xs]

    without = [not check_backward(forward, rule, 1, seed=s, adaptive=False).ok for s in range(10)]
    adaptive = [check_backward(forward, rule, 1, seed=s) for s in range(10)]
    caught = [not r.ok for r in adaptive]
    assert all(c or not w for c, w in zip(caught, without))
    assert sum(caught) >= sum(without) + 2
    for r, w in zip(adaptive, without):
        if not r.ok and not w:
            assert r.counterexample.origin.startswith("adaptive")
            assert abs(r.counterexample.x[0] - 1.7) < 0.2
