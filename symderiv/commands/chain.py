"""``symderiv chain``: Problem 1, ℓ = f(g(x), h(x)), symbolically and numerically."""

from __future__ import annotations

import argparse

from symderiv.commands._common import fmt, parse_number, print_json
from symderiv.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError

CPU_LIMIT_S = 15
PRELOAD = ("numpy", "sympy", "mpmath")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--g", metavar="EXPR", help="y = g(x), an expression in x (default: abstract g)")
    parser.add_argument("--h", metavar="EXPR", help="z = h(x), an expression in x (default: abstract h)")
    parser.add_argument("--loss", metavar="EXPR", help="ℓ = f(y, z), an expression in y and z (default: abstract f)")
    parser.add_argument("--at", metavar="X", help="evaluate at this x (needs --g, --h and --loss)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object")
    output.add_argument("--latex", action="store_true", help="print the derivation as LaTeX")
    parser.epilog = (
        "Expressions use + - * / ** ^, numbers, pi, E and the functions "
        "exp log ln sqrt sin cos tan tanh sigmoid. Example: "
        "symderiv chain --g 'sin(x)' --h 'x**2' --loss 'y*z + exp(y)' --at 0.5 --json"
    )


def run(args: argparse.Namespace) -> int:
    from symderiv.algebra.expressions import parse_expression

    g = None if args.g is None else parse_expression(args.g, ["x"], "--g")
    h = None if args.h is None else parse_expression(args.h, ["x"], "--h")
    loss = None if args.loss is None else parse_expression(args.loss, ["y", "z"], "--loss")
    x_value = None
    if args.at is not None:
        x_value = parse_number(args.at, "--at")
        missing = [name for name, given in (("--g", g), ("--h", h), ("--loss", loss)) if given is None]
        if missing:
            raise InputError(f"--at needs concrete functions; missing {', '.join(missing)}")

    if args.latex:
        return _print_latex(g, h, loss)

    from symderiv.problems.chain import derive_chain
    from symderiv.problems.chain_numbers import chain_verdict

    derivation = derive_chain(g, h, loss)
    comparison = None
    if x_value is not None:
        import numpy as np

        from symderiv.problems.chain_numbers import compare_chain

        comparison = compare_chain(derivation, np.array([x_value]))
    from symderiv.problems.chain import PROVED

    proved = derivation.first_verdict == PROVED and derivation.second_verdict == PROVED
    witness = None
    if not proved and derivation.is_concrete and comparison is None:
        # exact algebra could not settle it (or was too large to try): numbers decide
        from symderiv.problems.chain_numbers import random_witness

        witness = random_witness(derivation)
    verdict = chain_verdict(derivation, comparison if comparison is not None else witness)
    if args.json:
        payload = _payload(derivation, comparison)
        if witness is not None:
            payload["numeric_witness"] = _witness_summary(witness)
        payload["verdict"] = {"status": verdict.status, "decided_by": list(verdict.decided_by), "reason": verdict.reason}
        print_json(payload)
    else:
        print(_report(derivation, comparison))
        if witness is not None:
            print(_witness_text(witness))
        print(_verdict_text(verdict))
    if verdict.status == "undecided":
        raise InputError(f"not decided: {verdict.reason}")
    return EXIT_OK if verdict.status == "ok" else EXIT_CHECK_FAILED


def _verdict_text(verdict) -> str:
    if verdict.status == "ok":
        return "\nVerdict: checked; decided by " + "; ".join(verdict.decided_by)
    if verdict.status == "failed":
        return "\nVerdict: FAILED; conclusive disagreement: " + "; ".join(verdict.decided_by)
    return f"\nVerdict: undecided: {verdict.reason}"


def _print_latex(g, h, loss) -> int:
    try:
        from symderiv.latex_document import chain_fragment
    except ImportError:
        raise InputError("LaTeX output is not available in this installation") from None
    print(chain_fragment(g=g, h=h, loss=loss))
    return EXIT_OK


def _payload(derivation, comparison) -> dict:
    from symderiv.printing.text import text

    payload = {
        "g": text(derivation.g),
        "h": text(derivation.h),
        "loss": text(derivation.loss),
        "abstract": list(derivation.abstract),
        "symbolic": {
            "first": text(derivation.delta_x),
            "first_verdict": derivation.first_verdict,
            "delta_y": text(derivation.delta_y),
            "delta_z": text(derivation.delta_z),
            "second_terms": {t.label: text(t.expr) for t in derivation.second_terms},
            "second_verdict": derivation.second_verdict,
            "naive": text(derivation.naive),
            "exact_minus_naive": {t.label: text(t.expr) for t in derivation.difference_terms},
        },
    }
    if comparison is not None:
        c = comparison
        payload.update(
            {
                "x": float(c.x[0]),
                "first": {
                    "sympy": c.first_sympy[0],
                    "engine": c.first_engine[0],
                    "engine_fine_grained": c.first_engine_fine[0],
                    "finite_difference": c.first_finite_difference[0],
                },
                "second": {
                    "sympy": c.second_sympy[0],
                    "engine_exact": c.second_engine_exact[0],
                    "engine_exact_fine_grained": c.second_engine_exact_fine[0],
                    "finite_difference": c.second_finite_difference[0],
                    "engine_naive": c.second_engine_naive[0],
                    "engine_naive_fine_grained": c.second_engine_naive_fine[0],
                    "naive_formula": c.naive_formula[0],
                    "naive_formula_fine_grained": c.naive_formula_fine[0],
                },
                "finite_difference_conclusive": {
                    "first": c.first_fd.inconclusive == 0,
                    "second": c.second_fd.inconclusive == 0,
                },
                "first_order_matches": c.first_order_matches,
                "second_order_matches": c.second_order_matches,
                "naive_rule_matches_formula": c.naive_rule.ok,
                "naive_rule_fine_grained_matches_formula": c.naive_rule_fine.ok,
                "naive_second_order_matches": c.naive_second_order_matches,
                "naive_depends_on_graph_cut": c.naive_depends_on_cut,
                "max_error": {
                    "first_engine_vs_sympy": c.first.max_error,
                    "second_engine_vs_sympy": c.second.max_error,
                    "first_fd_vs_sympy": c.first_fd.max_error,
                    "second_fd_vs_sympy": c.second_fd.max_error,
                },
            }
        )
    return payload


def _report(derivation, comparison) -> str:
    from symderiv.problems.chain import at_yz
    from symderiv.printing.text import text

    def show(expr):
        return text(at_yz(derivation, expr))

    def given(name, expr):
        return "abstract" if name in derivation.abstract else text(expr)

    lines = [
        "Problem 1: ℓ = f(y, z) with y = g(x), z = h(x)",
        f"  g(x) = {given('g', derivation.g)}",
        f"  h(x) = {given('h', derivation.h)}",
        f"  f(y, z) = {given('f', derivation.loss)}",
    ]
    if "f" in derivation.abstract:
        if "g" in derivation.abstract and "h" in derivation.abstract:
            lines.append("  (f and its partials f_y, f_yz, ... are taken at (y, z) = (g(x), h(x)))")
        else:
            point = f"({text(derivation.g)}, {text(derivation.h)})"
            lines.append(f"  (f_y{point}, f_yz{point}, ...: the partials of f taken at (y, z) = (g(x), h(x)) = {point})")
    lines += [
        "",
        "First order",
        f"  SymPy:    dℓ/dx = {show(derivation.first)}",
        "  backprop: δ_ℓ = 1",
        "            δ_y = " + _unless_same("f_y", show(derivation.delta_y)),
        "            δ_z = " + _unless_same("f_z", show(derivation.delta_z)),
        f"            δ_x = g'·δ_y + h'·δ_z = {show(derivation.delta_x)}",
        f"  δ_x = dℓ/dx: {derivation.first_verdict}",
        "",
        "Second order",
        "  d²ℓ/dx² = " + " + ".join(t.label for t in derivation.second_terms),
    ]
    width = max(len(t.label) for t in derivation.second_terms)
    lines += [f"    {t.label:<{width}} = {show(t.expr)}" for t in derivation.second_terms]
    lines += [
        f"  equals SymPy's d²ℓ/dx²: {derivation.second_verdict}",
        "  naive rule (δ²_ℓ = 1, δ²_u = Σ δ²_v·∂²v/∂u²) = " + " + ".join(t.label for t in derivation.naive_terms),
        f"    = {show(derivation.naive)}",
        "  exact − naive = " + " + ".join(t.label for t in derivation.difference_terms),
    ]
    if comparison is not None:
        c = comparison
        rows = [
            ("dℓ/dx", c.first_sympy[0], c.first_engine[0], c.first_finite_difference[0]),
            ("d²ℓ/dx² (exact, HVP)", c.second_sympy[0], c.second_engine_exact[0], c.second_finite_difference[0]),
            ("naive rule, 4-node graph", c.naive_formula[0], c.second_engine_naive[0], float("nan")),
            ("naive rule, fine-grained graph", c.naive_formula_fine[0], c.second_engine_naive_fine[0], float("nan")),
        ]
        lines += ["", f"At x = {fmt(float(c.x[0]))}", f"  {'quantity':<31} {'SymPy':>22} {'engine':>22} {'finite diff.':>22}"]
        for name, a, b, d in rows:
            lines.append(f"  {name:<31} {_cell(a):>22} {_cell(b):>22} {_cell(d):>22}")
        lines += [
            "",
            f"  first order: engine = SymPy = finite differences: {_agreed(c.first, c.first_fd)}"
            + _inconclusive(c.first_fd),
            f"  exact second order: engine = SymPy = finite differences: {_agreed(c.second, c.second_fd)}"
            + _inconclusive(c.second_fd),
            f"  naive rule = f_yy·g'' + f_zz·h'': {_agreed(c.naive_rule)}",
            f"  naive rule on the fine-grained graph = its exact value: {_agreed(c.naive_rule_fine)}",
            f"  naive rule = exact second derivative: {_fact(c.naive_equals_exact)}",
            f"  naive value depends on how ℓ is cut into nodes: {_fact(c.naive_depends_on_cut)}",
        ]
    return "\n".join(lines)


def _witness_summary(witness) -> dict:
    return {
        "points": int(witness.x.size),
        "first_order_matches": witness.first_order_matches,
        "second_order_matches": witness.second_order_matches,
        "max_error_first": witness.first.max_error,
        "max_error_second": witness.second.max_error,
    }


def _witness_text(witness) -> str:
    from symderiv.problems.chain_numbers import WITNESS_DOMAIN

    low, high = WITNESS_DOMAIN
    return (
        f"\nNot settled by exact algebra, so checked numerically at {witness.x.size} random points in "
        f"[{low:g}, {high:g}]:\n"
        f"  dℓ/dx: engine = SymPy = finite differences: {_agreed(witness.first, witness.first_fd)}"
        f" (worst error {witness.first.max_scaled_error:.2g} × its tolerance)"
        + _inconclusive(witness.first_fd, witness.x.size) + "\n"
        f"  d²ℓ/dx²: engine = SymPy = finite differences: {_agreed(witness.second, witness.second_fd)}"
        f" (worst error {witness.second.max_scaled_error:.2g} × its tolerance)"
        + _inconclusive(witness.second_fd, witness.x.size)
    )


def _agreed(engine, finite_differences=None) -> str:
    """yes / no / undecided for a line of agreements (the same verdicts as the exit code)."""
    parts = [engine] + ([finite_differences] if finite_differences is not None else [])
    if not all(part.ok for part in parts):
        return "no"
    return "yes" if engine.decided else "undecided (rounding scale not finite)"


def _fact(flag: bool | None) -> str:
    """A fact about the exact expressions, decided in 50- and 100-digit arithmetic."""
    return "undecided (not stable in high precision)" if flag is None else _yes(flag)


def _inconclusive(agreement, points: int = 1) -> str:
    if not agreement.inconclusive:
        return ""
    where = "here" if points == 1 else f"at {agreement.inconclusive} of {points} points"
    return f" (finite differences inconclusive {where}: error bound too large, or out of time)"


def _unless_same(name: str, value: str) -> str:
    return name if value == name else f"{name} = {value}"


def _cell(value: float) -> str:
    return "—" if value != value else fmt(value)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
