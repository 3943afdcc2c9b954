"""Extra: the gradient of log-softmax + negative log-likelihood is y − onehot(t)."""

import sympy as sp

from symderiv.problems.notation import softmax_symbols
from symderiv.proofkit import Proof, Step, proof_family


def nll_proof(n: int) -> Proof:
    xs, ys, _, definitions = softmax_symbols(n)
    loss = sp.Symbol("ell")
    t = n  # the target class (1-based); the last one, so every n has its own case
    log_z = sp.log(sp.Add(*[sp.exp(v) for v in xs]))
    onehot = [1 if k + 1 == t else 0 for k in range(n)]
    return Proof(
        name="logsoftmax-nll-gradient",
        title="Log-softmax with negative log-likelihood",
        claim="For ℓ = −log softmax(x)_t, ∂ℓ/∂x = y − onehot(t).",
        steps=(
            Step(sp.Matrix([sp.Derivative(loss, v) for v in xs]), "gradient of ℓ = −log y_t", "start"),
            Step(sp.Matrix([sp.Derivative(log_z - xs[t - 1], v) for v in xs]), "log y_t = x_t − log Σ_k exp(x_k)"),
            Step(sp.Matrix([sp.exp(xs[i]) / sp.exp(log_z) - onehot[i] for i in range(n)]), "∂ log Z/∂x_i = exp(x_i)/Z"),
            Step(sp.Matrix([ys[i] - onehot[i] for i in range(n)]), "y_i = exp(x_i)/Z"),
        ),
        definitions=definitions + ((loss, -sp.log(ys[t - 1])),),
        method="softmax",
        softmax_inputs=xs,
        domain=tuple((v, -3.0, 3.0) for v in xs),
    )


PROOF = proof_family(nll_proof, sizes=range(1, 9), display_n=3)
