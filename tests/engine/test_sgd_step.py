"""SGDStep (the fused training step) and the fused mean_cross_entropy loss,
each against the unfused path it replaces, computed independently."""

import numpy as np
import pytest

from symderiv.engine.graph import Graph
from symderiv.engine.ops import core_ops
from symderiv.engine.optim import SGDStep
from tests.support import assert_vjp_reads_no_more_than_declared


def _network(rng, dtype=np.float64, head="mean_cross_entropy", shared=False):
    """x → affine → sigmoid → affine → loss. With ``shared`` the hidden layer
    reuses W1 (square) twice, so one parameter gets two gradient contributions."""
    graph = Graph()
    x, labels = graph.input("x"), graph.input("labels")
    width = 4 if shared else 6
    W1 = graph.parameter("W1", (rng.normal(size=(4, width)) * 0.5).astype(dtype))
    b1 = graph.parameter("b1", (rng.normal(size=width) * 0.1).astype(dtype))
    W2 = graph.parameter("W2", (rng.normal(size=(width, 3)) * 0.5).astype(dtype))
    b2 = graph.parameter("b2", (rng.normal(size=3) * 0.1).astype(dtype))
    hidden = graph.apply("sigmoid", graph.apply("affine", x, W1, b1))
    if shared:
        hidden = graph.apply("sigmoid", graph.apply("affine", hidden, W1, b1))
    logits = graph.apply("affine", hidden, W2, b2)
    if head == "mean_cross_entropy":
        loss = graph.apply("mean_cross_entropy", logits, labels)
    else:
        loss = graph.apply("mean", graph.apply("cross_entropy", logits, labels))
    feed = {x: (rng.normal(size=(7, 4)) * 2).astype(dtype), labels: rng.integers(0, 3, 7)}
    return graph, feed, [W1, b1, W2, b2], loss


@pytest.mark.parametrize("shared", [False, True])
def test_a_step_equals_theta_minus_lr_times_the_backward_gradient(shared):
    rng = np.random.default_rng(3)
    graph, feed, params, loss = _network(rng, shared=shared)
    lr = 0.3
    for _ in range(3):  # several steps: each starts from the parameters the last one left
        evaluation = graph.forward(feed, [loss])
        gradients = graph.backward(evaluation, loss, params)
        expected = {p: p.value - lr * gradients[p] for p in params}
        returned = SGDStep(graph, loss, params, lr)(feed)
        assert returned == evaluation[loss]
        for p in params:
            # seeding the backward pass with lr only re-associates one product per entry
            np.testing.assert_allclose(p.value, expected[p], rtol=1e-14, atol=1e-15)


def test_a_reused_step_keeps_training_and_lowers_the_loss():
    rng = np.random.default_rng(4)
    graph, feed, params, loss = _network(rng)
    step = SGDStep(graph, loss, params, 0.5)
    losses = [float(step(feed)) for _ in range(200)]
    assert losses[-1] < 0.5 * losses[0]
    # the step reads parameter values afresh: an array replaced by the user is used
    params[0].value = np.zeros_like(params[0].value)
    expected = graph.forward(feed, [loss])[loss]
    assert step(feed) == expected


def test_float32_stays_float32():
    rng = np.random.default_rng(5)
    graph, feed, params, loss = _network(rng, dtype=np.float32)
    value = SGDStep(graph, loss, params, 0.1)(feed)
    assert value.dtype == np.float32
    assert all(p.value.dtype == np.float32 for p in params)


def test_a_non_finite_loss_changes_nothing():
    rng = np.random.default_rng(6)
    graph, feed, params, loss = _network(rng)
    before = [p.value.copy() for p in params]
    feed = dict(feed)
    x_node = next(n for n in feed if n.name == "x")
    bad = feed[x_node].copy()
    bad[0, 0] = np.nan
    feed[x_node] = bad
    value = SGDStep(graph, loss, params, 0.1)(feed)
    assert np.isnan(value)
    for p, old in zip(params, before):
        np.testing.assert_array_equal(p.value, old)


def test_parameters_outside_the_loss_are_left_alone_and_bad_arguments_are_refused():
    rng = np.random.default_rng(7)
    graph, feed, params, loss = _network(rng)
    unused = graph.parameter("unused", np.ones(2))
    SGDStep(graph, loss, params + [unused], 0.1)(feed)
    np.testing.assert_array_equal(unused.value, np.ones(2))
    x_node = next(n for n in feed if n.name == "x")
    with pytest.raises(ValueError, match="not a parameter"):
        SGDStep(graph, loss, [x_node], 0.1)
    step = SGDStep(graph, loss, params, 0.1)
    with pytest.raises(ValueError, match="no value fed for input 'labels'"):
        step({x_node: feed[x_node]})


def test_a_vector_loss_is_trained_as_the_sum_of_its_entries():
    graph = Graph()
    x = graph.input("x")
    w = graph.parameter("w", np.array([1.0, -2.0, 0.5]))
    losses = graph.apply("mul", graph.apply("mul", w, w), x)  # entries x_i w_i²
    data = np.array([1.0, 2.0, 3.0])
    before = w.value.copy()
    SGDStep(graph, losses, [w], 0.1)({x: data})
    np.testing.assert_allclose(w.value, before - 0.1 * 2 * data * before, rtol=1e-15)


# ---------------------------------------------------------------------------
# the fused batch-mean loss against mean ∘ cross_entropy


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mean_cross_entropy_equals_the_mean_of_cross_entropy(dtype):
    rng = np.random.default_rng(8)
    fused_graph, feed, params, fused = _network(rng, dtype=dtype)
    rng = np.random.default_rng(8)
    plain_graph, plain_feed, plain_params, plain = _network(rng, dtype=dtype, head="mean")
    eps = float(np.finfo(dtype).eps)
    a = fused_graph.forward(feed, [fused])
    b = plain_graph.forward(plain_feed, [plain])
    assert a[fused].dtype == dtype and a[fused].shape == ()
    assert a[fused] == pytest.approx(b[plain], rel=8 * eps)
    ga = fused_graph.backward(a, fused, params)
    gb = plain_graph.backward(b, plain, plain_params)
    for p, q in zip(params, plain_params):
        assert ga[p].dtype == dtype
        np.testing.assert_allclose(ga[p], gb[q], rtol=64 * eps, atol=64 * eps * np.abs(gb[q]).max())
    direction = {p: np.ones_like(p.value) for p in params}
    plain_direction = {q: np.ones_like(q.value) for q in plain_params}
    ha = fused_graph.hessian_vector_product(feed, fused, direction, params).hvp
    hb = plain_graph.hessian_vector_product(plain_feed, plain, plain_direction, plain_params).hvp
    for p, q in zip(params, plain_params):
        np.testing.assert_allclose(ha[p], hb[q], rtol=256 * eps, atol=256 * eps * np.abs(hb[q]).max())


def test_mean_cross_entropy_gradient_is_exact_for_a_confident_label():
    # y_label ≈ 1: the label entry (y_label − 1)/B must keep its digits (≈ −e^{-40}/B)
    from symderiv.engine.ops import default_registry

    op = default_registry()["mean_cross_entropy"]
    x = np.array([[40.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 2])
    out = op.forward(x, labels)
    grad, _ = op.vjp(np.float64(1.0), out, (x, labels), (True, False))
    tiny = np.exp(-40.0) / (1 + 2 * np.exp(-40.0))
    np.testing.assert_allclose(grad[0], np.array([-2 * tiny, tiny, tiny]) / 2, rtol=1e-14)
    np.testing.assert_allclose(grad[1], np.array([1 / 3, 1 / 3, -2 / 3]) / 2, rtol=1e-14)


# ---------------------------------------------------------------------------
# edge cases found in review


def _scalar_graph(weights):
    graph = Graph()
    x = graph.input("x")
    w = graph.parameter("w", np.array(weights))
    loss = graph.apply("sum", graph.apply("mul", w, x))
    return graph, x, w, loss


def test_a_non_finite_loss_changes_nothing_on_later_steps_too():
    # from the second step on the seed is cached and the finiteness test is a fast path
    graph, x, w, loss = _scalar_graph([1.0, 2.0, 3.0])
    step = SGDStep(graph, loss, [w], 0.1)
    step({x: np.ones(3)})
    before = w.value.copy()
    assert np.isnan(step({x: np.array([1.0, np.nan, 1.0])}))
    np.testing.assert_array_equal(w.value, before)
    assert np.isinf(step({x: np.array([1.0, np.inf, 1.0])}))
    np.testing.assert_array_equal(w.value, before)
    step({x: np.ones(3)})
    np.testing.assert_allclose(w.value, before - 0.1)


def test_a_parameter_listed_twice_is_updated_once():
    graph, x, w, loss = _scalar_graph([1.0])
    SGDStep(graph, loss, [w, w], 0.1)({x: np.ones(1)})
    np.testing.assert_allclose(w.value, [0.9], rtol=1e-15)


def test_the_returned_loss_is_the_value_before_the_update_even_when_it_is_a_parameter():
    graph = Graph()
    w = graph.parameter("w", np.array([1.0, 2.0]))
    value = SGDStep(graph, w, [w], 0.5)({})
    np.testing.assert_array_equal(value, [1.0, 2.0])
    np.testing.assert_array_equal(w.value, [0.5, 1.5])


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max, reason="longdouble is float64 here")
def test_a_finite_longdouble_loss_beyond_float64_still_trains():
    graph = Graph()
    w = graph.parameter("w", np.array([1.0], dtype=np.longdouble))
    big = graph.constant(np.array([np.longdouble("1e400")]))
    loss = graph.apply("sum", graph.apply("mul", w, big))
    step = SGDStep(graph, loss, [w], 1e-300)  # the gradient is 1e400: each step moves w by 1e100
    for _ in range(3):
        before = w.value.copy()
        assert np.isfinite(step({}))
        assert w.value[0] < before[0]


def test_an_op_without_inputs_is_planned():
    import sympy as sp

    from symderiv.engine.function_op import function_op

    graph = Graph()
    x = graph.input("x")
    w = graph.parameter("w", np.array([2.0]))
    three = graph.apply(function_op(sp.Integer(3), []))
    loss = graph.apply("sum", graph.apply("mul", graph.apply("mul", w, x), three))
    expected = graph.forward({x: np.ones(1)}, [loss])[loss]
    assert SGDStep(graph, loss, [w], 0.1)({x: np.ones(1)}) == expected
    np.testing.assert_allclose(w.value, [2.0 - 0.1 * 3.0], rtol=1e-15)


def test_float32_cotangents_stay_float32_all_the_way_to_the_parameters():
    from symderiv.engine.ops import Op

    seen = []

    def recording_vjp(g, out, inputs, needs):
        seen.append(np.asarray(g).dtype)
        return (g,)

    def unused(*args, **kwargs):
        raise AssertionError("not used by SGDStep")

    identity = Op(
        name="identity", arity=1, forward=lambda a: a * 1, vjp=recording_vjp,
        jvp=unused, vjp_tangent=unused, naive_vjp=unused, sympy_meaning=unused, doc="a",
    )
    rng = np.random.default_rng(9)
    graph = Graph()
    x, labels = graph.input("x"), graph.input("labels")
    W = graph.parameter("W", rng.normal(size=(4, 3)).astype(np.float32))
    b = graph.parameter("b", np.zeros(3, np.float32))
    logits = graph.apply("affine", x, graph.apply(identity, W), b)  # the recorder sees W's cotangent
    loss = graph.apply("mean_cross_entropy", logits, labels)
    feed = {x: rng.normal(size=(5, 4)).astype(np.float32), labels: rng.integers(0, 3, 5)}
    SGDStep(graph, loss, [W, b], 0.1)(feed)
    assert seen == [np.float32]


def test_vector_loss_seeds_are_right_on_every_call():
    graph = Graph()
    x = graph.input("x")
    w = graph.parameter("w", np.array([1.0, -2.0, 0.5]))
    losses = graph.apply("mul", w, x)
    step = SGDStep(graph, losses, [w], 0.25)
    data = np.array([1.0, 2.0, 3.0])
    for k in range(1, 4):
        step({x: data})
        np.testing.assert_allclose(w.value, np.array([1.0, -2.0, 0.5]) - k * 0.25 * data, rtol=1e-15)


# ---------------------------------------------------------------------------
# values dropped early (Op.vjp_reads_inputs)


@pytest.mark.parametrize(
    "op_name", [op.name for op in core_ops() if not (op.vjp_reads_inputs and op.vjp_reads_output)]
)
def test_a_vjp_gives_the_same_without_what_it_declares_it_does_not_read(op_name):
    from symderiv.engine.ops import default_registry

    op = default_registry()[op_name]
    assert_vjp_reads_no_more_than_declared(op, seed=21)


def test_the_step_drops_an_input_no_backward_rule_reads_and_keeps_the_rest():
    """sigmoid's VJP reads only its output: SGDStep hands it None for the
    pre-activation (already freed), while affine, which reads x and W, gets
    them; the step still equals θ − lr·∇θ from Graph.backward."""
    import dataclasses

    from symderiv.engine.ops import default_registry

    seen = []
    sigmoid = default_registry()["sigmoid"]

    def spying_vjp(g, out, inputs, needs):
        seen.append(inputs[0] is None)
        return sigmoid.vjp(g, out, inputs, needs)

    spy = dataclasses.replace(sigmoid, vjp=spying_vjp)
    rng = np.random.default_rng(22)
    graph = Graph()
    x, labels = graph.input("x"), graph.input("labels")
    W1 = graph.parameter("W1", rng.normal(size=(4, 5)))
    b1 = graph.parameter("b1", rng.normal(size=5))
    W2 = graph.parameter("W2", rng.normal(size=(5, 3)))
    b2 = graph.parameter("b2", rng.normal(size=3))
    hidden = graph.apply(spy, graph.apply("affine", x, W1, b1))
    loss = graph.apply("mean_cross_entropy", graph.apply("affine", hidden, W2, b2), labels)
    feed = {x: rng.normal(size=(32, 4)), labels: rng.integers(0, 3, 32)}
    params = [W1, b1, W2, b2]
    evaluation = graph.forward(feed, [loss])
    gradients = graph.backward(evaluation, loss, params)
    assert seen == [False]  # Graph.backward keeps every value
    expected = {p: p.value - 0.1 * gradients[p] for p in params}
    SGDStep(graph, loss, params, 0.1)(feed)
    assert seen == [False, True]
    for p in params:
        np.testing.assert_allclose(p.value, expected[p], rtol=1e-14, atol=1e-15)
