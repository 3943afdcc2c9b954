"""P1(b): naive second-order backprop is not the second derivative.

Chains: (1) the naive value on x → {y, z} → ℓ differs from d²ℓ/dx²;
(2) the symbolic difference; (3) a concrete counterexample with both values;
(4)-(6) special cases where the two agree; (7) the naive value depends on how
the same function is cut into nodes.
"""

import sympy as sp

from symderiv.problems.notation import (
    ELL_DEFINITION,
    EXACT_SECOND_DERIVATIVE,
    as_partials,
    NAIVE_SECOND_ORDER,
    Node,
    d,
    ell_x,
    f,
    f_y,
    f_yy,
    f_yz,
    f_z,
    f_zz,
    forward_value,
    g1,
    g2,
    gx,
    h1,
    h2,
    hx,
    naive_second_order,
    x,
    y,
    z,
)
from symderiv.proofkit import Proof, Step

naive_x, naive_y, naive_z = sp.symbols("delta2_x delta2_y delta2_z")
u, loss = sp.symbols("u ell")


def _graph(g_expr, h_expr, f_expr):
    """x → {y = g(x), z = h(x)} → ℓ = f(y, z) as nodes."""
    return [Node(y, g_expr), Node(z, h_expr), Node(loss, f_expr)]


def _naive_and_exact(nodes):
    return naive_second_order(nodes, x), d(forward_value(nodes, x), 2)


def _at_one(expr):
    return sp.Subs(expr, x, 1)


# (3) counterexample: g = x², h = x³, f = y² + y·z, at x = 1
counter_nodes = _graph(x**2, x**3, y**2 + y * z)
counter_naive = naive_second_order(counter_nodes, x)  # f_yy·g″ + f_zz·h″ = 2·2 + 0
counter_loss = sp.expand(forward_value(counter_nodes, x))  # x⁴ + x⁵

# (4) everything affine
affine_naive, affine_exact = _naive_and_exact(_graph(2 * x + 1, 3 - x, 4 * y - 5 * z + 7))
# (5) f(y, z) = y²/2 and g = 1 + √x: naive g″ equals exact g′² + g·g″ because g′² + (g − 1)g″ = 0
sqrt_naive, sqrt_exact = _naive_and_exact(_graph(1 + sp.sqrt(x), x, y**2 / 2))
# (6) one node ℓ = F(x) = f(g(x), h(x)): the naive rule differentiates F twice, i.e. it is exact
single_node_naive = as_partials(naive_second_order([Node(loss, f(gx, hx))], x))

# (7) the same ℓ = sin(x²)² + x², cut into 4 nodes or 5 nodes (u = x² its own node)
four_nodes = _graph(sp.sin(x**2), x, y**2 + z**2)
five_nodes = [Node(u, x**2), Node(y, sp.sin(u)), Node(z, x), Node(loss, y**2 + z**2)]
single_node = [Node(loss, forward_value(four_nodes, x))]

PROOF = Proof(
    name="p1b-naive-differs",
    title="Naive second-order backprop is not the second derivative",
    problem="P1",
    claim=(
        "Propagating local second derivatives like first derivatives gives f_yy·g″ + f_zz·h″, "
        "which differs from d²ℓ/dx² and even depends on how ℓ is cut into nodes."
    ),
    steps=(
        Step(naive_x, "naive rule on x → {y, z} → ℓ", "start"),
        Step(g2 * naive_y + h2 * naive_z, "δ²_x = Σ over children v of δ²_v·∂²v/∂x²"),
        Step(NAIVE_SECOND_ORDER, "δ²_y = f_yy, δ²_z = f_zz (δ²_ℓ = 1)"),
        Step(EXACT_SECOND_DERIVATIVE, "the five-term exact second derivative", "!="),
        Step(d(ell_x, 2), "proof p1b-second-derivative"),
        # (2) the symbolic difference
        Step(d(ell_x, 2) - naive_x, "exact minus naive", "start"),
        Step(
            f_yy * (g1**2 - g2) + 2 * f_yz * g1 * h1 + f_zz * (h1**2 - h2) + f_y * g2 + f_z * h2,
            "five-term form minus f_yy·g″ + f_zz·h″",
        ),
        # (3) a concrete counterexample
        Step(_at_one(counter_naive), "naive rule run on g = x², h = x³, f = y² + y·z, at x = 1", "start"),
        Step(_at_one(2 * d(x**2, 2) + 0 * d(x**3, 2)), "f_yy = 2, f_zz = 0"),
        Step(sp.Integer(4), "g″ = 2"),
        Step(sp.Integer(32), "exact value 12 + 20", "!="),
        Step(_at_one(d(counter_loss, 2)), "ℓ(x) = (x²)² + x²·x³ = x⁴ + x⁵"),
        # (4) agreement: everything affine
        Step(affine_naive, "naive rule, g = 2x + 1, h = 3 − x, f = 4y − 5z + 7", "start"),
        Step(affine_exact, "every second derivative vanishes"),
        # (5) agreement: f = y²/2, g = 1 + √x
        Step(sqrt_naive, "naive rule, g = 1 + √x, h = x, f = y²/2: δ²_x = g″", "start"),
        Step(sqrt_exact, "g′² + (g − 1)·g″ = 0 for this g"),
        # (6) agreement: a single node
        Step(single_node_naive, "naive rule on the single node ℓ = f(g(x), h(x))", "start"),
        Step(EXACT_SECOND_DERIVATIVE, "one node: its local second derivative is the exact one"),
        # (7) graph-cut dependence
        Step(naive_second_order(four_nodes, x), "naive, 4 nodes: y = sin(x²), z = x, ℓ = y² + z²", "start"),
        Step(naive_second_order(five_nodes, x), "naive, 5 nodes: the same ℓ with u = x² its own node", "!="),
        Step(naive_second_order(single_node, x), "naive, 1 node: the same ℓ as one node", "!="),
        Step(d(forward_value(four_nodes, x), 2), "one node is exact"),
        Step(d(forward_value(five_nodes, x), 2), "the exact value does not depend on the cut"),
    ),
    definitions=(
        ELL_DEFINITION,
        (naive_y, f_yy),
        (naive_z, f_zz),
        (naive_x, g2 * naive_y + h2 * naive_z),
    ),
    domain=((x, 0.2, 2.0),),
)
