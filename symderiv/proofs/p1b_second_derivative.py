"""P1(b): the exact second derivative d²ℓ/dx² in its five canonical terms."""

from symderiv.problems.notation import (
    ELL_DEFINITION,
    EXACT_SECOND_DERIVATIVE,
    d,
    ell_x,
    f,
    f_y,
    f_yy,
    f_yz,
    f_z,
    f_zz,
    g1,
    g2,
    h1,
    h2,
    partial,
    y,
    z,
)
from symderiv.proofkit import Proof, Step

f_zy = partial(f, z, y)

PROOF = Proof(
    name="p1b-second-derivative",
    title="The exact second derivative has five terms",
    problem="P1",
    claim="d²ℓ/dx² = f_yy·g′² + 2·f_yz·g′·h′ + f_zz·h′² + f_y·g″ + f_z·h″, the mixed term included.",
    steps=(
        Step(d(ell_x, 2), "second derivative of the loss", "start"),
        Step(d(f_y * g1 + f_z * h1), "first derivative by the chain rule"),
        Step(d(f_y) * g1 + f_y * g2 + d(f_z) * h1 + f_z * h2, "product rule"),
        Step(
            (f_yy * g1 + f_yz * h1) * g1 + f_y * g2 + (f_zy * g1 + f_zz * h1) * h1 + f_z * h2,
            "chain rule for f_y and f_z at (g(x), h(x))",
        ),
        Step(EXACT_SECOND_DERIVATIVE, "f_zy = f_yz (f is C²); collect terms"),
    ),
    definitions=(ELL_DEFINITION,),
)
