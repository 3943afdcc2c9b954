"""Extra: the local derivatives of the sigmoid and tanh nodes, σ′ = σ(1 − σ) and tanh′ = 1 − tanh².

This file is the template for adding a proof: a PROOF with steps as data.
"""

import sympy as sp

from symderiv.proofkit import Proof, Step

x = sp.Symbol("x")
sigma = sp.Function("sigma")
kept = sp.UnevaluatedExpr  # keeps a product of two fractions as written

PROOF = Proof(
    name="sigmoid-derivative",
    title="The sigmoid and tanh local derivatives",
    claim="σ′(x) = σ(x)(1 − σ(x)) for σ(x) = 1/(1 + exp(−x)), and tanh′(x) = 1 − tanh²(x).",
    steps=(
        Step(sp.Derivative(sigma(x), x), "derivative of σ(x) = 1/(1 + exp(−x))", "start"),
        Step(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, "chain rule"),
        Step(kept(1 / (1 + sp.exp(-x))) * kept(sp.exp(-x) / (1 + sp.exp(-x))), "split the fraction"),
        Step(sigma(x) * (1 - sigma(x)), "exp(−x)/(1 + exp(−x)) = 1 − σ(x)"),
        Step(sp.Derivative(sp.tanh(x), x), "derivative of tanh", "start"),
        Step(1 / sp.cosh(x) ** 2, "tanh = sinh/cosh, quotient rule"),
        Step(1 - sp.tanh(x) ** 2, "cosh² − sinh² = 1"),
    ),
    definitions=((sigma(x), 1 / (1 + sp.exp(-x))),),
    domain=((x, -4.0, 4.0),),
)
