"""``symderiv softmax``: Problem 2, the softmax Jacobian and EDF's backward rule."""

from __future__ import annotations

import argparse

from symderiv.commands._common import ascii_int, parse_number_list, print_json
from symderiv.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError

CPU_LIMIT_S = 30
PRELOAD = ("numpy", "sympy", "mpmath")
MAX_N = 64
MAX_SHOWN_N = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=ascii_int, metavar="N", help=f"softmax size (1..{MAX_N}; default 3, or len(--at))")
    parser.add_argument("--at", metavar="V1,V2,...", help="input x (comma-separated; may start with '-')")
    parser.add_argument("--grad", metavar="U1,U2,...", help="upstream gradient ∇y, same length as --at")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object")
    output.add_argument("--latex", action="store_true", help="print the derivation as LaTeX")
    parser.epilog = "Example: symderiv softmax --at -1000,2,3 --grad -1,0,1 --json"


def run(args: argparse.Namespace) -> int:
    x = None if args.at is None else parse_number_list(args.at, "--at")
    u = None if args.grad is None else parse_number_list(args.grad, "--grad")
    if (x is None) != (u is None):
        raise InputError("--at and --grad go together: give both or neither")
    n = args.n
    if x is not None:
        if len(x) != len(u):
            raise InputError(f"--at has {len(x)} values but --grad has {len(u)}; they must have the same length")
        if n is not None and n != len(x):
            raise InputError(f"--n {n} but --at has {len(x)} values")
        n = len(x)
    n = 3 if n is None else n
    if not 1 <= n <= MAX_N:
        raise InputError(f"--n: {n} is outside 1..{MAX_N}")

    if args.latex:
        try:
            from symderiv.latex_document import softmax_fragment
        except ImportError:
            raise InputError("LaTeX output is not available in this installation") from None
        print(softmax_fragment(n))
        return EXIT_OK

    from symderiv.problems.softmax import prove_softmax_identity

    proof = prove_softmax_identity(n, jacobian=n <= 32)
    comparison = None
    if x is not None:
        import numpy as np

        from symderiv.problems.softmax_numbers import compare_softmax

        comparison = compare_softmax(np.array([x]), np.array([u]))
    ok = proof.ok and (comparison is None or comparison.identity_holds)
    if args.json:
        print_json(_payload(n, proof, comparison))
    else:
        print(_report(n, proof, comparison))
    return EXIT_OK if ok else EXIT_CHECK_FAILED


def _verdict(flag: bool) -> str:
    return "proved" if flag else "NOT proved"


def _payload(n, proof, comparison) -> dict:
    payload = {
        "n": n,
        "jacobian_entries": {"i == j": "y_i*(1 - y_i)", "i != j": "-y_i*y_j"},
        "proof": {
            "jacobian_is_diag_minus_outer": proof.jacobian_matches_diag_minus_outer,
            "jacobian_symmetric": proof.jacobian_symmetric,
            "vjp_identity": proof.vjp_identity_holds,
            "seconds": proof.seconds,
        },
    }
    if comparison is not None:
        payload.update(
            {
                "x": comparison.x[0],
                "grad": comparison.upstream[0],
                "engine_grad": comparison.engine_grad[0],
                "rule_grad": comparison.rule_grad[0],
                "jacobian_vjp": comparison.jacobian_vjp[0],
                "max_abs_error": comparison.max_abs_error,
                "identity_holds": comparison.identity_holds,
            }
        )
    else:
        payload["identity_holds"] = proof.ok
    return payload


def _report(n, proof, comparison) -> str:
    lines = [
        f"Problem 2: y = softmax(x), n = {n}",
        "  y_j = exp(x_j) / Z,  Z = Σ_k exp(x_k)",
        "  ∂y_j/∂x_i = y_i(1 − y_i) if i = j, −y_i·y_j otherwise;  J = diag(y) − y·yᵀ",
    ]
    if n <= MAX_SHOWN_N:
        import sympy as sp

        from symderiv.problems.softmax import softmax_jacobian, softmax_symbols
        from symderiv.printing.text import text

        J = softmax_jacobian(n)
        explicit_Z = sp.Add(*[sp.exp(x) for x in softmax_symbols(n).xs])
        lines.append("  SymPy's Jacobian, written with Z = Σ_k exp(x_k):")
        for j in range(n):
            for i in range(n):
                entry = J[j, i].xreplace({explicit_Z: sp.Symbol("Z")})
                lines.append(f"    ∂y_{j + 1}/∂x_{i + 1} = {text(entry)}")
    lines += [
        f"  J = diag(y) − y·yᵀ, entry by entry: {_verdict(proof.jacobian_matches_diag_minus_outer)}",
        f"  J symmetric: {_verdict(proof.jacobian_symmetric)}",
        f"  backward rule Jᵀ∇y = y ⊙ (∇y − gvdot), gvdot = y·∇y: {_verdict(proof.vjp_identity_holds)}"
        f"  ({proof.seconds * 1000:.1f} ms)",
    ]
    if comparison is not None:
        c = comparison
        width = 24

        def row(name, values):
            return f"  {name:<14}" + "".join(f"{v + 0.0:>{width}.15g}" for v in values)

        lines += [
            "",
            row("x", c.x[0]),
            row("∇y", c.upstream[0]),
            row("engine ∇x", c.engine_grad[0]),
            row("Jᵀ∇y (SymPy)", c.jacobian_vjp[0]),
            f"  max |engine − Jᵀ∇y| = {c.max_abs_error:.3g}; identity holds: {'yes' if c.identity_holds else 'no'}",
        ]
    return "\n".join(lines)
