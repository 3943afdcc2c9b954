"""The result of a derivative check and its report (dataclasses, no computation).

Contract: :class:`BackwardCheck` is what ``check_backward``, ``check_jvp``,
``check_double_backward`` and ``check_hvp`` return; it is true when the rule
passed, and its ``repr`` is the human-readable report. On failure it
carries a :class:`Counterexample` with everything needed to check it by
hand: the example's inputs (all of them, by name), the directions (gy, the
tangents), the exact and the returned values of the wrong result, the error
and its tolerance. The classic fields (``x``, ``y``, ``gy``, ``expected``,
``got`` as flat tuples) keep their meaning for ``check_backward(forward,
backward, n)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


_RESULT_NAMES = {
    "backward": "d{name}",
    "jvp": "y_dot",
    "double_backward": "d/dt d{name}",
    "hvp": "(H x_dot)_{name}",
}


@dataclass(frozen=True)
class Counterexample:
    """The worst result found: where, the inputs, exact and returned values."""

    point: int
    batch_size: int
    row: int | None  # None: a shared input's gradient over the whole batch
    coordinate: int
    x: tuple[float, ...]
    y: tuple[float, ...]
    gy: tuple[float, ...]
    expected: tuple[float, ...]
    got: tuple[float, ...]
    abs_error: float
    tolerance: float
    input: str = "x"
    index: tuple[int, ...] = ()
    origin: str = "random"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    directions: Mapping[str, Any] = field(default_factory=dict)
    one_sided: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    failure: str = ""  # the rule misbehaved on this example (raised, NaN, wrong shape): why


@dataclass(frozen=True, repr=False)
class BackwardCheck:
    """Result of a check; ``repr`` is a readable report; true when the rule passed."""

    ok: bool
    reason: str
    n: int
    m: int
    dtype: str
    domain: tuple[float, float]
    batch_sizes: tuple[int, ...]
    rows_checked: int
    rows_settled_with_mpmath: int
    max_abs_error: float
    max_rel_error: float
    max_error_over_tolerance: float
    unit_roundoff: float
    tolerance_factor: float
    counterexample: Counterexample | None
    kind: str = "backward"
    inputs: str = ""
    random_rows: int = 0
    special_rows: int = 0
    adaptive_rows: int = 0
    kink_rows: int = 0
    rows_skipped: int = 0
    critical_expressions: tuple[str, ...] = ()
    op: str = ""  # the forward's name, for displays
    # The worst error/tolerance of each checked input ("output" for a JVP),
    # over the rows checked; above 1 is that input's failure. Empty when the
    # rule itself failed (raised, wrong shape, ...) before any row was judged.
    input_ratios: tuple[tuple[str, float], ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    def report(self) -> str:
        """Multi-line human-readable summary (also the ``repr``)."""
        verdict = "ok" if self.ok else "FAILED"
        title = "BackwardCheck" if self.kind == "backward" else f"{self.kind} check"
        lines = [f"{title}: {verdict}" + ("" if self.ok else f": {self.reason}")]
        lines.append(
            f"  checked {self.rows_checked} rows ({self.random_rows} random, {self.special_rows} special, "
            f"{self.adaptive_rows} adaptive; {self.kink_rows} on kinks, judged one-sidedly; "
            f"{self.rows_skipped} skipped where the forward is undefined or overflows); "
            f"n={self.n}, m={self.m}, dtype={self.dtype}, domain=[{self.domain[0]:g}, {self.domain[1]:g}]"
        )
        if self.inputs:
            lines.append(f"  inputs: {self.inputs}")
        lines.append(
            f"  max abs error {self.max_abs_error:.3g}, max rel error {self.max_rel_error:.3g}, "
            f"max error/tolerance {self.max_error_over_tolerance:.3g}"
        )
        lines.append(
            f"  tolerance = {self.tolerance_factor:g} * u * scale + 4 * u * rounding (u = {self.unit_roundoff:.3g}; "
            "scale = sum of |direction| (|derivative| + its sensitivity to rounding x and y); "
            "rounding = that of the derivative as written); "
            f"{self.rows_settled_with_mpmath} rows settled in mpmath"
        )
        if self.counterexample is not None:
            lines += _counterexample_lines(self.counterexample, self.kind)
        return "\n".join(lines)

    __repr__ = report
    __str__ = report

    def display_counterexample(self) -> tuple[str, list[tuple[str, str]]] | None:
        """The counterexample's heading line and its (name, values) as the report prints them; None when ok."""
        if self.counterexample is None:
            return None
        return counterexample_heading(self.counterexample), shown_values(self.counterexample, self.kind)

    def _repr_html_(self) -> str:  # Jupyter; the renderer is imported only when a notebook asks
        from symderiv.render.notebook import backward_check_html

        return backward_check_html(self)


def _fmt(values: Any) -> str:
    array = np.asarray(values, dtype=object)
    if array.ndim == 0:
        value = array.item()
        return str(value) if isinstance(value, (int, np.integer)) else f"{float(value):.17g}"
    return "[" + ", ".join(_fmt(v) for v in array) + "]"


def shown_values(c: Counterexample, kind: str) -> list[tuple[str, str]]:
    """(name, values) of a counterexample as the report prints them: inputs, y, directions, expected, got."""
    if not c.inputs:  # the classic form: one input x
        names = [("x", c.x), ("y", c.y)] + ([("gy", c.gy)] if c.gy else [])
        names += [(f"{name}", value) for name, value in c.directions.items()]
    else:
        def by_rows(values: tuple) -> Any:  # a whole-batch counterexample: one list per example
            if c.row is None and c.batch_size > 1 and values:
                return np.reshape(values, (c.batch_size, -1)).tolist()
            return values

        names = [(name, value) for name, value in c.inputs.items()] + [("y", by_rows(c.y))]
        names += ([("gy", by_rows(c.gy))] if c.gy else []) + [(name, value) for name, value in c.directions.items()]
    if c.inputs:
        what = _RESULT_NAMES.get(kind, "{name}").format(name=c.input)
        names += [(f"expected {what}", c.expected)] + ([(f"got {what}", c.got)] if c.got or not c.failure else [])
    else:
        names += [("expected", c.expected)] + ([("got", c.got)] if c.got or not c.failure else [])
    if c.one_sided is not None:
        names += [("one-sided lo", c.one_sided[0]), ("one-sided hi", c.one_sided[1])]
    return [(name, _fmt(value)) for name, value in names]


def counterexample_heading(c: Counterexample) -> str:
    """Where the counterexample is and by how much it fails (one line)."""
    where = "the whole batch" if c.row is None else f"row {c.row}"
    what = f"worst coordinate {c.coordinate}" if not c.inputs else f"{c.input}{list(c.index)}"
    if c.failure:  # the rule raised, returned NaN or the wrong shape at this row
        return f"counterexample ({c.origin}): batch {c.point} (size {c.batch_size}), {where}: {c.failure}"
    return (f"counterexample ({c.origin}): batch {c.point} (size {c.batch_size}), {where}, {what}: "
            f"|got - expected| = {c.abs_error:.3g} > tolerance {c.tolerance:.3g}")


def _counterexample_lines(c: Counterexample, kind: str) -> list[str]:
    names = shown_values(c, kind)
    width = max(8, *(len(n) for n, _ in names))
    return [f"  {counterexample_heading(c)}"] + [f"    {name:<{width}} = {value}" for name, value in names]
