"""The one graded zero test: each grade proves what it should, never more, within its bounds.

References are independent of the rewrites under test: mpmath at 50 digits at random points
(a proved zero must vanish there; a nonzero verdict must not), hand-computed values."""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy as sp

from symderiv.algebra.witness import rational_counterexample
from symderiv.algebra.zero import Grade, Zero, expansion_work, zero_test

x, y, z = sp.symbols("x y z", real=True)
u, v = sp.symbols("u v", positive=True)
n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
a = sp.IndexedBase("a", real=True)

PROVED_AT = [  # (difference, the first grade that proves it zero)
    (sp.Integer(0), Grade.STRUCTURAL),
    ((x + 1) ** 2 - x**2 - 2 * x - 1, Grade.EXPAND),
    (1 / (x + 1) + 1 / (x - 1) - 2 * x / (x**2 - 1), Grade.RATIONAL),
    (sp.tanh(x) - (sp.exp(2 * x) - 1) / (sp.exp(2 * x) + 1), Grade.RATIONAL),
    (1 / (1 + sp.exp(-x)) - sp.exp(x) / (sp.exp(x) + 1), Grade.RATIONAL),
    (sp.exp(x + y) - sp.exp(x) * sp.exp(y), Grade.EXPAND),
    (sp.log(u * v) - sp.log(u) - sp.log(v), Grade.EXPAND),  # expand splits logs of positive symbols
    (sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1, Grade.SIMPLIFY),
]


def _value(expr, point: dict) -> mpmath.mpf:
    with mpmath.workdps(50):
        return mpmath.mpmathify(sp.N(expr.xreplace(point), 50))


@pytest.mark.parametrize("difference, grade", PROVED_AT, ids=[str(d)[:40] for d, _ in PROVED_AT])
def test_each_grade_proves_its_identities_and_the_grade_below_does_not(difference, grade):
    test = zero_test(difference, up_to=grade)
    assert test.status == Zero.PROVED and test.grade <= grade
    if grade > Grade.STRUCTURAL:
        assert zero_test(difference, up_to=Grade(grade - 1)).status != Zero.PROVED
    rng = random.Random(0)
    for _ in range(5):  # the identity, evaluated independently at 50 digits
        point = {s: sp.Rational(rng.randint(-30, 30), 7) + sp.Rational(1, 3) for s in (x, y)}
        point.update({s: sp.Rational(rng.randint(1, 30), 7) for s in (u, v)})
        assert abs(_value(difference, point)) < mpmath.mpf(10) ** -40


def test_a_sum_is_opaque_so_a_zero_holds_whatever_the_sum_is():
    total = sp.Sum(sp.exp(a[k]), (k, 1, n))
    assert zero_test(sp.exp(a[1]) / total - 1 / (total * sp.exp(-a[1])), up_to=Grade.RATIONAL).proved


def test_a_nonzero_rational_difference_is_nonzero_and_the_point_shows_it():
    difference = x / 10**40 + (x + 1) ** 2 - x**2 - 2 * x - 1  # invisible in float64
    test = zero_test(difference)
    assert test.status == Zero.NONZERO and test.grade == Grade.RATIONAL
    example = rational_counterexample(lhs=difference, rhs=sp.Integer(0))
    point = {x: sp.Rational(value) for _, value in example.point}
    assert example.exact and difference.xreplace(point) == sp.Rational(1, 10**40) / 2
    assert sp.Rational(example.exact_difference) == difference.xreplace(point)


def test_unknown_is_not_a_claim():
    test = zero_test(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1 + sp.sin(x) / 10**40)
    assert test.status == Zero.UNKNOWN and test.remainder != 0


def test_too_large_names_the_bound_before_expanding():
    test = zero_test((x + 1) ** 9 - sp.expand((x + 1) ** 9))
    assert test.status == Zero.TOO_LARGE and test.reason == "a power of a sum above 8"
    w = sp.Symbol("w")
    product = (x + y + z + w + 1) ** 8 * (x + y + z + w + 2) ** 8 * (x - y + z - w + 3) ** 8
    test = zero_test(product - 1)
    assert test.status == Zero.TOO_LARGE and test.reason.startswith("expanding would generate")
    assert expansion_work((x + y + z) ** 3) == 10  # C(3 + 3 - 1, 3) terms


def test_the_cpu_budget_bounds_the_test():
    from tests.support import cpu_bound

    difference = sum(sp.sin(i * x) ** 2 * sp.cos(y + i) for i in range(1, 30)) - sp.cos(y)
    with cpu_bound(5):
        test = zero_test(difference, cpu_seconds=0.2)
    assert test.status in (Zero.TOO_LARGE, Zero.UNKNOWN)
