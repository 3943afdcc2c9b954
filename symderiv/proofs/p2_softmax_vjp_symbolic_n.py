"""P2: the softmax Jacobian entry and the backward rule for a symbolic n (all n at once).

Indexed sums with Kronecker deltas: the proof uses ∂x_k/∂x_i = δ_ki, linearity
of Σ, and the sifting property Σ_k δ_ki a_k = a_i for an index 1 ≤ i ≤ n —
no loop over sizes.
"""

import sympy as sp

from symderiv.proofkit import Proof, Step

n = sp.Symbol("n", integer=True, positive=True)
i, j, k, m = sp.symbols("i j k m", integer=True, positive=True)
x = sp.IndexedBase("x")
u = sp.IndexedBase("u")
y = sp.IndexedBase("y")
Z = sp.Symbol("Z")
gvdot = sp.Symbol("gvdot")
delta = sp.KroneckerDelta

PROOF = Proof(
    name="p2-softmax-vjp-symbolic-n",
    title="The softmax backward rule for every n",
    problem="P2",
    claim="For symbolic n and 1 ≤ i, j ≤ n: ∂y_j/∂x_i = y_j(δ_ij − y_i), and (Jᵀu)_i = y_i(u_i − gvdot).",
    steps=(
        Step(sp.Derivative(y[j], x[i]), "Jacobian entry, y_j = exp(x_j)/Z, Z = Σ_m exp(x_m)", "start"),
        Step(delta(i, j) * sp.exp(x[j]) / Z - sp.exp(x[j]) * sp.exp(x[i]) / Z**2, "quotient rule; ∂x_j/∂x_i = δ_ij, ∂Z/∂x_i = exp(x_i)"),
        Step(y[j] * (delta(i, j) - y[i]), "y_k = exp(x_k)/Z"),
        Step(sp.Sum(u[k] * sp.Derivative(y[k], x[i]), (k, 1, n)), "(Jᵀu)_i = Σ_k u_k ∂y_k/∂x_i", "start"),
        Step(sp.Sum(u[k] * y[k] * (delta(k, i) - y[i]), (k, 1, n)), "the Jacobian entry above"),
        Step(u[i] * y[i] - y[i] * sp.Sum(u[k] * y[k], (k, 1, n)), "linearity; Σ_k δ_ki a_k = a_i for 1 ≤ i ≤ n"),
        Step(y[i] * (u[i] - gvdot), "gvdot = Σ_k y_k u_k"),
    ),
    definitions=(
        (y, sp.Lambda(k, sp.exp(x[k]) / Z)),
        (Z, sp.Sum(sp.exp(x[m]), (m, 1, n))),
        (gvdot, sp.Sum(y[k] * u[k], (k, 1, n))),
    ),
    method="indexed",
    size_symbol=n,
    free_indices=(i, j),
)
