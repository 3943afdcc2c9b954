"""check_jvp, check_double_backward and check_hvp on the engine's own rules.

Every op of the registry is run through the forward-mode check (``jvp``),
the double-backward check (``vjp(ġ) + vjp_tangent(g, ẋ)``, and the fused
``second_order_vjp`` where an op has one) and, for the ops with weights,
first order with the shared weights differentiated too. The graph's
Hessian-vector product passes check_hvp; the naive second-order rule of
PROBLEMS.md fails it, with a counterexample confirmed here by independent
high-precision numerical differentiation.
"""

from __future__ import annotations

import dataclasses

import mpmath
import numpy as np
import pytest
import sympy as sp

from symderiv import check_backward, check_double_backward, check_hvp, check_jvp, labels, per_example, shared
from symderiv.engine.graph import Graph
from symderiv.engine.ops import default_registry

REGISTRY = default_registry()


@dataclasses.dataclass(frozen=True)
class OpCase:
    inputs: dict  # name -> spec, in the op's argument order
    params: dict = dataclasses.field(default_factory=dict)
    domain: tuple = (-3.0, 3.0)
    per_row: bool = False  # the op reduces over the batch: run each example alone


def _unary(n=3, domain=(-3.0, 3.0), **params):
    return OpCase({"x": n}, params, domain)


CASES = {
    "neg": _unary(),
    "exp": _unary(),
    "log": _unary(domain=(0.2, 3.0)),
    "sqrt": _unary(domain=(0.2, 3.0)),
    "sin": _unary(),
    "cos": _unary(),
    "tanh": _unary(),
    "sigmoid": _unary(domain=(-20.0, 20.0)),
    "relu": _unary(),
    "pow": _unary(domain=(0.3, 3.0), p=-1.5),
    "add": OpCase({"a": 3, "b": shared(3)}),
    "sub": OpCase({"a": 3, "b": shared(3)}),
    "mul": OpCase({"a": 3, "b": shared(3)}),
    "div": OpCase({"a": 3, "b": shared(3, domain=(0.5, 3.0))}),
    "matmul": OpCase({"a": 3, "b": shared(3, 2)}),
    "affine": OpCase({"x": 3, "W": shared(3, 2), "b": shared(2)}),
    "sum": _unary(4, axis=1, keepdims=True),
    "mean": _unary(4, axis=1, keepdims=True),
    "softmax": _unary(4, domain=(-30.0, 30.0)),
    "log_softmax": _unary(4, domain=(-30.0, 30.0)),
    "nll": OpCase({"logp": 3, "label": labels(3)}),
    "cross_entropy": OpCase({"x": 3, "label": labels(3)}, domain=(-30.0, 30.0)),
    "mean_cross_entropy": OpCase({"x": 3, "label": labels(3)}, domain=(-30.0, 30.0), per_row=True),
}


def test_every_op_has_a_case():
    assert set(CASES) == {op.name for op in REGISTRY}


def op_forward(op, case):
    def forward(**named):
        args = []
        for name in case.inputs:
            value = named[name]
            if isinstance(value, int):  # a label
                args.append([value])
            elif isinstance(value, sp.MatrixBase):
                args.append(value)
            else:
                args.append(sp.Matrix([[value]]))
        return op.sympy_meaning(sp, *args, **case.params)

    return forward


def _zero_if_none(values, like):
    return [np.zeros(np.shape(x)) if v is None else v for v, x in zip(values, like)]


def engine_rules(op, case, vjp_tangent_field="vjp_tangent"):
    """(backward, jvp, double_backward) in check_backward's named convention."""
    names = list(case.inputs)
    diff_names = [n for n, d in zip(names, op.differentiable) if d]

    def split(named):
        return tuple(named[n] for n in names)

    def cotangents(values):
        return {n: v for n, v, d in zip(names, values, op.differentiable) if d}

    def per_batch(fn):
        def run(**named):
            if not case.per_row:
                return fn(**named)
            b = len(named["y"])
            rows = [fn(**{k: (v[r:r + 1] if k not in ("W",) and isinstance(v, np.ndarray) and v.ndim and len(v) == b
                              else ({t: tv[r:r + 1] for t, tv in v.items()} if isinstance(v, dict) else v))
                          for k, v in named.items()}) for r in range(b)]
            if isinstance(rows[0], dict):
                return {k: np.concatenate([row[k] for row in rows]) for k in rows[0]}
            return np.concatenate(rows)
        return run

    @per_batch
    def backward(y, gy, **named):
        inputs = split(named)
        out = op.forward(*inputs, **case.params)
        needs = tuple(op.differentiable)
        return cotangents(_zero_if_none(op.vjp(gy.reshape(np.shape(out)), out, inputs, needs, **case.params), inputs))

    def tangent_tuple(tangents):
        return tuple(tangents.get(n) for n in names)

    @per_batch
    def jvp(y, tangents, **named):
        inputs = split(named)
        out = op.forward(*inputs, **case.params)
        return np.reshape(op.jvp(tangent_tuple(tangents), out, inputs, **case.params), y.shape)

    @per_batch
    def double_backward(y, gy, gy_dot, tangents, **named):
        inputs = split(named)
        out = op.forward(*inputs, **case.params)
        t = tangent_tuple(tangents)
        out_t = op.jvp(t, out, inputs, **case.params)
        g, g_dot = gy.reshape(np.shape(out)), gy_dot.reshape(np.shape(out))
        needs = tuple(op.differentiable)
        if vjp_tangent_field == "second_order_vjp":
            _, second = op.second_order_vjp(g, g_dot, out, out_t, inputs, t, needs, **case.params)
            return cotangents(_zero_if_none(second, inputs))
        through_g_dot = _zero_if_none(op.vjp(g_dot, out, inputs, needs, **case.params), inputs)
        curvature = _zero_if_none(getattr(op, vjp_tangent_field)(g, out, out_t, inputs, t, needs, **case.params), inputs)
        return cotangents([a + b for a, b in zip(through_g_dot, curvature)])

    del diff_names
    return backward, jvp, double_backward


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_op_first_order_with_shared_inputs(name):
    op, case = REGISTRY[name], CASES[name]
    backward, _, _ = engine_rules(op, case)
    result = check_backward(op_forward(op, case), backward, inputs=case.inputs, domain=case.domain)
    assert result.ok, result.report()


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_op_jvp(name):
    op, case = REGISTRY[name], CASES[name]
    _, jvp, _ = engine_rules(op, case)
    result = check_jvp(op_forward(op, case), jvp, inputs=case.inputs, domain=case.domain)
    assert result.ok, result.report()


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_op_vjp_tangent(name):
    op, case = REGISTRY[name], CASES[name]
    _, _, double_backward = engine_rules(op, case)
    result = check_double_backward(op_forward(op, case), double_backward, inputs=case.inputs, domain=case.domain)
    assert result.ok, result.report()


@pytest.mark.parametrize("name", sorted(n for n in CASES if REGISTRY[n].second_order_vjp is not None))
def test_engine_op_fused_second_order_vjp(name):
    op, case = REGISTRY[name], CASES[name]
    _, _, double_backward = engine_rules(op, case, "second_order_vjp")
    result = check_double_backward(op_forward(op, case), double_backward, inputs=case.inputs, domain=case.domain)
    assert result.ok, result.report()


# -- wrong second-order rules are caught ----------------------------------------------------------


def _broken(name, field, replacement):
    return dataclasses.replace(REGISTRY[name], **{field: replacement})


def test_softmax_vjp_tangent_without_its_second_term_fails():
    def first_term_only(g, out, out_tangent, inputs, tangents, needs):
        y, ydot = out, out_tangent
        return (ydot * (g - (y * g).sum(axis=-1, keepdims=True)),)

    op = _broken("softmax", "vjp_tangent", first_term_only)
    _, _, rule = engine_rules(op, CASES["softmax"])
    result = check_double_backward(op_forward(op, CASES["softmax"]), rule, inputs=CASES["softmax"].inputs)
    assert not result.ok and result.counterexample is not None


def test_div_vjp_tangent_without_the_cubic_term_fails_only_for_the_divisor():
    def no_cubic_term(g, out, out_tangent, inputs, tangents, needs):
        (_, b), (ta, tb) = inputs, tangents
        return (-g * tb / (b * b), (-g * ta / (b * b)).sum(axis=0))

    op = _broken("div", "vjp_tangent", no_cubic_term)
    _, _, rule = engine_rules(op, CASES["div"])
    result = check_double_backward(op_forward(op, CASES["div"]), rule, inputs=CASES["div"].inputs, domain=(-3.0, 3.0))
    assert not result.ok and result.counterexample.input == "b"


def test_a_wrong_sign_in_a_jvp_fails():
    op = _broken("tanh", "jvp", lambda t, out, inputs: -t[0] * (1 - out * out))
    _, jvp, _ = engine_rules(op, CASES["tanh"])
    result = check_jvp(op_forward(op, CASES["tanh"]), jvp, inputs=CASES["tanh"].inputs)
    assert not result.ok and result.counterexample.input == "output"


# -- the graph's Hessian-vector product and the naive rule ----------------------------------------------


def _tanh_cross_entropy_graph():
    graph = Graph()
    x, label = graph.input("x"), graph.input("label")
    loss = graph.apply("cross_entropy", graph.apply("tanh", x), label)
    return graph, x, label, loss


def tanh_cross_entropy(x, label):
    h = [sp.tanh(t) for t in x]
    return sp.log(sum(sp.exp(t) for t in h)) - h[label]


def graph_hvp(x, label, y, tangents):
    graph, xin, lin, loss = _tanh_cross_entropy_graph()
    return graph.hessian_vector_product({xin: x, lin: label}, loss, {xin: tangents["x"]}, wrt=[xin]).hvp[xin]


def naive_hvp(x, label, y, tangents):
    # the naive rule's δ² as if it were the Hessian's diagonal
    graph, xin, lin, loss = _tanh_cross_entropy_graph()
    evaluation = graph.forward({xin: x, lin: label}, [loss])
    return graph.naive_second_order(evaluation, loss, wrt=[xin])[xin] * tangents["x"]


HVP_INPUTS = {"x": 3, "label": labels(3)}


def test_graph_hessian_vector_product_passes_check_hvp():
    result = check_hvp(tanh_cross_entropy, graph_hvp, inputs=HVP_INPUTS)
    assert result.ok, result.report()
    assert result.kind == "hvp"


def _independent_hvp(x, label, v):
    """H v = d/dt ∇ℓ(x + t v) by mpmath's numerical differentiation at 40 digits."""
    xs = sp.symbols("a0:3", real=True)
    grad = sp.lambdify(xs, [sp.diff(tanh_cross_entropy(list(xs), label), s) for s in xs], "mpmath")
    with mpmath.workdps(40):
        return [float(mpmath.diff(lambda t, i=i: grad(*[mpmath.mpf(a) + t * mpmath.mpf(b) for a, b in zip(x, v)])[i], 0))
                for i in range(3)]


def test_the_naive_second_order_rule_fails_check_hvp_with_a_checkable_counterexample():
    result = check_hvp(tanh_cross_entropy, naive_hvp, inputs=HVP_INPUTS)
    assert not result.ok
    c = result.counterexample
    assert c.row is not None and c.input == "x"
    v = c.directions["tangent x"]
    np.testing.assert_allclose(c.expected, _independent_hvp(c.inputs["x"], c.inputs["label"], v), rtol=1e-10, atol=1e-14)
    assert abs(c.got[c.coordinate] - c.expected[c.coordinate]) > c.tolerance


def test_the_naive_rule_fails_as_a_double_backward_of_softmax():
    op = REGISTRY["softmax"]

    def naive_double_backward(x, y, gy, gy_dot, tangents):
        through_g_dot = op.vjp(gy_dot, y, (x,), (True,))[0]
        return through_g_dot + op.naive_vjp(gy, y, (x,), (True,))[0] * tangents["x"]

    result = check_double_backward(op_forward(op, CASES["softmax"]), naive_double_backward, inputs={"x": 4})
    assert not result.ok and result.counterexample is not None


def test_hvp_with_shared_weights_through_the_graph():
    def forward(x, W, b, label):
        h = [sp.tanh(v) for v in (x * W + b)]
        return sp.log(sum(sp.exp(t) for t in h)) - h[label]

    def hvp(x, W, b, label, y, tangents):
        graph = Graph()
        xin, lin = graph.input("x"), graph.input("label")
        wn, bn = graph.parameter("W", W), graph.parameter("b", b)
        loss = graph.apply("cross_entropy", graph.apply("tanh", graph.apply("affine", xin, wn, bn)), lin)
        direction = {xin: tangents["x"], wn: tangents["W"], bn: tangents["b"]}
        second = graph.hessian_vector_product({xin: x, lin: label}, loss, direction, wrt=[xin, wn, bn])
        return {"x": second.hvp[xin], "W": second.hvp[wn], "b": second.hvp[bn]}

    inputs = {"x": 2, "W": shared(2, 3), "b": shared(3), "label": labels(3)}
    result = check_hvp(forward, hvp, inputs=inputs)
    assert result.ok, result.report()


def test_check_hvp_needs_a_scalar_forward():
    from symderiv.errors import InputError

    with pytest.raises(InputError, match="scalar forward"):
        check_hvp(lambda xs: [xs[0], xs[1]], lambda x, y, v: v, 2)


def test_classic_form_of_the_second_order_checks():
    def forward(xs):
        return [sp.sin(xs[0]) * xs[1], sp.exp(xs[0] - xs[1])]

    def jvp(x, y, x_dot):
        a, b = x[:, 0], x[:, 1]
        return np.stack([np.cos(a) * b * x_dot[:, 0] + np.sin(a) * x_dot[:, 1],
                         np.exp(a - b) * (x_dot[:, 0] - x_dot[:, 1])], axis=1)

    def double_backward(x, y, gy, x_dot, gy_dot):
        a, b = x[:, 0], x[:, 1]
        e = np.exp(a - b)
        first = np.stack([gy_dot[:, 0] * np.cos(a) * b + gy_dot[:, 1] * e,
                          gy_dot[:, 0] * np.sin(a) - gy_dot[:, 1] * e], axis=1)
        h00 = -gy[:, 0] * np.sin(a) * b + gy[:, 1] * e
        h01 = gy[:, 0] * np.cos(a) - gy[:, 1] * e
        h11 = gy[:, 1] * e
        second = np.stack([h00 * x_dot[:, 0] + h01 * x_dot[:, 1], h01 * x_dot[:, 0] + h11 * x_dot[:, 1]], axis=1)
        return first + second

    assert check_jvp(forward, jvp, 2).ok
    assert check_double_backward(forward, double_backward, 2).ok
    wrong = check_double_backward(forward, lambda x, y, gy, x_dot, gy_dot: double_backward(x, y, gy, x_dot, 0 * gy_dot), 2)
    assert not wrong.ok
    assert "gy_dot" in wrong.counterexample.directions and "x_dot" in wrong.counterexample.directions

    def scalar(xs):
        return xs[0] ** 2 * xs[1]

    assert check_hvp(scalar, lambda x, y, v: np.stack([2 * x[:, 1] * v[:, 0] + 2 * x[:, 0] * v[:, 1],
                                                       2 * x[:, 0] * v[:, 0]], axis=1), 2).ok
    unused = per_example  # the named helpers are exported alongside (imported above)
    assert unused is not None
