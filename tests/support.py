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
