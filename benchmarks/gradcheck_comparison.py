"""Measured comparison: finite-difference gradcheck vs check_backward on the corpus.

The baseline is a numpy re-implementation of what ``torch.autograd.gradcheck``
does in its default (slow) mode: the numerical Jacobian by central
differences of the forward with eps = 1e-6, the analytical Jacobian by
calling the backward with every unit vector as gy, and the verdict
``|analytical - numerical| <= atol + rtol * |numerical|`` for every entry
with atol = 1e-5, rtol = 1e-3. It runs in float64 on one minibatch of 3 rows
drawn from the case's domain (gradcheck needs double precision; float32
rules are fed float64 inputs). check_backward runs with its defaults.

Run:  python benchmarks/gradcheck_comparison.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import sympy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from backward_corpus import BUGS, CORRECT, Case  # noqa: E402

from symderiv.backward_check_reference import forward_expressions, input_symbols  # noqa: E402
from symderiv.backward_check_api import check_backward  # noqa: E402

FD_EPS = 1e-6
FD_RTOL = 1e-3
FD_ATOL = 1e-5
FD_BATCH = 3
# Two variants people also use: tight tolerances, and a single example.
FD_TIGHT_RTOL = 1e-6
FD_TIGHT_ATOL = 1e-8


def numeric_forward(case: Case):
    """float64 numpy forward (batch, n) -> (batch, m), lambdified from the case's SymPy forward."""
    xs = input_symbols(case.n)
    fn = sympy.lambdify(xs, list(forward_expressions(case.forward, case.n)), modules="numpy")

    def forward(x: np.ndarray) -> np.ndarray:
        values = fn(*x.T)
        return np.stack([np.broadcast_to(np.asarray(v, dtype=np.float64), (x.shape[0],)) for v in values], axis=1)

    return forward


def fd_gradcheck(
    case: Case, batch: int = FD_BATCH, rtol: float = FD_RTOL, atol: float = FD_ATOL, seed: int = 0
) -> tuple[bool, str]:
    """gradcheck-like verdict: (passed, detail)."""
    rng = np.random.default_rng(seed)
    forward = numeric_forward(case)
    x = rng.uniform(*case.domain, size=(batch, case.n))
    y = forward(x)
    m = y.shape[1]
    size_in, size_out = x.size, y.size
    numerical = np.empty((size_out, size_in))
    for index in range(size_in):
        step = np.zeros(size_in)
        step[index] = FD_EPS
        step = step.reshape(x.shape)
        numerical[:, index] = ((forward(x + step) - forward(x - step)) / (2 * FD_EPS)).ravel()
    analytical = np.empty((size_out, size_in))
    try:
        for index in range(size_out):
            gy = np.zeros(size_out)
            gy[index] = 1.0
            gx = np.asarray(case.backward(x.copy(), y.copy(), gy.reshape(batch, m)), dtype=np.float64)
            analytical[index] = gx.reshape(-1)
    except Exception as exc:  # noqa: BLE001 - a crash is a (loud) catch
        return False, f"backward raised {type(exc).__name__}"
    excess = np.abs(analytical - numerical) / (atol + rtol * np.abs(numerical))
    worst = float(np.max(excess))
    return worst <= 1.0, f"{worst:.3g}"


def _verdict(is_bug: bool, passed: bool) -> str:
    if is_bug:
        return "**missed**" if passed else "caught"
    return "pass" if passed else "**false alarm**"


def main() -> int:
    rows = []
    for case in BUGS + [c for c in CORRECT if c.domain == (-3.0, 3.0)]:
        start = time.perf_counter()
        fd = fd_gradcheck(case)
        fd_time = time.perf_counter() - start
        fd_tight = fd_gradcheck(case, rtol=FD_TIGHT_RTOL, atol=FD_TIGHT_ATOL)
        fd_single = fd_gradcheck(case, batch=1)
        start = time.perf_counter()
        result = check_backward(case.forward, case.backward, case.n, dtype=case.dtype, domain=case.domain)
        cb_time = time.perf_counter() - start
        rows.append((case, fd, fd_tight, fd_single, fd_time, result, cb_time))

    print(f"FD gradcheck (numpy): central differences eps={FD_EPS:g}, rtol={FD_RTOL:g}, atol={FD_ATOL:g}, "
          f"batch {FD_BATCH}, float64")
    print(f"FD tight: same with rtol={FD_TIGHT_RTOL:g}, atol={FD_TIGHT_ATOL:g}; FD batch 1: defaults on a single example")
    print("check_backward: defaults (batches of 3/5/7 rows unless equal to n or m, exact sympy JVP, the rule's dtype)")
    print("numbers in brackets: FD max |analytical - numerical| / (atol + rtol |numerical|);")
    print("check_backward max |got - exact| / tolerance; above 1 fails")
    print()
    print("| rule | planted bug | FD gradcheck | FD tight | FD batch 1 | check_backward |")
    print("|---|---|---|---|---|---|")
    missed = {"fd": 0, "tight": 0, "single": 0, "cb": 0}
    alarms = dict(missed)
    for case, fd, fd_tight, fd_single, _, result, _ in rows:
        is_bug = case.bug is not None
        counter = missed if is_bug else alarms
        for key, passed in (("fd", fd[0]), ("tight", fd_tight[0]), ("single", fd_single[0]), ("cb", result.ok)):
            counter[key] += passed if is_bug else not passed
        dtype = "" if case.dtype is np.float64 else f" ({np.dtype(case.dtype).name})"
        name = case.name.replace("|", "\\|")
        cells = [f"{_verdict(is_bug, passed)} ({detail})" for passed, detail in (fd, fd_tight, fd_single)]
        cells.append(f"{_verdict(is_bug, result.ok)} ({result.max_error_over_tolerance:.3g})")
        print(f"| {name}{dtype} | {case.bug or '(correct rule)'} | " + " | ".join(cells) + " |")
    bugs = sum(1 for row in rows if row[0].bug is not None)
    correct = len(rows) - bugs
    print()
    print(f"planted bugs: {bugs}; missed by FD gradcheck {missed['fd']}, FD tight {missed['tight']}, "
          f"FD batch 1 {missed['single']}, check_backward {missed['cb']}")
    print(f"correct rules: {correct}; false alarms FD gradcheck {alarms['fd']}, FD tight {alarms['tight']}, "
          f"FD batch 1 {alarms['single']}, check_backward {alarms['cb']}")
    total_fd = sum(row[4] for row in rows)
    total_cb = sum(row[6] for row in rows)
    print(f"wall time: FD gradcheck {total_fd:.2f} s, check_backward {total_cb:.2f} s "
          "(includes one-off symbolic differentiation + lambdify per forward)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
