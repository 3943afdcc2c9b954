"""The elementary functions symderiv knows, in one table.

Contract: :data:`ELEMENTARY` lists every one-argument function a user may
write, and each entry says everything the rest of the project needs about it:

* ``name`` — the canonical name;
* ``parser_spellings`` — how the expression parser (``--g``, ``--h``,
  ``--loss``) spells it; :data:`PARSER_NAMES` maps each spelling to its entry;
* ``latex`` — how it is printed in LaTeX, ``latex_reader_spellings`` — the
  macros the LaTeX reader of ``symderiv check`` accepts for it;
* ``sympy_of(t)`` — the exact SymPy expression of f(t) (a SymPy class applied
  to t, or a composite such as 1/(1 + e^-t) for the sigmoid);
* ``sympy_class`` — the SymPy function class whose nodes the rounding model
  meets in a tree (None when ``sympy_of`` builds a composite of other entries);
* ``numpy`` — the float function on arrays, ``scalar`` — on one Python float
  (constant folding in the parser);
* ``derivatives`` — f', f'' and f''' *as symderiv evaluates them* (the
  engine's ops evaluate tanh' as 1 − tanh², so its rounding error is that of
  1 − tanh², not of sech²): the rounding model (:mod:`symderiv.numeric.rounding`)
  reads them, and a test checks each equals SymPy's own derivative.

Nothing here imports SymPy or numpy at module level; the SymPy and numpy
parts are functions called on demand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import sympy


@dataclass(frozen=True)
class Elementary:
    name: str
    parser_spellings: tuple[str, ...]
    latex: str
    latex_reader_spellings: tuple[str, ...]
    scalar: Callable[[float], float]
    _sympy: Callable[[object, "sympy.Expr"], "sympy.Expr"]  # (sympy module, t) -> f(t)
    _sympy_class: str | None  # attribute of the sympy module, or None for a composite
    _numpy: str  # attribute of numpy, or "sigmoid"
    _derivatives: Callable[[object, "sympy.Expr"], tuple] | None = None  # (sp, t) -> (f', f'', f''') as evaluated

    def sympy_of(self, argument: "sympy.Expr") -> "sympy.Expr":
        import sympy as sympy_module

        return self._sympy(sympy_module, argument)

    @property
    def sympy_class(self):
        import sympy as sp

        return None if self._sympy_class is None else getattr(sp, self._sympy_class)

    @property
    def numpy(self) -> Callable:
        import numpy as np

        return _sigmoid_array if self._numpy == "sigmoid" else getattr(np, self._numpy)

    def derivatives(self, t: "sympy.Symbol") -> tuple["sympy.Expr", "sympy.Expr", "sympy.Expr"]:
        """(f', f'', f''') in ``t`` in the form they are evaluated; SymPy's own
        derivatives where no other form is stated."""
        import sympy as sp

        if self._derivatives is not None:
            return self._derivatives(sp, t)
        f = self.sympy_of(t)
        return sp.diff(f, t), sp.diff(f, t, 2), sp.diff(f, t, 3)


def _sigmoid_scalar(t: float) -> float:
    return 0.5 * (1.0 + math.tanh(0.5 * t))


def _sigmoid_array(t):
    import numpy as np

    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(t, dtype=np.float64)))


def _tanh_derivatives(sp, t):
    # as the engine's tanh op evaluates them, from y = tanh(t)
    y = sp.tanh(t)
    d1 = 1 - y**2
    d2 = -2 * y * (1 - y**2)
    return d1, d2, sp.diff(d2, t)


ELEMENTARY: tuple[Elementary, ...] = (
    Elementary("exp", ("exp",), r"\exp", (r"\exp",), math.exp, lambda sp, t: sp.exp(t), "exp", "exp"),
    Elementary("log", ("log", "ln"), r"\log", (r"\log", r"\ln"), math.log, lambda sp, t: sp.log(t), "log", "log"),
    Elementary("sqrt", ("sqrt",), r"\sqrt", (r"\sqrt",), math.sqrt, lambda sp, t: sp.sqrt(t), None, "sqrt"),
    Elementary("sin", ("sin",), r"\sin", (r"\sin",), math.sin, lambda sp, t: sp.sin(t), "sin", "sin"),
    Elementary("cos", ("cos",), r"\cos", (r"\cos",), math.cos, lambda sp, t: sp.cos(t), "cos", "cos"),
    Elementary("tan", ("tan",), r"\tan", (r"\tan",), math.tan, lambda sp, t: sp.tan(t), "tan", "tan"),
    Elementary(
        "tanh", ("tanh",), r"\tanh", (r"\tanh",), math.tanh, lambda sp, t: sp.tanh(t), "tanh", "tanh",
        _tanh_derivatives,
    ),
    Elementary(
        "sigmoid", ("sigmoid",), r"\sigma", (r"\sigma", r"\operatorname{sigmoid}"), _sigmoid_scalar,
        lambda sp, t: 1 / (1 + sp.exp(-t)), None, "sigmoid",
    ),
)

#: parser spelling -> entry ("ln" and "log" are the same function)
PARSER_NAMES: dict[str, Elementary] = {spelling: e for e in ELEMENTARY for spelling in e.parser_spellings}

#: the constants the parser accepts: name -> (float value, SymPy attribute)
CONSTANTS: dict[str, tuple[float, str]] = {"pi": (math.pi, "pi"), "E": (math.e, "E")}


@lru_cache(maxsize=None)
def by_sympy_class() -> dict[type, Elementary]:
    """SymPy function class -> entry, for the entries that are one SymPy class."""
    return {e.sympy_class: e for e in ELEMENTARY if e.sympy_class is not None}
