"""Budgets that bound work: CPU time and memory, never wall-clock time.

Contract:

- :func:`cpu_time_limit` bounds the *CPU time of this process* spent inside
  the ``with`` block (``ITIMER_PROF``: user + system time). A budget that
  decides a verdict must not depend on how busy the machine is; CPU time does
  not (a second process beside this one slows the wall clock, not the count).
  Limits nest: an inner limit never outlives the outer one, and the outer
  limit's remaining time is restored when the inner block ends. When the
  budget is spent, :class:`BudgetExceeded` is raised inside the block (between
  Python bytecodes, so a single long C call finishes first), and again every
  ``RETRY_S`` of CPU time until the block ends, should it have been lost in a
  garbage-collector callback. The kernel
  charges CPU time at scheduler ticks, so a limit is exact to a few ticks
  (milliseconds), which is all a budget needs. Where interval
  timers are unavailable (not the main thread, not POSIX) the block runs
  unbounded, and :func:`cpu_limits_available` says so.
- :func:`limit_memory` caps the address space of the whole process
  (``RLIMIT_AS``, soft limit only, never raised above an existing limit). An
  allocation beyond it raises :class:`MemoryError`, which the CLI reports as
  the memory bound in one line. Only the CLI calls it: a library must not
  change the limits of the process that imported it.

- :func:`work_limit` bounds the *work* done inside the block, counted in
  units the machine's load cannot change: garbage-collector collections
  (CPython starts one after every 700 net allocations of container objects,
  which is what SymPy's work consists of). CPU time per unit of work is not
  stable on a shared machine (measured for one step of ``symderiv check``:
  1.7 to 2.3 s of CPU for the same 60 units, from contention for caches and
  cores and from hash randomisation changing SymPy's term order), so a
  budget that *decides* an outcome counts work, and a CPU-time limit is only
  the safety net for work that allocates nothing (NumPy's C loops). When the
  units are spent, :class:`WorkBudgetExceeded` is raised in the block through
  the enclosing :func:`cpu_time_limit`'s timer (so, like it, only in the main
  thread and inside a CPU limit), and again every ``RETRY_S`` until the block
  ends. With the collector disabled nothing is counted.

Nothing here imports above the standard library.
"""

from __future__ import annotations

import gc
import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator


class BudgetExceeded(BaseException):
    """A work bound was spent. ``what`` names it ("CPU time"), ``limit`` its size.

    A ``BaseException``, like ``KeyboardInterrupt``: it arrives asynchronously,
    anywhere in the block, and a library's ``except Exception`` must neither
    swallow it nor turn it into another error (enum's member creation turns
    any Exception into a TypeError, which the fuzz tests met). Catch it by name."""

    def __init__(self, what: str, limit: float, unit: str = "s"):
        self.what = what
        self.limit = limit
        self.unit = unit
        super().__init__(f"{what} budget of {limit:g} {unit} exceeded")


class BudgetStillExceeded(BudgetExceeded):
    """A repeat of a spent budget's notice: the first one was lost or swallowed.

    A subclass, so whoever set the limit catches both as :class:`BudgetExceeded`.
    """

    def __init__(self, what: str, limit: float, unit: str = "s"):
        super().__init__(what, limit, unit)
        self.args = (f"{what} budget of {limit:g} {unit} exceeded (and the first notice lost or swallowed)",)


def cpu_seconds() -> float:
    """CPU time of this process so far (user + system, all threads)."""
    return time.process_time()


def cpu_limits_available() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


# The innermost active limit raises; outer ones are suspended meanwhile.
_active: list[float] = []

#: once spent, a budget raises again every RETRY_S of CPU time until its block
#: ends: an exception raised while the interpreter runs a garbage-collector
#: callback or a __del__ cannot propagate and is lost, and a one-shot timer
#: would then leave the block unbounded
RETRY_S = 0.05


@contextmanager
def cpu_time_limit(seconds: float | None, *, repeat_every: float = RETRY_S) -> Iterator[None]:
    """Raise :class:`BudgetExceeded` once the block has used ``seconds`` of CPU time,
    then :class:`BudgetStillExceeded` every ``repeat_every`` seconds of CPU time
    until the block ends.

    ``None`` or ``0`` means unbounded. The exception carries the limit that
    fired, which may be an enclosing one with less time left.
    """
    if not seconds or seconds <= 0 or not cpu_limits_available():
        yield
        return
    outer_remaining, outer_interval = signal.getitimer(signal.ITIMER_PROF)
    budget = seconds if not outer_remaining else min(seconds, outer_remaining)
    limit_that_fires = seconds if budget == seconds else (_active[-1] if _active else seconds)
    started = cpu_seconds()

    fired = []

    def on_expiry(signum, frame):  # noqa: ARG001 - signal handler signature
        if frame is not None and frame.f_code is _on_collection.__code__:
            return  # it would be lost inside the collector's callback: the timer repeats
        spent_work = _work_spent()
        if spent_work is not None:
            raise WorkBudgetExceeded("work", spent_work)
        if fired:
            raise BudgetStillExceeded("CPU time", limit_that_fires)
        fired.append(True)
        raise BudgetExceeded("CPU time", limit_that_fires)

    previous = signal.signal(signal.SIGPROF, on_expiry)
    _active.append(seconds)
    signal.setitimer(signal.ITIMER_PROF, budget, repeat_every)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        _active.pop()
        signal.signal(signal.SIGPROF, previous)
        if outer_remaining:
            left = outer_remaining - (cpu_seconds() - started)
            # Re-arm the outer limit; if it is already spent, let it fire at once.
            signal.setitimer(signal.ITIMER_PROF, max(left, 1e-3), outer_interval or RETRY_S)


class WorkBudgetExceeded(BudgetExceeded):
    """The work budget of a :func:`work_limit` block was spent (raised asynchronously, as a class)."""

    def __init__(self, what: str = "work", limit: float = 0.0, unit: str = "units"):
        super().__init__(what, limit, unit)


#: the work counter: collections started since the process began counting
_work = {"units": 0}
_work_limits: dict = {}  # thread id -> stack of [deadline, fired]


def work_units() -> int:
    """Units of work done so far by this process (see the module docstring)."""
    _install_work_counter()
    return _work["units"]


def _on_collection(phase: str, info: dict) -> None:  # noqa: ARG001 - gc callback signature
    if phase != "start":
        return
    _work["units"] += 1
    stack = _work_limits.get(threading.get_ident())
    if stack and _work["units"] >= stack[-1][0] and not stack[-1][1]:
        # An exception raised here would be lost (the collector ignores what its callbacks raise): the CPU
        # timer of the enclosing cpu_time_limit is brought forward instead, and its handler raises
        # WorkBudgetExceeded (again every RETRY_S, should the first notice land inside a callback).
        stack[-1][1] = True
        if _active and cpu_limits_available():
            signal.setitimer(signal.ITIMER_PROF, 1e-4, RETRY_S)


def _install_work_counter() -> None:
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)


@contextmanager
def work_limit(units: int | None) -> Iterator[None]:
    """Raise :class:`WorkBudgetExceeded` once the block has done ``units`` units of work (``None``: unbounded).

    Limits nest per thread; the innermost one that is spent raises. An exception raised on the way
    out of the block is cleared if the block ended first (it can arrive one bytecode late)."""
    if not units or units <= 0:
        yield
        return
    _install_work_counter()
    ident = threading.get_ident()
    stack = _work_limits.setdefault(ident, [])
    outer = stack[-1][0] if stack else None
    deadline = _work["units"] + int(units)
    stack.append([deadline if outer is None else min(deadline, outer), False, int(units)])
    try:
        yield
    finally:
        stack.pop()
        if not stack:
            _work_limits.pop(ident, None)


def _work_spent() -> float | None:
    """The size of this thread's innermost spent work limit, if one is spent."""
    stack = _work_limits.get(threading.get_ident())
    if stack and stack[-1][1]:
        return float(stack[-1][2])
    return None


def address_space_bytes() -> int | None:
    """This process's current address space (VmSize), or None where unknown."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    import resource

    return pages * resource.getpagesize()


def limit_memory(max_bytes: int) -> int | None:
    """Cap this process's address space at ``max_bytes`` (soft ``RLIMIT_AS``).

    Returns the previous soft limit (``None`` where resource limits are not
    available). Never raises an existing, lower limit.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    new = max_bytes
    if soft != resource.RLIM_INFINITY:
        new = min(new, soft)
    if hard != resource.RLIM_INFINITY:
        new = min(new, hard)
    resource.setrlimit(resource.RLIMIT_AS, (new, hard))
    return soft
