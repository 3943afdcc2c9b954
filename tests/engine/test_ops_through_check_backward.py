"""Every engine op's backward rule through symderiv's own check_backward (first order).

Here in the classic form, one per-example input: parameters shared across
the batch (W, b) enter as fixed numbers. tests/backward_check/test_second_order.py
checks the same ops with W and b declared shared (their gradients checked
too), and their JVP and second-order rules.
"""

import numpy as np
import pytest
import sympy as sp

from symderiv import check_backward
from symderiv.engine.ops import default_registry

REGISTRY = default_registry()
W = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])
B = np.array([0.1, -0.2])
LABEL = 1


def unary(name, **params):
    op = REGISTRY[name]

    def forward(xs):
        return list(op.sympy_meaning(sp, sp.Matrix([xs]), **params))

    def backward(x, y, gy):
        return op.vjp(gy, y, (x,), (True,), **params)[0]

    return forward, backward


def binary(name):
    op = REGISTRY[name]

    def forward(xs):
        half = len(xs) // 2
        return list(op.sympy_meaning(sp, sp.Matrix([xs[:half]]), sp.Matrix([xs[half:]])))

    def backward(x, y, gy):
        a, b = np.split(x, 2, axis=1)
        ga, gb = op.vjp(gy, y, (a, b), (True, True))
        return np.concatenate([ga, gb], axis=1)

    return forward, backward


def with_constants(name, constants):
    """Ops whose other inputs are shared numbers (weights) or an integer label."""
    op = REGISTRY[name]

    def forward(xs):
        symbolic = [sp.Matrix([xs])] + [sp.Matrix(np.atleast_2d(c)) if c.dtype.kind == "f" else c for c in constants]
        return list(op.sympy_meaning(sp, *symbolic))

    def backward(x, y, gy):
        others = [np.full(x.shape[0], c[0]) if c.dtype.kind == "i" else c for c in constants]
        out = op.forward(x, *others)  # the engine's own output shape: (batch,) for a per-example loss
        needs = (True,) + (False,) * len(others)
        return op.vjp(gy.reshape(out.shape), out, (x, *others), needs)[0]

    return forward, backward


def batch_mean_loss(name, label):
    """A loss averaged over the batch: each row is run as its own batch of one,
    so check_backward's per-row outputs are that row's loss (the averaging
    over several rows is checked against SymPy in test_engine.py)."""
    op = REGISTRY[name]
    labels = np.array([label])

    def forward(xs):
        return list(op.sympy_meaning(sp, sp.Matrix([xs]), labels))

    def backward(x, y, gy):
        return np.concatenate([
            op.vjp(gy[r, 0], y[r, 0], (x[r:r + 1], labels), (True, False))[0] for r in range(x.shape[0])
        ])

    return forward, backward


CASES = {
    "neg": (unary("neg"), 3, (-3.0, 3.0)),
    "exp": (unary("exp"), 3, (-3.0, 3.0)),
    "log": (unary("log"), 3, (0.2, 3.0)),
    "sqrt": (unary("sqrt"), 3, (0.2, 3.0)),
    "sin": (unary("sin"), 3, (-3.0, 3.0)),
    "cos": (unary("cos"), 3, (-3.0, 3.0)),
    "tanh": (unary("tanh"), 3, (-3.0, 3.0)),
    "sigmoid": (unary("sigmoid"), 3, (-20.0, 20.0)),
    "relu": (unary("relu"), 3, (-3.0, 3.0)),
    "pow": (unary("pow", p=-1.5), 3, (0.3, 3.0)),
    "add": (binary("add"), 4, (-3.0, 3.0)),
    "sub": (binary("sub"), 4, (-3.0, 3.0)),
    "mul": (binary("mul"), 4, (-3.0, 3.0)),
    "div": (binary("div"), 4, (0.5, 3.0)),
    "sum": (unary("sum", axis=1, keepdims=True), 4, (-3.0, 3.0)),
    "mean": (unary("mean", axis=1, keepdims=True), 4, (-3.0, 3.0)),
    "softmax": (unary("softmax"), 4, (-30.0, 30.0)),
    "log_softmax": (unary("log_softmax"), 4, (-30.0, 30.0)),
    "matmul": (with_constants("matmul", [W]), 3, (-3.0, 3.0)),
    "affine": (with_constants("affine", [W, B]), 3, (-3.0, 3.0)),
    "nll": (with_constants("nll", [np.array([LABEL])]), 3, (-3.0, 3.0)),
    "cross_entropy": (with_constants("cross_entropy", [np.array([LABEL])]), 3, (-30.0, 30.0)),
    "mean_cross_entropy": (batch_mean_loss("mean_cross_entropy", LABEL), 3, (-30.0, 30.0)),
}


def test_every_op_has_a_case():
    assert set(CASES) == {op.name for op in REGISTRY}


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_op_passes_check_backward(name):
    (forward, backward), n, domain = CASES[name]
    result = check_backward(forward, backward, n, domain=domain)
    assert result.ok, result


def test_a_broken_engine_rule_fails_check_backward():
    forward, backward = unary("softmax")

    def diagonal_only(x, y, gy):  # a classic mistake
        return gy * y * (1 - y)

    assert not check_backward(forward, diagonal_only, 4).ok
