"""``symderiv verify``: run every proof and numeric check; exit 1 if any verdict is unexpected."""

from __future__ import annotations

import argparse

from symderiv.commands._common import ascii_int, print_json
from symderiv.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError

CPU_LIMIT_S = 300
PRELOAD = ("numpy", "sympy", "mpmath")
MAX_POINTS = 100_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--points", type=ascii_int, default=200, metavar="N", help="random points per numeric check (default 200)")
    parser.add_argument("--seed", type=ascii_int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument(
        "--proof",
        action="append",
        metavar="NAME|PATH",
        help="run only this proof: a built-in name or a path to your own proof file (repeatable; "
        "a proof file is Python and runs with your rights: only files you trust)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.points <= MAX_POINTS:
        raise InputError(f"--points: {args.points} is outside 1..{MAX_POINTS}")
    if args.seed < 0:
        raise InputError("--seed must be >= 0")
    from symderiv.verification import run_verification

    report = run_verification(args.points, args.seed, proofs=args.proof, include_builtin=not args.proof)
    if args.json:
        print_json(
            {
                "ok": report.ok,
                "seconds": report.seconds,
                "settings": report.settings,
                "checks": [
                    {
                        "name": c.name,
                        "verdict": c.verdict,
                        "expected": c.ok,
                        "points": c.points,
                        "max_error": c.max_error,
                        "detail": c.detail,
                        "seconds": c.seconds,
                    }
                    for c in report.checks
                ],
            }
        )
    else:
        print(_table(report))
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def _table(report) -> str:
    width = max(len(c.name) for c in report.checks)
    lines = [f"{'check':<{width}}  {'points':>7}  {'max error':>10}  verdict"]
    lines.append("-" * len(lines[0]) + "-" * 10)
    for c in report.checks:
        error = "—" if c.max_error is None else f"{c.max_error:.2e}"
        points = str(c.points) if c.points else "—"
        mark = "" if c.ok else "   <-- UNEXPECTED"
        lines.append(f"{c.name:<{width}}  {points:>7}  {error:>10}  {c.verdict}{mark}")
        if c.detail and (not c.ok or c.verdict == "refuted"):
            lines.append(f"{'':<{width}}    {c.detail}")
    unexpected = sum(not c.ok for c in report.checks)
    summary = "all verdicts as expected" if not unexpected else f"{unexpected} unexpected verdict(s)"
    lines.append("")
    lines.append(f"{len(report.checks)} checks, {summary} ({report.seconds:.1f} s)")
    return "\n".join(lines)
