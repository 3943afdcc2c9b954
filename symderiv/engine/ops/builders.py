"""Rule builders by kind of op: an op states what is particular to it and the
builder derives the rest of its :class:`~symderiv.engine.ops.core.Op`.

In the spirit of JAX's ``defjvp``/``deflinear``/``defbilinear`` (jax/_src/interpreters/ad.py)
and HIPS autograd's ``defvjp`` tables (numpy_vjps.py):

* :func:`unary` — an elementwise f from f′ and f″: the VJP g·f′, the JVP ẋ·f′,
  the tangent rule g·f″·ẋ, the naive rule δ²·f″ and a fused second order
  sharing f′. f″ = ``None`` declares f linear (its second order is zero).
* :func:`linear` — an op linear in its one differentiable input (sum, mean,
  nll), or in each input with its ``jvp`` given (add, sub): from the forward
  and its transpose (the VJP). The JVP is the forward applied to the tangent;
  the tangent rule and the naive rule are zero; the VJP reads no output.
* :func:`bilinear` — f(a, b) linear in a and in b separately (mul, matmul,
  and with a bias, affine): from the product and its two cotangent maps.
  Since the VJP is linear in the other factor, its derivative along a tangent
  is the same map at the tangent: vjp_tangent = (left(g, a, ḃ), right(g, ȧ, b)).
  The JVP follows from the product, the naive rule is zero (∂²f/∂a² = 0), and
  a fused second order computes vjp(g) and vjp(ġ) + vjp_tangent(g, ẋ) together.

Every derived rule is checked against the op's SymPy meaning like a written
one (:mod:`symderiv.engine.op_checks`, ``symderiv verify``), and
tests/engine/test_builders.py checks each builder on an op of its own.

Sample builders (inputs on which an op is checked) close the module.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np

from symderiv.engine.ops.core import Array, Op, Sampler
from symderiv.engine.ops.kernels import add_optional, times_fresh

#: d1(x, y, **params) = f'(x) and d2(x, y, **params) = f''(x), where y = f(x)
Derivative = Callable[..., Array]


def zero_rule(arity: int) -> Callable[..., tuple]:
    """A rule that contributes nothing to any of ``arity`` inputs (an exact zero)."""
    nothing = (None,) * arity

    def zero(*args, **params):
        return nothing

    return zero


# ---------------------------------------------------------------------------
# unary elementwise: f, f' and f''

def unary(
    name: str,
    f: Callable[..., Array],
    *,
    d1: Derivative,
    d2: Derivative | None,
    scalar_meaning: Callable[..., Any],
    doc: str,
    sample: Sampler | None = None,
    slope_reads: Literal["input", "output"] = "input",
    slope_is_fresh: bool = False,
) -> Op:
    """The op x ↦ f(x) elementwise, from d1 = f′ and d2 = f″ (``None``: f″ = 0).

    ``slope_reads``: d1 uses x only (its y may be None) or y only (its x may be
    None); the VJP then reads that one of input and output
    (Op.vjp_reads_inputs / Op.vjp_reads_output). ``slope_is_fresh``: d1
    always returns a new array of the input's shape, which the VJP may then
    scale in place (one temporary fewer per step). ``scalar_meaning(sp, t,
    **params)`` is f on one SymPy scalar. ``sample`` defaults to uniform on [-2, 2]."""
    if slope_reads not in ("input", "output"):
        raise ValueError(f"slope_reads must be 'input' or 'output', not {slope_reads!r}")

    def meaning(sp, a, **params):
        return a.applyfunc(lambda t: scalar_meaning(sp, t, **params))

    return Op(
        name=name, arity=1, forward=f, sympy_meaning=meaning, doc=doc, elementwise=True,
        sample=sample or uniform_sample(-2.0, 2.0),
        vjp_reads_inputs=slope_reads == "input", vjp_reads_output=slope_reads == "output",
        **_unary_rules(d1, d2, slope_is_fresh),
    )


def _unary_rules(d1: Derivative, d2: Derivative | None, slope_is_fresh: bool) -> dict[str, Callable]:
    if slope_is_fresh:
        def vjp(g, out, inputs, needs, **params):
            return (times_fresh(d1(inputs[0], out, **params), g),)
    else:
        def vjp(g, out, inputs, needs, **params):
            return (g * d1(inputs[0], out, **params),)

    def jvp(tangents, out, inputs, **params):
        t = tangents[0]
        return None if t is None else t * d1(inputs[0], out, **params)

    def vjp_tangent(g, out, out_tangent, inputs, tangents, needs, **params):
        t = tangents[0]
        if t is None or d2 is None:
            return (None,)
        return (g * d2(inputs[0], out, **params) * t,)

    def naive_vjp(d2_out, out, inputs, needs, **params):
        if d2 is None:
            return (None,)
        return (d2_out * d2(inputs[0], out, **params),)

    def second_order_vjp(g, g_dot, out, out_tangent, inputs, tangents, needs, **params):
        # f' once for g·f' and ġ·f'; plus g·f''·ẋ
        slope = d1(inputs[0], out, **params)
        t = tangents[0]
        second = None if g_dot is None else g_dot * slope
        if t is not None and d2 is not None:
            curvature = g * d2(inputs[0], out, **params) * t
            second = curvature if second is None else second + curvature
        return (g * slope,), (second,)

    return {
        "vjp": vjp, "jvp": jvp, "vjp_tangent": vjp_tangent, "naive_vjp": naive_vjp,
        "second_order_vjp": second_order_vjp,
    }


# ---------------------------------------------------------------------------
# linear: the forward and its transpose

def linear(
    name: str,
    forward: Callable[..., Array],
    *,
    vjp: Callable[..., tuple],
    sympy_meaning: Callable[..., Any],
    doc: str,
    sample: Sampler,
    arity: int = 1,
    differentiable: tuple[bool, ...] = (),
    jvp: Callable[..., Array | None] | None = None,
    elementwise: bool = False,
) -> Op:
    """An op linear in its differentiable inputs, given its forward and its
    transpose ``vjp`` (which may read the inputs, for their shapes or for
    labels, but not the output). Its JVP is the forward applied to the
    tangent in place of the one differentiable input; an op linear in several
    inputs (add) gives ``jvp`` itself. The tangent rule and the naive rule are
    zero: a linear op costs nothing in second order."""
    differentiable = differentiable or (True,) * arity
    if jvp is None:
        jvp = _linear_jvp(forward, differentiable)
    return Op(
        name=name, arity=arity, forward=forward, vjp=vjp, jvp=jvp,
        vjp_tangent=zero_rule(arity), naive_vjp=zero_rule(arity),
        sympy_meaning=sympy_meaning, doc=doc, differentiable=differentiable,
        elementwise=elementwise, sample=sample, vjp_reads_output=False,
    )


def _linear_jvp(forward: Callable[..., Array], differentiable: tuple[bool, ...]) -> Callable[..., Array | None]:
    positions = [i for i, d in enumerate(differentiable) if d]
    if len(positions) != 1:
        raise ValueError("a linear op in several inputs must give its jvp")
    (i,) = positions

    def jvp(tangents, out, inputs, **params):
        t = tangents[i]
        if t is None:
            return None
        return forward(*inputs[:i], t, *inputs[i + 1:], **params)

    return jvp


# ---------------------------------------------------------------------------
# bilinear: a product and its two cotangent maps

#: left(g, a, b): the cotangent of a (reads a for its shape only);
#: right(g, a, b): the cotangent of b (reads b for its shape only)
CotangentMap = Callable[[Any, Any, Any], Array]


def bilinear(
    name: str,
    product: Callable[[Any, Any], Array],
    *,
    left: CotangentMap,
    right: CotangentMap,
    sympy_meaning: Callable[..., Any],
    doc: str,
    sample: Sampler,
    forward: Callable[..., Array] | None = None,
    bias: Callable[[Any], Array] | None = None,
    elementwise: bool = False,
) -> Op:
    """The op product(a, b), linear in a and in b, or with ``bias``
    product(a, b) + c, where bias(g) is the cotangent of c (the transpose of
    how c is broadcast). ``forward`` computes the op's value when it differs
    from calling product (the affine op adds its bias in place); the rules
    use product itself. The VJP reads the inputs, never the output."""
    arity = 2 if bias is None else 3
    return Op(
        name=name, arity=arity, forward=forward or product, sympy_meaning=sympy_meaning, doc=doc,
        elementwise=elementwise, sample=sample, naive_vjp=zero_rule(arity), vjp_reads_output=False,
        **_bilinear_rules(product, left, right, bias),
    )


def _bilinear_rules(product, left: CotangentMap, right: CotangentMap, bias) -> dict[str, Callable]:
    def vjp(g, out, inputs, needs):
        a, b = inputs[0], inputs[1]
        cotangents = (left(g, a, b) if needs[0] else None, right(g, a, b) if needs[1] else None)
        return cotangents if bias is None else cotangents + (bias(g) if needs[2] else None,)

    def jvp(tangents, out, inputs):
        a, b, ta, tb = inputs[0], inputs[1], tangents[0], tangents[1]
        result = add_optional(None if ta is None else product(ta, b), None if tb is None else product(a, tb))
        return result if bias is None else add_optional(result, tangents[2])

    def vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        a, b, ta, tb = inputs[0], inputs[1], tangents[0], tangents[1]
        cotangents = (
            left(g, a, tb) if needs[0] and tb is not None else None,
            right(g, ta, b) if needs[1] and ta is not None else None,
        )
        return cotangents if bias is None else cotangents + (None,)

    def second_order_vjp(g, g_dot, out, out_tangent, inputs, tangents, needs):
        # vjp(g), and vjp(ġ) + vjp_tangent(g, ẋ) summed in one place
        first = vjp(g, out, inputs, needs)
        a, b, ta, tb = inputs[0], inputs[1], tangents[0], tangents[1]
        through_g_dot = g_dot is not None
        second = (
            add_optional(
                left(g_dot, a, b) if through_g_dot and needs[0] else None,
                left(g, a, tb) if tb is not None and needs[0] else None,
            ),
            add_optional(
                right(g_dot, a, b) if through_g_dot and needs[1] else None,
                right(g, ta, b) if ta is not None and needs[1] else None,
            ),
        )
        if bias is not None:
            second += (bias(g_dot) if through_g_dot and needs[2] else None,)
        return first, second

    return {"vjp": vjp, "jvp": jvp, "vjp_tangent": vjp_tangent, "second_order_vjp": second_order_vjp}


# ---------------------------------------------------------------------------
# sample inputs

def uniform_sample(low: float, high: float, shape: tuple[int, ...] = (2, 3)) -> Sampler:
    """One input, uniform on [low, high]."""
    def sample(rng: np.random.Generator) -> tuple[tuple, dict]:
        return (rng.uniform(low, high, shape),), {}

    return sample


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.25, high: float = 2.0) -> Array:
    """Entries of either sign with low ≤ |entry| ≤ high (off a kink or pole at 0)."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, shape)
