"""The rule builders (symderiv.engine.ops.builders), each on an op of its own
that is not in the registry, held to the op's SymPy meaning by check_op (the
same check `verify` runs on every registered op), to central differences, and
their fused second order to the composition it replaces, with some tangents
and needs missing. Also the engine's layout rules: Op is
keyword-only, no function in symderiv/engine/ is over 80 lines, and importing
the ops registers nothing."""

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symderiv.engine.ops import Op
from symderiv.engine.ops.builders import bilinear, linear, unary, uniform_sample
from symderiv.engine.ops.kernels import batch_sum, unbroadcast
from symderiv.engine.op_checks import check_op
from tests.support import assert_vjp_reads_no_more_than_declared


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus():
    """log(1 + eˣ): f′ = σ(x), f″ = σ(x)(1 − σ(x)); its slope reads the input."""
    return unary(
        "softplus", lambda x: np.logaddexp(0.0, x),
        d1=lambda x, y: _sigmoid(x), d2=lambda x, y: _sigmoid(x) * (1.0 - _sigmoid(x)),
        scalar_meaning=lambda sp, t: sp.log(1 + sp.exp(t)), doc="log(1 + exp(x))",
    )


def scaled_exp():
    """c·eˣ with a parameter c: f′ = f″ = y, read from the output, fresh."""
    return unary(
        "scaled_exp", lambda x, c: c * np.exp(x),
        d1=lambda x, y, c: np.array(y, copy=True), d2=lambda x, y, c: y,
        scalar_meaning=lambda sp, t, c: sp.nsimplify(c) * sp.exp(t), doc="c * exp(x)",
        sample=lambda rng: ((rng.uniform(-1, 1, (2, 3)),), {"c": 1.5}),
        slope_reads="output", slope_is_fresh=True,
    )


def row_total():
    """Σ_j x_ij per row, linear: the JVP is the forward on the tangent."""
    return linear(
        "row_total", lambda x: x.sum(axis=-1),
        vjp=lambda g, out, inputs, needs: (np.broadcast_to(g[:, None], np.shape(inputs[0])),),
        sympy_meaning=lambda sp, a: sp.Matrix([[sum(a.row(i))] for i in range(a.rows)]),
        doc="row sums", sample=uniform_sample(-2.0, 2.0),
    )


def pick_scaled():
    """2·x[b, label_b], linear in x, labels not differentiable."""
    def forward(x, labels):
        return 2.0 * x[np.arange(x.shape[0]), labels]

    def vjp(g, out, inputs, needs):
        x, labels = inputs
        grad = np.zeros_like(x)
        grad[np.arange(x.shape[0]), labels] = 2.0 * g
        return (grad, None)

    return linear(
        "pick_scaled", forward, vjp=vjp, arity=2, differentiable=(True, False),
        sympy_meaning=lambda sp, x, labels: sp.Matrix([[2 * x[i, int(labels[i])]] for i in range(x.rows)]),
        doc="2 x[label]", sample=lambda rng: ((rng.normal(size=(3, 4)), rng.integers(0, 4, 3)), {}),
    )


def row_dot():
    """Σ_j a_ij b_ij per row: bilinear, b broadcast along the batch."""
    return bilinear(
        "row_dot", lambda a, b: (a * b).sum(axis=-1),
        left=lambda g, a, b: unbroadcast(g[:, None] * b, np.shape(a)),
        right=lambda g, a, b: unbroadcast(g[:, None] * a, np.shape(b)),
        sympy_meaning=lambda sp, a, b: sp.Matrix(
            [[sum(a[i, j] * b[0 if b.rows == 1 else i, j] for j in range(a.cols))] for i in range(a.rows)]
        ),
        doc="row dot product", sample=lambda rng: ((rng.normal(size=(3, 4)), rng.normal(size=(4,))), {}),
    )


def mul_add():
    """a ⊙ b + c, c broadcast over the batch: bilinear with a bias."""
    def forward(a, b, c):
        out = a * b
        out += c
        return out

    return bilinear(
        "mul_add", np.multiply, forward=forward, bias=batch_sum,
        left=lambda g, a, b: unbroadcast(g * b, np.shape(a)),
        right=lambda g, a, b: unbroadcast(g * a, np.shape(b)),
        sympy_meaning=lambda sp, a, b, c: sp.Matrix(a.rows, a.cols, lambda i, j: a[i, j] * b[i, j] + c[j]),
        doc="a * b + c", elementwise=True,
        sample=lambda rng: ((rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(4,))), {}),
    )


BUILT = [softplus, scaled_exp, row_total, pick_scaled, row_dot, mul_add]


@pytest.mark.parametrize("build", BUILT, ids=lambda b: b.__name__)
@pytest.mark.parametrize("seed", [0, 1])
def test_a_built_op_matches_its_sympy_meaning(build, seed):
    result = check_op(build(), np.random.default_rng(seed))
    assert result.ok, result


@pytest.mark.parametrize("build", BUILT, ids=lambda b: b.__name__)
def test_a_built_op_matches_central_differences(build):
    """⟨vjp(G), V⟩ = d/dt ⟨G, f(x + tV)⟩, jvp(V) = d/dt f(x + tV) and
    vjp_tangent = d/dt vjp(G)(x + tV), by central differences (step 1e-6)."""
    op = build()
    rng = np.random.default_rng(7)
    inputs, params = op.sample(rng)
    out = op.forward(*inputs, **params)
    G = rng.normal(size=np.shape(out))
    V = tuple(rng.normal(size=np.shape(x)) if d else None for x, d in zip(inputs, op.differentiable))
    needs, h = op.differentiable, 1e-6

    def shifted(t):
        return tuple(x if v is None else x + t * v for x, v in zip(inputs, V))

    def difference(f):
        return (np.asarray(f(h)) - np.asarray(f(-h))) / (2 * h)

    out_tangent = op.jvp(V, out, tuple(inputs), **params)
    moved = difference(lambda t: op.forward(*shifted(t), **params))
    np.testing.assert_allclose(out_tangent, moved, rtol=1e-6, atol=1e-8)
    cotangents = op.vjp(G, out, tuple(inputs), needs, **params)
    predicted = sum(float(np.sum(c * v)) for c, v in zip(cotangents, V) if c is not None)
    pairing = difference(lambda t: np.sum(G * op.forward(*shifted(t), **params)))
    assert predicted == pytest.approx(float(pairing), rel=1e-6)
    second = op.vjp_tangent(G, out, out_tangent, tuple(inputs), V, needs, **params)

    def vjp_at(t, k):
        x = shifted(t)
        return op.vjp(G, op.forward(*x, **params), x, needs, **params)[k]

    for k, s in enumerate(second):
        if needs[k]:
            expected = difference(lambda t: vjp_at(t, k))
            got = np.zeros_like(expected) if s is None else s
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build", [softplus, row_dot, mul_add], ids=lambda b: b.__name__)
@pytest.mark.parametrize("field", ["vjp", "jvp", "vjp_tangent"])
def test_a_wrong_rule_of_a_built_op_is_caught(build, field):
    op = build()
    original = getattr(op, field)

    def wrong(*args, **kwargs):
        result = original(*args, **kwargs)
        if isinstance(result, tuple):
            return tuple(None if c is None else c * (1 + 1e-9) for c in result)
        return result * (1 + 1e-9)

    assert not check_op(dataclasses.replace(op, **{field: wrong}), np.random.default_rng(0)).ok


def _subsets(arity):
    return [tuple(bool(mask >> k & 1) for k in range(arity)) for mask in range(1, 2**arity)]


@pytest.mark.parametrize("build", [b for b in BUILT if b().second_order_vjp is not None], ids=lambda b: b.__name__)
def test_fused_second_order_of_a_built_op_equals_its_composition(build):
    """For every choice of which cotangents are needed, which tangents are
    given, and with and without ġ."""
    op = build()
    rng = np.random.default_rng(5)
    inputs, params = op.sample(rng)
    inputs = tuple(inputs)
    out = op.forward(*inputs, **params)
    g = rng.normal(size=np.shape(out))
    for needs in _subsets(op.arity):
        for given in _subsets(op.arity):
            for g_dot in (None, rng.normal(size=np.shape(out))):
                tangents = tuple(rng.normal(size=np.shape(x)) if k else None for x, k in zip(inputs, given))
                out_tangent = op.jvp(tangents, out, inputs, **params)
                first, second = op.second_order_vjp(g, g_dot, out, out_tangent, inputs, tangents, needs, **params)
                expected_first = op.vjp(g, out, inputs, needs, **params)
                expected_second = op.vjp_tangent(g, out, out_tangent, inputs, tangents, needs, **params)
                if g_dot is not None:
                    through = op.vjp(g_dot, out, inputs, needs, **params)
                    expected_second = tuple(
                        b if a is None else (a if b is None else a + b) for a, b in zip(through, expected_second)
                    )
                for got, want in zip(first + second, expected_first + expected_second):
                    if want is None:
                        assert got is None
                    else:
                        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("build", BUILT, ids=lambda b: b.__name__)
def test_a_built_vjp_reads_no_more_than_it_declares(build):
    op = build()
    assert_vjp_reads_no_more_than_declared(op, seed=3)


def test_builders_declare_what_their_kind_implies():
    assert (softplus().vjp_reads_inputs, softplus().vjp_reads_output) == (True, False)
    assert (scaled_exp().vjp_reads_inputs, scaled_exp().vjp_reads_output) == (False, True)
    for op in (row_total(), pick_scaled(), row_dot(), mul_add()):
        assert not op.vjp_reads_output
    assert pick_scaled().differentiable == (True, False)
    assert mul_add().arity == 3 and mul_add().elementwise and not row_dot().elementwise
    # linear and bilinear ops have no naive second-order term; a linear op no tangent rule
    assert row_total().naive_vjp(np.ones(3), None, (np.ones((3, 4)),), (True,)) == (None,)
    assert row_total().vjp_tangent(None, None, None, (None,), (np.ones((3, 4)),), (True,)) == (None,)
    with pytest.raises(ValueError, match="must give its jvp"):
        linear("add2", np.add, vjp=lambda *a: (None, None), arity=2, sympy_meaning=None, doc="", sample=None)
    with pytest.raises(ValueError, match="slope_reads"):
        unary("f", np.exp, d1=None, d2=None, scalar_meaning=None, doc="", slope_reads="both")


def test_op_is_keyword_only():
    with pytest.raises(TypeError):
        Op("identity", 1, np.positive, None, None, None, None, None, "x")  # positional: the point of the test


ENGINE = Path(__file__).resolve().parents[2] / "symderiv" / "engine"
MAX_FUNCTION_LINES = 80


def test_no_function_in_the_engine_is_over_80_lines():
    """The engine's style rule: a rule that needs more is split (issue 13, item 4)."""
    long = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ENGINE)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, long


def test_importing_the_ops_builds_no_registry():
    code = (
        "import symderiv.engine.ops as ops, symderiv.engine.graph\n"
        "assert ops.default_registry.cache_info().currsize == 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
