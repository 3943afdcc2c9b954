"""Problem 2, exactly: fixed-n proofs, and that the proof machinery can fail."""


import numpy as np
import pytest
import sympy as sp

from symderiv.problems.softmax import (
    prove_softmax_identity,
    softmax_jacobian,
    softmax_outputs,
    softmax_ring,
    softmax_symbols,
)
from tests.support import cpu_bound


def test_fixed_n_proofs_1_to_8_are_fast_and_hold():
    prove_softmax_identity(1)  # warm imports
    with cpu_bound(5.0):  # generous: benchmarks/ measures the real figure
        proofs = [prove_softmax_identity(n) for n in range(1, 9)]
    assert all(p.ok for p in proofs)


def test_fixed_n_proofs_up_to_32():
    assert all(prove_softmax_identity(n).vjp_identity_holds for n in (16, 31, 32))


def test_jacobian_agrees_with_direct_sympy_differentiation():
    # independent reference: SymPy's diff of the explicit quotient, evaluated numerically
    n = 3
    s = softmax_symbols(n)
    ys = softmax_outputs(n)
    direct = sp.Matrix(n, n, lambda j, i: sp.diff(ys[j], s.xs[i]))
    ours = softmax_jacobian(n)
    point = {x: v for x, v in zip(s.xs, (0.3, -1.2, 2.0))}
    np.testing.assert_allclose(
        np.array(direct.evalf(30, subs=point), dtype=float),
        np.array(ours.evalf(30, subs=point), dtype=float),
        rtol=1e-14,
    )


@pytest.mark.parametrize("n", [2, 5])
def test_a_wrong_rule_is_not_proved(n):
    R = softmax_ring(n)
    y, u, zero = R.y, R.gens(softmax_symbols(n).us), R.ring.zero
    u_dot_y = sum((a * b for a, b in zip(u, y)), zero)
    # correct rule holds, a sign flip or a missing y factor does not
    assert all(R.d_dx(u_dot_y, i) == y[i] * (u[i] - u_dot_y) for i in range(n))
    assert not all(R.d_dx(u_dot_y, i) == y[i] * (u[i] + u_dot_y) for i in range(n))
    assert not all(R.d_dx(u_dot_y, i) == (u[i] - u_dot_y) for i in range(n))
