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
from symderiv.numeric import agree, lambdify_many, rounding_scale


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
    import sympy as sp

    inputs, params = op.sample(rng)
    symbolic_inputs = []
    symbols: list = []
    values: list[float] = []
    owner: list[int] = []  # which input each symbol belongs to
    for k, (value, differentiable) in enumerate(zip(inputs, op.differentiable)):
        if differentiable:
            matrix = _symbol_matrix(sp, f"a{k}", np.shape(value))
            symbolic_inputs.append(matrix)
            symbols.extend(matrix)
            values.extend(_flat(value))
            owner.extend([k] * len(matrix))
        else:
            symbolic_inputs.append(value)
    meaning = op.sympy_meaning(sp, *symbolic_inputs, **params)
    outputs = list(meaning)
    point = [np.array(v) for v in values]

    needs = tuple(op.differentiable)
    out = op.forward(*inputs, **params)
    G = rng.normal(size=np.shape(out))
    V = [rng.normal(size=np.shape(v)) if d else None for v, d in zip(inputs, op.differentiable)]
    D = rng.normal(size=np.shape(out))
    Gf, Df = _flat(G), _flat(D)
    Vf = np.concatenate([_flat(v) for v in V if v is not None])

    # Jacobian and per-output Hessians of the op's meaning, differentiated once
    # (skipping symbols an output does not depend on), then assembled numerically.
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
    forward_ref, forward_scale = values_all[:n_out], scales_all[:n_out]
    J, MJ = np.zeros((n_out, n_in)), np.zeros((n_out, n_in))
    H, MH = np.zeros((n_out, n_in, n_in)), np.zeros((n_out, n_in, n_in))
    for (kind, o, a, b), value, scale in zip(entries, values_all[n_out:], scales_all[n_out:]):
        if kind == "J":
            J[o, a], MJ[o, a] = value, scale
        else:
            H[o, a, b] = H[o, b, a] = value
            MH[o, a, b] = MH[o, b, a] = scale
    references = [
        forward_ref,
        Gf @ J,
        J @ Vf,
        np.einsum("o,oab,b->a", Gf, H, Vf),
        np.einsum("o,oaa->a", Df, H),
    ]
    reference_scales = [
        forward_scale,
        np.abs(Gf) @ MJ,
        MJ @ np.abs(Vf),
        np.einsum("o,oab,b->a", np.abs(Gf), MH, np.abs(Vf)),
        np.einsum("o,oaa->a", np.abs(Df), MH),
    ]

    with np.errstate(all="ignore"):
        got_vjp = op.vjp(G, out, tuple(inputs), needs, **params)
        tangents = tuple(V)
        out_tangent = op.jvp(tangents, out, tuple(inputs), **params)
        got_hvp = op.vjp_tangent(G, out, out_tangent, tuple(inputs), tangents, needs, **params)
        got_naive = op.naive_vjp(D, out, tuple(inputs), needs, **params)
        if op.forward_residual is not None:
            residual_out, residual = op.forward_residual(*inputs, **params)
            residual_vjp = op.vjp_residual(G, residual, tuple(inputs), needs, **params)

    def stacked(per_input):
        parts = []
        for value, part, differentiable in zip(inputs, per_input, op.differentiable):
            if differentiable:
                parts.append(np.zeros(np.size(value)) if part is None else _flat(np.broadcast_to(part, np.shape(value))))
        return np.concatenate(parts)

    got = [
        _flat(out),
        stacked(got_vjp),
        np.zeros(len(outputs)) if out_tangent is None else _flat(out_tangent),
        stacked(got_hvp),
        stacked(got_naive),
    ]
    checks = [agree(g, r, s) for g, r, s in zip(got, references, reference_scales)]
    if op.forward_residual is not None:
        checks[0] = _worse(checks[0], agree(_flat(residual_out), references[0], reference_scales[0]))
        checks[1] = _worse(checks[1], agree(stacked(residual_vjp), references[1], reference_scales[1]))
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
