"""What names, words and decorations mean: the tables the reader consults.

Contract:

- :data:`KNOWN_FUNCTIONS` maps a lower-case word (``exp``, ``sech``,
  ``sigmoid``, ``relu``, ...) to its meaning: the one-argument functions and
  their words are the elementary table's (:mod:`symderiv.numeric.elementary`). However it is spelled
  (``\\exp``, ``\\operatorname{sech}``, ``\\mathrm{ReLU}``, ``\\text{sigmoid}``, or
  the bare letters ``sigmoid`` typed without spaces), a known word is that
  function and nothing else. Functions with a kink (ReLU, max, min, |x|,
  sign) are marked so that a step whose truth may depend on the value at the
  kink is never *proved* through SymPy's smooth conventions. ``softmax`` is
  read only as a component of a named vector, ``softmax(z)_j`` =
  exp(z_j) / sum_{k=1}^{n} exp(z_k).
- :data:`NOT_READ_WORDS` are words whose meaning is known but not read yet
  (argmax, det, tr, diag, ...): a step using one is
  unchecked with that reason.
- :func:`decoration` classifies a decorated name token (``\\mathbf{W}``,
  ``\\hat{y}``, ``\\mathrm{d}``, ``\\text{ReLU}``): a plain letter, a word, a
  distinct symbol (bold, calligraphic, hat, bar, tilde, vec), or a notation that
  is not read (``\\dot x``: a time derivative; ``\\mathbb{E}``: expectation).

No SymPy at import time; :func:`function_meaning` builds SymPy objects on demand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from symderiv.numeric.elementary import BY_NAME, ELEMENTARY, READER_WORDS

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "varrho", "sigma", "varsigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
    "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega", "Upsilon", "Pi", "ell",
}
CONVENTIONAL_FUNCTIONS = {"f", "g", "h", "sigma", "phi", "varphi", "psi", "ell"}
ELIDED = {"vdots", "ddots", "cdots", "ldots", "dots", "dotsc", "dotsb", "dotsm"}

# word -> key: the one-argument functions come from the elementary table (their
# reader words, keyed by entry name); max, min (any number of arguments) and the
# softmax component are structures of the reader, not elementary functions.
KNOWN_FUNCTIONS = {word: entry.name for word, entry in READER_WORDS.items()}
KNOWN_FUNCTIONS.update({
    "max": "Max", "min": "Min",
    "softmax": "softmax",  # a component softmax(z)_j = exp(z_j) / sum_k exp(z_k), k = 1..n
})
KINKED = {entry.name for entry in ELEMENTARY if entry.kink} | {"Max", "Min"}
# (-1) on these is the inverse function (sin^{-1} x = arcsin x), not a reciprocal.
INVERSE_BY_MINUS_ONE = {"sin": "asin", "cos": "acos", "tan": "atan", "sinh": "asinh", "cosh": "acosh",
                        "tanh": "atanh"}
NOT_READ_WORDS = {
    "argmax": "argmax", "argmin": "argmin", "det": "a determinant",
    "tr": "a trace", "trace": "a trace", "diag": "a diagonal matrix", "var": "a variance", "cov": "a covariance",
    "lim": "a limit", "int": "an integral", "sup": "a supremum", "inf": "an infimum", "deg": "a degree",
    "rank": "a rank", "vec": "vectorisation", "grad": "a gradient operator", "dim": "a dimension",
}
# Macros that are structure the reader does not read (named in the reason).
NOT_READ_MACROS = {
    "int": "an integral", "iint": "an integral", "oint": "an integral", "lim": "a limit",
    "odot": "the Hadamard product \\odot", "otimes": "the Kronecker/outer product \\otimes",
    "oplus": "\\oplus", "circ": "composition \\circ", "infty": "infinity", "mathbb": "a blackboard-bold symbol",
    "partial": "a stray \\partial", "propto": "\\propto", "sim": "\\sim", "langle": "an inner product",
    "rangle": "an inner product", "top": "a transpose", "intercal": "a transpose", "dagger": "an adjoint",
    "star": "\\star", "binom": "a binomial coefficient", "choose": "a binomial coefficient",
    "mid": "a conditional bar", "vert": "a bar \\vert", "argmax": "argmax",
    "argmin": "argmin", "det": "a determinant", "sup": "a supremum", "inf": "an infimum", "arg": "\\arg",
    "ldots": "elided entries", "cdots": "elided entries", "vdots": "elided entries", "ddots": "elided entries",
    "dots": "elided entries", "underbrace": "an \\underbrace", "overbrace": "an \\overbrace",
    "stackrel": "\\stackrel", "overset": "\\overset", "underset": "\\underset", "Pr": "a probability",
    "hline": "\\hline",
}
TRANSPOSE_MARKS = {"T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "\\text{T}", "\\textsf{T}",
                   "\\mathbf{T}", "\\rm{T}", "\\mathit{T}", "\\textrm{T}", "\\intercal"}
LAYER_LETTERS = {"l", "L", "ell"}

_DECORATED = re.compile(r"\\(?P<macro>[a-zA-Z]+\*?)\s*\{(?P<body>.*)\}\s*$", re.S)
_TEXT_LIKE = {"mathrm", "mathit", "mathnormal", "operatorname", "operatorname*", "text", "textrm", "textit",
              "textnormal", "mbox", "hbox", "textsf", "texttt", "mathtt", "mathsf"}
_DISTINCT_FONTS = {"mathbf": "bold", "boldsymbol": "bold", "bm": "bold", "mathbfit": "bold", "textbf": "bold",
                   "mathcal": "calligraphic", "mathscr": "script", "mathfrak": "fraktur"}
_ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
            "widetilde": "tilde", "vec": "vec", "overrightarrow": "vec", "check": "check", "breve": "breve",
            "acute": "acute", "grave": "grave", "underline": "underline"}
_NOT_READ_DECORATIONS = {"dot": "a time derivative \\dot", "ddot": "a second time derivative \\ddot",
                         "mathbb": "a blackboard-bold symbol"}
_INNER_NAME = re.compile(r"^\s*(?:(?P<letter>[a-zA-Z])|\\(?P<greek>[a-zA-Z]+)|(?P<digit>[0-9]))\s*$")
_WORD = re.compile(r"^\s*(?P<word>[a-zA-Z]+)\s*$")


@dataclass(frozen=True)
class Decoration:
    """What a decorated token is.

    kind: "letter" (an upright/italic single letter: ``\\mathrm{d}``), "word" (``\\mathrm{sech}``),
    "symbol" (a distinct name: ``\\mathbf{W}``, ``\\hat{y}``), "unread" (``\\dot{x}``, ``\\mathbb{E}``),
    "prose" (a phrase of text inside an expression), "empty".
    """

    kind: str
    name: str  # the letter, the word, or the distinct symbol's LaTeX name
    base_letter: str | None = None  # for "symbol": the letter decorated (W in \mathbf{W})
    style: str | None = None  # bold, hat, ... for "symbol"; the reason for "unread"


def decoration(token: str) -> Decoration:
    """Classify a DECORATED token such as ``\\mathbf{W}``, ``\\hat{\\theta}``, ``\\text{ReLU}``."""
    match = _DECORATED.match(token)
    if not match:
        return Decoration("unread", token, style="an unrecognised decoration")
    macro, body = match.group("macro"), match.group("body")
    if not body.strip():
        return Decoration("empty", "")
    if macro in _NOT_READ_DECORATIONS:
        return Decoration("unread", token, style=_NOT_READ_DECORATIONS[macro])
    inner = _INNER_NAME.match(body)
    word = _WORD.match(body)
    if macro in _TEXT_LIKE:
        if inner and inner.group("letter"):
            return Decoration("letter", inner.group("letter"))
        if inner and inner.group("greek") in GREEK:
            return Decoration("letter", inner.group("greek"))
        if word:
            return Decoration("word", word.group("word"))
        if macro == "mathsf" and body.strip() == "T":
            return Decoration("letter", "T")
        return Decoration("prose", body.strip())
    style = _DISTINCT_FONTS.get(macro) or _ACCENTS.get(macro)
    if style is None:
        return Decoration("unread", token, style=f"\\{macro}")
    if inner and (inner.group("letter") or inner.group("greek") in GREEK or inner.group("digit")):
        letter = inner.group("letter") or inner.group("greek") or inner.group("digit")
        if inner.group("digit"):
            return Decoration("unread", token, style=f"a {style} digit (a vector of {letter}s?)")
        return Decoration("symbol", f"\\{macro}{{{_latex_letter(letter)}}}", letter, style)
    nested = _DECORATED.match(body.strip())
    if nested:  # \mathbf{\hat{x}}: one distinct symbol
        inner_decoration = decoration(body.strip())
        if inner_decoration.kind == "symbol":
            return Decoration("symbol", f"\\{macro}{{{inner_decoration.name}}}", inner_decoration.base_letter, style)
    if word and style in ("bold", "calligraphic"):
        return Decoration("word", word.group("word"))
    return Decoration("unread", token, style=f"\\{macro} of an expression")


def _latex_letter(letter: str) -> str:
    return f"\\{letter}" if len(letter) > 1 else letter


def is_transpose_mark(text: str) -> bool:
    return re.sub(r"\s+", "", text) in TRANSPOSE_MARKS


def function_meaning(key: str):
    """(callable of SymPy arguments, arity or None for any, kink) for a KNOWN_FUNCTIONS value."""
    import sympy as sp

    if key in ("Max", "Min"):
        builder = getattr(sp, key)
        return (lambda *args: builder(*args)), None, True
    entry = BY_NAME[key]
    return entry.sympy_of, 1, entry.kink


__all__ = ["Decoration", "decoration", "function_meaning", "is_transpose_mark", "KNOWN_FUNCTIONS",
           "NOT_READ_WORDS", "NOT_READ_MACROS", "GREEK", "CONVENTIONAL_FUNCTIONS", "ELIDED"]
