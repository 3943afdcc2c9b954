"""The rounding model: how far a float evaluation may be from the exact value.

Contract. Every quantity q that symderiv computes in float64 gets a *rounding
scale* M with |computed − exact| ≲ eps·M (first order in eps); comparisons
allow ``ULPS·eps·M`` (:func:`symderiv.numeric.tolerance`). M is derived from
the computation *as it is evaluated* — the tree a lambdified SymPy expression
evaluates, or the nodes of an engine graph — never from a simplified form
(1 − sec²x and −tan²x are equal, but the first loses every digit near 0):

* order 0, :func:`scale_of` — walking an expression tree with the classical
  rules m(a + b) = m(a) + m(b), m(a·b) = m(a)·|b| + |a|·m(b),
  m(f(a)) = |f(a)| + |f'(a)|·m(a), m(leaf) = |leaf|, so cancellation anywhere
  inside widens the tolerance exactly where digits are lost;
* orders 1 and 2, :class:`Jet` — a quantity together with its first and
  second derivative along x, each with its own scale, propagated node by node
  (:func:`jet_of` for a tree of primitive ops, as the engine's fine-grained
  graph runs it; :func:`node_jet` for a node that evaluates a SymPy
  expression and its SymPy partials, as the engine's function nodes do). The
  products summed by reverse mode are the same as those summed here, so the
  scale bounds the engine's first derivative and Hessian-vector product too.

A local derivative's own scale comes from the formula that is evaluated for
it (the engine's tanh' is 1 − tanh², :mod:`symderiv.numeric.elementary`), with its
argument's scale propagated. Every function the expression parser accepts has
a rule (a test enumerates :data:`symderiv.numeric.elementary.ELEMENTARY`); nodes with
no rule (Max, Heaviside from the engine's op checks) count as exact leaves,
and :func:`has_rule` says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np

from symderiv.numeric.elementary import by_sympy_class

if TYPE_CHECKING:
    import sympy

TINY = np.finfo(np.float64).tiny


# ----------------------------------------------------------------- order 0


def has_rule(node: "sympy.Basic") -> bool:
    """Whether the rounding model knows how ``node``'s evaluation rounds."""
    import sympy as sp

    return (
        isinstance(node, (sp.Add, sp.Mul, sp.Pow, sp.Symbol))
        or node.is_Number
        or node in (sp.pi, sp.E)
        or type(node) in by_sympy_class()
    )


@lru_cache(maxsize=None)
def _derivative_values(function_class: type) -> tuple[Callable, ...]:
    """numpy (f, f', f'', f''') of one elementary SymPy class, exact formulas."""
    import sympy as sp

    from symderiv.numeric.evaluate import lambdify_vectorised

    t = sp.Symbol("t")
    f = function_class(t)
    return tuple(lambdify_vectorised(sp.diff(f, t, k), [t]) for k in range(4))


@lru_cache(maxsize=None)
def _derivative_values_mpmath(function_class: type) -> tuple[Callable, Callable]:
    """mpmath (f, f') of one elementary SymPy class, exact formulas."""
    import sympy as sp

    t = sp.Symbol("t")
    f = function_class(t)
    return tuple(sp.lambdify([t], sp.diff(f, t, k), modules="mpmath") for k in range(2))


@lru_cache(maxsize=None)
def _evaluated_derivatives(function_class: type) -> tuple:
    """(t, f', f'', f''') with the derivatives in the form they are evaluated."""
    import sympy as sp

    t = sp.Symbol("t")
    return (t, *by_sympy_class()[function_class].derivatives(t))


class Walk:
    """The order-0 model compiled once: the nodes of one or more expressions in
    one post-order (a subexpression shared by several is walked once; the walk
    is iterative, so deep trees cannot hit the recursion limit). Each step is
    a symbol (its value and own scale are given), a constant (rounded once), a
    leaf (a node with no rule: its value, lambdified with ``modules``, counts
    as exact) or a node combined from its children by the classical rules.
    Two evaluators run the same steps: :meth:`numpy` over arrays of any shape
    (vectorised), :meth:`mpmath` at one point in arbitrary precision (where
    float64 overflows in the expression as written: ``exp(1000)/Σ exp``)."""

    def __init__(self, exprs: Sequence["sympy.Expr"], symbols: Sequence["sympy.Symbol"], modules: object = None) -> None:
        import sympy as sp

        self._symbols = list(symbols)
        self._modules = modules
        index = {s: j for j, s in enumerate(symbols)}
        self._steps: list[tuple] = []  # (kind, data, child positions)
        position: dict = {}
        for expr in exprs:
            stack = [(sp.sympify(expr), False)]
            while stack:
                node, ready = stack.pop()
                if node in position:
                    continue
                if node in index:
                    step: tuple = ("symbol", index[node], ())
                elif node.is_Number or node.is_NumberSymbol or not (node.free_symbols or has_rule(node)):
                    # a number is rounded once; a constant expression is walked like any other
                    step = ("constant", node, ())
                elif not has_rule(node):
                    step = ("leaf", node, ())
                elif not ready:
                    stack.append((node, True))
                    stack.extend((c, False) for c in node.args if c not in position)
                    continue
                else:
                    step = ("combine", node, tuple(position[c] for c in node.args))
                position[node] = len(self._steps)
                self._steps.append(step)
        self._roots = [position[sp.sympify(e)] for e in exprs]
        self._leaves_numpy: dict[int, Callable | None] = {}
        self._leaves_mpmath: dict[int, Callable | None] = {}

    @property
    def roots(self) -> list[int]:
        return self._roots

    def numpy(self, values: Sequence[np.ndarray], scales: Sequence[np.ndarray], shape: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(value, scale) of every root, as float64 arrays of ``shape``, at the
        symbols' ``values`` with their own ``scales`` (each broadcastable to shape)."""

        memo: list[tuple[np.ndarray, np.ndarray]] = []
        with np.errstate(all="ignore"):
            for position, (kind, data, children) in enumerate(self._steps):
                if kind == "symbol":
                    memo.append((np.broadcast_to(values[data], shape), np.broadcast_to(scales[data], shape)))
                elif kind == "constant":
                    v = np.full(shape, float(data)) if data.is_extended_real is not False else np.full(shape, np.nan)
                    memo.append((v, np.abs(v)))
                elif kind == "leaf":
                    v = self._leaf_numpy(position, data, values, shape)
                    memo.append((v, np.abs(v)))
                else:
                    v, m = _combine(_NUMPY, data, [memo[c] for c in children])
                    memo.append((np.broadcast_to(v, shape), np.broadcast_to(m, shape)))
        return [(np.asarray(memo[r][0], dtype=np.float64), np.asarray(memo[r][1], dtype=np.float64)) for r in self._roots]

    def mpmath(self, values: Sequence[float], scales: Sequence[float], digits: int = 30) -> list[tuple[float, float]]:
        """(value, scale) of every root at one point, evaluated in mpmath (no
        overflow: the exponent range is unbounded) and rounded to float64 at
        the end (beyond its range: inf; where undefined: NaN)."""
        import mpmath

        memo: list = []
        with mpmath.workdps(digits):
            point = [mpmath.mpf(float(v)) for v in values]
            own = [mpmath.mpf(float(s)) for s in scales]
            for position, (kind, data, children) in enumerate(self._steps):
                if kind == "symbol":
                    memo.append((point[data], own[data]))
                elif kind == "constant":
                    v = _mp_real(lambda: mpmath.mpf(data.evalf(digits)) if data.is_extended_real is not False else None)
                    memo.append((v, abs(v)))
                elif kind == "leaf":
                    v = self._leaf_mpmath(position, data, point)
                    memo.append((v, abs(v)))
                else:
                    memo.append(_combine_mpmath(data, [memo[c] for c in children]))
            return [(float(memo[r][0]), float(memo[r][1])) for r in self._roots]

    def _leaf_numpy(self, position: int, node, values: Sequence[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        if position not in self._leaves_numpy:
            self._leaves_numpy[position] = _leaf_function(node, self._symbols, self._modules)
        return _call_leaf(self._leaves_numpy[position], values, shape)

    def _leaf_mpmath(self, position: int, node, point: list):
        if position not in self._leaves_mpmath:
            self._leaves_mpmath[position] = _leaf_function(node, self._symbols, "mpmath")
        function = self._leaves_mpmath[position]
        return _mp_real(lambda: function(*point) if function is not None else None)


class _NumpyOps:
    """The elementwise operations of the numpy evaluator."""

    abs = staticmethod(np.abs)
    power = staticmethod(np.power)
    log = staticmethod(np.log)

    @staticmethod
    def derivatives(function_class: type) -> tuple[Callable, Callable]:
        return _derivative_values(function_class)[:2]


class _MpmathOps:
    """The same operations on mpmath numbers (a complex result is undefined: NaN)."""

    abs = staticmethod(abs)

    @staticmethod
    def power(a, p):
        import mpmath

        return _mp_real(lambda: mpmath.power(a, p))

    @staticmethod
    def log(a):
        import mpmath

        return _mp_real(lambda: mpmath.log(a))

    @staticmethod
    def derivatives(function_class: type) -> tuple[Callable, Callable]:
        return tuple(lambda a, f=f: _mp_real(lambda: f(a)) for f in _derivative_values_mpmath(function_class))


_NUMPY = _NumpyOps()
_MPMATH = _MpmathOps()


def _mp_real(compute: Callable):
    """An mpmath computation's real value; NaN where it fails or is complex."""
    import mpmath

    try:
        value = compute()
    except (ValueError, ZeroDivisionError, TypeError, OverflowError):
        return mpmath.mpf("nan")
    if value is None:
        return mpmath.mpf("nan")
    if isinstance(value, mpmath.mpc):
        return value.real if value.imag == 0 else mpmath.mpf("nan")
    return mpmath.mpf(value)


def _combine_mpmath(node, children: list) -> tuple:
    return _combine(_MPMATH, node, children)


def _combine(ops, node, children: list[tuple]) -> tuple:
    """A node's (value, scale) from its children's, by the classical rules
    (``ops``: the numpy or the mpmath operations)."""
    import sympy as sp

    vals = [c[0] for c in children]
    mags = [c[1] for c in children]
    if isinstance(node, sp.Add):
        return sum(vals[1:], vals[0]), sum(mags[1:], mags[0])
    if isinstance(node, sp.Mul):
        v, m = vals[0], mags[0]
        for b, mb in zip(vals[1:], mags[1:]):
            v, m = v * b, m * ops.abs(b) + ops.abs(v) * mb
        return v, m
    if isinstance(node, sp.Pow):
        (a, p), (ma, mp) = vals, mags
        v = ops.power(a, p)
        m = ops.abs(v) + ops.abs(p * ops.power(a, p - 1)) * ma
        if not node.exp.is_Number:  # a**b, evaluated as exp(b·log a)
            m = m + ops.abs(v * ops.log(ops.abs(a))) * mp
        return v, m
    (a,), (ma,) = vals, mags
    f, d1 = ops.derivatives(type(node))
    v = f(a)
    return v, ops.abs(v) + ops.abs(d1(a)) * ma


@lru_cache(maxsize=1024)
def _walk_of(expr: "sympy.Expr", symbols: tuple) -> Walk:
    from symderiv.numeric.evaluate import _numpy_modules

    return Walk([expr], symbols, _numpy_modules())


def scale_of(
    expr: "sympy.Expr", point: Mapping["sympy.Symbol", tuple[np.ndarray, np.ndarray]], shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(value, rounding scale) of ``expr`` evaluated as a tree, each free symbol
    given as (value, scale)."""
    symbols = tuple(point)
    walk = _walk_of(expr, symbols)
    ((v, m),) = walk.numpy([point[s][0] for s in symbols], [point[s][1] for s in symbols], tuple(shape))
    return v, m


def rounding_scale(expr: "sympy.Expr", args: Sequence["sympy.Symbol"], values: Sequence[np.ndarray]) -> np.ndarray:
    """The order-0 scale of ``expr`` at exact inputs ``args = values``."""
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    point = {s: (a, np.abs(a)) for s, a in zip(args, arrays)}
    return scale_of(expr, point, shape)[1]


class CompiledScales:
    """:func:`scale_of` for many expressions at once over batches of points
    (one :class:`Walk` of all of them), and at single points in mpmath."""

    def __init__(self, exprs: Sequence["sympy.Expr"], symbols: Sequence["sympy.Symbol"], modules: object = "numpy") -> None:
        self._walk = Walk(exprs, symbols, modules)

    def __call__(self, values: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, scales), each (batch, len(exprs)), at ``values`` (batch, n)
        of the symbols whose own scales are ``scales`` (batch, n)."""
        batch = values.shape[0]
        if not self._walk.roots:
            return np.zeros((batch, 0)), np.zeros((batch, 0))
        roots = self._walk.numpy(list(values.T), list(scales.T), (batch,))
        return np.stack([v for v, _ in roots], axis=1), np.stack([m for _, m in roots], axis=1)

    def at_row_mpmath(self, values: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, scales), each (len(exprs),), at one row, evaluated in mpmath."""
        roots = self._walk.mpmath(values, scales)
        return np.array([v for v, _ in roots]), np.array([m for _, m in roots])


def _leaf_function(node: "sympy.Basic", symbols: list, modules: object) -> Callable | None:
    import sympy as sp

    from symderiv.numeric.evaluate import _float_safe

    try:
        return sp.lambdify(symbols, _float_safe(node), modules=modules)
    except Exception:  # noqa: BLE001 - no printer for it: its value (and scale) is unknown
        return None


def _call_leaf(function: Callable | None, values: Sequence[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    if function is None:
        return np.full(shape, np.nan)
    try:
        out = np.asarray(function(*values))
    except Exception:  # noqa: BLE001 - undefined here: unknown, NaN
        return np.full(shape, np.nan)
    if np.iscomplexobj(out):
        out = np.where(out.imag == 0, out.real, np.nan)
    return np.broadcast_to(out.astype(np.float64), shape)


# ----------------------------------------------------------------- jets


@dataclass(frozen=True)
class Jet:
    """q, dq/dx, d²q/dx² at each point, and the rounding scale of each as computed."""

    v0: np.ndarray
    v1: np.ndarray
    v2: np.ndarray
    m0: np.ndarray
    m1: np.ndarray
    m2: np.ndarray

    @staticmethod
    def variable(x: np.ndarray) -> "Jet":
        x = np.asarray(x, dtype=np.float64)
        zero = np.zeros_like(x)
        return Jet(x, np.ones_like(x), zero, np.abs(x), zero, zero)

    @staticmethod
    def constant(value: float, shape: tuple[int, ...]) -> "Jet":
        v = np.full(shape, float(value))
        zero = np.zeros(shape)
        return Jet(v, zero, zero, np.abs(v), zero, zero)


def _add(a: Jet, b: Jet) -> Jet:
    return Jet(a.v0 + b.v0, a.v1 + b.v1, a.v2 + b.v2, a.m0 + b.m0, a.m1 + b.m1, a.m2 + b.m2)


def _neg(a: Jet) -> Jet:
    return Jet(-a.v0, -a.v1, -a.v2, a.m0, a.m1, a.m2)


def _mul(a: Jet, b: Jet) -> Jet:
    """Leibniz on values, and the same on scales: each factor's error times the other's size."""
    A0, A1, A2, B0, B1, B2 = (np.abs(t) for t in (a.v0, a.v1, a.v2, b.v0, b.v1, b.v2))
    return Jet(
        a.v0 * b.v0,
        a.v1 * b.v0 + a.v0 * b.v1,
        a.v2 * b.v0 + 2 * a.v1 * b.v1 + a.v0 * b.v2,
        a.m0 * B0 + A0 * b.m0,
        a.m1 * B0 + A1 * b.m0 + a.m0 * B1 + A0 * b.m1,
        a.m2 * B0 + A2 * b.m0 + 2 * (a.m1 * B1 + A1 * b.m1) + a.m0 * B2 + A0 * b.m2,
    )


@dataclass(frozen=True)
class Local:
    """A node's local derivatives at the point: value and scale of F, F_i, F_ij."""

    value: tuple[np.ndarray, np.ndarray]
    first: list[tuple[np.ndarray, np.ndarray]]
    second: list[list[tuple[np.ndarray, np.ndarray]]]


def compose(local: Local, inputs: Sequence[Jet]) -> Jet:
    """The jet of F(a_1..a_k) from F's local derivatives and the inputs' jets
    (chain rule on values; its first-order error propagation on scales)."""
    k = len(inputs)
    v0, m0 = local.value
    v1 = m1 = v2 = m2 = 0.0
    for i, a in enumerate(inputs):
        fi, mfi = local.first[i]
        v1 = v1 + fi * a.v1
        m1 = m1 + mfi * np.abs(a.v1) + np.abs(fi) * a.m1
        v2 = v2 + fi * a.v2
        m2 = m2 + mfi * np.abs(a.v2) + np.abs(fi) * a.m2
        for j in range(k):
            b = inputs[j]
            fij, mfij = local.second[i][j]
            v2 = v2 + fij * a.v1 * b.v1
            m2 = m2 + mfij * np.abs(a.v1 * b.v1) + np.abs(fij) * (a.m1 * np.abs(b.v1) + np.abs(a.v1) * b.m1)
    shape = np.shape(v0)
    as_array = lambda t: np.broadcast_to(np.asarray(t, dtype=np.float64), shape)  # noqa: E731
    return Jet(v0, as_array(v1), as_array(v2), m0, as_array(m1), as_array(m2))


def _unary(function_class: type, a: Jet) -> Jet:
    """f(a) for an elementary function, its derivatives' scales from the forms evaluated."""
    t, *derivatives = _evaluated_derivatives(function_class)
    point = {t: (a.v0, a.m0)}
    shape = np.shape(a.v0)
    value = scale_of(function_class(t), point, shape)
    d1 = scale_of(derivatives[0], point, shape)
    d2 = scale_of(derivatives[1], point, shape)
    return compose(Local(value, [d1], [[d2]]), [a])


def _power(a: Jet, p: float) -> Jet:
    """a**p for a constant p (the engine's pow op, or sqrt for p = 1/2)."""
    import sympy as sp

    t = sp.Symbol("t")
    exponent = sp.nsimplify(p) if float(p).is_integer() or p == 0.5 else sp.Float(p)
    point = {t: (a.v0, a.m0)}
    shape = np.shape(a.v0)
    f = t**exponent
    parts = [scale_of(sp.diff(f, t, k), point, shape) for k in range(3)]
    return compose(Local(parts[0], [parts[1]], [[parts[2]]]), [a])


def jet_of(expr: "sympy.Expr", inputs: Mapping["sympy.Symbol", Jet], shape: tuple[int, ...]) -> Jet:
    """The jet of ``expr`` computed op by op as the engine's compiler lays it out
    (:mod:`symderiv.engine.compile`: n-ary sums and products as chains of
    binary ops, tan as sin/cos, a**b as exp(b·log a))."""
    import sympy as sp

    memo: dict = {}
    stack = [(expr, False)]
    with np.errstate(all="ignore"):
        while stack:
            node, ready = stack.pop()
            if node in memo:
                continue
            if node in inputs:
                memo[node] = inputs[node]
                continue
            if node.is_Number or node.is_NumberSymbol:
                memo[node] = Jet.constant(float(node), shape)
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((c, False) for c in node.args if c not in memo)
                continue
            memo[node] = _jet_node(sp, node, [memo[c] for c in node.args])
    return memo[expr]


def _jet_node(sp, node, args: list[Jet]) -> Jet:
    if isinstance(node, sp.Add):
        result = args[0]
        for other in args[1:]:
            result = _add(result, other)
        return result
    if isinstance(node, sp.Mul):
        if node.args[0] == -1:
            rest = args[1:]
            result = rest[0]
            for other in rest[1:]:
                result = _mul(result, other)
            return _neg(result)
        result = args[0]
        for other in args[1:]:
            result = _mul(result, other)
        return result
    if isinstance(node, sp.Pow):
        base, exponent = args
        if node.exp.is_Number:
            return _power(base, float(node.exp))
        return _unary(sp.exp, _mul(exponent, _unary(sp.log, base)))
    if isinstance(node, sp.tan):
        (a,) = args
        sine, cosine = _unary(sp.sin, a), _unary(sp.cos, a)
        return _mul(sine, _power(cosine, -1.0))
    if type(node) in by_sympy_class():
        return _unary(type(node), args[0])
    raise ValueError(f"the rounding model has no rule for {type(node).__name__}")


def node_jet(
    expr: "sympy.Expr", args: Sequence["sympy.Symbol"], inputs: Sequence[Jet]
) -> Jet:
    """The jet of a node that evaluates ``expr`` and its SymPy partials in
    ``args`` as lambdified trees (the engine's function nodes), fed ``inputs``."""
    import sympy as sp

    shape = np.shape(inputs[0].v0)
    point = {a: (j.v0, j.m0) for a, j in zip(args, inputs)}
    first = [sp.diff(expr, a) for a in args]
    local = Local(
        scale_of(expr, point, shape),
        [scale_of(d, point, shape) for d in first],
        [[scale_of(sp.diff(d, b), point, shape) for b in args] for d in first],
    )
    return compose(local, inputs)
