"""Named inputs of the derivative checks: what each one is, and how it is laid out.

Contract:

- A check is declared either the classic way, ``n`` (one per-example input
  ``x`` of n entries; ``forward(xs)`` gets a list of n SymPy symbols and the
  rule is called positionally, EDF's ``backward(x, y, gy)``), or with
  ``inputs={name: spec}``. A spec is an int n or a shape tuple (a per-example
  real input: the rule sees it with a leading batch axis), :func:`shared`
  (one value for the whole batch, e.g. a weight matrix W: (n, m) or a scale
  γ: (n,)), or :func:`labels` (a per-example integer class, never
  differentiated). :func:`per_example` and :func:`shared` also take
  ``differentiable=False`` (a real input held fixed) and a ``domain`` of
  their own.
- ``forward(**inputs)`` is called per example: a scalar input is a SymPy
  symbol, a vector of n entries a 1 x n SymPy Matrix (a row, as numpy treats
  an (n,) array in ``x @ W``), a matrix an r x c Matrix, a label a Python
  int (``forward`` is called once per label value). It returns an
  expression (a scalar output), a list (a vector) or a Matrix (a Matrix with
  one row is a vector).
- The rule gets numpy arrays by keyword (``rule(x=..., W=..., labels=...,
  y=..., gy=...)``) and returns its cotangents as a dict by input name, a
  tuple in the order of the inputs (``None`` for the non-differentiable
  ones) or of the differentiable inputs only, or one array when only one
  input is differentiable.

Internally every real entry of every input is one SymPy symbol; per-example
symbols come first, then shared ones. Nothing here imports SymPy at top level.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from symderiv.errors import InputError

# A check differentiates with respect to every real entry of one example plus
# the shared inputs; these bound the symbolic work (the Jacobian has
# outputs x entries elements, the Hessian outputs x entries^2).
MAX_REAL_ENTRIES = 64
MAX_CLASSIC_N = 32  # the classic form's n (one per-example input x)
MAX_LABEL_COMBINATIONS = 64
MAX_CLASSES = 64
RESERVED_NAMES = frozenset({"y", "gy", "gy_dot", "tangents"})


@dataclass(frozen=True)
class InputSpec:
    """One named input: per-example shape (or whole shape when shared)."""

    shape: tuple[int, ...]
    shared: bool = False
    differentiable: bool = True
    classes: int | None = None  # labels: an integer in range(classes) per example
    domain: tuple[float, float] | None = None

    @property
    def is_label(self) -> bool:
        return self.classes is not None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def describe(self) -> str:
        if self.is_label:
            return f"labels in 0..{self.classes - 1}"
        kind = "shared" if self.shared else "per example"
        fixed = "" if self.differentiable else ", not differentiated"
        return f"{kind} {self.shape}{fixed}"


def _shape(dims: Sequence[Any], what: str) -> tuple[int, ...]:
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    shape = []
    for d in dims:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 1:
            raise InputError(f"{what}: shape entries must be positive integers, got {tuple(dims)!r}")
        shape.append(int(d))
    if len(shape) > 2:
        raise InputError(f"{what}: at most 2 axes per example (scalar, vector or matrix), got {tuple(shape)}")
    return tuple(shape)


def per_example(*shape: Any, differentiable: bool = True, domain: tuple[float, float] | None = None) -> InputSpec:
    """A real input with one value per example, ``shape`` excluding the batch axis."""
    return InputSpec(_shape(shape, "per_example"), False, bool(differentiable), None, domain)


def shared(*shape: Any, differentiable: bool = True, domain: tuple[float, float] | None = None) -> InputSpec:
    """A real input shared by the whole batch (a weight); its gradient sums over the batch."""
    return InputSpec(_shape(shape, "shared"), True, bool(differentiable), None, domain)


def labels(classes: int) -> InputSpec:
    """A per-example integer class in ``range(classes)`` (not differentiable)."""
    if isinstance(classes, (bool, np.bool_)) or not isinstance(classes, (int, np.integer)):
        raise InputError(f"labels(classes): classes must be an integer, got {classes!r}")
    if not 1 <= classes <= MAX_CLASSES:
        raise InputError(f"labels(classes): classes must be between 1 and {MAX_CLASSES}, got {classes}")
    return InputSpec((), False, False, int(classes), None)


def _as_spec(name: str, spec: Any) -> InputSpec:
    if isinstance(spec, InputSpec):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        return per_example(int(spec))
    if isinstance(spec, tuple):
        return per_example(*spec) if spec else InputSpec((), False, True)
    raise InputError(
        f"input {name!r}: expected an int, a shape tuple, per_example(...), shared(...) or labels(...), got {spec!r}"
    )


@dataclass(frozen=True)
class Layout:
    """Where every input's entries live among the flat real symbols."""

    names: tuple[str, ...]
    specs: tuple[InputSpec, ...]
    legacy: bool
    symbols: tuple[Any, ...]  # every real entry: per-example ones first, then shared
    n_example: int  # how many of the symbols are per-example
    offsets: Mapping[str, int]  # first symbol of each real input
    differentiable: tuple[bool, ...]  # per symbol

    # -- derived views --------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.symbols)

    @property
    def n_shared(self) -> int:
        return len(self.symbols) - self.n_example

    def spec(self, name: str) -> InputSpec:
        return self.specs[self.names.index(name)]

    def real_names(self) -> list[str]:
        return [n for n, s in zip(self.names, self.specs) if not s.is_label]

    def label_names(self) -> list[str]:
        return [n for n, s in zip(self.names, self.specs) if s.is_label]

    def differentiable_names(self) -> list[str]:
        return [n for n, s in zip(self.names, self.specs) if not s.is_label and s.differentiable]

    def symbol_slice(self, name: str) -> slice:
        start = self.offsets[name]
        return slice(start, start + self.spec(name).size)

    def diff_index(self) -> tuple[int, ...]:
        """Indices of the differentiable symbols (per-example first, then shared)."""
        return tuple(i for i, d in enumerate(self.differentiable) if d)

    def label_combinations(self) -> list[tuple[int, ...]]:
        classes = [self.spec(n).classes for n in self.label_names()]
        return list(itertools.product(*[range(c) for c in classes]))

    def describe(self) -> str:
        if self.legacy:
            return f"x: per example ({self.n},)"
        return "; ".join(f"{n}: {s.describe()}" for n, s in zip(self.names, self.specs))

    # -- symbols handed to forward ------------------------------------------------
    def forward_arguments(self, label_values: Sequence[int]) -> dict[str, Any]:
        import sympy

        args: dict[str, Any] = {}
        label_iter = iter(label_values)
        for name, spec in zip(self.names, self.specs):
            if spec.is_label:
                args[name] = int(next(label_iter))
                continue
            entries = self.symbols[self.symbol_slice(name)]
            if self.legacy:
                args[name] = list(entries)
            elif spec.shape == ():
                args[name] = entries[0]
            elif len(spec.shape) == 1:
                args[name] = sympy.Matrix(1, spec.shape[0], list(entries))
            else:
                args[name] = sympy.Matrix(spec.shape[0], spec.shape[1], list(entries))
        return args

    # -- numpy arrays handed to the rule -----------------------------------------
    def rule_arrays(self, x: np.ndarray, s: np.ndarray, label_rows: np.ndarray, dtype: np.dtype) -> dict[str, np.ndarray]:
        """Named arrays for one batch: per-example (batch, *shape), shared (*shape), labels (batch,)."""
        batch = x.shape[0]
        arrays: dict[str, np.ndarray] = {}
        label_col = 0
        for name, spec in zip(self.names, self.specs):
            if spec.is_label:
                arrays[name] = label_rows[:, label_col].astype(np.int64)
                label_col += 1
                continue
            sl = self.symbol_slice(name)
            if spec.shared:
                local = slice(sl.start - self.n_example, sl.stop - self.n_example)
                arrays[name] = s[local].reshape(spec.shape).astype(dtype)
            else:
                arrays[name] = x[:, sl].reshape((batch, *spec.shape)).astype(dtype)
        return arrays


def build_layout(n: Any, inputs: Any) -> Layout:
    """Validate ``n`` / ``inputs`` and number every real entry."""
    import sympy

    if (n is None) == (inputs is None):
        raise InputError("give either n (one per-example input x) or inputs={name: spec}, not both or neither")
    if n is not None:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise InputError(f"n must be an integer, got {n!r}")
        if not 1 <= n <= MAX_CLASSIC_N:
            raise InputError(f"n must be between 1 and {MAX_CLASSIC_N}, got {n}")
        symbols = tuple(sympy.symbols(f"x0:{int(n)}", real=True))
        spec = per_example(int(n))
        return Layout(("x",), (spec,), True, symbols, int(n), {"x": 0}, (True,) * int(n))
    if not isinstance(inputs, Mapping) or not inputs:
        raise InputError("inputs must be a non-empty dict {name: spec}")
    names, specs = [], []
    for name, raw in inputs.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f"input names must be Python identifiers, got {name!r}")
        if name in RESERVED_NAMES:
            raise InputError(f"input name {name!r} is reserved (the rule receives y, gy, gy_dot, tangents)")
        names.append(name)
        specs.append(_as_spec(name, raw))
    # per-example real symbols first, then shared
    offsets: dict[str, int] = {}
    symbols: list[Any] = []
    differentiable: list[bool] = []
    for want_shared in (False, True):
        for name, spec in zip(names, specs):
            if spec.is_label or spec.shared != want_shared:
                continue
            offsets[name] = len(symbols)
            for index in np.ndindex(*spec.shape) if spec.shape else [()]:
                suffix = "" if not index else "[" + ",".join(str(i) for i in index) + "]"
                symbols.append(sympy.Symbol(f"{name}{suffix}", real=True))
                differentiable.append(spec.differentiable)
    n_example = sum(s.size for s in specs if not s.is_label and not s.shared)
    if not symbols:
        raise InputError("inputs declare no real input to differentiate")
    if len(symbols) > MAX_REAL_ENTRIES:
        raise InputError(f"inputs have {len(symbols)} real entries; at most {MAX_REAL_ENTRIES} are supported")
    if not any(differentiable):
        raise InputError("no input is differentiable")
    layout = Layout(tuple(names), tuple(specs), False, tuple(symbols), n_example, offsets, tuple(differentiable))
    if len(layout.label_combinations()) > MAX_LABEL_COMBINATIONS:
        raise InputError(f"label inputs have more than {MAX_LABEL_COMBINATIONS} value combinations")
    return layout
