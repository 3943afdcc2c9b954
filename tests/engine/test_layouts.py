"""The engine's fast paths for short class axes, each against the plain
computation it replaces or an independent high-precision reference:

* the row reductions (``_row_max`` by a transposed copy, ``_row_sum`` by BLAS);
* the fused cross-entropies working class-major, with their forward residual
  (``forward_residual`` / ``vjp_residual``), at shapes that take the copied
  class-major path (batch ≥ 16, classes ≤ 32) and shapes that do not.
"""

import dataclasses

import mpmath
import numpy as np
import pytest

from symderiv.engine.graph import Graph
from symderiv.engine.ops import build_registry, core_ops, default_registry
from symderiv.engine.ops.kernels import row_max as _row_max
from symderiv.engine.ops.kernels import row_sum as _row_sum
from symderiv.engine.optim import SGDStep

#: (batch, classes): copied class-major (the first three) and a transposed view (the rest)
SHAPES = [(16, 3), (64, 10), (128, 32), (2, 3), (15, 10), (20, 33), (40, 100)]
RESIDUAL_OPS = [op.name for op in core_ops() if op.forward_residual is not None]
CROSS_ENTROPIES = ["cross_entropy", "mean_cross_entropy"]


@pytest.mark.parametrize("shape", SHAPES + [(5,), (3, 4, 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.longdouble, np.int64])
def test_row_reductions_equal_numpys(shape, dtype):
    x = (np.random.default_rng(0).normal(size=shape) * 10).astype(dtype)
    np.testing.assert_array_equal(_row_max(x), x.max(axis=-1, keepdims=True))  # a max is exact
    expected = x.sum(axis=-1, keepdims=True)
    assert _row_sum(x).shape == expected.shape and _row_sum(x).dtype == expected.dtype
    eps = np.finfo(dtype).eps if np.issubdtype(dtype, np.floating) else 0.0
    bound = shape[-1] * eps * np.abs(x).sum(axis=-1, keepdims=True)  # any summation order
    assert np.all(np.abs(_row_sum(x) - expected) <= bound)


def test_row_reductions_keep_nan_and_inf():
    x = np.zeros((32, 4))
    x[3, 1], x[5, 2], x[7, 0], x[7, 3] = np.nan, np.inf, np.inf, -np.inf
    with np.errstate(invalid="ignore"):  # inf − inf in row 7
        pairs = ((_row_max(x), x.max(axis=-1, keepdims=True)), (_row_sum(x), x.sum(axis=-1, keepdims=True)))
    for got, want in pairs:
        np.testing.assert_array_equal(got, want)


def test_an_op_with_half_a_residual_pair_is_refused():
    ops = core_ops()
    index = next(i for i, op in enumerate(ops) if op.forward_residual is not None)
    broken = dataclasses.replace(ops[index], vjp_residual=None)
    with pytest.raises(ValueError, match="only one of forward_residual and vjp_residual"):
        build_registry(ops[:index] + [broken] + ops[index + 1:])


def _labelled(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (3.0 * rng.normal(size=shape)).astype(dtype), rng.integers(0, shape[1], shape[0])


def _cotangent(op_name, batch, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=batch).astype(dtype) if op_name == "cross_entropy" else dtype(rng.normal())


@pytest.mark.parametrize("op_name", RESIDUAL_OPS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_residual_rules_equal_the_plain_rules_exactly(op_name, shape, dtype):
    """The contract of the residual pair, shapes and dtypes included. Today the
    plain rules are built from the residual ones, so the values agree by
    construction; this guards later changes. The values themselves are held to
    a 40-digit reference below, and verify holds them to SymPy."""
    op = default_registry()[op_name]
    x, labels = _labelled(shape, dtype)
    out, residual = op.forward_residual(x, labels)
    plain = op.forward(x, labels)
    assert out.dtype == plain.dtype == dtype
    np.testing.assert_array_equal(out, plain)
    g = _cotangent(op_name, shape[0], dtype)
    via_residual = op.vjp_residual(g, residual, (x, labels), (True, False))
    via_x = op.vjp(g, plain, (x, labels), (True, False))
    assert via_residual[1] is None and via_x[1] is None
    assert via_residual[0].shape == x.shape and via_residual[0].dtype == dtype
    np.testing.assert_array_equal(via_residual[0], via_x[0])


def _mp_cross_entropy(x, labels):
    """Per-example loss and softmax − onehot at 40 digits (an independent reference)."""
    mpmath.mp.dps = 40
    losses, gradients = [], []
    for row, label in zip(x.tolist(), labels.tolist()):
        exps = [mpmath.exp(mpmath.mpf(v)) for v in row]
        total = mpmath.fsum(exps)
        losses.append(mpmath.log(total) - mpmath.mpf(row[label]))
        gradients.append([e / total - (1 if k == label else 0) for k, e in enumerate(exps)])
    return losses, gradients


@pytest.mark.parametrize("op_name", CROSS_ENTROPIES)
@pytest.mark.parametrize("shape", [(16, 3), (40, 10), (7, 4), (20, 40)])
def test_cross_entropies_match_a_40_digit_reference(op_name, shape):
    op = default_registry()[op_name]
    x, labels = _labelled(shape, seed=5)
    x[0] = 0.0
    x[0, labels[0]] = 40.0  # a confident row: the label entry must keep its digits (≈ −e^-40)
    losses, gradients = _mp_cross_entropy(x, labels)
    g = _cotangent(op_name, shape[0], np.float64, seed=6)
    out, residual = op.forward_residual(x, labels)
    (grad, _) = op.vjp_residual(g, residual, (x, labels), (True, False))
    if op_name == "cross_entropy":
        want_out = np.array([float(v) for v in losses])
        scale = [mpmath.mpf(float(v)) for v in g]
    else:
        want_out = float(mpmath.fsum(losses) / shape[0])
        scale = [mpmath.mpf(float(g)) / shape[0]] * shape[0]
    want_grad = np.array([[float(s * v) for v in row] for s, row in zip(scale, gradients)])
    eps = np.finfo(np.float64).eps
    # the loss: log Σexp of values up to ~10 in size, a few roundings of that size
    np.testing.assert_allclose(out, want_out, rtol=0, atol=64 * eps * 50)
    # the gradient, entry by entry relative (the tiny label entry of the confident row included)
    np.testing.assert_allclose(grad, want_grad, rtol=64 * eps, atol=0)


@pytest.mark.parametrize("op_name", CROSS_ENTROPIES)
@pytest.mark.parametrize("shape", [(16, 3), (48, 7)])
def test_class_major_second_order_rules_match_differences(op_name, shape):
    """vjp_tangent, the fused second_order_vjp and the naive rule at a shape
    that takes the copied class-major path, against central differences and
    against each other."""
    op = default_registry()[op_name]
    rng = np.random.default_rng(9)
    x, labels = _labelled(shape, seed=8)
    out = op.forward(x, labels)
    g = _cotangent(op_name, shape[0], np.float64, seed=10)
    g_dot = _cotangent(op_name, shape[0], np.float64, seed=11)
    t = rng.normal(size=shape)
    needs = (True, False)
    h = 1e-6
    up = op.vjp(g, op.forward(x + h * t, labels), (x + h * t, labels), needs)[0]
    down = op.vjp(g, op.forward(x - h * t, labels), (x - h * t, labels), needs)[0]
    out_tangent = op.jvp((t, None), out, (x, labels))
    curvature = op.vjp_tangent(g, out, out_tangent, (x, labels), (t, None), needs)[0]
    np.testing.assert_allclose(curvature, (up - down) / (2 * h), rtol=1e-6, atol=1e-8)
    first, second = op.second_order_vjp(g, g_dot, out, out_tangent, (x, labels), (t, None), needs)
    np.testing.assert_allclose(first[0], op.vjp(g, out, (x, labels), needs)[0], rtol=1e-13, atol=1e-16)
    through_g_dot = op.vjp(g_dot, out, (x, labels), needs)[0]
    np.testing.assert_allclose(second[0], curvature + through_g_dot, rtol=1e-13, atol=1e-16)
    # naive rule: Σ_v δ²_v ∂²v/∂x_i²; with δ² = g it is g·y(1 − y) per entry
    y = np.exp(x - x.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    scale = g[:, None] if op_name == "cross_entropy" else g / shape[0]
    np.testing.assert_allclose(op.naive_vjp(g, out, (x, labels), needs)[0], scale * y * (1 - y), rtol=1e-13)


def _hand_written_step(x, labels, weights, lr):
    """One SGD step of x → affine → sigmoid → affine → mean softmax-NLL in plain numpy."""
    W1, b1, W2, b2 = (w.copy() for w in weights)
    hidden = 1.0 / (1.0 + np.exp(-(x @ W1 + b1)))
    logits = hidden @ W2 + b2
    y = np.exp(logits - logits.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    delta = y.copy()
    delta[np.arange(len(labels)), labels] -= 1.0
    delta /= len(labels)
    delta_hidden = (delta @ W2.T) * hidden * (1.0 - hidden)
    grads = (x.T @ delta_hidden, delta_hidden.sum(0), hidden.T @ delta, delta.sum(0))
    return [w - lr * g for w, g in zip((W1, b1, W2, b2), grads)]


@pytest.mark.parametrize("batch, classes", [(64, 10), (8, 10), (32, 40)])
def test_sgd_step_with_the_class_major_loss_equals_a_hand_written_step(batch, classes):
    """The residual path and the transposed cotangent it returns, through a
    whole training step, against plain numpy written independently."""
    rng = np.random.default_rng(12)
    weights = [rng.normal(size=(6, 5)) * 0.5, rng.normal(size=5) * 0.1,
               rng.normal(size=(5, classes)) * 0.5, rng.normal(size=classes) * 0.1]
    x, labels = rng.normal(size=(batch, 6)), rng.integers(0, classes, batch)
    graph = Graph()
    x_node, label_node = graph.input("x"), graph.input("labels")
    params = [graph.parameter(name, w.copy()) for name, w in zip(("W1", "b1", "W2", "b2"), weights)]
    hidden = graph.apply("sigmoid", graph.apply("affine", x_node, params[0], params[1]))
    loss = graph.apply("mean_cross_entropy", graph.apply("affine", hidden, params[2], params[3]), label_node)
    step = SGDStep(graph, loss, params, 0.5)
    feed = {x_node: x, label_node: labels}
    for _ in range(3):
        expected = _hand_written_step(x, labels, [p.value for p in params], 0.5)
        step(feed)
        for p, want in zip(params, expected):
            np.testing.assert_allclose(p.value, want, rtol=1e-13, atol=1e-15)


def _scaled_residual_rule(op, field, factor):
    original = getattr(op, field)
    if field == "forward_residual":
        def wrong(*args, **kwargs):
            value, residual = original(*args, **kwargs)
            return value * factor, residual
    else:
        def wrong(*args, **kwargs):
            return tuple(None if c is None else c * factor for c in original(*args, **kwargs))
    return dataclasses.replace(op, **{field: wrong})


@pytest.mark.parametrize("op_name", RESIDUAL_OPS)
@pytest.mark.parametrize("field", ["forward_residual", "vjp_residual"])
def test_op_check_holds_residual_rules_to_sympy_too(op_name, field):
    from symderiv.engine.op_checks import check_op

    op = default_registry()[op_name]
    assert check_op(op, np.random.default_rng(0)).ok
    result = check_op(_scaled_residual_rule(op, field, 1 + 1e-9), np.random.default_rng(0))
    assert not result.ok
    assert (result.forward_error if field == "forward_residual" else result.vjp_error) > 1.0


def test_verify_holds_the_class_major_batch_to_the_rows_one_at_a_time(monkeypatch):
    from symderiv import verification
    from symderiv.engine import ops

    results = list(verification.layout_checks(0))
    assert [r.name.split(":")[0] for r in results] == [f"op {name}" for name in RESIDUAL_OPS]
    assert all(r.ok and r.verdict == "passed" for r in results)
    for field in ("vjp_residual", "forward_residual"):
        broken = build_registry(
            [_scaled_residual_rule(op, field, 1 + 1e-9) if op.forward_residual else op for op in core_ops()]
        )
        monkeypatch.setattr(ops, "default_registry", lambda: broken)
        results = list(verification.layout_checks(0))
        assert results and not any(r.ok for r in results)
        assert all(("vjp" if field == "vjp_residual" else "value") in r.detail for r in results)
