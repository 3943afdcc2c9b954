"""Where the derivative checks look: random rows, special points, an adaptive search.

Contract: besides uniform random rows, a check evaluates the rule at points
chosen where rules are typically wrong, always inside each input's domain:

- *special values* of every real entry, alone (the other entries random)
  and all at once: 0, ±tiny (the dtype's smallest normal number; alone
  only), ±1e-3 and ±1e-8 (where rules switch to series branches), ±1, the
  ends of the domain and, where the domain is unbounded, large magnitudes
  (10^k up to the dtype's largest finite number, and just below and above
  log(max), where an unshifted exp overflows);
- points within 1e-3 (and 1e-6) of every zero of a *critical expression*:
  the base of a negative or fractional power (a denominator, a square
  root), the argument of log, the cos/sin of tan/cot/sec/csc, ±1 for
  asin/acos/atanh, and the arguments of the non-smooth functions (``Abs``,
  ``sign``, ``Heaviside``, the pairwise differences inside ``Max``/``Min``,
  the two sides of every ``Piecewise`` condition). Zeros are found along one
  entry at a time from a random start (a scan of the domain, then bisection);
- the zero of each non-smooth argument itself (a *kink*): there the
  derivative is not defined, and the rule is judged one-sidedly (see
  :func:`kink_directions`).

Rows where the forward is undefined or not representable in the dtype are
skipped (and counted). The adaptive search (in the check loop) then draws
rows around the row whose error relative to its tolerance is largest, with a
radius shrinking by 10x per round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from symderiv.numeric.tolerance import KINK_RELATIVE, KINK_ROUNDINGS

# Offsets from a zero of a critical expression, relative to max(1, |zero|).
ZERO_OFFSETS = (1e-3, 1e-6)
# Grid of the scan that brackets zeros along one entry.
SCAN_POINTS = 257
MAX_CRITICAL_EXPRESSIONS = 24
MAX_SPECIAL_ROWS = 192


@dataclass(frozen=True)
class Point:
    """One special point: all real entries, the label values, and why it was chosen."""

    values: np.ndarray
    labels: tuple[int, ...]
    origin: str


def sampling_box(low: float, high: float) -> tuple[float, float]:
    """Where random entries are drawn: the domain, or 6 wide on an unbounded side."""
    if math.isinf(low) and math.isinf(high):
        return -3.0, 3.0
    if math.isinf(high):
        return low, low + 6.0
    if math.isinf(low):
        return high - 6.0, high
    return low, high


def special_values(low: float, high: float, dtype: np.dtype) -> list[tuple[float, str]]:
    info = np.finfo(dtype)
    tiny = float(info.tiny)
    candidates = [(0.0, "0"), (tiny, "+tiny"), (-tiny, "-tiny"), (1.0, "1"), (-1.0, "-1")]
    # small magnitudes, where rules switch to series branches ("if |x| < eps")
    candidates += [(1e-3, "1e-3"), (-1e-3, "-1e-3"), (1e-8, "1e-8"), (-1e-8, "-1e-8")]
    if math.isfinite(low):
        candidates.append((low, "the low end of the domain"))
    if math.isfinite(high):
        candidates.append((high, "the high end of the domain"))
    if math.isinf(low) or math.isinf(high):
        big = float(info.max)
        overflow = math.log(big)
        magnitudes = [(10.0**k, f"1e{k}") for k in range(1, int(math.log10(big)) + 1, 3 if big > 1e100 else 1)]
        magnitudes += [(overflow * 0.99, "just below the exp overflow threshold"),
                       (overflow * 1.01, "just above the exp overflow threshold")]
        for value, label in magnitudes:
            if math.isinf(high):
                candidates.append((value, label))
            if math.isinf(low):
                candidates.append((-value, "-" + label))
    return [(v, label) for v, label in candidates if low <= v <= high]


# -- critical expressions --------------------------------------------------------

def critical_expressions(exprs: Sequence[sympy.Expr]) -> list[tuple[sympy.Expr, str, bool]]:
    """(g, what, is_kink): expressions whose zeros are poles, ends of domains or kinks."""
    found: dict[sympy.Expr, tuple[str, bool]] = {}

    def add(g: sympy.Expr, what: str, kink: bool) -> None:
        if g.free_symbols and g not in found:
            found[g] = (what, kink)

    for expr in exprs:
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Pow) and node.exp.is_number and (node.exp.is_negative or not node.exp.is_integer):
                add(node.base, f"the base of {node}", False)
            elif isinstance(node, sympy.log):
                add(node.args[0], f"the argument of {node}", False)
            elif isinstance(node, (sympy.tan, sympy.sec)):
                add(sympy.cos(node.args[0]), f"the pole of {node}", False)
            elif isinstance(node, (sympy.cot, sympy.csc)):
                add(sympy.sin(node.args[0]), f"the pole of {node}", False)
            elif isinstance(node, (sympy.asin, sympy.acos, sympy.atanh)):
                add(node.args[0] - 1, f"the end of the domain of {node}", False)
                add(node.args[0] + 1, f"the end of the domain of {node}", False)
            elif isinstance(node, (sympy.Abs, sympy.sign, sympy.Heaviside)):
                add(node.args[0], f"the kink of {node}", True)
            elif isinstance(node, (sympy.Max, sympy.Min)):
                args = node.args
                for a in range(len(args)):
                    for b in range(a + 1, len(args)):
                        add(args[a] - args[b], f"the kink of {node}", True)
            elif isinstance(node, sympy.Piecewise):
                for _, condition in node.args:
                    for rel in condition.atoms(sympy.core.relational.Relational):
                        add(rel.lhs - rel.rhs, f"a boundary of {node.func.__name__}", True)
            if len(found) >= 4 * MAX_CRITICAL_EXPRESSIONS:
                break
    return [(g, what, kink) for g, (what, kink) in list(found.items())[:MAX_CRITICAL_EXPRESSIONS]]


def _vectorised(fn: Callable[..., Any], v: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        try:
            out = np.asarray(fn(*v.T))
        except (ValueError, TypeError, ZeroDivisionError, OverflowError):
            return np.full(v.shape[0], np.nan)
    if np.iscomplexobj(out):
        out = np.where(out.imag == 0, out.real, np.nan)
    return np.broadcast_to(out.astype(np.float64), (v.shape[0],))


def roots_along(fn: Callable[..., Any], start: np.ndarray, j: int, low: float, high: float) -> list[float]:
    """Zeros of fn along entry j (others fixed at start), nearest to start first."""
    grid = np.linspace(low, high, SCAN_POINTS)
    rows = np.repeat(start[None, :], SCAN_POINTS, axis=0)
    rows[:, j] = grid
    g = _vectorised(fn, rows)
    roots = list(grid[g == 0])
    sign = np.sign(g)
    brackets = np.flatnonzero((sign[:-1] * sign[1:] < 0) & np.isfinite(g[:-1]) & np.isfinite(g[1:]))
    lo, hi = grid[brackets], grid[brackets + 1]
    g_lo = g[brackets]
    for _ in range(64):  # bisection, all brackets at once
        mid = 0.5 * (lo + hi)
        probe = np.repeat(start[None, :], len(mid), axis=0)
        probe[:, j] = mid
        g_mid = _vectorised(fn, probe) if len(mid) else np.empty(0)
        left = np.sign(g_mid) == np.sign(g_lo)
        lo, g_lo = np.where(left, mid, lo), np.where(left, g_mid, g_lo)
        hi = np.where(left, hi, mid)
    roots += list(0.5 * (lo + hi))
    return sorted(roots, key=lambda r: abs(r - start[j]))[:4]


def kink_functions(symbols: Sequence[sympy.Symbol], criticals: Sequence[tuple[sympy.Expr, str, bool]]) -> list:
    """(g, ∇g) lambdified for every non-smooth argument."""
    out = []
    for g, what, kink in criticals:
        if kink:
            grad = [sympy.diff(g, s) for s in symbols]
            out.append((sympy.lambdify(symbols, g, "numpy"), sympy.lambdify(symbols, grad, "numpy"), what))
    return out


def kink_directions(kinks: list, v: np.ndarray, threshold: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """For rows on a kink: a unit direction across it (sum of the unit normals of
    the arguments that vanish there), else zeros; and what each kink is."""
    directions = np.zeros_like(v)
    what = [""] * v.shape[0]
    for fn, grad_fn, label in kinks:
        g = _vectorised(fn, v)
        on = np.flatnonzero(np.abs(g) <= threshold)
        if not on.size:
            continue
        with np.errstate(all="ignore"):
            grads = np.stack([np.broadcast_to(np.asarray(c, dtype=np.float64), (len(on),))
                              for c in grad_fn(*v[on].T)], axis=1)
            norms = np.linalg.norm(grads, axis=1, keepdims=True)
            unit = np.where(norms > 0, grads / np.where(norms > 0, norms, 1.0), 0.0)
        directions[on] += np.nan_to_num(unit)
        for r in on:
            what[r] = label if not what[r] else what[r] + "; " + label
    return directions, what


def kink_threshold(v: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """How close to a kink a row counts as on it: rounding to the dtype (and a
    rule's own rounding of the kink's argument) may put it on either side."""
    scale = 1.0 + np.max(np.abs(v), axis=1)
    return np.maximum(KINK_RELATIVE, KINK_ROUNDINGS * float(np.finfo(dtype).eps)) * scale * scale


def special_points(
    symbols: Sequence[sympy.Symbol],
    names: Sequence[str],
    boxes: np.ndarray,
    domains: np.ndarray,
    exprs: Sequence[sympy.Expr],
    draw_row: Callable[[], tuple[np.ndarray, tuple[int, ...]]],
    rng: np.random.Generator,
    dtype: np.dtype,
) -> tuple[list[Point], list[tuple[sympy.Expr, str, bool]]]:
    """Special points (at most MAX_SPECIAL_ROWS) and the critical expressions found.

    ``boxes``/``domains``: (n, 2) sampling ranges and domains per symbol;
    ``names``: printable name per symbol; ``draw_row()``: a random row and labels.
    """
    n = len(symbols)
    per_value: dict[str, list[Point]] = {}
    single: list[Point] = []
    for j in range(n):
        for value, label in special_values(float(domains[j, 0]), float(domains[j, 1]), dtype):
            row, labs = draw_row()
            row[j] = value
            single.append(Point(row, labs, f"{names[j]} = {label}"))
            if "tiny" not in label:  # every entry tiny: sums of squares underflow, not a rule's fault
                per_value.setdefault(label, []).append(Point(row, labs, ""))
    everywhere = []
    for label, points in per_value.items():
        if len(points) == n:  # the value is inside every entry's domain
            row, labs = draw_row()
            for j, p in enumerate(points):
                row[j] = p.values[j]
            everywhere.append(Point(row, labs, f"every entry = {label}"))
    criticals = critical_expressions(exprs)
    near: list[Point] = []
    for g, what, kink in criticals:
        fn = sympy.lambdify(symbols, g, "numpy")
        involved = [j for j, s in enumerate(symbols) if s in g.free_symbols]
        for _ in range(2):
            start, labs = draw_row()
            for j in rng.permutation(involved)[:2]:
                for root in roots_along(fn, start, int(j), float(boxes[j, 0]), float(boxes[j, 1]))[:2]:
                    near += _around_zero(start, labs, int(j), float(root), what, kink, domains)
    ordered = near + everywhere + single
    if len(ordered) > MAX_SPECIAL_ROWS:
        keep = np.sort(rng.choice(len(ordered), MAX_SPECIAL_ROWS, replace=False))
        ordered = [ordered[i] for i in keep]
    return ordered, criticals


def _around_zero(start, labs, j, root, what, kink, domains) -> list[Point]:
    points = []
    scale = max(1.0, abs(root))
    offsets = [(sign * off, f"within {off:g} of {what}") for off in ZERO_OFFSETS for sign in (1.0, -1.0)]
    if kink:
        offsets.append((0.0, f"on {what}"))
    for offset, label in offsets:
        value = root + offset * scale
        if domains[j, 0] <= value <= domains[j, 1]:
            row = start.copy()
            row[j] = value
            points.append(Point(row, labs, label))
    return points
