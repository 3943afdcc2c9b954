"""A proof file of docs/proofs.md: `symderiv verify --proof examples/my_proof.py`."""

import sympy as sp

from symderiv.proofkit import Proof, Step

x = sp.Symbol("x")
w = sp.Symbol("w")

PROOF = Proof(
    name="mse-gradient",
    title="Gradient of the squared error of a linear model",
    claim="For ℓ(w) = (w·x − t)²/2, dℓ/dw = x·(w·x − t).",
    steps=(
        Step(sp.Derivative((w * x - 3) ** 2 / 2, w), "the loss, with target t = 3", "start"),
        Step((w * x - 3) * sp.Derivative(w * x - 3, w), "chain rule"),
        Step(x * (w * x - 3), "d(w·x − 3)/dw = x"),
    ),
)
