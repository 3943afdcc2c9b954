"""Cost of check_backward at its largest documented size, as a ratio to the
irreducible numpy work on the same rows, both measured in the same run.

A: ``check_backward`` of 64 outputs ``tanh(x_i·x_j)`` over n = 32 inputs
(pairs (i, i+1) and (i, i+7)), the rule ``gy·(1 − y²)`` scattered to x, 64
random batches of 4096 rows (plus its special and adaptive rows), default
domain. B: on the same number of random rows, what any check must do — the
lambdified forward and Jacobian, the rule, and the contraction gy·J — with
no tolerance model, no special points and no mpmath. CPU time
(``time.process_time``), BLAS pinned to one thread, A and B interleaved.

Run:  python -m benchmarks.bench_check_backward [--rounds 2]
It prints the ratio and writes benchmarks/check_backward.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import sympy

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import Samples, blas_report, pin_blas_threads, ratio  # noqa: E402

N = 32
PAIRS = [(i, (i + 1) % N) for i in range(N)] + [(i, (i + 7) % N) for i in range(N)]
ROWS, POINTS = 4096, 64
FIRST = np.array([p[0] for p in PAIRS])
SECOND = np.array([p[1] for p in PAIRS])


def forward(xs):
    return [sympy.tanh(xs[i] * xs[j]) for i, j in PAIRS]


def backward(x, y, gy):
    g = gy * (1 - y * y)
    gx = np.zeros_like(x)
    np.add.at(gx.T, FIRST, (g * x[:, SECOND]).T)
    np.add.at(gx.T, SECOND, (g * x[:, FIRST]).T)
    return gx


def check() -> bool:
    from symderiv import check_backward

    return check_backward(forward, backward, N, batch=ROWS, points=POINTS, cpu_budget=600).ok


def baseline() -> float:
    """The irreducible work on POINTS batches of ROWS rows: forward, Jacobian,
    rule, gy·J (each expression evaluated over the batch into a contiguous
    row, the contraction summed in that layout)."""
    from symderiv.backward_check.reference import input_symbols

    symbols = input_symbols(N)
    exprs = forward(list(symbols))
    m = len(exprs)
    f = sympy.lambdify(symbols, exprs, "numpy", cse=True)
    jac = sympy.lambdify(symbols, [sympy.diff(e, s) for e in exprs for s in symbols], "numpy", cse=True)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(POINTS):
        x = rng.uniform(-3, 3, (ROWS, N))
        gy = rng.normal(size=(ROWS, m))
        y = np.empty((m, ROWS))
        y[:] = f(*x.T)
        j = np.empty((m * N, ROWS))
        for k, column in enumerate(jac(*x.T)):
            j[k] = column
        exact = np.einsum("kb,kib->ib", np.ascontiguousarray(gy.T), j.reshape(m, N, ROWS)).T
        worst = max(worst, float(np.max(np.abs(backward(x, y.T, gy) - exact))))
    return worst


def cpu_interleaved(contenders: dict, rounds: int) -> dict[str, Samples]:
    """CPU seconds of each contender, A B A B ... (a warm-up call of each first)."""
    for function in contenders.values():
        function()
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, function in contenders.items():
            start = time.process_time()
            function()
            seconds[name].append(time.process_time() - start)
    return {name: Samples(name, tuple(values)) for name, values in seconds.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "check_backward.json")
    args = parser.parse_args(argv)
    pin_blas_threads(1)
    samples = cpu_interleaved({"check_backward": check, "baseline": baseline}, args.rounds)
    r = ratio(samples["check_backward"], samples["baseline"])
    result = {
        "what": "check_backward, 64 tanh(x_i x_j) outputs, n = 32, 64 batches x 4096 rows / "
                "forward + Jacobian + rule + gy.J on the same rows (numpy), CPU time, same run",
        "check_backward_s": samples["check_backward"].median,
        "baseline_s": samples["baseline"].median,
        "ratio": r.value,
        "ratio_per_round": [a / b for a, b in zip(samples["check_backward"].seconds, samples["baseline"].seconds)],
        "rounds": args.rounds,
        "blas": blas_report(),
    }
    print(f"check_backward {result['check_backward_s']:.1f} s, baseline {result['baseline_s']:.1f} s, "
          f"ratio {r.value:.2f} (CPU time, {args.rounds} rounds)")
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
