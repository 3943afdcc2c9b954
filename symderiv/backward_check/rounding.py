"""How much floating-point evaluation of an expression, as written, can lose.

Contract: :func:`rounding_model` compiles SymPy expressions (the forward and
its derivatives) into a vectorised numpy program that returns, for every
expression and every row, a *rounding bound* E: evaluated in any binary
floating-point format with unit roundoff u, each operation correctly rounded
(and each library function within an ulp or so), the result is off by at
most about u·E (first-order running error analysis, as in Higham, *Accuracy
and Stability of Numerical Algorithms*, §3.3). The inputs (the symbols) are
taken as exact: the check hands the rule the very numbers the reference uses.

The bound follows the expression tree, bottom up (a, b: arguments; E_a their
bounds; |·| elementwise):

================  ==========================================================
node              E
================  ==========================================================
symbol, integer   0 (exact)
other constants   |c| (rounded once)
a + b (+ ...)     E_a + E_b + |a + b|   (+ Σ|args| for 3 or more: the
                  partial sums are rounded too)
a · b (· ...)     E_a |b| + E_b |a| + (k − 1) |a b|
f(a, ...)         Σ_i |∂f/∂a_i| E_i + |f(a, ...)|   (exp, log, sin, powers,
                  erf, polygamma, ...: the condition of f, then one rounding)
|a|, Max, Min     E of the argument(s) (no rounding)
Piecewise, other  |value| + the largest E of its branches
================  ==========================================================

E is large relative to |value| exactly where the expression *as written*
cancels: ``exp(x)/(1 + exp(x)) − 1`` at x = 30 has E ≈ 3 next to a value of
1e-13; ``log(1 + exp(x))`` at x = −30 has E ≈ 2 next to 9e-14. The check
uses it twice: a row whose float64 reference may have lost digits that
matter is settled in high precision (:mod:`~.reference`), and a rule that
computes the derivative the way the forward's derivative is written (PyTorch's
cross-entropy ``p − onehot``) is allowed that rounding (:mod:`~.tolerance`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import sympy


@dataclass(frozen=True)
class _Step:
    op: str
    args: tuple[int, ...]
    data: Any = None


@dataclass(frozen=True)
class RoundingModel:
    """A compiled program: ``bounds(v)`` -> (batch, len(roots)) values of E."""

    steps: tuple[_Step, ...]
    roots: tuple[int, ...]

    def bounds(self, v: np.ndarray) -> np.ndarray:
        batch = v.shape[0]
        values: list[np.ndarray] = []
        errors: list[np.ndarray] = []
        with np.errstate(all="ignore"):
            for step in self.steps:
                value, error = _run_step(step, v, values, errors, batch)
                values.append(value)
                errors.append(error)
            out = np.stack([np.broadcast_to(errors[r], (batch,)) for r in self.roots], axis=1) if self.roots else np.zeros((batch, 0))
        return np.where(np.isnan(out), np.inf, out)


def numeric_modules() -> list[str]:
    try:
        import scipy.special  # noqa: F401
    except ImportError:  # pragma: no cover - scipy is optional
        return ["numpy"]
    return ["scipy", "numpy"]


@functools.lru_cache(maxsize=256)
def _function_kernels(func: Any, pattern: tuple) -> tuple[Callable, tuple[Callable, ...]] | None:
    """f and its partial derivatives, lambdified over the symbolic arguments
    (numeric arguments such as the order of polygamma stay literal)."""
    dummies = [sympy.Dummy(f"a{i}") for i, fixed in enumerate(pattern) if fixed is None]
    it = iter(dummies)
    args = [fixed if fixed is not None else next(it) for fixed in pattern]
    try:
        expr = func(*args)
        grads = [sympy.diff(expr, d) for d in dummies]
        if any(g.has(sympy.Derivative) for g in grads):
            return None
        f = sympy.lambdify(dummies, expr, modules=numeric_modules())
        df = tuple(sympy.lambdify(dummies, g, modules=numeric_modules()) for g in grads)
    except Exception:  # noqa: BLE001 - no numeric rule: the node is treated as opaque
        return None
    return f, df


def _power_of_two(value: sympy.Expr) -> bool:
    if not isinstance(value, sympy.Rational) or value == 0:
        return False
    p, q = abs(int(value.p)), int(value.q)
    return p & (p - 1) == 0 and q & (q - 1) == 0


def _exact_constant(value: sympy.Expr) -> bool:
    if isinstance(value, (sympy.Integer, sympy.Float)):
        return True
    if isinstance(value, sympy.Rational):
        q = int(value.q)
        return q & (q - 1) == 0  # a power of two in the denominator: exact in binary
    return False


def rounding_model(exprs: Sequence[sympy.Expr], symbols: Sequence[sympy.Symbol]) -> RoundingModel:
    """Compile the rounding bounds of ``exprs`` (functions of ``symbols``)."""
    index_of_symbol = {s: j for j, s in enumerate(symbols)}
    steps: list[_Step] = []
    memo: dict[sympy.Basic, int] = {}

    def emit(step: _Step) -> int:
        steps.append(step)
        return len(steps) - 1

    def visit(node: sympy.Basic) -> int:
        # iterative post-order (deep expressions must not hit the recursion limit)
        stack = [(node, False)]
        while stack:
            current, expanded = stack.pop()
            if current in memo:
                continue
            children = _children(current)
            if not expanded and children:
                stack.append((current, True))
                stack.extend((c, False) for c in children if c not in memo)
                continue
            memo[current] = emit(_compile(current, [memo[c] for c in children], index_of_symbol, symbols))
        return memo[node]

    roots = tuple(visit(sympy.sympify(e)) for e in exprs)
    return RoundingModel(tuple(steps), roots)


def _children(node: sympy.Basic) -> list[sympy.Basic]:
    if isinstance(node, (sympy.Add, sympy.Mul, sympy.Max, sympy.Min, sympy.Abs)):
        return list(node.args)
    if isinstance(node, sympy.Pow):
        return [node.base] if node.exp.is_number else [node.base, node.exp]
    if isinstance(node, sympy.Piecewise):
        return [expr for expr, _ in node.args]
    if isinstance(node, sympy.Function) and node.free_symbols:
        return [a for a in node.args if not a.is_number]
    return []


def _compile(node: sympy.Basic, args: list[int], index_of_symbol: dict, symbols: Sequence[sympy.Symbol]) -> _Step:
    if node in index_of_symbol:
        return _Step("symbol", (), index_of_symbol[node])
    if not node.free_symbols:
        value = float(node) if node.is_real is not False else float("nan")
        return _Step("constant", (), (value, 0.0 if _exact_constant(node) else abs(value)))
    if isinstance(node, sympy.Add):
        return _Step("add", tuple(args))
    if isinstance(node, sympy.Mul):
        # a factor ±2^k (-1, 1/2, 2) multiplies exactly: no rounding of its own
        exact = sum(1 for a in node.args if a.is_number and _power_of_two(a))
        return _Step("mul", tuple(args), exact)
    if isinstance(node, sympy.Abs):
        return _Step("abs", tuple(args))
    if isinstance(node, (sympy.Max, sympy.Min)):
        return _Step("max" if isinstance(node, sympy.Max) else "min", tuple(args))
    if isinstance(node, (sympy.sign, sympy.Heaviside)):
        return _Step("flat", (), _whole(node, symbols))
    if isinstance(node, sympy.Piecewise):
        conditions = []
        for _, condition in node.args:
            try:
                conditions.append(sympy.lambdify(list(symbols), condition, modules=numeric_modules()))
            except Exception:  # noqa: BLE001 - no printer for the condition: bound unknown
                return _Step("opaque", (), (None, 1.0))
        return _Step("piecewise", tuple(args), tuple(conditions))
    if isinstance(node, sympy.Pow) and node.exp.is_number:
        return _Step("pow", tuple(args), float(node.exp))
    if isinstance(node, sympy.Pow):
        kernels = _function_kernels(sympy.Pow, (None, None))
        return _Step("function", tuple(args), kernels)
    if isinstance(node, sympy.Function):
        pattern = tuple(a if a.is_number else None for a in node.args)
        kernels = _function_kernels(node.func, pattern)
        if kernels is not None:
            return _Step("function", tuple(args), kernels)
    return _Step("opaque", tuple(args), (_whole(node, symbols), 1.0))


def _whole(node: sympy.Basic, symbols: Sequence[sympy.Symbol]) -> Callable | None:
    try:
        return sympy.lambdify(list(symbols), node, modules=numeric_modules())
    except Exception:  # noqa: BLE001 - no printer: the bound is unknown (inf)
        return None


def _real(value: Any, batch: int) -> np.ndarray:
    out = np.asarray(value)
    if np.iscomplexobj(out):
        out = np.where(out.imag == 0, out.real, np.nan)
    return np.broadcast_to(out.astype(np.float64), (batch,)) if out.ndim == 0 else out.astype(np.float64)


def _run_step(step: _Step, v: np.ndarray, values: list, errors: list, batch: int) -> tuple[np.ndarray, np.ndarray]:
    a = [values[i] for i in step.args]
    e = [errors[i] for i in step.args]
    if step.op == "symbol":
        return v[:, step.data], np.zeros(batch)
    if step.op == "constant":
        value, error = step.data
        return np.full(batch, value), np.full(batch, error)
    if step.op == "add":
        value = functools.reduce(np.add, a)
        error = functools.reduce(np.add, e) + np.abs(value)
        if len(a) > 2:
            error = error + functools.reduce(np.add, [np.abs(x) for x in a])
        return value, error
    if step.op == "mul":
        magnitudes = [np.abs(x) for x in a]
        value = functools.reduce(np.multiply, a)
        error = max(0, len(a) - 1 - step.data) * np.abs(value)
        for i, ei in enumerate(e):
            others = [magnitudes[j] for j in range(len(a)) if j != i]
            error = error + np.where(ei == 0, 0.0, ei * functools.reduce(np.multiply, others, np.ones(batch)))
        return value, error
    if step.op == "pow":
        p = step.data
        value = _power(a[0], p)
        slope = np.abs(p * _power(a[0], p - 1.0))
        error = np.where(e[0] == 0, 0.0, slope * e[0]) + np.abs(value)
        return value, error
    if step.op == "abs":
        return np.abs(a[0]), e[0]
    if step.op in ("max", "min"):
        reduce = np.maximum if step.op == "max" else np.minimum
        return functools.reduce(reduce, a), functools.reduce(np.fmax, e)
    if step.op == "function":
        f, df = step.data
        value = _real(f(*a), batch)
        error = np.abs(value)
        for g, ei in zip(df, e):
            error = error + np.where(ei == 0, 0.0, np.abs(_real(g(*a), batch)) * ei)
        return value, error
    if step.op == "piecewise":  # the branch taken: its value and its bound
        taken = np.zeros(batch, dtype=bool)
        value, error = np.full(batch, np.nan), np.full(batch, np.inf)
        for condition, branch_value, branch_error in zip(step.data, a, e):
            try:
                holds = np.broadcast_to(np.asarray(condition(*v.T), dtype=bool), (batch,))
            except Exception:  # noqa: BLE001
                return np.full(batch, np.nan), np.full(batch, np.inf)
            pick = holds & ~taken
            value = np.where(pick, branch_value, value)
            error = np.where(pick, branch_error, error)
            taken |= holds
        return value, error
    if step.op == "flat":  # sign, Heaviside: piecewise constant, exact away from 0
        value = _evaluate_whole(step.data, v, batch)
        return value, np.zeros(batch)
    # opaque: evaluate the whole node from the symbols
    whole, weight = step.data
    if whole is None:
        return np.full(batch, np.nan), np.full(batch, np.inf)
    value = _evaluate_whole(whole, v, batch)
    branches = functools.reduce(np.fmax, e, np.zeros(batch))
    return value, weight * np.abs(value) + branches


def _evaluate_whole(whole: Callable | None, v: np.ndarray, batch: int) -> np.ndarray:
    if whole is None:
        return np.full(batch, np.nan)
    try:
        return _real(whole(*v.T), batch)
    except Exception:  # noqa: BLE001 - undefined here: NaN, and the bound is unknown
        return np.full(batch, np.nan)


def _power(base: np.ndarray, p: float) -> np.ndarray:
    if p == int(p):
        return np.power(base, int(p)) if p >= 0 else 1.0 / np.power(base, -int(p))
    return np.power(base, p)
