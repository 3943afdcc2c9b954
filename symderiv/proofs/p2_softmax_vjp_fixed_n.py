"""P2: the softmax backward rule Jᵀu = y ⊙ (u − gvdot), for every fixed n = 1..32.

The vector-Jacobian product is written as the gradient of u·y with u = ∇y held
fixed, (Jᵀu)_i = Σ_k u_k ∂y_k/∂x_i = ∂(u·y)/∂x_i, so each instance has O(n)
nodes per entry; the Jacobian entries themselves are proved in
p2-softmax-jacobian.
"""

import sympy as sp

from symderiv.problems.notation import softmax_symbols
from symderiv.proofkit import Proof, Step, proof_family

gvdot = sp.Symbol("gvdot")


def vjp_proof(n: int) -> Proof:
    xs, ys, us, definitions = softmax_symbols(n)
    u_dot_y = sp.Add(*[u * y for u, y in zip(us, ys)])
    return Proof(
        name="p2-softmax-vjp-fixed-n",
        title="The softmax backward rule, for each fixed n",
        problem="P2",
        claim="∇x = Jᵀ∇y = y ⊙ (∇y − gvdot) with gvdot = y·∇y.",
        steps=(
            Step(sp.Matrix([sp.Derivative(u_dot_y, v) for v in xs]), "∇x_i = Σ_k u_k ∂y_k/∂x_i = ∂(u·y)/∂x_i, u = ∇y fixed", "start"),
            Step(sp.Matrix([ys[i] * us[i] - ys[i] * u_dot_y for i in range(n)]), "∂y_k/∂x_i = y_k(δ_ki − y_i)"),
            Step(sp.Matrix([ys[i] * (us[i] - gvdot) for i in range(n)]), "gvdot = Σ_k y_k·u_k"),
        ),
        definitions=definitions + ((gvdot, u_dot_y),),
        method="softmax",
        softmax_inputs=xs,
        domain=tuple((v, -3.0, 3.0) for v in xs),
    )


PROOF = proof_family(vjp_proof, sizes=range(1, 33), display_n=3)
