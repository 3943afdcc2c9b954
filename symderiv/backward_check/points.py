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
# Points of every critical expression always tried: on its first zero found
# (kinks) and ±1e-6, ±1e-3 of it.
FIRST_ROUND = 5


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
        for value, label in large_magnitudes(dtype):
            if math.isinf(high):
                candidates.append((value, label))
            if math.isinf(low):
                candidates.append((-value, "-" + label))
    return [(v, label) for v, label in candidates if low <= v <= high]


def large_magnitudes(dtype: np.dtype) -> list[tuple[float, str]]:
    """Magnitudes beyond the random box of an unbounded domain, in the order
    they are tried: the exp overflow threshold, then 2, 3, 5, 10, 20, 30, 50,
    ... up to 1000 (where rules switch branches: PyTorch's softplus at 20),
    then every power of ten up to 1e30 and every tenth one beyond."""
    big = float(np.finfo(dtype).max)
    overflow = math.log(big)
    out = [(overflow * 0.99, "just below the exp overflow threshold"),
           (overflow * 1.01, "just above the exp overflow threshold")]
    out += [(float(m * 10**k), f"{m * 10**k:g}") for k in range(0, 3) for m in (2, 3, 5, 10)]
    top = int(math.log10(big))
    out += [(10.0**k, f"1e{k}") for k in range(4, min(top, 30) + 1)]
    out += [(10.0**k, f"1e{k}") for k in range(40, top + 1, 10)]
    if top % 10:
        out.append((10.0**top, f"1e{top}"))
    return [(v, label) for v, label in out if v < big]


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
        except Exception:  # noqa: BLE001 - undefined here, or a function numpy lacks: no zero found
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


def kink_directions(kinks: list, v: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows on a kink, where the non-smooth argument g is within rounding of
    zero: |g| <= max(1e-12, 8u) (1 + Σ_j |∂g/∂x_j| |x_j|), the scale being how
    far rounding the entries g involves moves g (not the row's largest entry:
    x1 = 1e300 does not put relu(x0) at x0 = 5 on its kink). Returns, per row,
    a unit direction across the kinks it is on (sum of the unit normals;
    zeros off kinks), the probe step across them, and what each kink is."""
    directions = np.zeros_like(v)
    steps = np.zeros(v.shape[0])
    what = [""] * v.shape[0]
    relative = max(KINK_RELATIVE, KINK_ROUNDINGS * float(np.finfo(dtype).eps))
    for fn, grad_fn, label in kinks:
        g = _vectorised(fn, v)
        with np.errstate(all="ignore"):
            grads = np.stack([np.broadcast_to(np.asarray(c, dtype=np.float64), (v.shape[0],))
                              for c in grad_fn(*v.T)], axis=1)
            threshold = relative * (1.0 + np.sum(np.abs(grads * v), axis=1))
            on = np.flatnonzero(np.isfinite(g) & np.isfinite(threshold) & (np.abs(g) <= threshold))
        if not on.size:
            continue
        with np.errstate(all="ignore"):
            norms = np.linalg.norm(grads[on], axis=1, keepdims=True)
            unit = np.where(norms > 0, grads[on] / np.where(norms > 0, norms, 1.0), 0.0)
            # far enough that g leaves its rounding band, and at least 1e-7
            # relative to the entries the kink involves
            step = np.maximum(256 * threshold[on] / np.where(norms[:, 0] > 0, norms[:, 0], 1.0),
                              1e-7 * (1.0 + np.sum(np.abs(unit * v[on]), axis=1)))
        directions[on] += np.nan_to_num(unit)
        steps[on] = np.maximum(steps[on], np.nan_to_num(step, posinf=0.0))
        for r in on:
            what[r] = label if not what[r] else what[r] + "; " + label
    return directions, steps, what


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
    """Special points and the critical expressions found.

    The points come in a fixed order of priority, never sampled: 0 and ±tiny
    of every entry, and the first zero of every critical expression (on it
    for a kink, then ±1e-6 and ±1e-3 of it) are always tried; then, up to
    MAX_SPECIAL_ROWS in all, the other zeros of the critical expressions,
    taken in turn; ±1, ±1e-3, ±1e-8 and the ends of the domain; the large
    magnitudes, smallest first. Values shared by every entry follow each
    group.

    ``boxes``/``domains``: (n, 2) sampling ranges and domains per symbol;
    ``names``: printable name per symbol; ``draw_row()``: a random row and labels.
    """
    n = len(symbols)
    values = [special_values(float(domains[j, 0]), float(domains[j, 1]), dtype) for j in range(n)]
    first = {"0", "+tiny", "-tiny"}
    magnitude = {label for value, label in values[0] if abs(value) > 1 and "domain" not in label} if n else set()
    for per_entry in values[1:]:
        magnitude |= {label for value, label in per_entry if abs(value) > 1 and "domain" not in label}
    tiers = [
        _value_points(values, names, draw_row, lambda label: label in first),
        _critical_points(symbols, boxes, domains, exprs, draw_row, rng),
        _value_points(values, names, draw_row, lambda label: label not in first and label not in magnitude),
        _value_points(values, names, draw_row, lambda label: label in magnitude),
    ]
    (first_round, later_rounds), criticals = tiers[1]
    # 0 and ±tiny of every entry and the first zero of every critical
    # expression are always tried, even past MAX_SPECIAL_ROWS (64 entries
    # alone fill it with 0 and ±tiny); the rest fills what is left
    always = tiers[0] + first_round
    rest = later_rounds + tiers[2] + tiers[3]
    return always + rest[:max(0, MAX_SPECIAL_ROWS - len(always))], criticals


def _value_points(values, names, draw_row, wanted) -> list[Point]:
    """For each special value (in order) wanted: that value in each entry
    alone, then in every entry at once (not ±tiny: sums of squares underflow)."""
    labels: list[str] = []
    for per_entry in values:
        labels += [label for _, label in per_entry if wanted(label) and label not in labels]
    points: list[Point] = []
    for label in labels:
        together, together_labs = draw_row()
        everywhere = True
        for j, per_entry in enumerate(values):
            value = next((v for v, lab in per_entry if lab == label), None)
            if value is None:
                everywhere = False
                continue
            row, labs = draw_row()
            row[j] = value
            together[j] = value
            points.append(Point(row, labs, f"{names[j]} = {label}"))
        if everywhere and len(values) > 1 and "tiny" not in label:
            points.append(Point(together, together_labs, f"every entry = {label}"))
    return points


def _critical_points(symbols, boxes, domains, exprs, draw_row, rng) -> tuple[tuple[list[Point], list[Point]], list]:
    """Points at and around the zeros of every critical expression: the first
    round (FIRST_ROUND points of each expression), then the others, the
    critical expressions taken in turn. Zeros are searched along every entry
    involved, from the centre of the sampling box and from two random rows."""
    criticals = critical_expressions(exprs)
    per_critical: list[list[Point]] = []
    for g, what, kink in criticals:
        fn = sympy.lambdify(symbols, g, "numpy")
        involved = [j for j, s in enumerate(symbols) if s in g.free_symbols]
        found: list[Point] = []
        for attempt in range(3):
            start, labs = draw_row()
            if attempt == 0:
                centre = np.where((boxes[:, 0] <= 0) & (0 <= boxes[:, 1]), 0.0, 0.5 * (boxes[:, 0] + boxes[:, 1]))
                start = np.where(np.isin(np.arange(start.shape[0]), involved), centre, start)
                entries = involved[:4]
            else:
                entries = [int(j) for j in rng.permutation(involved)[:4]]
            for j in entries:
                for root in roots_along(fn, start, int(j), float(boxes[j, 0]), float(boxes[j, 1]))[:2]:
                    found += _around_zero(start, labs, int(j), float(root), what, kink, domains)
        per_critical.append(found)
    first_round = [p for points in per_critical for p in points[:FIRST_ROUND]]
    later = [points[FIRST_ROUND:] for points in per_critical]
    later_rounds: list[Point] = []
    for rank in range(max((len(p) for p in later), default=0)):
        later_rounds += [points[rank] for points in later if rank < len(points)]
    return (first_round, later_rounds), criticals


def _around_zero(start, labs, j, root, what, kink, domains) -> list[Point]:
    points = []
    scale = max(1.0, abs(root))
    offsets = [(0.0, f"on {what}")] if kink else []
    offsets += [(sign * off, f"within {off:g} of {what}") for off in sorted(ZERO_OFFSETS) for sign in (1.0, -1.0)]
    for offset, label in offsets:
        value = root + offset * scale
        if domains[j, 0] <= value <= domains[j, 1]:
            row = start.copy()
            row[j] = value
            points.append(Point(row, labs, label))
    return points
