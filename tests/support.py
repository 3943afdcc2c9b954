"""Shared by the tests: paths to the repository's data, and a CPU-time bound.

Bounds on time are CPU time, never wall-clock time: these tests run on shared
machines where the wall clock says how busy the machine is, not how much work
the code did. Speed targets live in benchmarks/, not here.
"""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
WRITEUPS = REPO / "tests" / "writeups"
EXAMPLES = REPO / "examples"


def _cpu_seconds_with_children() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@contextmanager
def cpu_bound(seconds: float) -> Iterator[None]:
    """Assert that the block (and the subprocesses it waited for) used at most ``seconds`` of CPU.

    A bound on work, for hostile inputs that must be refused without blowing up;
    generous on purpose (it is not a speed target)."""
    start = _cpu_seconds_with_children()
    yield
    used = _cpu_seconds_with_children() - start
    assert used <= seconds, f"used {used:.2f} s of CPU time (bound {seconds} s)"


def assert_vjp_reads_no_more_than_declared(op, seed: int) -> None:
    """An op's VJP gives the same gradients when handed None for what it
    declares it does not read (``vjp_reads_inputs``/``vjp_reads_output``):
    the SGD step frees those values early, so a rule that secretly reads them
    would break only there."""
    import numpy as np

    rng = np.random.default_rng(seed)
    inputs, params = op.sample(rng)
    out = op.forward(*inputs, **params)
    g = rng.normal(size=np.shape(out))
    full = op.vjp(g.copy(), out, tuple(inputs), op.differentiable, **params)
    partial = op.vjp(
        g.copy(),
        out if op.vjp_reads_output else None,
        tuple(inputs) if op.vjp_reads_inputs else (None,) * op.arity,
        op.differentiable,
        **params,
    )
    for a, b in zip(full, partial):
        np.testing.assert_array_equal(a, b)
