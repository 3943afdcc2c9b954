"""The numeric engine: every op against SymPy, the graph machinery, HVP, naive rule."""

import dataclasses

import numpy as np
import pytest
import sympy as sp

from symderiv.engine.compile import CompileError, compile_expression
from symderiv.engine.graph import Graph
from symderiv.engine.ops import REQUIRED_OPS, build_registry, core_ops, default_registry, unbroadcast
from symderiv.engine.op_checks import check_op


def test_registry_is_complete_and_explicit():
    registry = default_registry()
    registry.check_complete()
    assert set(REQUIRED_OPS) <= {op.name for op in registry}
    with pytest.raises(ValueError, match="duplicate"):
        build_registry(core_ops() + core_ops()[:1])
    broken = dataclasses.replace(core_ops()[0], vjp=None)
    with pytest.raises(ValueError, match="has no vjp"):
        build_registry([broken] + core_ops()[1:])


@pytest.mark.parametrize("op_name", [op.name for op in core_ops()])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_op_matches_its_sympy_meaning(op_name, seed):
    result = check_op(default_registry()[op_name], np.random.default_rng(seed))
    assert result.ok, result


def _perturb(op, field, factor):
    original = getattr(op, field)

    def wrong(*args, **kwargs):
        return tuple(None if c is None else c * factor for c in original(*args, **kwargs))

    return dataclasses.replace(op, **{field: wrong})


WRONG_RULES = [
    (name, field)
    for name in ("tanh", "softmax", "affine", "div", "cross_entropy")
    for field in ("vjp", "vjp_tangent", "naive_vjp")
    if not (name == "affine" and field == "naive_vjp")  # identically zero: nothing to scale
]


@pytest.mark.parametrize("op_name, field", WRONG_RULES)
def test_op_check_catches_a_wrong_rule(op_name, field):
    op = default_registry()[op_name]
    result = check_op(_perturb(op, field, 1 + 1e-9), np.random.default_rng(0))
    assert not result.ok


def test_unbroadcast_sums_stretched_axes():
    g = np.ones((3, 4))
    assert unbroadcast(g, (4,)).tolist() == [3.0] * 4
    assert unbroadcast(g, (3, 1)).tolist() == [[4.0]] * 3
    assert unbroadcast(g, ()).item() == 12.0


def test_softmax_family_is_stable_at_extreme_inputs():
    registry = default_registry()
    x = np.array([[1000.0, -1000.0, -745.0, 0.0], [1e4, 1e4, -1e4, 3.0]])
    y = registry["softmax"].forward(x)
    assert np.all(np.isfinite(y)) and np.allclose(y.sum(axis=1), 1.0)
    np.testing.assert_allclose(y[0], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(y[1], [0.5, 0.5, 0.0, 0.0])
    logp = registry["log_softmax"].forward(x)
    assert np.all(np.isfinite(logp))
    assert logp[0, 1] == pytest.approx(-2000.0)
    labels = np.array([1, 2])
    ce = registry["cross_entropy"].forward(x, labels)
    np.testing.assert_allclose(ce, [2000.0, 2e4 + np.log(2)], rtol=1e-12)


def test_deep_graph_has_no_recursion_limit():
    graph = Graph()
    x = graph.input("x")
    node = x
    for _ in range(20000):
        node = graph.apply("add", node, x)
    evaluation = graph.forward({x: np.array([1.0])}, [node])
    assert evaluation[node][0] == 20001.0
    assert graph.backward(evaluation, node, wrt=[x])[x][0] == 20001.0


def test_weight_gradient_is_a_matmul_not_an_outer_product():
    rng = np.random.default_rng(0)
    graph = Graph()
    x = graph.input("x")
    W = graph.parameter("W", rng.normal(size=(5, 3)))
    b = graph.parameter("b", rng.normal(size=3))
    labels = graph.input("labels")
    loss = graph.apply("mean", graph.apply("cross_entropy", graph.apply("affine", x, W, b), labels))
    X, t = rng.normal(size=(7, 5)), rng.integers(0, 3, 7)
    grads = graph.backward(graph.forward({x: X, labels: t}, [loss]), loss)
    # reference: explicit per-example outer products, the EDF way
    logits = X @ W.value + b.value
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(3)[t]) / 7
    np.testing.assert_allclose(grads[W], (X[:, :, None] * delta[:, None, :]).sum(0), rtol=1e-12)
    np.testing.assert_allclose(grads[b], delta.sum(0), rtol=1e-12)


def _mlp(rng, dtype=np.float64):
    graph = Graph()
    x, labels = graph.input("x"), graph.input("labels")
    W1 = graph.parameter("W1", rng.normal(size=(4, 6)).astype(dtype) * 0.5)
    b1 = graph.parameter("b1", rng.normal(size=6).astype(dtype) * 0.1)
    W2 = graph.parameter("W2", rng.normal(size=(6, 3)).astype(dtype) * 0.5)
    b2 = graph.parameter("b2", rng.normal(size=3).astype(dtype) * 0.1)
    hidden = graph.apply("tanh", graph.apply("affine", x, W1, b1))
    logits = graph.apply("affine", hidden, W2, b2)
    loss = graph.apply("mean", graph.apply("nll", graph.apply("log_softmax", logits), labels))
    return graph, x, labels, [W1, b1, W2, b2], loss


def test_mlp_gradient_matches_central_differences():
    rng = np.random.default_rng(1)
    graph, x, labels, params, loss = _mlp(rng)
    feed = {x: rng.normal(size=(5, 4)), labels: rng.integers(0, 3, 5)}
    grads = graph.backward(graph.forward(feed, [loss]), loss)
    for p in params:
        flat = p.value.reshape(-1)
        for k in range(flat.size):
            h = 1e-6
            old = flat[k]
            flat[k] = old + h
            up = graph.forward(feed, [loss])[loss]
            flat[k] = old - h
            down = graph.forward(feed, [loss])[loss]
            flat[k] = old
            assert grads[p].reshape(-1)[k] == pytest.approx((up - down) / (2 * h), abs=1e-8)


def test_hessian_vector_product_matches_differences_of_gradients():
    rng = np.random.default_rng(2)
    graph, x, labels, params, loss = _mlp(rng)
    feed = {x: rng.normal(size=(5, 4)), labels: rng.integers(0, 3, 5)}
    direction = {p: rng.normal(size=p.value.shape) for p in params}
    second = graph.hessian_vector_product(feed, loss, direction)

    def gradient_at(t):
        saved = [p.value.copy() for p in params]
        for p in params:
            p.value = p.value + t * direction[p]
        grads = graph.backward(graph.forward(feed, [loss]), loss)
        for p, v in zip(params, saved):
            p.value = v
        return grads

    h = 1e-5
    up, down = gradient_at(h), gradient_at(-h)
    for p in params:
        np.testing.assert_allclose(second.hvp[p], (up[p] - down[p]) / (2 * h), rtol=1e-6, atol=1e-8)
    plain = graph.backward(graph.forward(feed, [loss]), loss)
    for p in params:
        np.testing.assert_allclose(second.gradients[p], plain[p], rtol=1e-14)


def test_hvp_matches_sympy_hessian_on_a_tiny_network():
    # independent reference: the exact Hessian of the same scalar function from SymPy
    w = sp.symbols("w0:4")
    x_value = np.array([[0.3, -0.8]])
    hidden = [sp.tanh(w[0] * 0.3 + w[1] * -0.8), sp.tanh(w[2] * 0.3 + w[3] * -0.8)]
    loss = sp.log(sp.exp(hidden[0]) + sp.exp(hidden[1])) - hidden[0]
    point = {s: v for s, v in zip(w, [0.1, 0.2, -0.3, 0.4])}
    H = np.array(sp.hessian(loss, w).evalf(30, subs=point), dtype=float)
    v = np.array([1.0, -2.0, 0.5, 0.25])

    graph = Graph()
    xin, labels = graph.input("x"), graph.input("labels")
    W = graph.parameter("W", np.array([[0.1, -0.3], [0.2, 0.4]]))
    b = graph.parameter("b", np.zeros(2))
    out = graph.apply("cross_entropy", graph.apply("tanh", graph.apply("affine", xin, W, b)), labels)
    direction = {W: np.array([[1.0, 0.5], [-2.0, 0.25]])}
    second = graph.hessian_vector_product({xin: x_value, labels: np.array([0])}, out, direction, wrt=[W])
    expected = H @ v  # ordering w0 = W[0,0], w1 = W[1,0], w2 = W[0,1], w3 = W[1,1]
    got = second.hvp[W]
    np.testing.assert_allclose([got[0, 0], got[1, 0], got[0, 1], got[1, 1]], expected, rtol=1e-12, atol=1e-14)


def test_float32_stays_float32():
    rng = np.random.default_rng(3)
    graph, x, labels, params, loss = _mlp(rng, np.float32)
    feed = {x: rng.normal(size=(5, 4)).astype(np.float32), labels: rng.integers(0, 3, 5)}
    evaluation = graph.forward(feed, [loss])
    assert evaluation[loss].dtype == np.float32
    assert all(g.dtype == np.float32 for g in graph.backward(evaluation, loss).values())


def test_compiler_builds_a_dag_and_rejects_unknown_functions():
    x = sp.Symbol("x")
    graph = Graph()
    xin = graph.input("x")
    shared = sp.sin(x)
    out = compile_expression(graph, shared * shared + sp.exp(shared), {x: xin})
    assert sum(1 for n in graph.nodes if n.op is not None and n.op.name == "sin") == 1
    values = np.array([0.1, 0.7])
    ev = graph.forward({xin: values}, [out])
    np.testing.assert_allclose(ev[out], np.sin(values) ** 2 + np.exp(np.sin(values)))
    with pytest.raises(CompileError):
        compile_expression(Graph(), sp.gamma(x), {x: xin})


def test_naive_rule_depends_on_the_cut():
    # ℓ = (x²)² : as one node the naive rule gives 12x²; cut into two squares it gives 2·2 = 4·x⁰·...
    x = sp.Symbol("x")
    from symderiv.engine.function_op import function_op

    one = Graph()
    xin = one.input("x")
    out = one.apply(function_op(x**4, [x]), xin)
    two = Graph()
    xin2 = two.input("x")
    inner = two.apply(function_op(x**2, [x]), xin2)
    out2 = two.apply(function_op(x**2, [x]), inner)
    xs = np.array([0.5, 1.5])
    naive_one = one.naive_second_order(one.forward({xin: xs}, [out]), out, wrt=[xin])[xin]
    naive_two = two.naive_second_order(two.forward({xin2: xs}, [out2]), out2, wrt=[xin2])[xin2]
    np.testing.assert_allclose(naive_one, 12 * xs**2)  # the true second derivative
    np.testing.assert_allclose(naive_two, 2 * 2 * np.ones_like(xs))  # δ²_u = 2, times ∂²(x²)/∂x² = 2
    exact = two.hessian_vector_product({xin2: xs}, out2, {xin2: np.ones_like(xs)}, wrt=[xin2]).hvp[xin2]
    np.testing.assert_allclose(exact, 12 * xs**2)


@pytest.mark.parametrize("op_name", [op.name for op in core_ops()])
def test_every_op_matches_central_differences(op_name):
    """Second, independent witness: ⟨vjp(G), V⟩ = d/dt ⟨G, f(x + tV)⟩ and
    vjp_tangent = d/dt vjp(G)(x + tV), both by central differences."""
    op = default_registry()[op_name]
    rng = np.random.default_rng(7)
    inputs, params = op.sample(rng)
    out = op.forward(*inputs, **params)
    G = rng.normal(size=np.shape(out))
    V = tuple(rng.normal(size=np.shape(v)) if d else None for v, d in zip(inputs, op.differentiable))
    needs = op.differentiable

    def shifted(t):
        return tuple(v if d is None else v + t * d for v, d in zip(inputs, V))

    def pairing(t):
        return float(np.sum(G * op.forward(*shifted(t), **params)))

    h = 1e-6
    directional = (pairing(h) - pairing(-h)) / (2 * h)
    cotangents = op.vjp(G, out, tuple(inputs), needs, **params)
    predicted = sum(float(np.sum(c * v)) for c, v in zip(cotangents, V) if c is not None and v is not None)
    assert predicted == pytest.approx(directional, rel=1e-6, abs=1e-7)

    def vjp_at(t):
        xs = shifted(t)
        return op.vjp(G, op.forward(*xs, **params), xs, needs, **params)

    up, down = vjp_at(h), vjp_at(-h)
    out_tangent = op.jvp(V, out, tuple(inputs), **params)
    second = op.vjp_tangent(G, out, out_tangent, tuple(inputs), V, needs, **params)
    for a, b, s in zip(up, down, second):
        if a is None:
            continue
        expected = (np.asarray(a) - np.asarray(b)) / (2 * h)
        got = np.zeros_like(expected) if s is None else np.broadcast_to(s, expected.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op_name", [op.name for op in core_ops() if op.second_order_vjp is not None])
@pytest.mark.parametrize("with_g_dot", [False, True])
def test_fused_second_order_rules_equal_their_composition(op_name, with_g_dot):
    op = default_registry()[op_name]
    rng = np.random.default_rng(11)
    inputs, params = op.sample(rng)
    out = op.forward(*inputs, **params)
    g = rng.normal(size=np.shape(out))
    g_dot = rng.normal(size=np.shape(out)) if with_g_dot else None
    tangents = tuple(rng.normal(size=np.shape(v)) if d else None for v, d in zip(inputs, op.differentiable))
    needs = op.differentiable
    out_tangent = op.jvp(tangents, out, tuple(inputs), **params)
    first, second = op.second_order_vjp(g, g_dot, out, out_tangent, tuple(inputs), tangents, needs, **params)
    expected_first = op.vjp(g, out, tuple(inputs), needs, **params)
    expected_second = op.vjp_tangent(g, out, out_tangent, tuple(inputs), tangents, needs, **params)
    if g_dot is not None:
        through = op.vjp(g_dot, out, tuple(inputs), needs, **params)
        expected_second = tuple(
            b if a is None else (a if b is None else a + b) for a, b in zip(through, expected_second)
        )
    for got, want in zip(first + second, expected_first + expected_second):
        if want is None:
            assert got is None or not np.any(got)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


# -- inputs the output does not reach: exact zeros, never None or KeyError ----


def _unreached_graph():
    """loss = 3·a; b is fed but never used; c is a parameter off the path."""
    graph = Graph()
    a, b = graph.input("a"), graph.input("b")
    c = graph.parameter("c", np.array([1.0, 2.0], dtype=np.float32))
    off_path = graph.apply("sin", c)
    loss = graph.apply("mul", a, graph.constant(3.0))
    return graph, a, b, c, off_path, loss


def test_first_order_gives_exact_zeros_for_unreached_nodes():
    graph, a, b, c, off_path, loss = _unreached_graph()
    feed = {a: np.array([1.0, 2.0, 3.0]), b: np.arange(4, dtype=np.int64)}
    evaluation = graph.forward(feed, [loss])
    grads = graph.backward(evaluation, loss, wrt=[a, b, c, off_path])
    np.testing.assert_array_equal(grads[a], [3.0, 3.0, 3.0])
    assert grads[b].shape == (4,) and grads[b].dtype == np.float64 and not grads[b].any()
    assert grads[c].shape == (2,) and grads[c].dtype == np.float32 and not grads[c].any()
    assert grads[off_path].shape == (2,) and not grads[off_path].any()
    assert all(value is not None for value in grads.values())


def test_hvp_and_naive_rule_give_exact_zeros_for_unreached_nodes():
    graph, a, b, c, off_path, loss = _unreached_graph()
    feed = {a: np.array([1.0, 2.0]), b: np.array(5.0)}
    second = graph.hessian_vector_product(feed, loss, {a: np.ones(2), b: np.ones(())}, wrt=[a, b, c])
    assert second.gradients[b].shape == () and second.gradients[b] == 0.0
    assert second.hvp[b].shape == () and second.hvp[b] == 0.0
    np.testing.assert_array_equal(second.hvp[a], [0.0, 0.0])
    assert second.hvp[c].dtype == np.float32 and not second.hvp[c].any()
    naive = graph.naive_second_order(graph.forward(feed, [loss]), loss, wrt=[a, b, c])
    assert naive[b].shape == () and naive[b] == 0.0 and not naive[c].any()


def test_constant_output_has_zero_derivatives_everywhere():
    # h(x) = 1 compiled: the output is a constant node, x is not on its path
    graph = Graph()
    x = graph.input("x")
    out = compile_expression(graph, sp.Integer(1) + sp.Symbol("y") * 0, {})
    xs = np.linspace(-1, 1, 5)
    evaluation = graph.forward({x: xs}, [out])
    assert not graph.backward(evaluation, out, wrt=[x])[x].any()
    assert not graph.hessian_vector_product({x: xs}, out, {x: np.ones(5)}, wrt=[x]).hvp[x].any()
    assert not graph.naive_second_order(evaluation, out, wrt=[x])[x].any()
