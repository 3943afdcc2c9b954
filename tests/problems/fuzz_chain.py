"""Grammar fuzz of ``symderiv chain``: thousands of random inputs, one command.

    python tests/problems/fuzz_chain.py --count 2000 --seed 17

Each input is a random grammar-valid (g, h, f) (tests/problems/grammar.py), with a
random --at point for most of them, run through the command line's ``main``
in this process (so the CLI's CPU-time bound applies to each; this process's
address space is capped like the ``symderiv`` process's). Reported: the
exit-code histogram, internal errors (exit 3, must be none), the largest CPU
time of one input next to the bound, and every exit 1 together with whether a
50-digit mpmath reference confirms the disagreement (an unconfirmed exit 1 is
a false alarm). Exit status 0 when there is no exit 3, no input past its
bound and no unconfirmed exit 1.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.* and symderiv

from tests.problems.grammar import mp_derivatives, random_expression, random_point  # noqa: E402

from symderiv.budget import cpu_seconds, limit_memory  # noqa: E402
from symderiv.cli import MEMORY_LIMIT_BYTES, main  # noqa: E402
from symderiv.commands.chain import CPU_LIMIT_S  # noqa: E402


def run_one(argv: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    started = cpu_seconds()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv, cap_memory=False)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue(), cpu_seconds() - started


def confirmed(g: str, h: str, loss: str, at: float, payload: dict) -> bool:
    """Does the 50-digit reference confirm that the engine disagrees?"""
    from symderiv.problems.chain import derive_chain
    from symderiv.algebra.expressions import parse_expression

    derivation = derive_chain(parse_expression(g, ["x"]), parse_expression(h, ["x"]), parse_expression(loss, ["y", "z"]))
    reference = mp_derivatives(derivation.ell, derivation.x, at)
    if reference is None:
        return False
    engines = [
        (payload["first"]["engine"], reference[0]), (payload["first"]["engine_fine_grained"], reference[0]),
        (payload["second"]["engine_exact"], reference[1]), (payload["second"]["engine_exact_fine_grained"], reference[1]),
    ]
    return any(value is None or abs(value - exact) > 1e-6 * max(abs(exact), 1e-300) for value, exact in engines)


def main_fuzz() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--max-leaves", type=int, default=6)
    parser.add_argument("--json", metavar="FILE", help="also write every case and its outcome here")
    options = parser.parse_args()
    limit_memory(MEMORY_LIMIT_BYTES)
    rng = random.Random(options.seed)
    histogram: collections.Counter = collections.Counter()
    cases, problems = [], []
    slowest = (0.0, None)
    started = time.perf_counter()
    for index in range(options.count):
        g = random_expression(rng, ("x",), options.max_leaves)
        h = random_expression(rng, ("x",), options.max_leaves)
        loss = random_expression(rng, ("y", "z"), options.max_leaves)
        at = random_point(rng) if rng.random() < 0.7 else None
        argv = ["chain", "--g", g, "--h", h, "--loss", loss, "--json"] + ([f"--at={at!r}"] if at is not None else [])
        code, out, err, cpu = run_one(argv)
        histogram[code] += 1
        slowest = max(slowest, (cpu, argv), key=lambda item: item[0])
        case = {"argv": argv[1:], "exit": code, "cpu_s": round(cpu, 3), "stderr": err.strip()}
        if code == 3 or "Traceback" in err or err.count("\n") > 1:
            problems.append(("internal error or noise on stderr", case))
        if cpu > CPU_LIMIT_S + 1.0:
            problems.append(("past its CPU-time bound", case))
        if code == 1:
            payload = json.loads(out)
            case["confirmed"] = at is not None and confirmed(g, h, loss, at, payload)
            if not case["confirmed"]:
                problems.append(("exit 1 not confirmed by the 50-digit reference", case))
        cases.append(case)
        if (index + 1) % 250 == 0:
            print(f"{index + 1} inputs, exit codes {dict(sorted(histogram.items()))}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(f"{options.count} random chain inputs (seed {options.seed}, up to {options.max_leaves} leaves per expression)")
    print(f"exit codes: {dict(sorted(histogram.items()))}")
    print(f"largest CPU time of one input: {slowest[0]:.2f} s (bound {CPU_LIMIT_S} s): {' '.join(slowest[1] or [])}")
    print(f"wall time: {elapsed:.0f} s")
    print(f"problems: {len(problems)}")
    for what, case in problems:
        print(f"  {what}: {json.dumps(case, ensure_ascii=False)}")
    if options.json:
        Path(options.json).write_text(json.dumps(cases, indent=1, ensure_ascii=False))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main_fuzz())
