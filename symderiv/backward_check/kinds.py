"""What each check compares: the exact quantity as a contraction of derivatives.

Contract: for a batch, every check draws random directions and computes the
exact result, per example, as a sum of ``direction × derivative`` terms:

============================  ===============================================
kind                          exact result per example (i over the
                              differentiable entries, k over outputs)
============================  ===============================================
``backward`` (VJP)            gx_i  = Σ_k gy_k J_ki
``jvp``                       ẏ_k   = Σ_i J_ki ẋ_i
``double_backward``           ġx_i  = Σ_k ġy_k J_ki + Σ_k Σ_j gy_k H_kij ẋ_j
``hvp`` (scalar forward)      (H ẋ)_i = Σ_j H_ij ẋ_j      (gy = 1, ġy = 0)
============================  ===============================================

``double_backward`` is the derivative of the backward rule along a tangent
(ẋ for the inputs, ġy for the incoming cotangent): d/dt backward(x + tẋ,
gy + tġy) at t = 0, which is what the engine's ``second_order_vjp`` returns
(and, by the symmetry of H, what PyTorch's double backward gives for the
inputs). The magnitude terms of the tolerance model are the same
contractions with absolute values (see :mod:`symderiv.backward_check.tolerance`).
Results over the shared entries are summed over the batch by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

KINDS = ("backward", "jvp", "double_backward", "hvp")


@dataclass(frozen=True)
class Contraction:
    """Per-example result, its magnitude scale, and the direction mass (batch, R)."""

    value: np.ndarray
    scale: np.ndarray
    mass: np.ndarray


def order(kind: str) -> int:
    return 1 if kind in ("backward", "jvp") else 2


def results_are_outputs(kind: str) -> bool:
    return kind == "jvp"


def contract(
    kind: str,
    dirs: Mapping[str, np.ndarray],
    y: np.ndarray,
    jac: np.ndarray,
    hess: np.ndarray | None,
    s_jac: np.ndarray | None = None,
    s_hess: np.ndarray | None = None,
) -> Contraction:
    """The exact result and its tolerance scale on a batch (float64, vectorised).

    ``dirs``: gy (b, m), gy_dot (b, m), t (b, d) as the kind needs them;
    ``s_jac``/``s_hess``: the x-sensitivities (None: not computed, counted 0).
    """
    abs_y = np.abs(y)
    mag_j = np.abs(jac) if s_jac is None else np.abs(jac) + s_jac
    with np.errstate(all="ignore"):
        if kind == "backward":
            gy = dirs["gy"]
            value = np.einsum("bk,bki->bi", gy, jac)
            scale = np.einsum("bk,bki->bi", np.abs(gy), mag_j) + np.sum(np.abs(gy) * abs_y, axis=1, keepdims=True)
            mass = np.broadcast_to(np.sum(np.abs(gy), axis=1, keepdims=True), value.shape)
            return Contraction(value, scale, mass)
        if kind == "jvp":
            t = dirs["t"]
            value = np.einsum("bki,bi->bk", jac, t)
            t_mass = np.sum(np.abs(t), axis=1, keepdims=True)
            scale = np.einsum("bki,bi->bk", mag_j, np.abs(t)) + abs_y * t_mass
            return Contraction(value, scale, np.broadcast_to(t_mass, value.shape))
        gy, gy_dot, t = dirs["gy"], dirs["gy_dot"], dirs["t"]
        mag_h = np.abs(hess) if s_hess is None else np.abs(hess) + s_hess
        value = np.einsum("bk,bki->bi", gy_dot, jac) + np.einsum("bk,bkij,bj->bi", gy, hess, t)
        t_mass = np.sum(np.abs(t), axis=1, keepdims=True)
        scale = (
            np.einsum("bk,bki->bi", np.abs(gy_dot), mag_j)
            + np.einsum("bk,bkij,bj->bi", np.abs(gy), mag_h, np.abs(t))
            + np.sum(np.abs(gy_dot) * abs_y, axis=1, keepdims=True)
            + np.sum(np.abs(gy) * abs_y, axis=1, keepdims=True) * t_mass
        )
        mass = np.sum(np.abs(gy_dot), axis=1, keepdims=True) + np.sum(np.abs(gy), axis=1, keepdims=True) * t_mass
        return Contraction(value, scale, np.broadcast_to(mass, value.shape))


def contract_mpmath(kind: str, dirs_row: Mapping[str, np.ndarray], row: Any) -> list[float]:
    """The exact result of one row, summed in mpmath and rounded once (row: an MpRow)."""
    import mpmath

    from symderiv.backward_check.reference import to_float
    from symderiv.numeric.precision import HIGH_PRECISION_DIGITS

    m, d = len(row.jacobian), len(row.jacobian[0]) if row.jacobian else 0
    mp = mpmath.mpf
    with mpmath.workdps(HIGH_PRECISION_DIGITS):
        if kind == "backward":
            gy = [mp(float(v)) for v in dirs_row["gy"]]
            return [to_float(mpmath.fsum(gy[k] * row.jacobian[k][i] for k in range(m))) for i in range(d)]
        if kind == "jvp":
            t = [mp(float(v)) for v in dirs_row["t"]]
            return [to_float(mpmath.fsum(row.jacobian[k][i] * t[i] for i in range(d))) for k in range(m)]
        gy = [mp(float(v)) for v in dirs_row["gy"]]
        gy_dot = [mp(float(v)) for v in dirs_row["gy_dot"]]
        t = [mp(float(v)) for v in dirs_row["t"]]
        out = []
        for i in range(d):
            terms = [gy_dot[k] * row.jacobian[k][i] for k in range(m)]
            terms += [gy[k] * row.hessian[k][i][j] * t[j] for k in range(m) for j in range(d)]
            out.append(to_float(mpmath.fsum(terms)))
        return out
