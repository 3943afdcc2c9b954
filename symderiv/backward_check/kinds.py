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
    """Per-example result, its magnitude scale, its rounding allowance and the
    direction mass, each (batch, R)."""

    value: np.ndarray
    scale: np.ndarray
    allowance: np.ndarray
    mass: np.ndarray


def order(kind: str) -> int:
    return 1 if kind in ("backward", "jvp") else 2


def results_are_outputs(kind: str) -> bool:
    return kind == "jvp"


def _batch_innermost(a: np.ndarray) -> bool:
    """Whether the batch axis of ``a`` is the one contiguous in memory (the
    reference's derivatives are evaluated one entry at a time over the batch,
    and kept in that layout: transposing them costs more than the contraction)."""
    return a.ndim >= 2 and a.strides[0] < min(a.strides[1:])


def _vjp(g: np.ndarray, jac: np.ndarray) -> np.ndarray:
    """Σ_k g_k J_ki per example, summed in the memory order of ``jac``."""
    if _batch_innermost(jac):
        return np.einsum("kb,kib->ib", np.ascontiguousarray(g.T), np.moveaxis(jac, 0, -1)).T
    return np.einsum("bk,bki->bi", g, jac)


def _jvp(jac: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Σ_i J_ki t_i per example, summed in the memory order of ``jac``."""
    if _batch_innermost(jac):
        return np.einsum("kib,ib->kb", np.moveaxis(jac, 0, -1), np.ascontiguousarray(t.T)).T
    return np.einsum("bki,bi->bk", jac, t)


def _contract(kind: str, dirs: Mapping[str, np.ndarray], jac: np.ndarray, hess: np.ndarray | None) -> np.ndarray:
    if kind == "backward":
        return _vjp(dirs["gy"], jac)
    if kind == "jvp":
        return _jvp(jac, dirs["t"])
    return _vjp(dirs["gy_dot"], jac) + np.einsum("bk,bkij,bj->bi", dirs["gy"], hess, dirs["t"])


def _mass(kind: str, dirs: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    if kind == "backward":
        mass = np.sum(np.abs(dirs["gy"]), axis=1, keepdims=True)
    elif kind == "jvp":
        mass = np.sum(np.abs(dirs["t"]), axis=1, keepdims=True)
    else:
        t_mass = np.sum(np.abs(dirs["t"]), axis=1, keepdims=True)
        mass = np.sum(np.abs(dirs["gy_dot"]), axis=1, keepdims=True) + np.sum(np.abs(dirs["gy"]), axis=1, keepdims=True) * t_mass
    return np.broadcast_to(mass, shape)


def contract(
    kind: str,
    dirs: Mapping[str, np.ndarray],
    jac: np.ndarray,
    hess: np.ndarray | None,
    bound_jac: np.ndarray | None = None,
    bound_hess: np.ndarray | None = None,
    s_jac: np.ndarray | None = None,
    s_hess: np.ndarray | None = None,
) -> Contraction:
    """The exact result, its tolerance scale and rounding allowance on a batch
    (float64, vectorised).

    ``dirs``: gy (b, m), gy_dot (b, m), t (b, d) as the kind needs them;
    ``bound_*``: the rounding bounds of the derivative entries
    (:mod:`symderiv.numeric.rounding`; None: 0); ``s_*``: the sensitivities to the rounding
    of x and y (None: not computed, counted 0).
    """
    with np.errstate(all="ignore"):
        value = _contract(kind, dirs, jac, hess)
        absolute = {k: np.abs(a) for k, a in dirs.items()}
        mag_j = np.abs(jac) if s_jac is None else np.abs(jac) + s_jac
        mag_h = None if hess is None else (np.abs(hess) if s_hess is None else np.abs(hess) + s_hess)
        scale = _contract(kind, absolute, mag_j, mag_h)
        if bound_jac is None:
            allowance = np.zeros_like(value)
        else:
            allowance = _contract(kind, absolute, bound_jac, None if hess is None else bound_hess)
        return Contraction(value, scale, allowance, _mass(kind, dirs, value.shape))


def contract_mpmath(kind: str, dirs_row: Mapping[str, np.ndarray], row: Any) -> list[float]:
    """The exact result of one row, summed in mpmath and rounded once (row: an MpRow)."""
    import mpmath

    from symderiv.backward_check.reference import to_float

    m, d = len(row.jacobian), len(row.jacobian[0]) if row.jacobian else 0
    mp = mpmath.mpf
    with mpmath.workdps(row.digits + 20):
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
