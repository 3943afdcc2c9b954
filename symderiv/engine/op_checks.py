"""Check every engine op against its own SymPy meaning.

For an op, at the inputs its ``sample`` declares, with a random cotangent G,
tangent V and naive seed D:

* forward        == meaning(inputs)
* vjp(G)         == ∇_a Σ_o G_o·out_o                         (SymPy ``diff``)
* jvp(V)         == Σ_l ∂out/∂a_l · V_l
* vjp_tangent    == ∇_a (Σ_l ∂(Σ_o G_o out_o)/∂a_l · V_l)     (the Hessian-vector product)
* naive_vjp(D)   == Σ_o D_o · ∂²out_o/∂a_k²                   (the naive rule, per scalar edge)

An op with ``forward_residual``/``vjp_residual`` has its value and VJP checked
both ways: the forward error and the VJP error are the worse of the two.

SymPy works on matrices of symbols; the derivatives are lambdified once and
evaluated at the sample. Tolerances follow :mod:`symderiv.numeric`, with the
scale taken as the sum of magnitudes of the terms being added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symderiv.engine.ops import Op
from symderiv.numeric.compare import agree
from symderiv.numeric.evaluate import lambdify_many
from symderiv.numeric.rounding import rounding_scale


@dataclass(frozen=True)
class OpCheck:
    op: str
    forward_error: float  # each in units of the tolerance (≤ 1 passes)
    vjp_error: float
    jvp_error: float
    hvp_error: float
    naive_error: float
    max_abs_error: float
    entries: int  # scalar input entries checked (one sample minibatch)

    @property
    def ok(self) -> bool:
        return max(self.forward_error, self.vjp_error, self.jvp_error, self.hvp_error, self.naive_error) <= 1.0


def _symbol_matrix(sp, name: str, shape: tuple[int, ...]):
    rows, cols = (1, shape[0]) if len(shape) == 1 else ((1, 1) if len(shape) == 0 else shape)
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}"))


def _flat(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float64).ravel()


def _worse(a, b):
    return a if a.max_scaled_error >= b.max_scaled_error else b


def check_op(op: Op, rng: np.random.Generator) -> OpCheck:
    """Every rule of ``op`` at one sample against its SymPy meaning (see the module docstring)."""
    inputs, params = op.sample(rng)
    outputs, symbols, point = _meaning_at_sample(op, inputs, params)
    out = op.forward(*inputs, **params)
    G = rng.normal(size=np.shape(out))
    V = [rng.normal(size=np.shape(v)) if d else None for v, d in zip(inputs, op.differentiable)]
    D = rng.normal(size=np.shape(out))
    references, reference_scales = _exact_references(outputs, symbols, point, G, V, D)
    got, residual_got = _engine_results(op, inputs, params, out, G, V, D, len(outputs))
    checks = [agree(g, r, s) for g, r, s in zip(got, references, reference_scales)]
    if residual_got is not None:  # the residual fast path must agree with the same references
        for k, value in enumerate(residual_got):
            checks[k] = _worse(checks[k], agree(value, references[k], reference_scales[k]))
    return OpCheck(
        op=op.name,
        forward_error=checks[0].max_scaled_error,
        vjp_error=checks[1].max_scaled_error,
        jvp_error=checks[2].max_scaled_error,
        hvp_error=checks[3].max_scaled_error,
        naive_error=checks[4].max_scaled_error,
        max_abs_error=max(c.max_error for c in checks),
        entries=len(symbols),
    )


def _meaning_at_sample(op: Op, inputs, params):
    """The op's SymPy meaning on symbol matrices shaped like the sample: (outputs, symbols, point)."""
    import sympy as sp

    symbolic_inputs = []
    symbols: list = []
    values: list[float] = []
    for k, (value, differentiable) in enumerate(zip(inputs, op.differentiable)):
        if differentiable:
            matrix = _symbol_matrix(sp, f"a{k}", np.shape(value))
            symbolic_inputs.append(matrix)
            symbols.extend(matrix)
            values.extend(_flat(value))
        else:
            symbolic_inputs.append(value)
    outputs = list(op.sympy_meaning(sp, *symbolic_inputs, **params))
    return outputs, symbols, [np.array(v) for v in values]


def _exact_references(outputs, symbols, point, G, V, D):
    """Forward, VJP, JVP, tangent rule and naive rule from SymPy's exact derivatives, with
    their rounding scales.

    The Jacobian and per-output Hessians are differentiated once (skipping symbols an
    output does not depend on), evaluated together, then assembled numerically."""
    import sympy as sp

    Gf, Df = _flat(G), _flat(D)
    Vf = np.concatenate([_flat(v) for v in V if v is not None])
    n_out, n_in = len(outputs), len(symbols)
    entries: list = []  # (kind, o, a, b) per expression
    exprs: list = []
    for o, output in enumerate(outputs):
        depends = [a for a in range(n_in) if symbols[a] in output.free_symbols]
        for a in depends:
            first = sp.diff(output, symbols[a])
            entries.append(("J", o, a, a))
            exprs.append(first)
            for b in depends:
                if b >= a:
                    entries.append(("H", o, a, b))
                    exprs.append(sp.diff(first, symbols[b]))
    exprs = list(outputs) + exprs
    values_all = lambdify_many(exprs, symbols)(*point).ravel() if exprs else np.zeros(0)
    scales_all = np.array([float(rounding_scale(e, symbols, point)) for e in exprs])
    J, MJ = np.zeros((n_out, n_in)), np.zeros((n_out, n_in))
    H, MH = np.zeros((n_out, n_in, n_in)), np.zeros((n_out, n_in, n_in))
    for (kind, o, a, b), value, scale in zip(entries, values_all[n_out:], scales_all[n_out:]):
        if kind == "J":
            J[o, a], MJ[o, a] = value, scale
        else:
            H[o, a, b] = H[o, b, a] = value
            MH[o, a, b] = MH[o, b, a] = scale
    references = [values_all[:n_out], Gf @ J, J @ Vf, np.einsum("o,oab,b->a", Gf, H, Vf),
                  np.einsum("o,oaa->a", Df, H)]
    scales = [scales_all[:n_out], np.abs(Gf) @ MJ, MJ @ np.abs(Vf),
              np.einsum("o,oab,b->a", np.abs(Gf), MH, np.abs(Vf)), np.einsum("o,oaa->a", np.abs(Df), MH)]
    return references, scales


def _engine_results(op: Op, inputs, params, out, G, V, D, n_outputs: int):
    """What the op's own rules give, flattened like the references; and, for an op with a
    residual fast path, its forward and VJP (else None)."""
    needs = tuple(op.differentiable)
    with np.errstate(all="ignore"):
        got_vjp = op.vjp(G, out, tuple(inputs), needs, **params)
        tangents = tuple(V)
        out_tangent = op.jvp(tangents, out, tuple(inputs), **params)
        got_hvp = op.vjp_tangent(G, out, out_tangent, tuple(inputs), tangents, needs, **params)
        got_naive = op.naive_vjp(D, out, tuple(inputs), needs, **params)
        residual = None
        if op.forward_residual is not None:
            residual_out, kept = op.forward_residual(*inputs, **params)
            residual = (residual_out, op.vjp_residual(G, kept, tuple(inputs), needs, **params))

    def stacked(per_input):
        parts = []
        for value, part, differentiable in zip(inputs, per_input, op.differentiable):
            if differentiable:
                parts.append(np.zeros(np.size(value)) if part is None else _flat(np.broadcast_to(part, np.shape(value))))
        return np.concatenate(parts)

    got = [
        _flat(out),
        stacked(got_vjp),
        np.zeros(n_outputs) if out_tangent is None else _flat(out_tangent),
        stacked(got_hvp),
        stacked(got_naive),
    ]
    residual_got = None if residual is None else [_flat(residual[0]), stacked(residual[1])]
    return got, residual_got
