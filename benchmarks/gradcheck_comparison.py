"""Measured comparison: PyTorch gradcheck/gradgradcheck, JAX check_grads and symderiv.

One command prints the whole table (Markdown) for the planted-bug corpus of
tests/backward_check/corpus.py: first-order rules of one input, named inputs
(shared weights, labels), second-order rules and rules wrong only on a small
set. For each case and tool: ``caught`` / ``**missed**`` for a planted bug,
``pass`` / ``**false alarm**`` for a correct rule. The tools are described
in :mod:`benchmarks.comparison_tools`; PyTorch and JAX run for real when
installed and are re-implemented in numpy otherwise (the header says which).
symderiv runs ``check_backward`` or ``check_double_backward`` with defaults.

Run:  python -m benchmarks.gradcheck_comparison [--reimplemented]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT))

from tests.backward_check.corpus import BUGS, CORRECT, EXTENDED, Case  # noqa: E402
from benchmarks.comparison_tools import (  # noqa: E402,F401 - FD names re-exported for the tests
    FD_ATOL,
    FD_BATCH,
    FD_EPS,
    FD_RTOL,
    FD_TIGHT_ATOL,
    FD_TIGHT_RTOL,
    available,
    fd_check_grads,
    fd_gradcheck,
    fd_gradgradcheck,
    jax_check,
    torch_check,
)
from symderiv import check_backward, check_double_backward, check_hvp, check_jvp  # noqa: E402


def cases() -> list[Case]:
    """The corpus, less the 8 correct rules on huge domains (the plain
    lambdified forward the other tools difference overflows there)."""
    first = BUGS + [c for c in CORRECT if c.domain == (-3.0, 3.0)]
    return first + EXTENDED


def symderiv_verdict(case: Case) -> tuple[bool, str]:
    check = {"jvp": check_jvp, "hvp": check_hvp}.get(case.kind, check_double_backward if case.order == 2 else check_backward)
    result = check(case.forward, case.backward, case.n, inputs=case.inputs, dtype=case.dtype, domain=case.domain)
    return result.ok, f"{result.max_error_over_tolerance:.3g}"


def tools(reimplemented: bool) -> list[tuple[str, object]]:
    """(column title, verdict function) for every tool, real where installed."""
    real_torch = available("torch") and not reimplemented
    real_jax = available("jax") and not reimplemented

    def torch_default(case):
        if real_torch:
            return torch_check(case)
        return fd_gradgradcheck(case) if case.order == 2 else fd_gradcheck(case)

    def torch_one_example(case):
        if real_torch:
            return torch_check(case, batch=1)
        return fd_gradgradcheck(case, batch=1) if case.order == 2 else fd_gradcheck(case, batch=1)

    def tight(case):
        check = fd_gradgradcheck if case.order == 2 else fd_gradcheck
        return check(case, rtol=FD_TIGHT_RTOL, atol=FD_TIGHT_ATOL)

    def jax_default(case):
        return jax_check(case) if real_jax else fd_check_grads(case)

    torch_kind = "PyTorch (real)" if real_torch else "PyTorch (re-implemented)"
    jax_kind = "JAX (real)" if real_jax else "JAX (re-implemented)"
    return [
        (f"{torch_kind} gradcheck / gradgradcheck", torch_default),
        (f"{torch_kind}, one example", torch_one_example),
        ("FD tight (re-implemented)", tight),
        (f"{jax_kind} check_grads", jax_default),
        ("symderiv", symderiv_verdict),
    ]


def _verdict(is_bug: bool, passed: bool) -> str:
    if is_bug:
        return "**missed**" if passed else "caught"
    return "pass" if passed else "**false alarm**"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reimplemented", action="store_true",
                        help="use the numpy re-implementations even where PyTorch/JAX are installed")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.getLogger("jax").setLevel(logging.CRITICAL)  # a rule raising inside a callback is a verdict, not a log
    columns = tools(args.reimplemented)
    versions = []
    for module in ("torch", "jax"):
        if available(module) and not args.reimplemented:
            versions.append(f"{module} {__import__(module).__version__}")
    print("Tools: " + "; ".join(title for title, _ in columns) + (f" ({', '.join(versions)})" if versions else ""))
    print(f"PyTorch defaults eps={FD_EPS:g}, atol={FD_ATOL:g}, rtol={FD_RTOL:g}, batch {FD_BATCH}, float64; "
          f"FD tight rtol={FD_TIGHT_RTOL:g}, atol={FD_TIGHT_ATOL:g}; JAX check_grads(order=1 or 2, modes=('rev',); "
          "modes=('fwd',) for JVP rules, order=2 with modes ('fwd',) then ('rev',) for HVP rules) eps=1e-4, "
          "atol=rtol=1e-5; PyTorch gradcheck(check_forward_ad=True) for JVP rules, gradgradcheck of the implied double "
          "backward for HVP rules; symderiv: check_backward / check_double_backward / check_jvp / check_hvp defaults")
    print()
    print("| rule | planted bug | order | " + " | ".join(title for title, _ in columns) + " |")
    print("|---|---|---|" + "---|" * len(columns))
    missed = [0] * len(columns)
    alarms = [0] * len(columns)
    elapsed = [0.0] * len(columns)
    all_cases = cases()
    for case in all_cases:
        is_bug = case.bug is not None
        cells = [""] * len(columns)
        # symderiv first, so that its time includes differentiating the
        # forward (the other tools' harnesses reuse that cached work)
        for index in [len(columns) - 1] + list(range(len(columns) - 1)):
            start = time.process_time()
            passed, detail = columns[index][1](case)
            elapsed[index] += time.process_time() - start
            missed[index] += is_bug and passed
            alarms[index] += (not is_bug) and (not passed)
            cells[index] = f"{_verdict(is_bug, passed)} ({detail})"
        dtype = "" if case.dtype is None or case.dtype.__name__ == "float64" else f" ({case.dtype.__name__})"
        name = (case.name + dtype).replace("|", "\\|")
        order = {"jvp": "1 (JVP)", "hvp": "2 (HVP)"}.get(case.kind, str(case.order))
        print(f"| {name} | {case.bug or '(correct rule)'} | {order} | " + " | ".join(cells) + " |")
    bugs = sum(c.bug is not None for c in all_cases)
    print()
    print(f"planted bugs: {bugs}; missed by " + ", ".join(f"{t} {m}" for (t, _), m in zip(columns, missed)))
    print(f"correct rules: {len(all_cases) - bugs}; false alarms " + ", ".join(f"{t} {a}" for (t, _), a in zip(columns, alarms)))
    print("CPU time: " + ", ".join(f"{t} {e:.1f} s" for (t, _), e in zip(columns, elapsed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
