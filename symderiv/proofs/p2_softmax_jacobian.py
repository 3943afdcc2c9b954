"""P2: the softmax Jacobian, entry by entry (i = j and i ≠ j), and J = diag(y) − y·yᵀ."""

import sympy as sp

from symderiv.problems.notation import softmax_symbols
from symderiv.proofkit import Proof, Step, proof_family


def jacobian_proof(n: int) -> Proof:
    xs, ys, _, definitions = softmax_symbols(n)
    y = sp.ImmutableMatrix(ys)
    # diag(y) − y·yᵀ kept unevaluated, so the writeup shows the two matrices
    matrix_form = sp.MatAdd(sp.ImmutableMatrix(sp.diag(*ys)), sp.MatMul(-1, y, y.T), evaluate=False)
    # J[k, i] = ∂y_k/∂x_i (rows: outputs, columns: inputs)
    jacobian = sp.Matrix(n, n, lambda k, i: sp.Derivative(ys[k], xs[i]))
    entries = sp.Matrix(n, n, lambda k, i: ys[i] * (1 - ys[i]) if k == i else -ys[k] * ys[i])
    return Proof(
        name="p2-softmax-jacobian",
        title="The softmax Jacobian",
        problem="P2",
        claim="∂y_j/∂x_i = y_i(1 − y_i) if i = j and −y_i·y_j otherwise, i.e. J = diag(y) − y·yᵀ (symmetric).",
        steps=(
            Step(jacobian, "J_ji = ∂y_j/∂x_i with y_j = exp(x_j)/Z, Z = Σ_k exp(x_k)", "start"),
            Step(entries, "quotient rule: i = j gives y_i(1 − y_i), i ≠ j gives −y_i·y_j"),
            Step(matrix_form, "matrix form: diag(y) − y·yᵀ"),
            Step(sp.Transpose(matrix_form), "J is symmetric: J = Jᵀ"),
        ),
        definitions=definitions,
        method="softmax",
        softmax_inputs=xs,
        domain=tuple((v, -3.0, 3.0) for v in xs),
    )


PROOF = proof_family(jacobian_proof, sizes=range(1, 9), display_n=3)
