"""A function node: an arbitrary smooth function of k scalar inputs, given as a
SymPy expression, applied elementwise; its local derivatives come from SymPy.

This is what makes Problem 1's graph literally x → {y = g(x), z = h(x)} →
ℓ = f(y, z): three function nodes, each holding its own g, h or f.

The gradient and Hessian are differentiated once by SymPy and lambdified to
numpy (vectorised over the minibatch), so the node costs a few array passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from symderiv.engine.ops.core import Op
from symderiv.engine.ops.kernels import add_optional, unbroadcast
from symderiv.numeric.evaluate import lambdify_vectorised as _vectorised

if TYPE_CHECKING:
    import sympy


def function_op(expr: "sympy.Expr", args: Sequence["sympy.Symbol"], name: str | None = None) -> Op:
    """An :class:`Op` computing ``expr`` (a SymPy expression in ``args``) elementwise."""
    import sympy as sp

    args = tuple(args)
    k = len(args)
    value = _vectorised(expr, args)
    gradient = [sp.diff(expr, a) for a in args]
    hessian = [[sp.diff(gradient[i], args[j]) for j in range(k)] for i in range(k)]
    d1 = [_vectorised(d, args) for d in gradient]
    d2 = [[_vectorised(hessian[i][j], args) for j in range(k)] for i in range(k)]

    def forward(*inputs):
        return np.array(value(*inputs))

    def vjp(g, out, inputs, needs):
        return tuple(
            unbroadcast(g * d1[i](*inputs), np.shape(inputs[i])) if needs[i] else None for i in range(k)
        )

    def jvp(tangents, out, inputs):
        total = None
        for i, t in enumerate(tangents):
            if t is not None:
                total = add_optional(total, t * d1[i](*inputs))
        return total

    def vjp_tangent(g, out, out_tangent, inputs, tangents, needs):
        result = []
        for i in range(k):
            acc = None
            if needs[i]:
                for j, t in enumerate(tangents):
                    if t is not None:
                        acc = add_optional(acc, d2[i][j](*inputs) * t)
            result.append(None if acc is None else unbroadcast(g * acc, np.shape(inputs[i])))
        return tuple(result)

    def naive_vjp(d2_out, out, inputs, needs):
        return tuple(
            unbroadcast(d2_out * d2[i][i](*inputs), np.shape(inputs[i])) if needs[i] else None for i in range(k)
        )

    def meaning(sp_module, *matrices):
        first = matrices[0]
        return sp_module.Matrix(
            first.rows,
            first.cols,
            lambda r, c: expr.xreplace({a: m[r, c] for a, m in zip(args, matrices)}),
        )

    label = name or f"fn[{expr}]"
    return Op(
        name=label, arity=k, forward=forward, vjp=vjp, jvp=jvp, vjp_tangent=vjp_tangent, naive_vjp=naive_vjp,
        sympy_meaning=meaning,
        doc=f"elementwise {expr} of ({', '.join(map(str, args))}), derivatives by SymPy",
        elementwise=True,
    )
