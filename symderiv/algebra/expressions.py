"""The project's own parser for user expressions (``--g``, ``--h``, ``--loss``).

User text never reaches ``eval``, ``sympify`` or ``parse_expr`` (they call
eval). This module tokenizes, parses by recursive descent into a small tree,
*validates the tree before SymPy sees anything*, and only then builds SymPy
objects directly.

Bounds, so that no input can make SymPy hang:

* at most ``MAX_LENGTH`` characters and ``MAX_DEPTH`` levels of nesting;
* numbers have at most ``MAX_DIGITS`` significant digits and are 0 or of
  magnitude between ``MIN_MAGNITUDE`` and ``MAX_MAGNITUDE``, judged from the
  digits and the exponent before the number is built (``1e999999999`` is
  refused at once, not after computing a billion-digit integer);
* a constant exponent must satisfy ``|p| <= MAX_EXPONENT`` (``x**9**9**9``
  is rejected: its exponent is evaluated, in floating point, first);
* every constant subexpression must evaluate to a finite float of magnitude at
  most ``MAX_MAGNITUDE`` (``exp(exp(exp(exp(1))))`` is rejected);
* exponentials (exp, and powers with a variable exponent) nest at most
  ``MAX_EXP_NESTING`` deep, and function calls at most ``MAX_CALL_NESTING``
  deep (second derivatives of deeper towers grow too large to prove);
* the tree has at most ``MAX_NODES`` numbers, names and operations;
* sin, cos and tan of a constant must have an argument of magnitude at most
  ``MAX_PERIODIC_ARGUMENT`` (beyond it the float value is noise);
* a constant SymPy builds must be a finite real number held in at most
  ``MAX_RATIONAL_BITS`` bits (``tan(pi/2)`` is 1.6e16 in floats but undefined
  exactly, and is refused).

The functions and constants come from :mod:`symderiv.numeric.elementary`.

Grammar (``^`` and ``**`` are the same operator, right-associative; unary
minus binds looser than power, so ``-x**2`` is ``-(x**2)``)::

    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("+" | "-") unary | power
    power   := atom (("**" | "^") unary)?
    atom    := NUMBER | NAME | NAME "(" expr ")" | "(" expr ")"
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Sequence

from symderiv.numeric.elementary import CONSTANTS, PARSER_NAMES
from symderiv.errors import InputError

if TYPE_CHECKING:
    import sympy

MAX_LENGTH = 1000
MAX_DEPTH = 40
MAX_DIGITS = 30
MAX_MAGNITUDE = 1e100
MIN_MAGNITUDE = 1e-100
#: an exact constant (a Rational) whose numerator or denominator has more bits
#: than this is refused: (1e-100)**64 is exact but no float can hold it
MAX_RATIONAL_BITS = 1100
MAX_EXPONENT = 64
MAX_EXP_NESTING = 3
MAX_CALL_NESTING = 6
MAX_NODES = 256
#: sin, cos, tan of a constant beyond this have no float value: the spacing of
#: floats there exceeds a period, so even the sign is rounding noise
MAX_PERIODIC_ARGUMENT = 2.0**52
_PERIODIC = {"sin", "cos", "tan"}

#: the function names the parser accepts, from the one table of elementary functions
FUNCTION_NAMES = tuple(PARSER_NAMES)
CONSTANT_NAMES = tuple(CONSTANTS)
_EXPONENTIAL = {"exp"}
# the binary operators, shared by constant folding (floats) and SymPy building
_ARITHMETIC = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
}

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>\*\*|[-+*/^(),]))"
)


@dataclass(frozen=True)
class _Token:
    kind: str  # "number" | "name" | "op" | "end"
    text: str
    column: int  # 1-based


@dataclass(frozen=True)
class _Node:
    kind: str  # "num" | "var" | "const" | "call" | "neg" | "add" | "sub" | "mul" | "div" | "pow"
    column: int
    value: object = None  # Fraction for num, name for var/const/call
    children: tuple["_Node", ...] = ()


def _tokenize(text: str, what: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    stripped_end = len(text.rstrip())
    while position < stripped_end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            column = position + 1 + (len(text[position:]) - len(text[position:].lstrip()))
            bad = text[column - 1] if column - 1 < len(text) else text[position]
            raise InputError(f"{what}: unexpected character {bad!r} at column {column}")
        kind = match.lastgroup or "op"
        start = match.start(kind)
        tokens.append(_Token(kind, match.group(kind), start + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, what: str, variables: Sequence[str]):
        self.what = what
        self.variables = tuple(variables)
        self.tokens = _tokenize(text, what)
        self.index = 0
        self.depth = 0

    # -- helpers -----------------------------------------------------------
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, message: str, token: _Token) -> InputError:
        return InputError(f"{self.what}: {message} at column {token.column}")

    def expect(self, text: str) -> _Token:
        token = self.peek()
        if token.text != text or token.kind != "op":
            found = "end of input" if token.kind == "end" else repr(token.text)
            raise self.error(f"expected {text!r}, found {found}", token)
        return self.take()

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels", token)

    # -- grammar -----------------------------------------------------------
    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise self.error("empty expression", self.peek())
        node = self.expr()
        token = self.peek()
        if token.kind != "end":
            if token.kind in ("name", "number") or token.text == "(":
                raise self.error(f"expected an operator before {token.text!r} (write 2*x, not 2x)", token)
            raise self.error(f"unexpected {token.text!r}", token)
        return node

    def expr(self) -> _Node:
        node = self.term()
        while self.peek().kind == "op" and self.peek().text in "+-":
            op = self.take()
            node = _Node("add" if op.text == "+" else "sub", op.column, None, (node, self.term()))
        return node

    def term(self) -> _Node:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/"):
            op = self.take()
            node = _Node("mul" if op.text == "*" else "div", op.column, None, (node, self.unary()))
        return node

    def unary(self) -> _Node:
        token = self.peek()
        if token.kind == "op" and token.text in "+-":
            self.take()
            self.enter(token)
            operand = self.unary()
            self.depth -= 1
            return operand if token.text == "+" else _Node("neg", token.column, None, (operand,))
        return self.power()

    def power(self) -> _Node:
        base = self.atom()
        token = self.peek()
        if token.kind == "op" and token.text in ("**", "^"):
            self.take()
            self.enter(token)
            exponent = self.unary()
            self.depth -= 1
            return _Node("pow", token.column, None, (base, exponent))
        return base

    def atom(self) -> _Node:
        token = self.take()
        if token.kind == "number":
            return _Node("num", token.column, self.number(token))
        if token.kind == "name":
            if self.peek().text == "(" and self.peek().kind == "op":
                return self.call(token)
            if token.text in self.variables:
                return _Node("var", token.column, token.text)
            if token.text in CONSTANT_NAMES:
                return _Node("const", token.column, token.text)
            if token.text in FUNCTION_NAMES:
                raise self.error(f"function {token.text!r} needs an argument in parentheses", token)
            allowed = ", ".join(self.variables)
            raise self.error(f"unknown variable {token.text!r} (here only {allowed} may appear)", token)
        if token.kind == "op" and token.text == "(":
            self.enter(token)
            node = self.expr()
            self.depth -= 1
            self.expect(")")
            return node
        found = "end of input" if token.kind == "end" else repr(token.text)
        raise self.error(f"expected a number, variable or '(', found {found}", token)

    def number(self, token: _Token) -> Fraction:
        """The exact value of a number token. Its size is read off the digits
        and the exponent *before* it is built: Fraction('1e999999999') would
        compute a billion-digit integer."""
        mantissa, _, exponent_text = token.text.lower().partition("e")
        whole, _, fraction = mantissa.partition(".")
        digits = (whole + fraction).lstrip("0")
        if len(digits) > MAX_DIGITS:
            raise self.error(f"number {token.text[:20]}... has more than {MAX_DIGITS} digits", token)
        if not digits:
            return Fraction(0)
        if len(exponent_text) > 6:
            raise self.error(f"number {token.text[:20]}... is outside {MIN_MAGNITUDE:g}..{MAX_MAGNITUDE:g}", token)
        exponent = int(exponent_text) if exponent_text else 0
        # decimal order of the leading digit: 123.4 -> 2, 0.0012 -> -3
        leading_whole = whole.lstrip("0")
        order = exponent + (len(leading_whole) - 1 if leading_whole else -(len(fraction) - len(fraction.lstrip("0")) + 1))
        if order > math.log10(MAX_MAGNITUDE):
            raise self.error(f"number {token.text[:20]} is larger than {MAX_MAGNITUDE:g}", token)
        if order < math.log10(MIN_MAGNITUDE):
            raise self.error(f"number {token.text[:20]} is smaller than {MIN_MAGNITUDE:g} in magnitude", token)
        value = Fraction(token.text)
        if abs(value) > MAX_MAGNITUDE:
            raise self.error(f"number {token.text} is larger than {MAX_MAGNITUDE:g}", token)
        return value

    def call(self, name: _Token) -> _Node:
        if name.text not in FUNCTION_NAMES:
            allowed = ", ".join(FUNCTION_NAMES)
            raise self.error(f"unknown function {name.text!r} (allowed: {allowed})", name)
        open_paren = self.expect("(")
        self.enter(open_paren)
        argument = self.expr()
        self.depth -= 1
        if self.peek().text == ",":
            raise self.error(f"{name.text} takes exactly one argument", self.peek())
        self.expect(")")
        return _Node("call", name.column, name.text, (argument,))


def _count_nodes(node: _Node) -> int:
    count, stack = 0, [node]
    while stack:
        current = stack.pop()
        count += 1
        stack.extend(current.children)
    return count


def _free_of_variables(node: _Node) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.kind == "var":
            return False
        stack.extend(current.children)
    return True


class _Validator:
    """Checks the bounds that keep SymPy fast, walking the tree once."""

    def __init__(self, what: str):
        self.what = what

    def error(self, message: str, node: _Node) -> InputError:
        return InputError(f"{self.what}: {message} at column {node.column}")

    def constant_value(self, node: _Node) -> float:
        """Evaluate a variable-free subtree in floating point, rejecting overflow."""
        try:
            value = self._evaluate(node)
        except (OverflowError, ValueError, ZeroDivisionError) as exc:
            reason = "division by zero" if isinstance(exc, ZeroDivisionError) else "overflows or is undefined"
            raise self.error(f"constant subexpression {reason}", node) from None
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise self.error(f"constant subexpression exceeds {MAX_MAGNITUDE:g}", node)
        return value

    def _evaluate(self, node: _Node) -> float:
        kind, children = node.kind, node.children
        if kind == "num":
            return float(node.value)
        if kind == "const":
            return CONSTANTS[node.value][0]
        if kind == "neg":
            return -self._evaluate(children[0])
        if kind == "call":
            return PARSER_NAMES[node.value].scalar(self._evaluate(children[0]))
        a, b = (self._evaluate(child) for child in children)
        if kind == "pow":
            if abs(b) > MAX_EXPONENT:
                raise OverflowError
            return math.pow(a, b)
        return _ARITHMETIC[kind](a, b)

    def check(self, node: _Node, exp_nesting: int = 0, call_nesting: int = 0) -> None:
        if node.kind in ("num", "var", "const"):
            return
        if node.kind == "pow" and _free_of_variables(node.children[1]):
            try:
                p = self.constant_value(node.children[1])
            except InputError:
                raise self.error(f"exponent is too large (more than {MAX_EXPONENT} in magnitude)", node) from None
            if abs(p) > MAX_EXPONENT:
                raise self.error(f"exponent {p:g} is larger than {MAX_EXPONENT} in magnitude", node)
        if _free_of_variables(node):
            self.constant_value(node)
            if node.kind == "call" and node.value in _PERIODIC:
                argument = self.constant_value(node.children[0])
                if abs(argument) > MAX_PERIODIC_ARGUMENT:
                    raise self.error(
                        f"{node.value} of a constant beyond {MAX_PERIODIC_ARGUMENT:.3g} has no float value "
                        "(the spacing of floats there exceeds its period)", node,
                    )
        nesting = exp_nesting
        calls = call_nesting + (node.kind == "call")
        if calls > MAX_CALL_NESTING:
            raise self.error(f"function calls nested more than {MAX_CALL_NESTING} deep", node)
        if node.kind == "call" and node.value in _EXPONENTIAL:
            nesting += 1
        if node.kind == "pow":
            base, exponent = node.children
            if _free_of_variables(exponent):
                p = self.constant_value(exponent)
                if abs(p) > MAX_EXPONENT:
                    raise self.error(f"exponent {p:g} is larger than {MAX_EXPONENT} in magnitude", exponent)
            else:
                nesting += 1
        if nesting > MAX_EXP_NESTING:
            raise self.error(f"exponentials nested more than {MAX_EXP_NESTING} deep", node)
        for child in node.children:
            self.check(child, nesting, calls)


def _to_sympy(node: _Node, symbols: dict[str, "sympy.Symbol"], what: str) -> "sympy.Expr":
    built = _build(node, symbols, what)
    if node.kind in ("call", "pow", "div", "mul") and built.is_number:
        _check_constant(built, node, what)
    return built


def _check_constant(value: "sympy.Expr", node: _Node, what: str) -> None:
    """A constant SymPy built must be a finite real number of bounded size: the
    float check of the validator passes tan(pi/2) (1.6e16 in floats), which
    SymPy knows is undefined."""
    import sympy as sp

    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or value.is_extended_real is False:
        raise InputError(f"{what}: constant subexpression is undefined or not real at column {node.column}")
    if isinstance(value, sp.Rational) and max(value.p.bit_length(), value.q.bit_length()) > MAX_RATIONAL_BITS:
        raise InputError(
            f"{what}: constant subexpression is outside {MIN_MAGNITUDE:g}..{MAX_MAGNITUDE:g} or too long "
            f"to hold exactly at column {node.column}"
        )


def _build(node: _Node, symbols: dict[str, "sympy.Symbol"], what: str) -> "sympy.Expr":
    import sympy as sp

    kind, children = node.kind, node.children
    if kind == "num":
        value: Fraction = node.value  # type: ignore[assignment]
        return sp.Rational(value.numerator, value.denominator)
    if kind == "var":
        return symbols[node.value]  # type: ignore[index]
    if kind == "const":
        return getattr(sp, CONSTANTS[node.value][1])
    if kind == "neg":
        return -_to_sympy(children[0], symbols, what)
    if kind == "call":
        return PARSER_NAMES[node.value].sympy_of(_to_sympy(children[0], symbols, what))  # type: ignore[index]
    a, b = (_to_sympy(child, symbols, what) for child in children)
    if kind == "div" and b == 0:
        raise InputError(f"{what}: division by zero at column {node.column}")
    return _ARITHMETIC[kind](a, b)


def parse_expression(
    text: str, variables: Sequence[str], what: str = "expression"
) -> "sympy.Expr":
    """Parse ``text`` into a SymPy expression using only ``variables``.

    ``what`` names the input in error messages (e.g. ``"--loss"``). Raises
    :class:`InputError` with a one-line message giving the column on any
    problem. Variables become plain ``sympy.Symbol(name)``.
    """
    if not isinstance(text, str):
        raise InputError(f"{what}: expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise InputError(f"{what}: expression longer than {MAX_LENGTH} characters")
    if "\x00" in text:
        raise InputError(f"{what}: NUL character in expression")
    tree = _Parser(text, what, variables).parse()
    if _count_nodes(tree) > MAX_NODES:
        raise InputError(f"{what}: more than {MAX_NODES} numbers, names and operations")
    _Validator(what).check(tree)
    import sympy as sp

    symbols = {name: sp.Symbol(name) for name in variables}
    return _to_sympy(tree, symbols, what)
