"""Regressions from the independent review of issue 16 (blockers, majors, minors).

Every value is compared with an independent reference: mpmath at high
precision (evaluated here, not by the check), or a hand-derived formula.
Several seeds and unbounded domains, not only the default domain and seed 0.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy

from symderiv import check_backward
from symderiv.backward_check.points import large_magnitudes, special_values
from symderiv.errors import InputError

SEEDS = range(10)


def _mp_softplus(x: float) -> float:
    with mpmath.workdps(60):
        return float(mpmath.log(1 + mpmath.exp(mpmath.mpf(x))))


# -- B1: the reference is exact where the forward as written cancels ----------------------------------


def test_softplus_of_minus_x_written_cancelling_accepts_the_accurate_rule_on_every_seed():
    forward = lambda xs: [sympy.log(1 + sympy.exp(x)) - x for x in xs]  # noqa: E731
    def accurate(x, y, gy):  # -e^-x / (1 + e^-x); exp(x) overflows to inf beyond 709, giving -0
        with np.errstate(over="ignore"):
            return gy * (-1 / (1 + np.exp(x)))

    for seed in range(5):
        for domain in ((120.0, 200.0), (40.0, 100.0), (-np.inf, np.inf)):
            result = check_backward(forward, accurate, 1, domain=domain, seed=seed)
            assert result.ok, result.report()


def test_the_rule_gets_an_accurate_y_where_float64_evaluation_of_the_forward_loses_it():
    # log(1 + exp(x)) at x = -100: float64 gives 3.7200759760208e-44 only by
    # luck of the formula; 1 - 1/(1 + exp(x)) at x = -47 gives 0 in float64.
    seen = []

    def rule(x, y, gy):
        seen.append((x.copy(), y.copy()))
        return gy * -np.expm1(-y)  # softplus' derivative from y: 1 - e^-y

    forward = lambda xs: [sympy.log(1 + sympy.exp(x)) for x in xs]  # noqa: E731
    for seed in range(5):
        seen.clear()
        result = check_backward(forward, rule, 3, domain=(-100.0, 100.0), seed=seed)
        assert result.ok, result.report()
        for x, y in seen:
            for xv, yv in zip(x.ravel(), y.ravel()):
                assert yv == pytest.approx(_mp_softplus(xv), rel=1e-15, abs=0.0)

    sigmoid_written_cancelling = lambda xs: [1 - 1 / (1 + sympy.exp(x)) for x in xs]  # noqa: E731
    edf = lambda x, y, gy: gy * y * (1 - y)  # noqa: E731
    for seed in range(5):
        result = check_backward(sigmoid_written_cancelling, edf, 2, domain=(-60.0, -40.0), seed=seed)
        assert result.ok, result.report()


def test_a_counterexample_on_a_cancelling_forward_shows_the_exact_values():
    forward = lambda xs: [sympy.log(1 + sympy.exp(x)) - x for x in xs]  # noqa: E731
    # off by 1e-9: beyond the rounding the derivative as written (sigmoid(x) - 1,
    # terms of size 1) allows, so a failure whose expected value is e^-x-small
    wrong = lambda x, y, gy: gy * (-1 / (1 + np.exp(x)) + 1e-9)  # noqa: E731
    result = check_backward(forward, wrong, 1, domain=(120.0, 200.0))
    assert not result.ok
    c = result.counterexample
    with mpmath.workdps(80):
        x = mpmath.mpf(c.x[0])
        exact_y = mpmath.log(1 + mpmath.exp(-x))
        exact_gx = -mpmath.mpf(c.gy[0]) / (1 + mpmath.exp(x))
    assert c.y[0] == pytest.approx(float(exact_y), rel=1e-15)
    assert c.expected[0] == pytest.approx(float(exact_gx), rel=1e-15)


def test_written_without_cancellation_a_rule_that_returns_zero_fails():
    # softplus(-x) written log(1 + exp(-x)): the exact derivative -e^-x/(1 + e^-x)
    # is resolvable, so sigmoid(x) - 1 (exactly 0 for x > 37) is caught
    forward = lambda xs: [sympy.log(1 + sympy.exp(-x)) for x in xs]  # noqa: E731
    naive = lambda x, y, gy: gy * (1 / (1 + np.exp(-x)) - 1)  # noqa: E731
    for seed in range(5):
        result = check_backward(forward, naive, 1, domain=(40.0, 100.0), seed=seed)
        assert not result.ok
        c = result.counterexample
        with mpmath.workdps(60):
            assert c.expected[0] == pytest.approx(float(-mpmath.mpf(c.gy[0]) / (1 + mpmath.exp(mpmath.mpf(c.x[0])))), rel=1e-14)


# -- B2: special points in priority order; kinks judged only where they are ------------------------------


def test_relu_wrong_only_at_zero_is_caught_on_unbounded_domains_for_every_seed_and_size():
    relu = lambda xs: [sympy.Max(0, x) for x in xs]  # noqa: E731
    bad = lambda x, y, gy: gy * np.where(x == 0, 2.0, x > 0)  # noqa: E731
    for n in (1, 2, 4, 8):
        for seed in SEEDS:
            result = check_backward(relu, bad, n, domain=(-np.inf, np.inf), seed=seed)
            assert not result.ok, (n, seed)
            c = result.counterexample
            assert 0.0 in c.x and c.got[c.coordinate] == pytest.approx(2 * c.gy[c.coordinate])


def test_large_rows_are_not_on_a_kink():
    relu = lambda xs: [sympy.Max(0, x) for x in xs]  # noqa: E731
    good = lambda x, y, gy: gy * (x > 0)  # noqa: E731
    result = check_backward(relu, good, 1, domain=(-np.inf, np.inf))
    assert result.ok
    # only x = 0 (the special value, and the zero found by the kink search
    # from each of its 3 starts) and x = ±tiny lie within rounding of relu's
    # kink (|x| <= 1e-12); before, 170 large rows counted as on it
    assert result.kink_rows <= 6


def test_abs_with_a_dead_gradient_beyond_1e12_is_caught_on_an_unbounded_domain():
    forward = lambda xs: [sympy.Abs(x) for x in xs]  # noqa: E731
    for dtype, limit in ((np.float64, 1e12), (np.float32, 1e6)):
        dead = lambda x, y, gy, limit=limit: gy * np.where(np.abs(x) > limit, 0.0, np.sign(x))  # noqa: E731
        for seed in range(5):
            result = check_backward(forward, dead, 1, domain=(-np.inf, np.inf), dtype=dtype, seed=seed)
            assert not result.ok, (dtype, seed)
            c = result.counterexample
            assert abs(c.x[0]) > limit and c.expected[0] == pytest.approx(np.sign(c.x[0]) * c.gy[0])


def test_a_kink_shifted_by_1e4_and_a_pole_with_an_epsilon_are_caught_on_every_seed():
    kink = lambda xs: [sympy.Abs(xs[0] - 1)]  # noqa: E731
    shifted = lambda x, y, gy: gy * np.sign(x - 1 - 1e-4)  # noqa: E731
    pole = lambda xs: [1 / (xs[0] - 1)]  # noqa: E731
    epsilon = lambda x, y, gy: gy * -1 / ((x - 1) ** 2 + 1e-12)  # noqa: E731
    for seed in SEEDS:
        for domain in ((-3.0, 3.0), (-np.inf, np.inf)):
            assert not check_backward(kink, shifted, 1, domain=domain, seed=seed).ok, (seed, domain)
            assert not check_backward(pole, epsilon, 1, domain=domain, seed=seed).ok, (seed, domain)


def test_a_rule_wrong_at_zero_among_32_entries_is_caught_for_every_seed():
    def forward(xs):
        return [sympy.Max(0, xs[0]) + sum(x**2 for x in xs) / 2]

    def bad(x, y, gy):  # relu's slope 2 at x0 = 0, the quadratic part right
        g = x.copy()
        g[:, 0] += np.where(x[:, 0] == 0, 2.0, x[:, 0] > 0)
        return gy * g

    for seed in range(20):
        result = check_backward(forward, bad, 32, seed=seed)
        assert not result.ok, seed
        assert result.counterexample.x[0] == 0.0


def test_sigmoid_wrong_on_a_small_interval_is_caught_on_an_unbounded_domain_for_every_seed():
    forward = lambda xs: [1 / (1 + sympy.exp(-x)) for x in xs]  # noqa: E731

    def slope(x, y, gy):  # 1/4 instead of y(1 - y) on |x| < 0.01
        return gy * np.where(np.abs(x) < 0.01, 0.25, y * (1 - y))

    for seed in range(20):
        assert not check_backward(forward, slope, 1, domain=(-np.inf, np.inf), seed=seed).ok, seed


def test_a_piecewise_disk_boundary_is_found_for_every_seed():
    def forward(xs):
        r2 = xs[0] ** 2 + xs[1] ** 2
        return [sympy.Piecewise((r2, r2 < 1), (1 + 2 * (r2 - 1), True))]

    def shifted(x, y, gy):  # the boundary moved to r^2 = 1.001
        r2 = (x**2).sum(axis=1, keepdims=True)
        return gy * np.where(r2 < 1.001, 2 * x, 4 * x)

    for seed in SEEDS:
        result = check_backward(forward, shifted, 2, seed=seed)
        assert not result.ok, seed
        assert result.kink_rows > 0


def test_special_values_in_float64_include_the_magnitudes_where_rules_switch_branches():
    values = [v for v, _ in large_magnitudes(np.dtype(np.float64))]
    for wanted in (20.0, 30.0, 50.0, 100.0, 1e5, 1e30, 1e300):
        assert wanted in values
    labels = [label for _, label in special_values(-np.inf, np.inf, np.dtype(np.float64))]
    assert labels[:3] == ["0", "+tiny", "-tiny"]


def test_a_softplus_threshold_wrong_on_20_to_37_is_caught_on_an_unbounded_domain():
    forward = lambda xs: [sympy.log(1 + sympy.exp(x)) for x in xs]  # noqa: E731

    def threshold(x, y, gy):  # PyTorch's softplus: linear above 20 (wrong by e^-x there)
        with np.errstate(over="ignore"):
            return gy * np.where(x > 20, 1.0, 1 / (1 + np.exp(-x)))

    for seed in range(5):
        result = check_backward(forward, threshold, 1, domain=(-np.inf, np.inf), seed=seed)
        assert not result.ok, seed
        assert 20 < result.counterexample.x[0] < 37


# -- M3: large outputs do not widen every coordinate's tolerance -----------------------------------------


@pytest.mark.parametrize("dtype, domain", [(np.float16, (-1000.0, 1000.0)), (np.float32, (-np.inf, np.inf)),
                                           (np.float64, (-np.inf, np.inf))])
def test_a_dead_gradient_at_large_outputs_is_caught(dtype, domain):
    ident = lambda xs: [x for x in xs]  # noqa: E731
    limit = 100.0 if dtype == np.float16 else 1e6
    dead = lambda x, y, gy: gy * np.where(np.abs(x) > limit, 0.0, 1.0)  # noqa: E731
    for seed in range(5):
        result = check_backward(ident, dead, 3 if dtype == np.float16 else 1, dtype=dtype, domain=domain, seed=seed)
        assert not result.ok, seed
        c = result.counterexample
        assert c.expected[c.coordinate] == pytest.approx(c.gy[c.coordinate]) and c.got[c.coordinate] == 0
        assert result.max_rel_error == pytest.approx(1.0)


# -- M4: the rounding of the derivative as written is allowed (cross-entropy's p - onehot) -----------------


def _cross_entropy(z, label):
    return sympy.log(sum(sympy.exp(v) for v in z)) - z[label]


def _p_minus_onehot(z, label, y, gy):
    shifted = z - z.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    p[np.arange(len(label)), label] -= 1
    return {"z": gy[:, None] * p}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("domain", [(-10.0, 10.0), (-30.0, 30.0)])
def test_the_textbook_cross_entropy_rule_passes_at_confident_predictions(dtype, domain):
    from symderiv import labels

    inputs = {"z": 4, "label": labels(4)}
    for seed in range(5):
        result = check_backward(_cross_entropy, _p_minus_onehot, inputs=inputs, domain=domain, dtype=dtype, seed=seed)
        assert result.ok, result.report()


def test_a_cross_entropy_rule_off_by_more_than_a_rounding_is_still_caught():
    from symderiv import labels

    def off(z, label, y, gy):
        out = _p_minus_onehot(z, label, y, gy)
        out["z"] = out["z"] * (1 + 1e-5)
        return out

    inputs = {"z": 4, "label": labels(4)}
    for seed in range(5):
        assert not check_backward(_cross_entropy, off, inputs=inputs, domain=(-30.0, 30.0), dtype=np.float32, seed=seed).ok


# -- M5: a rule that misbehaves gets a counterexample ------------------------------------------------------


def test_a_nan_from_the_rule_carries_the_row_that_produced_it():
    forward = lambda xs: [sympy.sqrt(x**2 + 1) for x in xs]  # noqa: E731
    rule = lambda x, y, gy: gy * x**2 / (x * np.sqrt(x * x + 1))  # noqa: E731  0/0 at x = 0
    with np.errstate(invalid="ignore"):
        result = check_backward(forward, rule, 3)
    assert not result.ok and "non-finite" in result.reason
    c = result.counterexample
    assert c is not None and c.row is not None and 0.0 in c.x
    # the exact gradient at that row: gy * x / sqrt(x^2 + 1)
    x, gy = np.array(c.x), np.array(c.gy)
    np.testing.assert_allclose(c.expected, gy * x / np.sqrt(x * x + 1), rtol=1e-15)
    assert result.special_rows > 0 and result.rows_checked == result.random_rows + result.special_rows


def test_an_exception_on_one_example_is_located():
    forward = lambda xs: [sympy.exp(x) for x in xs]  # noqa: E731

    def rule(x, y, gy):
        if (x == 0).all(axis=1).any():
            raise ZeroDivisionError("all zero")
        return gy * y

    result = check_backward(forward, rule, 2)
    assert not result.ok and "ZeroDivisionError" in result.reason
    c = result.counterexample
    assert c.failure and c.row is not None and c.x == (0.0, 0.0)
    assert c.expected == pytest.approx(tuple(c.gy))  # d/dx e^x at 0 is 1


# -- M6: special functions ---------------------------------------------------------------------------------


def test_special_functions_are_checked_with_scipy():
    special = pytest.importorskip("scipy.special")
    cases = [
        (lambda xs: [sympy.loggamma(xs[0])], lambda x, y, gy: gy * special.digamma(x), (0.5, 3.0)),
        (lambda xs: [sympy.erfinv(xs[0])], lambda x, y, gy: gy * np.sqrt(np.pi) / 2 * np.exp(special.erfinv(x) ** 2), (-0.9, 0.9)),
        (lambda xs: [sympy.besselj(1, xs[0])], lambda x, y, gy: gy * (special.j0(x) - special.jv(2, x)) / 2, (0.5, 3.0)),
        (lambda xs: [sympy.LambertW(xs[0])], lambda x, y, gy: gy * 1 / (x + np.exp(special.lambertw(x).real)), (0.5, 3.0)),
    ]
    for forward, rule, domain in cases:
        result = check_backward(forward, rule, 1, domain=domain)
        assert result.ok, result.report()
        wrong = check_backward(forward, lambda x, y, gy, rule=rule: 1.001 * rule(x, y, gy), 1, domain=domain)
        assert not wrong.ok


def test_a_function_whose_derivative_has_no_closed_form_is_an_input_error():
    with pytest.raises(InputError, match="no closed form"):
        check_backward(lambda xs: [sympy.floor(xs[0])], lambda x, y, gy: 0 * gy, 1)


# -- m11: numpy's error state ---------------------------------------------------------------------------------


def test_np_seterr_raise_does_not_break_the_checks_own_numerics():
    softmax = lambda xs: [sympy.exp(x) / sum(sympy.exp(v) for v in xs) for x in xs]  # noqa: E731

    def rule(x, y, gy):
        with np.errstate(under="ignore"):  # the rule's own underflow is the caller's business
            return y * (gy - np.sum(y * gy, axis=1, keepdims=True))

    relu = lambda xs: [sympy.Max(0, x) for x in xs]  # noqa: E731
    old = np.seterr(all="raise")
    try:
        assert check_backward(softmax, rule, 3, dtype=np.float32, domain=(-np.inf, np.inf)).ok
        assert check_backward(relu, lambda x, y, gy: gy * (x > 0), 1, domain=(-np.inf, np.inf)).ok
    finally:
        np.seterr(**old)


def test_no_runtime_warning_reaches_the_caller(recwarn):
    relu = lambda xs: [sympy.Max(0, x) for x in xs]  # noqa: E731
    assert check_backward(relu, lambda x, y, gy: gy * (x > 0), 1, domain=(-np.inf, np.inf)).ok
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
