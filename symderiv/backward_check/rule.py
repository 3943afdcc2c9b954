"""Calling the rule under test: its arguments, its budget, and what it returned.

Contract: :func:`call_rule` runs a rule on copies of a batch's arrays (the
classic positional call or the named keyword call, in the dtype under test,
under the caller's numpy error state and its own CPU budget) and returns its
result as (batch, R) float64 columns, one per differentiable entry (or per
output for a JVP); a shared input's result is repeated on every row. Every
way a rule can misbehave (raising, even SystemExit; looping past its budget;
returning None, the wrong shape or dtype, NaN/inf; modifying an argument in
place) is a :class:`RuleFailure` with the reason, and the example's row
where it is known.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

import numpy as np

from symderiv.backward_check import kinds
from symderiv.budget import BudgetExceeded, BudgetStillExceeded, cpu_limits_available, cpu_time_limit

if TYPE_CHECKING:
    from symderiv.backward_check.core import Batch, BatchOutcome, Setup


class RuleFailure(Exception):
    """The rule under test misbehaved (not a bug of the caller).

    ``row``: the example it misbehaved on, where known; ``outcome``: the
    batch (and its exact values), attached by :func:`check_batch` so that the
    failure carries a counterexample."""

    def __init__(self, reason: str, row: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row
        self.outcome: "BatchOutcome | None" = None




RULE_NAMES = {"backward": "backward", "jvp": "jvp", "double_backward": "double_backward", "hvp": "hvp"}
LEGACY_ARGUMENTS = {
    "backward": ("x", "y", "gy"),
    "jvp": ("x", "y", "x_dot"),
    "hvp": ("x", "y", "x_dot"),
    "double_backward": ("x", "y", "gy", "x_dot", "gy_dot"),
}


def diff_columns(setup: Setup) -> dict[str, list[int]]:
    """For every differentiable input, its positions among the differentiable entries."""
    layout, diff = setup.layout, setup.layout.diff_index()
    position = {sym: pos for pos, sym in enumerate(diff)}
    return {name: [position[i] for i in range(layout.symbol_slice(name).start, layout.symbol_slice(name).stop)]
            for name in layout.differentiable_names()}


def tangent_arrays(setup: Setup, t: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for name, cols in diff_columns(setup).items():
        spec = setup.layout.spec(name)
        if spec.shared:
            out[name] = t[0, cols].reshape(spec.shape).astype(setup.dtype)
        else:
            out[name] = t[:, cols].reshape((t.shape[0], *spec.shape)).astype(setup.dtype)
    return out


def _rule_arguments(setup: Setup, batch: Batch, y: np.ndarray) -> tuple[tuple, dict]:
    dtype, dirs, b = setup.dtype, batch.dirs, batch.v.shape[0]
    layout = setup.layout
    if layout.legacy:
        args = [batch.v.astype(dtype), y.astype(dtype)]
        if "gy" in dirs and setup.kind != "hvp":
            args.append(dirs["gy"].astype(dtype))
        if "t" in dirs:
            args.append(dirs["t"].astype(dtype))
        if setup.kind == "double_backward":
            args.append(dirs["gy_dot"].astype(dtype))
        return tuple(args), {}
    kwargs: dict[str, Any] = layout.rule_arrays(batch.v, batch.v[0, layout.n_example:], batch.labels, dtype)
    kwargs["y"] = y.reshape((b, *setup.out_shape)).astype(dtype)
    if "gy" in dirs and setup.kind != "hvp":
        kwargs["gy"] = dirs["gy"].reshape((b, *setup.out_shape)).astype(dtype)
    if setup.kind == "double_backward":
        kwargs["gy_dot"] = dirs["gy_dot"].reshape((b, *setup.out_shape)).astype(dtype)
    if "t" in dirs:
        kwargs["tangents"] = tangent_arrays(setup, dirs["t"])
    return (), kwargs


def _run_rule(setup: Setup, args: tuple, kwargs: dict, rows: int) -> Any:
    name = RULE_NAMES[setup.kind]
    outer_left = signal.getitimer(signal.ITIMER_PROF)[0] if cpu_limits_available() else 0.0
    rule_binds = not outer_left or setup.rule_budget <= outer_left
    try:
        with cpu_time_limit(setup.rule_budget, repeat_every=0.05), np.errstate(**setup.caller_errstate):
            return setup.rule(*args, **kwargs)
    except (BudgetExceeded, BudgetStillExceeded):
        if rule_binds:
            raise RuleFailure(
                f"{name} used more than {setup.rule_budget:g} s of CPU time on a batch of {rows} rows "
                "(rule_cpu_budget; an endless loop?)"
            ) from None
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any exception (even exit) is a verdict, not a crash
        message = str(exc).splitlines()[0] if str(exc) else ""
        raise RuleFailure(f"{name} raised {type(exc).__name__}: {message}".rstrip(": ")) from None


def _as_real_array(value: Any, what: str, shape: tuple[int, ...], name: str, per_example: bool = True) -> np.ndarray:
    """The rule's value as a float64 array of the expected shape, or a
    RuleFailure saying what is wrong (with the example's row where known)."""
    part = f" for {what}" if what else ""
    if value is None:
        raise RuleFailure(f"{name} returned None{part} (expected an array of shape {shape})")
    try:
        got = np.asarray(value)
    except Exception as exc:  # noqa: BLE001
        raise RuleFailure(f"{name} returned something that is not an array{part}: {type(exc).__name__}") from None
    if got.shape != shape:
        raise RuleFailure(f"{name} returned shape {got.shape}{part}, expected {shape}")
    if np.iscomplexobj(got) or not (np.issubdtype(got.dtype, np.floating) or np.issubdtype(got.dtype, np.integer)):
        raise RuleFailure(f"{name} returned dtype {got.dtype}{part}, expected a real floating array")
    got = got.astype(np.float64)
    bad = np.argwhere(~np.isfinite(got))
    if bad.size:
        index = tuple(int(i) for i in bad[0])
        if not what:  # the classic form: (batch, width)
            where = f"at row {index[0]}, coordinate {index[1]}"
        else:
            where = f"in {what} at index ({', '.join(str(i) for i in index)})"
        raise RuleFailure(f"{name} returned a non-finite value ({got[index]}) {where}",
                          row=index[0] if per_example and index else None)
    return got


def _legacy_result(setup: Setup, result: Any, b: int) -> np.ndarray:
    width = setup.m if kinds.results_are_outputs(setup.kind) else setup.layout.n
    return _as_real_array(result, "", (b, width), RULE_NAMES[setup.kind])


def _named_result(setup: Setup, result: Any, b: int) -> np.ndarray:
    """The rule's cotangents (or output tangent) as (b, R) columns."""
    name = RULE_NAMES[setup.kind]
    if kinds.results_are_outputs(setup.kind):
        return _as_real_array(result, "the output tangent", (b, *setup.out_shape), name).reshape(b, setup.m)
    layout = setup.layout
    wanted = layout.differentiable_names()
    if isinstance(result, dict):
        extra = sorted(k for k, v in result.items() if k not in wanted and v is not None)
        if extra:
            raise RuleFailure(f"{name} returned a value for {extra[0]!r}, which is not a differentiable input")
        parts = {k: result.get(k) for k in wanted}
    elif isinstance(result, (tuple, list)) and len(result) in (len(wanted), len(layout.names)):
        if len(result) == len(layout.names) and len(result) != len(wanted):
            parts = {k: v for k, v in zip(layout.names, result) if k in wanted}
        else:
            parts = dict(zip(wanted, result))
    elif len(wanted) == 1 and not isinstance(result, (tuple, list, dict)):
        parts = {wanted[0]: result}
    else:
        raise RuleFailure(
            f"{name} must return a dict by input name or a tuple of {len(wanted)} cotangents ({', '.join(wanted)})"
        )
    got = np.zeros((b, setup.d))
    for input_name, cols in diff_columns(setup).items():
        spec = layout.spec(input_name)
        shape = spec.shape if spec.shared else (b, *spec.shape)
        array = _as_real_array(parts[input_name], f"input {input_name}", shape, name, per_example=not spec.shared)
        got[:, cols] = array.reshape(1, -1) if spec.shared else array.reshape(b, -1)
    return got


def call_rule(setup: Setup, batch: Batch, y: np.ndarray) -> np.ndarray:
    """Run the rule on copies; every way it can misbehave becomes a RuleFailure.
    Returns (b, R): shared results are repeated on every row."""
    args, kwargs = _rule_arguments(setup, batch, y)
    originals = [a.copy() for a in args] + [_copy_tree(v) for v in kwargs.values()]
    result = _run_rule(setup, args, kwargs, batch.v.shape[0])
    names = list(LEGACY_ARGUMENTS[setup.kind]) if setup.layout.legacy else list(kwargs)
    for label, before, after in zip(names, originals, list(args) + list(kwargs.values())):
        if not _same_tree(before, after):
            raise RuleFailure(f"{RULE_NAMES[setup.kind]} modified its argument {label} in place")
    b = batch.v.shape[0]
    return _legacy_result(setup, result, b) if setup.layout.legacy else _named_result(setup, result, b)


def _copy_tree(value: Any) -> Any:
    return {k: v.copy() for k, v in value.items()} if isinstance(value, dict) else value.copy()


def _same_tree(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in a)
    return np.array_equal(a, b, equal_nan=True)
