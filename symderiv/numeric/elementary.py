"""The elementary functions symderiv knows, in one table.

Contract: :data:`ELEMENTARY` lists every one-argument function symderiv reads,
writes or evaluates, and each entry says everything the rest of the project
needs about it:

* ``name`` — the canonical name (also the key the writeup reader uses);
* ``parser_spellings`` — how the expression parser (``--g``, ``--h``,
  ``--loss``) spells it, empty where the parser does not accept it;
  :data:`PARSER_NAMES` maps each spelling to its entry;
* ``latex`` — how symderiv writes f(t) in LaTeX, a template with ``{}`` for
  the argument (``\\operatorname{sech}({})``); its head
  (:attr:`Elementary.latex_head`) is what the printer
  (:mod:`symderiv.printing.latex`) prints for the function's SymPy class, and
  :data:`LATEX_OPERATOR_NAMES` (the heads that are one macro) is what the
  LaTeX document measures as operator names;
* ``reader_words`` — the words the LaTeX reader of ``symderiv check`` reads as
  this function, in any spelling (``\\word``, ``\\operatorname{word}``,
  ``\\mathrm{word}``, ``\\text{word}``, or bare letters, any case);
  :data:`READER_WORDS` maps each word to its entry;
* ``sympy_of(t)`` — the exact SymPy expression of f(t) (a SymPy class applied
  to t, or a composite such as 1/(1 + e^-t) for the sigmoid);
* ``sympy_class`` — the SymPy function class whose nodes the rounding model
  meets in a tree (None when ``sympy_of`` builds a composite);
* ``numpy`` — the float function on arrays, ``scalar`` — on one Python float
  (constant folding in the parser);
* ``derivatives`` — f', f'' and f''' *as symderiv evaluates them* (the
  engine's ops evaluate tanh' as 1 − tanh², so its rounding error is that of
  1 − tanh², not of sech²): the rounding model (:mod:`symderiv.numeric.rounding`)
  reads them for the functions the parser accepts, and a test checks each
  equals SymPy's own derivative;
* ``kink`` — whether f has a point where it is not differentiable (ReLU, |t|,
  sign): the reader keeps such functions as they are;
* ``samples`` — points inside the domain, away from kinks and poles, where
  the tests compare the columns with SymPy and mpmath.

A test enumerates the table and fails on an entry that lacks a column or whose
columns disagree with SymPy. Nothing here imports SymPy or numpy at module
level; the SymPy and numpy parts are functions called on demand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import sympy

#: sample points of a function defined on the whole line (kinks at 0 avoided)
_LINE = (-1.3, -0.4, 0.3, 0.7, 1.1, 1.9)
_POSITIVE = (0.3, 0.7, 1.1, 1.9)


@dataclass(frozen=True)
class Elementary:
    name: str
    parser_spellings: tuple[str, ...]
    latex: str  # template: "{}" is the argument
    reader_words: tuple[str, ...]
    scalar: Callable[[float], float]
    _sympy: Callable[[object, "sympy.Expr"], "sympy.Expr"]  # (sympy module, t) -> f(t)
    _sympy_class: str | None  # attribute of the sympy module, or None for a composite
    _numpy: str  # attribute of numpy, or a key of _NUMPY_COMPOSITES
    _derivatives: Callable[[object, "sympy.Expr"], tuple] | None = None  # (sp, t) -> (f', f'', f''') as evaluated
    kink: bool = False
    samples: tuple[float, ...] = _LINE

    @property
    def latex_head(self) -> str:
        """The LaTeX before the argument: ``\\sin``, ``\\operatorname{sech}``, ``\\sqrt``."""
        return self.latex.split("{}")[0].rstrip("({")

    def latex_of(self, argument: str) -> str:
        """f(argument) in LaTeX, as symderiv writes it."""
        return self.latex.replace("{}", argument, 1)

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

        composite = _NUMPY_COMPOSITES.get(self._numpy)
        return composite if composite is not None else getattr(np, self._numpy)

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


def _softplus_scalar(t: float) -> float:
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


def _sign_scalar(t: float) -> float:
    return 0.0 if t == 0 else math.copysign(1.0, t)


def _array(function: Callable) -> Callable:
    """A numpy composite on float64 arrays, overflow to inf allowed."""

    def on_array(t):
        import numpy as np

        with np.errstate(over="ignore", divide="ignore"):
            return function(np, np.asarray(t, dtype=np.float64))

    return on_array


_NUMPY_COMPOSITES: dict[str, Callable] = {
    "sigmoid": _array(lambda np, t: 1.0 / (1.0 + np.exp(-t))),
    "softplus": _array(lambda np, t: np.logaddexp(0.0, t)),
    "relu": _array(lambda np, t: np.maximum(0.0, t)),
    "cot": _array(lambda np, t: 1.0 / np.tan(t)),
    "sec": _array(lambda np, t: 1.0 / np.cos(t)),
    "csc": _array(lambda np, t: 1.0 / np.sin(t)),
    "coth": _array(lambda np, t: 1.0 / np.tanh(t)),
    "sech": _array(lambda np, t: 1.0 / np.cosh(t)),
    "csch": _array(lambda np, t: 1.0 / np.sinh(t)),
}


def _tanh_derivatives(sp, t):
    # as the engine's tanh op evaluates them, from y = tanh(t)
    y = sp.tanh(t)
    d1 = 1 - y**2
    d2 = -2 * y * (1 - y**2)
    return d1, d2, sp.diff(d2, t)


def _one_class(name: str, latex: str, scalar: Callable, numpy: str | None = None, *, parser: tuple[str, ...] = (),
               words: tuple[str, ...] | None = None, sympy_name: str | None = None, **more) -> Elementary:
    """An entry that is one SymPy class applied to t."""
    cls = sympy_name or name
    return Elementary(name, parser, latex, (name,) if words is None else words, scalar,
                      lambda sp, t: getattr(sp, cls)(t), cls, numpy or name, **more)


ELEMENTARY: tuple[Elementary, ...] = (
    _one_class("exp", r"\exp({})", math.exp, parser=("exp",)),
    _one_class("log", r"\log({})", math.log, parser=("log", "ln"), words=("log", "ln"), samples=_POSITIVE),
    Elementary("sqrt", ("sqrt",), r"\sqrt{{}}", ("sqrt",), math.sqrt, lambda sp, t: sp.sqrt(t), None, "sqrt",
               samples=_POSITIVE),
    _one_class("sin", r"\sin({})", math.sin, parser=("sin",)),
    _one_class("cos", r"\cos({})", math.cos, parser=("cos",)),
    _one_class("tan", r"\tan({})", math.tan, parser=("tan",)),
    _one_class("cot", r"\cot({})", lambda t: 1.0 / math.tan(t)),
    _one_class("sec", r"\sec({})", lambda t: 1.0 / math.cos(t)),
    _one_class("csc", r"\csc({})", lambda t: 1.0 / math.sin(t)),
    _one_class("sinh", r"\sinh({})", math.sinh),
    _one_class("cosh", r"\cosh({})", math.cosh),
    _one_class("tanh", r"\tanh({})", math.tanh, parser=("tanh",), _derivatives=_tanh_derivatives),
    _one_class("coth", r"\coth({})", lambda t: 1.0 / math.tanh(t)),
    _one_class("sech", r"\operatorname{sech}({})", lambda t: 1.0 / math.cosh(t)),
    _one_class("csch", r"\operatorname{csch}({})", lambda t: 1.0 / math.sinh(t)),
    _one_class("asin", r"\arcsin({})", math.asin, "arcsin", words=("arcsin",), samples=(-0.7, -0.2, 0.3, 0.7)),
    _one_class("acos", r"\arccos({})", math.acos, "arccos", words=("arccos",), samples=(-0.7, -0.2, 0.3, 0.7)),
    _one_class("atan", r"\arctan({})", math.atan, "arctan", words=("arctan",)),
    _one_class("asinh", r"\operatorname{arsinh}({})", math.asinh, "arcsinh", words=("arsinh", "arcsinh")),
    _one_class("acosh", r"\operatorname{arcosh}({})", math.acosh, "arccosh", words=("arcosh", "arccosh"),
               samples=(1.1, 1.9, 2.5)),
    _one_class("atanh", r"\operatorname{artanh}({})", math.atanh, "arctanh", words=("artanh", "arctanh"),
               samples=(-0.7, -0.2, 0.3, 0.7)),
    Elementary("sigmoid", ("sigmoid",), r"\operatorname{sigmoid}({})", ("sigmoid", "logistic"), _sigmoid_scalar,
               lambda sp, t: 1 / (1 + sp.exp(-t)), None, "sigmoid"),
    Elementary("softplus", (), r"\operatorname{softplus}({})", ("softplus",), _softplus_scalar,
               lambda sp, t: sp.log(1 + sp.exp(t)), None, "softplus"),
    Elementary("relu", (), r"\mathrm{ReLU}({})", ("relu",), lambda t: max(t, 0.0),
               lambda sp, t: sp.Max(0, t), None, "relu", kink=True),
    _one_class("abs", r"\operatorname{abs}({})", abs, "abs", words=("abs",), sympy_name="Abs", kink=True),
    Elementary("sign", (), r"\operatorname{sign}({})", ("sign", "sgn"), _sign_scalar,
               lambda sp, t: sp.sign(t), "sign", "sign", kink=True),
)

#: parser spelling -> entry ("ln" and "log" are the same function)
PARSER_NAMES: dict[str, Elementary] = {spelling: e for e in ELEMENTARY for spelling in e.parser_spellings}

#: the LaTeX reader's word (lower case) -> entry
READER_WORDS: dict[str, Elementary] = {word: e for e in ELEMENTARY for word in e.reader_words}

#: entry name -> entry
BY_NAME: dict[str, Elementary] = {e.name: e for e in ELEMENTARY}

#: heads that are one LaTeX macro (``\sin``, ``\arctan``), without the backslash:
#: typeset upright as operator names
LATEX_OPERATOR_NAMES: frozenset[str] = frozenset(
    e.latex_head[1:] for e in ELEMENTARY if e.latex_head[1:].isalpha() and e.name != "sqrt"
)

#: the constants the parser accepts: name -> (float value, SymPy attribute)
CONSTANTS: dict[str, tuple[float, str]] = {"pi": (math.pi, "pi"), "E": (math.e, "E")}


@lru_cache(maxsize=None)
def by_sympy_class() -> dict[type, Elementary]:
    """SymPy function class -> entry, for the functions the expression parser
    accepts that are one SymPy class: the rounding model's elementary nodes
    (the others, kinks included, stay exact leaves there)."""
    return {e.sympy_class: e for e in ELEMENTARY if e.sympy_class is not None and e.parser_spellings}
