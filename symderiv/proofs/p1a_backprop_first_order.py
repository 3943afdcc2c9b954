"""P1(a): backprop's δ_x equals the chain-rule derivative dℓ/dx, for abstract g, h, f."""

import sympy as sp

from symderiv.problems.notation import ELL_DEFINITION, d, ell_x, f, f_y, f_z, g1, gx, h1, hx
from symderiv.proofkit import Proof, Step

delta_x, delta_y, delta_z = sp.symbols("delta_x delta_y delta_z")

PROOF = Proof(
    name="p1a-backprop-first-order",
    title="Backpropagation computes the first derivative",
    problem="P1",
    claim="For y = g(x), z = h(x), ℓ = f(y, z), backprop's δ_x equals dℓ/dx for every g, h, f.",
    steps=(
        Step(d(ell_x), "derivative of the loss", "start"),
        Step(d(f(gx, hx)), "definition of ℓ"),
        Step(f_y * g1 + f_z * h1, "chain rule along x→y→ℓ and x→z→ℓ"),
        Step(g1 * delta_y + h1 * delta_z, "loss node's backward: δ_y = f_y, δ_z = f_z"),
        Step(delta_x, "x sums over its children: δ_x = g′δ_y + h′δ_z"),
    ),
    definitions=(
        ELL_DEFINITION,
        (delta_y, f_y),
        (delta_z, f_z),
        (delta_x, g1 * delta_y + h1 * delta_z),
    ),
)
