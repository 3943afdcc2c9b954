"""Turn a lark parse tree of LaTeX math into a SymPy expression in *surface* form.

Surface form keeps the writer's names: a declared dependency ``g`` (``g = g(x)``)
stays the symbol ``g`` and a derivative stays an unevaluated
``Derivative(operand, var)``, because what ``\\frac{\\partial \\ell}{\\partial g}``
means depends on which names are intermediate variables. :mod:`resolve` later
substitutes the declarations and evaluates the derivatives.

Contract: every construct gets a definite reading or raises
:class:`Unsupported` naming the construct and its position (the step is then
unchecked). Where two readings are both plausible the reader picks one and
records a :class:`Doubt` with the other; the verdict layer never reports a
step false unless it is false under every combination of its doubts' readings.
The readings (documented with examples in docs/check.md, "What is read"):

- single letters and Greek macros are real symbols; letters in subscripts and
  summation variables are integer indices (``x_i`` is ``Indexed(x, i)``); a
  summation variable is a fresh symbol per sum, so it never captures a free
  index of the same letter (``\\partial/\\partial x_j \\sum_j w_j x_j^2``);
- decorated names are distinct symbols (``\\mathbf{W}``, ``\\hat{y}``); a step
  that also uses the plain letter has a doubt (same symbol or not);
- known function words in any spelling (``\\exp``, ``\\operatorname{sech}``,
  ``\\mathrm{ReLU}``, ``\\text{sigmoid}``, bare ``sigmoid``) are those functions;
  unknown macros, unknown words and words read as letters (``loss``) raise;
- a superscript on a name is a power only when it is numeric or the step
  itself uses its letters as quantities (``n x^{n-1}``); transposes, bracketed
  indices ``(i)``, layer letters ``l, L, l+1`` and any superscript on a name
  the document uses as an indexed family (``z^l_j``) raise, unless declared
  (``--let "z^{l}: index"`` or ``--let "x^{n}: power"``);
- ``NAME(...)``: an application when NAME is a function (declared, primed, a
  concrete definition, a known word, or one of f, g, h, σ, φ, ψ, ℓ); a list of
  several arguments is an application; otherwise a product, with a doubt when
  the document gives no evidence either way;
- ``\\sum``/``\\prod`` take the rest of the product, across ``\\cdot``, ``\\times``
  and ``/``; ``\\frac{d}{dx}`` takes a bracket that follows it and nothing more,
  else the rest of the juxtaposed product, and raises when an explicit
  ``\\cdot``/``\\times``/``/`` makes that scope ambiguous;
- products, powers and quotients of names the document uses as matrices or
  vectors (transposed, bold, ``\\in \\mathbb{R}^{m \\times n}``) raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from symderiv.writeup import notation
from symderiv.writeup.indices import FamilyIndex, check_not_bound, superscript_index
from symderiv.writeup.latex_parser import Tracked, Unsupported
from symderiv.writeup.notation import CONVENTIONAL_FUNCTIONS, ELIDED, GREEK, KNOWN_FUNCTIONS
from symderiv.writeup.shapes import (decorated_label, decorated_letter, ends_with_bare_bigop, is_plain_name, juxt_items,
                                       kronecker_pair, kronecker_shape, latex_name, letter_run, name_of, product_segments,
                                       subscript_letters, superscript_shape, tree_letters, unwrap)

MAX_NUMERIC_EXPONENT = 64
ELEMENTARY = {word: key for word, key in KNOWN_FUNCTIONS.items()}


@dataclass
class Doubt:
    """A construct with two plausible readings; ``key`` switches the reader to the alternative."""

    key: tuple
    primary: str  # the reading used, e.g. "y(x) read as y applied to x"
    alternative: str  # e.g. "y(x) read as y times x"
    position: int | None = None


@dataclass
class Notation:
    """What the whole document says about its notation (filled by :mod:`evidence`)."""

    index_families: dict = field(default_factory=dict)  # base name -> evidence ("z^l_j, line 3")
    matrix_like: dict = field(default_factory=dict)  # name -> evidence ("transposed at line 9")
    standalone_letters: set = field(default_factory=set)  # letters written on their own somewhere
    bare_names: set = field(default_factory=set)  # names used without a following bracket somewhere
    declared_powers: set = field(default_factory=set)  # --let "x^{n}: power"
    declared_indexed: set = field(default_factory=set)  # --let "z^{l}: index"
    named_words: set = field(default_factory=set)  # words defined as names (\text{loss} = ...)
    summed_families: set = field(default_factory=set)  # names whose bracketed superscript a sum binds (indices)
    applied_names: set = field(default_factory=set)  # names followed by a bracket somewhere (f(x), h(z))
    subscript_letters: set = field(default_factory=set)  # letters used as indices (subscripts, sum ranges)
    indexed_superscripts: dict = field(default_factory=dict)  # name -> {superscript: lines} written with a subscript


@dataclass
class Context:
    """What the declarations say, plus the names seen while converting."""

    function_args: dict[str, tuple] = field(default_factory=dict)  # abstract f -> surface argument symbols
    concrete_functions: dict[str, Any] = field(default_factory=dict)  # name -> sympy Lambda
    definitions: dict[Any, Any] = field(default_factory=dict)  # Symbol -> surface expression
    indexed_definitions: dict[str, tuple] = field(default_factory=dict)  # base name -> (indices, template)
    primed_names: set[str] = field(default_factory=set)
    declared_names: set[str] = field(default_factory=set)
    plain_names: set[str] = field(default_factory=set)  # declared as non-functions
    used_names: set[str] = field(default_factory=set)
    step_plain_names: set[str] = field(default_factory=set)  # conventional letters used bare in this step
    notation: Notation = field(default_factory=Notation)
    origins: dict[str, tuple] = field(default_factory=dict)  # name -> (kind, where), see verdicts
    let_names: set = field(default_factory=set)  # names a --let or in-file declaration defines
    versions: dict = field(default_factory=dict)  # Symbol/entry -> [(offset, definition, source)] from the file
    function_versions: dict = field(default_factory=dict)  # name -> [(offset, Lambda, source)] from the file
    unread_definitions: dict = field(default_factory=dict)  # name -> line of a definition that is not read
    document_text: str = ""
    uncertain_definitions: dict = field(default_factory=dict)  # name -> the doubts of its in-file definition
    shapes: dict = field(default_factory=dict)  # name -> (rows, cols), declared (see matrices)
    matrix_definitions: dict = field(default_factory=dict)  # name -> expression tree (see matrix_steps)
    parsed_steps: list = field(default_factory=list)  # every step of the file, in order (see verdicts)
    layout: str = "denominator"  # of derivatives by a vector or matrix (--let "layout: numerator")
    sections: tuple = ()  # (offset, level) of the document's headings: a definition holds within its section
    indexed_scopes: dict = field(default_factory=dict)  # base name -> (offset, scope end, entry) from the file
    values: list = field(default_factory=list)  # (offset, scope end, "x = 2", line, name): numbers in the text
    conclusions: list = field(default_factory=list)  # (offset, name, line): name = … concluded in prose
    block_starts: dict = field(default_factory=dict)  # math block index -> offset of its first step
    display_before: dict = field(default_factory=dict)  # inline block -> start of the display it follows closely
    block_names: dict = field(default_factory=dict)  # (block, leading name) -> steps of the block that start with it
    # per step, set by the caller before converting:
    flags: frozenset = frozenset()  # doubt keys whose alternative reading is wanted
    doubts: dict = field(default_factory=dict)  # key -> Doubt, recorded while converting
    step_letters: set = field(default_factory=set)  # letters used outside superscripts in this step
    step_plain_letters: set = field(default_factory=set)  # undecorated letters used in this step
    step_bare_names: set = field(default_factory=set)  # names used without a following bracket in this step
    bound_letters: set = field(default_factory=set)  # summation letters seen in this step
    index_letters: set = field(default_factory=set)  # --let "index: p": superscripts of these letters are indices
    index_labels: dict = field(default_factory=dict)  # label z^{l} -> letters of its superscript (see indices)

    def is_function(self, name: str) -> bool:
        if name in self.function_args or name in self.concrete_functions or name in self.primed_names:
            return True
        return name in CONVENTIONAL_FUNCTIONS and name not in self.plain_names and name not in self.step_plain_names

    def conventional_only_functions(self) -> set[str]:
        """Letters that are functions only by convention (f, g, h, ...), not by a declaration or a prime."""
        return {name for name in CONVENTIONAL_FUNCTIONS
                if name not in self.function_args and name not in self.concrete_functions
                and name not in self.primed_names and name not in self.plain_names}

    def start_step(self, flags=frozenset()) -> None:
        self.flags = frozenset(flags)
        self.doubts = {}
        self.bound_letters = set()


# --- cached sympy atoms -------------------------------------------------------------

#: names read as non-commuting symbols while a step is read again as matrix algebra (see capitals.py)
NONCOMMUTING_NAMES: set = set()


def real_symbol(name: str):
    import sympy as sp

    if name in NONCOMMUTING_NAMES:
        return sp.Symbol(name, commutative=False)
    return sp.Symbol(name, real=True)


def index_symbol(name: str):
    import sympy as sp

    return sp.Symbol(name, integer=True)


def indexed_base(name: str):
    import sympy as sp

    return sp.IndexedBase(name, real=True)


def function(name: str):
    import sympy as sp

    return sp.Function(name)


# --- intermediate values of one juxtaposed factor ------------------------------------

@dataclass
class NameRef:
    name: str
    subscript: Any = None  # parse tree of the subscript
    power: Any = None  # sympy exponent
    primes: int = 0
    node: Any = None  # parse tree, for positions
    family_indices: tuple | None = None  # y^{(i)} in a summed family: (i,), before the subscript's indices
    indexed: bool = False  # carries a superscript index (z^{l}, x^{(i)}): a value, never a function


@dataclass
class ParenValue:
    items: list
    power: Any = None
    subscript: Any = None
    node: Any = None


@dataclass
class FuncOp:
    name: str  # the word (``tanh``), shown in messages
    key: str  # KNOWN_FUNCTIONS value
    power: Any = None
    primes: int = 0
    inverse: bool = False  # sin^{-1}
    node: Any = None


@dataclass
class BigOp:
    kind: str
    variable: Any
    lower: Any
    upper: Any
    letter: str = ""


@dataclass
class DiffOp:
    variables: list  # [(var, count)]
    node: Any = None


@dataclass
class Nabla:
    node: Any = None


@dataclass
class PartialMark:
    order: Any = None


class Converter:
    """Recursive interpreter over the parse tree; builds sympy objects directly."""

    def __init__(self, context: Context, declaring: bool = False, tracked: Tracked | None = None):
        self.context = context
        self.declaring = declaring
        self.tracked = tracked

    # -- entry points -------------------------------------------------------------------
    def expression(self, tree) -> Any:
        value = self._node(tree)
        return self._as_expr(value, tree)

    # -- positions and failures ----------------------------------------------------------
    def position(self, node) -> int | None:
        meta = getattr(node, "meta", None)
        start = getattr(meta, "start_pos", None) if meta is not None and not getattr(meta, "empty", True) else None
        if start is None:
            start = getattr(node, "start_pos", None)
        if start is None:
            return None
        return self.tracked.source_offset(start) if self.tracked is not None else start

    def fail(self, node, message: str, kind: str | None = None):
        raise Unsupported(message, self.position(node), kind)

    def source_text(self, node) -> str:
        """The normalized LaTeX of a subtree, without spaces (for messages and names)."""
        meta = getattr(node, "meta", None)
        if self.tracked is None or meta is None or getattr(meta, "empty", True):
            return ""
        return "".join(self.tracked.text[meta.start_pos:meta.end_pos].split())

    def doubt(self, key: tuple, primary: str, alternative: str, node=None) -> bool:
        """Record a doubt; True when the alternative reading is wanted."""
        if key not in self.context.doubts:
            self.context.doubts[key] = Doubt(key, primary, alternative, self.position(node))
        return key in self.context.flags

    # -- tree dispatch ------------------------------------------------------------------
    def _node(self, tree) -> Any:
        kind = tree.data
        if kind == "add":
            return self.expression(tree.children[0]) + self.expression(tree.children[-1])
        if kind == "sub":
            if ends_with_bare_bigop(tree.children[0]):
                return self._bigop_of_negative(tree.children[0], tree.children[1])
            return self.expression(tree.children[0]) - self.expression(tree.children[1])
        if kind == "neg":
            return -self.expression(tree.children[0])
        if kind in ("mul_explicit", "div", "juxt", "item"):
            return self._product_chain(product_segments(tree))
        if kind in ("letter", "command", "decorated"):
            return self._as_expr(self._named_item(name_of(tree, self), None, None, 0, tree), tree)
        if kind in ("number", "brace", "paren", "frac", "sqrt", "matrix", "abs", "evalbar", "norm"):
            return self._as_expr(self._base(tree), tree)
        if kind == "start":
            return self._node(tree.children[0])
        self.fail(tree, f"unsupported construct {kind!r}", "cannot parse")

    def _as_expr(self, value, node=None) -> Any:
        if isinstance(value, NameRef):
            return self._name_expr(value)
        if isinstance(value, ParenValue):
            if len(value.items) != 1:
                self.fail(value.node or node, "a comma-separated list where a single expression was expected",
                          "cannot parse")
            if value.subscript is not None:
                self.fail(value.node or node, "a subscript on a bracket", "subscript on a bracket")
            return self._power(value.items[0], value.power, value.node or node)
        if isinstance(value, (FuncOp, BigOp, DiffOp, Nabla)):
            self.fail(getattr(value, "node", None) or node,
                      "an operator (function, sum, derivative or nabla) without an operand", "operator scope")
        if isinstance(value, PartialMark):
            self.fail(node, "a stray \\partial outside a derivative fraction", "unknown macro")
        if isinstance(value, _EvalBar):
            self.fail(value.node, "an evaluation bar without a point (_{x=a})", "not read yet")
        return value

    def _bigop_of_negative(self, left_tree, right_tree):
        """``\\sum_k - a_k``: the sum of -a_k (the operand is the product after the minus sign)."""
        segments = product_segments(left_tree)
        converted = [(op, self._juxt_values(tree), tree) for op, tree in segments]
        op, values, tree = converted[-1]
        negated = -self.expression(right_tree)
        values = values + [negated]
        return self._chain(converted[:-1] + [(op, values, tree)])

    # -- products: juxtaposition, \cdot, \times, / ----------------------------------------
    def _product_chain(self, segments) -> Any:
        """Segments ``[(op, juxt_tree)]`` joined by \\cdot/\\times ('*') or '/' (op None for the first)."""
        converted = [(op, self._juxt_values(tree), tree) for op, tree in segments]
        return self._chain(converted)

    def _chain(self, converted) -> Any:
        result = None
        for position, (op, values, tree) in enumerate(converted):
            expr, consumed = self._combine(values, converted[position + 1:], tree)
            result = expr if result is None else (
                self._multiply([result, expr]) if op == "*" else self._divide(result, expr, tree))
            if consumed:
                break
        return result

    def _juxt_values(self, tree) -> list:
        items = list(tree.children) if tree.data == "juxt" else [tree]
        values = []
        position = 0
        while position < len(items):
            run = letter_run(items, position)
            if len(run) >= 2:
                word_value = self._word_run(run)
                if word_value is not None:
                    values.append(word_value)
                    position += len(run)
                    continue
            values.append(self._item(items[position]))
            position += 1
        return values

    def _word_run(self, run):
        """Adjacent letters ``sigmoid``, ``sech``: a known word, an error, or None (a product of letters)."""
        word = "".join(name_of(item.children[0], self) for item in run)
        last = run[-1]
        if word.lower() in KNOWN_FUNCTIONS:
            subscript, superscript, primes = self._scripts(last)
            if subscript is not None:
                self.fail(last, f"{word} with a subscript", "function word")
            return self._function_op(word.lower(), superscript, primes, run[0])
        if word.lower() in notation.NOT_READ_WORDS:
            self.fail(run[0], f"'{word}' is {notation.NOT_READ_WORDS[word.lower()]}, which is not read yet",
                      "not read yet")
        standalone = self.context.notation.standalone_letters
        if len(run) == 2 and word[0] == "d" and "d" not in standalone and word[1] not in ("d",):
            self.fail(run[0], f"'{word}' reads as a differential, which is not read outside a derivative fraction",
                      "differential")
        if len(run) >= 3 and not all(letter in standalone for letter in word):
            self.fail(run[0], f"'{word}' reads as a word, not a product of the letters {', '.join(word)}",
                      "unknown word")
        return None

    def _combine(self, values: list, following=(), tree=None):
        """The product of one juxtaposed list; returns (expr, whether ``following`` segments were consumed)."""
        factors = []
        position = 0
        while position < len(values):
            value = values[position]
            if isinstance(value, BigOp):
                body = self._rest(values[position + 1:], following, tree, f"\\{value.kind}")
                factors.append(self._bigop_expr(value, body))
                return self._product_of(factors), True
            if isinstance(value, DiffOp):
                rest = values[position + 1:]
                if rest and isinstance(rest[0], ParenValue) and not self._whole_rest_wanted(value, rest, following):
                    # \frac{d}{dt}\left(A\right) B is (dA/dt) B: a bracket ends the operand.
                    factors.append(self._derivative(self._as_expr(rest[0], tree), value.variables, value.node))
                    position += 2
                    continue
                if not rest:
                    self.fail(value.node, "a derivative operator without an operand"
                              + (" before \\cdot or \\times: put the operand in brackets" if following else ""),
                              "operator scope")
                if following and not isinstance(rest[0], BigOp):
                    self.fail(value.node, "the scope of the derivative operator is ambiguous (an explicit "
                              "\\cdot, \\times or / follows its operand): put the operand in brackets",
                              "operator scope")
                operand, consumed = self._combine(rest, following, tree)
                factors.append(self._derivative(operand, value.variables, value.node))
                return self._product_of(factors), consumed
            expr, position = self._unit(values, position)
            factors.append(expr)
        return self._product_of(factors), False

    def _whole_rest_wanted(self, value, rest, following) -> bool:
        """``\\frac{d}{dx} (x^2)/x``: with an explicit /, \\cdot or \\times after the bracket, the bracket may be
        the whole operand or only its start (a doubt: the step is false only if false under both readings).
        A juxtaposed factor (``\\frac{d}{dt}(A) B``) is outside the operand: issue 12 names that reading."""
        if not following:
            return False
        return self.doubt(("scope", self.position(value.node)), "the bracket after the derivative read as its "
                          "whole operand", "the derivative read as applying to everything after it", value.node)

    def _rest(self, values, following, tree, what: str):
        if not values and not following:
            self.fail(tree, f"{what} without an operand", "operator scope")
        expr, consumed = self._combine(values, following, tree) if values else (None, False)
        if consumed:
            return expr
        for position, (op, segment_values, segment_tree) in enumerate(following):
            segment, consumed = self._combine(segment_values, following[position + 1:], segment_tree)
            if expr is None:
                expr = segment if op == "*" else self._divide(1, segment, segment_tree)
            else:
                expr = self._multiply([expr, segment]) if op == "*" else self._divide(expr, segment, segment_tree)
            if consumed:
                break
        return expr

    def _product_of(self, factors):
        if not factors:
            import sympy as sp

            return sp.Integer(1)
        return factors[0] if len(factors) == 1 else self._multiply(factors)

    # -- one item: base plus scripts ------------------------------------------------------
    def _scripts(self, tree):
        subscript = superscript = None
        primes = 0
        for script in tree.children[1:]:
            if script.data == "sub_script":
                if subscript is not None:
                    self.fail(script, "double subscript", "cannot parse")
                subscript = script.children[0]
            elif script.data == "sup_script":
                if superscript is not None:
                    self.fail(script, "double superscript", "cannot parse")
                superscript = script.children[0]
            else:
                primes += len(str(script.children[0]))
        return subscript, superscript, primes

    def _item(self, tree) -> Any:
        if tree.data != "item":
            return self._node(tree)
        base_tree = tree.children[0]
        subscript, superscript, primes = self._scripts(tree)
        name = name_of(base_tree, self)
        if name is not None:
            return self._named_item(name, subscript, superscript, primes, tree)
        value = self._base(base_tree)
        if isinstance(value, ParenValue):
            if primes:
                self.fail(tree, "a prime on a bracket", "cannot parse")
            exponent = None if superscript is None else self._bracket_exponent(superscript, tree)
            return ParenValue(value.items, exponent, subscript, tree)
        if isinstance(value, _EvalBar):
            if subscript is None or superscript is not None or primes:
                self.fail(tree, "an evaluation bar needs exactly a point, as in \\right|_{x=a}", "not read yet")
            return self._evaluation(value, subscript)
        if subscript is not None:
            self.fail(tree, "a subscript on a number or group", "subscript on a bracket")
        if primes:
            self.fail(tree, "a prime on a number or group", "cannot parse")
        if superscript is not None:
            return self._power(self._as_expr(value, tree), self._bracket_exponent(superscript, tree), tree)
        return value

    def _named_item(self, name: str, subscript, superscript, primes: int, node=None) -> Any:
        import sympy as sp

        if name.startswith("@word:"):
            return self._word_item(name[len("@word:"):], subscript, superscript, primes, node)
        if name.startswith("@macro:"):
            self.fail(node, f"unknown macro \\{name[len('@macro:'):]}", "unknown macro")
        if name in ELEMENTARY or name in ("max", "min"):
            if subscript is not None:
                self.fail(node, f"\\{name} with a subscript", "not read yet")
            return self._function_op(name, superscript, primes, node)
        if name in ("sum", "prod"):
            return self._bigop(name, subscript, superscript, node)
        if name == "partial":
            return PartialMark(None if superscript is None else self._exponent(superscript))
        if name == "nabla":
            if subscript is not None or superscript is not None:
                self.fail(node, "\\nabla with a subscript or power", "not read yet")
            return Nabla(node)
        if name in ELIDED:
            self.fail(node, f"elided entries (\\{name}) cannot be checked", "elided")
        if name == "delta" and subscript is not None and kronecker_shape(subscript) \
                and "delta" not in self.context.notation.declared_indexed \
                and (superscript is None or superscript_shape(superscript, self) == "numeric"):
            indices = kronecker_pair(subscript) or self._indices(subscript)
            if isinstance(indices, tuple) and len(indices) == 2:
                exponent = None if superscript is None else self._name_exponent(name, superscript, True, node)
                return self._power(sp.KroneckerDelta(*indices), exponent, node)
        if name == "pi" and subscript is None:
            return self._power(sp.pi, None if superscript is None else self._exponent(superscript), node)
        if name in ("e", "\\mathrm{e}") and subscript is None and not primes and "e" not in self.context.declared_names:
            if superscript is not None:
                return sp.exp(self._exponent(superscript, bounded=False))
            if name == "\\mathrm{e}" or self.doubt(("euler",), "e read as a variable", "e read as Euler's number",
                                                   node):
                return sp.E
        if name in notation.NOT_READ_MACROS:
            self.fail(node, f"\\{name}: {notation.NOT_READ_MACROS[name]} is not read yet", "not read yet")
        if name == "\\mathrm{d}":
            self.fail(node, "a differential d outside a derivative fraction is not read", "differential")
        if len(name) > 1 and name not in GREEK and not name.startswith("\\"):
            self.fail(node, f"unknown macro \\{name}", "unknown macro")
        power = None
        label = None
        if superscript is not None:
            reading = self._name_exponent(name, superscript, subscript is not None, node)
            if isinstance(reading, FamilyIndex):
                return NameRef(reading.base, subscript, None, primes, node, reading.indices, True)
            if isinstance(reading, str):
                label = reading
            else:
                power = reading
        if name.startswith("\\") and self._identify_decorated(name, node):
            name = decorated_letter(name)
        return NameRef(name if label is None else label, subscript, power, primes, node, indexed=label is not None)

    def _word_item(self, word: str, subscript, superscript, primes, node):
        lower = word.lower()
        if lower in KNOWN_FUNCTIONS:
            if subscript is not None:
                self.fail(node, f"{word} with a subscript", "function word")
            return self._function_op(lower, superscript, primes, node)
        if lower in notation.NOT_READ_WORDS:
            self.fail(node, f"'{word}' is {notation.NOT_READ_WORDS[lower]}, which is not read yet", "not read yet")
        if word in self.context.notation.named_words or word in self.context.declared_names:
            name = f"\\mathrm{{{word}}}"
            power = None if superscript is None else self._name_exponent(name, superscript, subscript is not None, node)
            if isinstance(power, (str, FamilyIndex)):
                self.fail(node, f"a superscript index on the word {word} is not read yet", "superscript index")
            return NameRef(name, subscript, power, primes, node)
        self.fail(node, f"unknown word '{word}' (define it, e.g. with --let, or it is not read)", "unknown word")

    def _identify_decorated(self, name: str, node) -> bool:
        """``\\mathbf{x}`` and ``x`` in one step: distinct symbols, with a doubt."""
        letter = decorated_letter(name)
        if letter is None or letter not in self.context.step_plain_letters:
            return False
        return self.doubt(("same", name), f"{name} and {letter} read as different symbols",
                          f"{name} and {letter} read as the same symbol", node)

    def _function_op(self, word: str, superscript, primes: int, node) -> FuncOp:
        key = KNOWN_FUNCTIONS[word] if word in KNOWN_FUNCTIONS else word
        if primes > 8:
            self.fail(node, "more than 8 primes", "too large")
        if superscript is None:
            return FuncOp(word, key, None, primes, False, node)
        shape = superscript_shape(superscript, self)
        if shape in ("transpose", "bracketed", "layer"):
            self.fail(node, f"superscript {self.source_text(superscript) or '?'} on \\{word} is not read "
                      "(a derivative order or an index?)", "superscript")
        exponent = self._exponent(superscript)
        if exponent == -1:
            if word in notation.INVERSE_BY_MINUS_ONE:
                return FuncOp(word, notation.INVERSE_BY_MINUS_ONE[word], None, primes, True, node)
            self.fail(node, f"\\{word}^{{-1}}: the inverse function or a reciprocal?", "superscript")
        if exponent.is_Number and exponent < 0:
            self.fail(node, f"\\{word}^{{{exponent}}}: a negative power of a function name is ambiguous",
                      "superscript")
        if not exponent.is_Number and not self._letters_are_quantities(superscript):
            self.fail(node, f"superscript {self.source_text(superscript)} on \\{word}: a power or an index?",
                      "superscript")
        return FuncOp(word, key, exponent, primes, False, node)

    # -- superscripts ----------------------------------------------------------------------
    def _name_exponent(self, name: str, superscript, has_subscript: bool, node):
        """The exponent on a name, or a str label for a declared indexed family (z^{l})."""
        notes = self.context.notation
        shown = latex_name(name)
        written = self.source_text(superscript) or "?"
        if name in notes.declared_indexed:
            return f"{shown}^{{{written}}}"
        if name in notes.declared_powers:
            return self._exponent(superscript)
        shape = superscript_shape(superscript, self)
        hint = (f' (declare: --let "{shown}^{{{written}}}: index" to read it as a separate name, '
                f'--let "{shown}^{{{written}}}: power" to read it as a power)')
        if shape == "transpose":
            self.fail(node, f"{shown}^{written} is a transpose: declare the shapes of the matrices and vectors of "
                      f'the step to read it as matrix algebra (--let "{shown}: m x n", --let "x: n")', "transpose")
        index = superscript_index(self, name, superscript, node)
        if index is not None:
            return index
        if shape == "bracketed":
            self.fail(node, f"{shown}^{{{written}}}: a bracketed superscript on a function or around an expression "
                      "(a derivative order or an index?) is not read" + hint, "superscript index")
        if shape == "layer":
            self.fail(node, f"{shown}^{{{written}}}: a layer index or a power? (a layer letter the step also uses as "
                      "a quantity, or not of the form l, l+1, L-1)" + hint, "superscript index")
        exponent = self._exponent(superscript)
        family = notes.index_families.get(name)
        if family is not None:
            self.fail(node, f"{shown}^{{{written}}}: a power, or a layer/sample index like {family}?" + hint,
                      "superscript index")
        if exponent.is_Number:
            if exponent < 0 and name in notes.matrix_like:
                self.fail(node, f"{shown}^{{{written}}}: {shown} is used as a matrix ({notes.matrix_like[name]}); "
                          f'declare its shape to read the inverse (--let "{shown}: n x n")', "matrix")
            return exponent
        if self._letters_are_quantities(superscript):
            return exponent
        self.fail(node, f"superscript {written} on {shown}: a power or an index? Its letters are not used as "
                  "quantities in this step" + hint, "superscript")

    def _bracket_exponent(self, superscript, node):
        shape = superscript_shape(superscript, self)
        written = self.source_text(superscript) or "?"
        if shape == "transpose":
            self.fail(node, f"(...)^{written} is a transpose: declare the shapes of the matrices and vectors of the "
                      'step to read it as matrix algebra (--let "W: m x n", --let "x: n")', "transpose")
        if shape == "bracketed":
            self.fail(node, f"(...)^{{{written}}} is an index or a derivative order, not a power", "superscript index")
        return self._exponent(superscript)

    def _letters_are_quantities(self, superscript) -> bool:
        letters = tree_letters(superscript, self)
        return bool(letters) and letters <= self.context.step_letters and not letters & notation.LAYER_LETTERS

    def _bigop(self, kind: str, subscript, superscript, node) -> BigOp:
        import sympy as sp

        if subscript is None:
            self.fail(node, f"\\{kind} without a summation variable", "not read yet")
        single = unwrap(subscript)
        if subscript.data == "limit":
            letter = str(subscript.children[0])
            lower = self._index_expr(subscript.children[1])
        elif hasattr(single, "data") and single.data == "letter":
            letter = str(single.children[0])
            lower = sp.Integer(1)
        elif hasattr(single, "data") and single.data == "command" and str(single.children[0]).lstrip("\\") in GREEK:
            letter = str(single.children[0]).lstrip("\\")  # \sum_{\ell}
            lower = sp.Integer(1)
        else:
            self.fail(subscript, f"\\{kind} with a range that is not read ({self.source_text(subscript)})",
                      "not read yet")
        upper = real_symbol("n") if superscript is None else self.expression(superscript)
        self.context.bound_letters.add(letter)
        # A fresh symbol per sum: its letter never captures a free index spelled the same.
        variable = sp.Dummy(letter, integer=True)
        return BigOp(kind, variable, lower, upper, letter)

    def _bigop_expr(self, op: BigOp, body):
        import sympy as sp

        if getattr(body, "is_Matrix", False):
            raise Unsupported(f"\\{op.kind} of a matrix", kind="matrix")
        if any(str(base) == op.letter for base in body.atoms(sp.IndexedBase)):
            raise Unsupported(f"\\{op.kind} over {op.letter}, which is also used with components "
                              f"({op.letter}_j): a sum over examples is not read", kind="not read yet")
        check_not_bound(self.context, body, op.letter, op.kind)
        body = body.xreplace({real_symbol(op.letter): op.variable, index_symbol(op.letter): op.variable})
        cls = sp.Sum if op.kind == "sum" else sp.Product
        return cls(body, (op.variable, op.lower, op.upper))

    def _base(self, tree) -> Any:
        import sympy as sp

        kind = tree.data
        if kind == "number":
            text = str(tree.children[0])
            return sp.Rational(text) if "." in text else sp.Integer(text)
        if kind == "brace":
            return self.expression(tree.children[0])
        if kind == "paren":
            return ParenValue([self.expression(child) for child in tree.children], node=tree)
        if kind == "abs":
            inner = self.expression(tree.children[1])
            if self._matrix_names(inner):
                self.fail(tree, "|...| of a vector or matrix (a norm?) is not read yet", "matrix")
            return sp.Abs(inner)
        if kind == "frac":
            return self._fraction(tree)
        if kind == "sqrt":
            children = [c for c in tree.children if not hasattr(c, "type")]
            if len(children) == 2:
                degree = self.expression(children[0])
                if not (degree.is_Integer and 1 < degree <= MAX_NUMERIC_EXPONENT):
                    self.fail(tree, "root degree must be a small integer", "too large")
                return sp.root(self.expression(children[1]), degree)
            return sp.sqrt(self.expression(children[0]))
        if kind == "matrix":
            return self._matrix(tree)
        if kind == "norm":
            self.fail(tree, "a norm \\|...\\| is read only for vectors and matrices with a declared shape "
                      '(--let "x: n", --let "X: n x d")', "not read yet")
        if kind == "evalbar":
            return _EvalBar(self.expression([c for c in tree.children if hasattr(c, "data")][0]), tree)
        return self._node(tree)

    def _matrix(self, tree):
        import sympy as sp

        rows = []
        for child in tree.children:
            if hasattr(child, "data") and child.data == "mrow":
                rows.append([self.expression(entry) for entry in child.children])
        widths = {len(row) for row in rows}
        if len(widths) != 1:
            self.fail(tree, "matrix rows of different lengths", "matrix")
        return _delimited(sp.Matrix(rows), tree, self.fail)

    # -- fractions and derivatives --------------------------------------------------------
    def _fraction(self, tree):
        import sympy as sp

        parts = [c for c in tree.children if not (hasattr(c, "type") and c.type == "FRAC")]
        numerator_tree, denominator_tree = parts
        if hasattr(numerator_tree, "type"):  # \frac12
            return sp.Rational(int(str(numerator_tree)), int(str(denominator_tree)))
        derivative = self._derivative_fraction(numerator_tree, denominator_tree, tree)
        if derivative is not None:
            return derivative
        return self._divide(self.expression(numerator_tree), self.expression(denominator_tree), tree)

    def _derivative_fraction(self, numerator_tree, denominator_tree, tree):
        numerator_items = juxt_items(numerator_tree)
        denominator_items = juxt_items(denominator_tree)
        marker, order = self._differential_marker(numerator_items[0] if numerator_items else None)
        if marker is None:
            return None
        first_marker, _ = self._differential_marker(denominator_items[0] if denominator_items else None)
        if first_marker != marker:
            return None  # e.g. \frac{d}{e}: an ordinary fraction
        variables = self._derivative_variables(denominator_items, marker, tree)
        if not variables:
            return None
        total = sum(count for _, count in variables)
        if order is not None:
            if not (order.is_Integer and int(order) == total):
                self.fail(tree, f"derivative order {order} in the numerator does not match the denominator "
                          f"({total})", "cannot parse")
        elif total != 1:
            self.fail(tree, "higher-order derivative without the order in the numerator", "cannot parse")
        rest = numerator_items[1:]
        if not rest:
            return DiffOp(variables, tree)
        operand = self._as_expr(self._combine(self._juxt_values_of(rest), (), tree)[0], tree)
        return self._derivative(operand, variables, tree)

    def _juxt_values_of(self, items) -> list:
        from lark import Tree

        return self._juxt_values(Tree("juxt", list(items)))

    def _derivative_variables(self, denominator_items, marker, tree) -> list:
        variables = []
        position = 0
        while position < len(denominator_items):
            item_marker, item_order = self._differential_marker(denominator_items[position])
            if item_marker != marker or item_order is not None or position + 1 >= len(denominator_items):
                self.fail(tree, "cannot read the denominator of this derivative fraction", "cannot parse")
            variable_item = denominator_items[position + 1]
            name = name_of(variable_item.children[0], self) if variable_item.data == "item" else None
            if name is None or name.startswith("@"):
                self.fail(variable_item, "a derivative must be taken with respect to a name", "cannot parse")
            count, subscript, superscript = 1, None, None
            for script in variable_item.children[1:]:
                if script.data == "sup_script":
                    superscript = script.children[0]
                elif script.data == "sub_script":
                    subscript = script.children[0]
                else:
                    self.fail(variable_item, "a prime in the denominator of a derivative fraction", "cannot parse")
            ref = NameRef(name, subscript, node=variable_item)
            if superscript is not None:
                # \partial x^2 is the order; any other superscript belongs to the name (z^l: an index).
                exponent = self._exponent(superscript) if superscript_shape(superscript, self) == "numeric" else None
                if exponent is not None and exponent.is_Integer and 0 < exponent <= 8:
                    count = int(exponent)
                else:
                    ref = self._named_item(name, subscript, superscript, 0, variable_item)
                    if not isinstance(ref, NameRef) or ref.power is not None:
                        self.fail(variable_item, "derivative order must be a small positive integer", "cannot parse")
            variables.append((self._name_expr(ref), count))
            position += 2
        return variables

    def _differential_marker(self, item):
        """(``'partial'`` | ``'d'`` | None, order or None) for a numerator/denominator item."""
        if item is None or not hasattr(item, "data") or item.data != "item":
            return None, None
        name = name_of(item.children[0], self)
        if name == "\\mathrm{d}":
            name = "d"
        if name not in ("partial", "d"):
            return None, None
        order = None
        for script in item.children[1:]:
            if script.data != "sup_script":
                return None, None
            exponent_tree = script.children[0]
            while hasattr(exponent_tree, "data") and exponent_tree.data in ("juxt", "item") \
                    and len(exponent_tree.children) == 1:
                exponent_tree = exponent_tree.children[0]
            if not hasattr(exponent_tree, "data") or exponent_tree.data != "number":
                self.fail(item, "derivative order must be a number", "cannot parse")
            import sympy as sp

            order = sp.Integer(str(exponent_tree.children[0]))
            if not 0 < order <= 8:
                self.fail(item, "derivative order must be between 1 and 8", "too large")
        return name, order

    def _derivative(self, operand, variables, node=None):
        import sympy as sp

        if getattr(operand, "is_Matrix", False):
            self.fail(node, "derivative of a matrix", "matrix")
        return sp.Derivative(operand, *variables, evaluate=False)

    # -- juxtaposition units -----------------------------------------------------------------
    def _unit(self, values: list, position: int):
        """One multiplicative unit starting at ``values[position]``; returns (expr, next position)."""
        value = values[position]
        following = values[position + 1] if position + 1 < len(values) else None
        if isinstance(value, NameRef):
            if isinstance(following, ParenValue) and self._applies(value, following):
                return self._apply(value, following), position + 2
            return self._name_expr(value), position + 1
        if isinstance(value, FuncOp):
            return self._function_unit(value, values, position)
        if isinstance(value, Nabla):
            if following is None:
                self.fail(value.node, "\\nabla without an operand", "operator scope")
            return self._gradient_symbol(values, position + 1)
        if isinstance(value, PartialMark):
            raise Unsupported("a stray \\partial outside a derivative fraction", kind="unknown macro")
        return self._as_expr(value), position + 1

    def _function_unit(self, value: FuncOp, values, position):
        following = values[position + 1] if position + 1 < len(values) else None
        if following is None:
            self.fail(value.node, f"\\{value.name} without an argument", "operator scope")
        if value.key == "softmax":
            return self._softmax(value, following), position + 2
        if isinstance(following, ParenValue):
            if following.subscript is not None:
                self.fail(following.node, f"a component of {value.name}(...) is not read yet", "not read yet")
            arguments, next_position = following.items, position + 2
            result = self._call(value, arguments)
            # \exp(x)^2: the power written on the bracket applies to the result.
            result = self._power(result, following.power, following.node)
        elif isinstance(following, BigOp):
            # \log \sum_j e^{z_j}: the sum, with the rest of the product, is the argument
            argument, _ = self._combine(values[position + 1:], (), value.node)
            result, next_position = self._call(value, [argument]), len(values)
        else:
            if value.key in ("Max", "Min"):
                self.fail(value.node, f"\\{value.name} without a bracketed list of arguments", "not read yet")
            argument, next_position = self._unit(values, position + 1)
            result = self._call(value, [argument])
        return self._power(result, value.power, value.node), next_position

    def _softmax(self, op: FuncOp, argument):
        """``\\mathrm{softmax}(z)_j`` = exp(z_j) / sum_{k=1}^{n} exp(z_k) for a named vector z (bold or not)."""
        import sympy as sp

        if not isinstance(argument, ParenValue) or len(argument.items) != 1 or argument.subscript is None \
                or op.primes or op.power is not None or argument.power is not None:
            self.fail(op.node, "softmax is read only as a component of a named vector, softmax(z)_j", "not read yet")
        vector = argument.items[0]
        if not isinstance(vector, sp.Symbol) or vector.is_integer:
            self.fail(op.node, "softmax of an expression (not a named vector) is not read yet", "not read yet")
        base = decorated_letter(vector.name) or vector.name
        indices = self._indices(argument.subscript)
        if isinstance(indices, str) or len(indices) != 1:
            self.fail(argument.node, "softmax(z) needs one index, as in softmax(z)_j", "not read yet")
        if self.doubt(("softmax",), "softmax(z)_j read with its sum over k = 1..n",
                      "softmax(z)_j over a range the text gives elsewhere", op.node):
            self.fail(op.node, "softmax over a range other than 1..n", "not read yet")
        components = indexed_base(base)
        k = sp.Dummy("k", integer=True)
        self.context.used_names.add(base)
        return sp.exp(components[indices[0]]) / sp.Sum(sp.exp(components[k]), (k, 1, real_symbol("n")))

    def _call(self, op: FuncOp, arguments):
        import sympy as sp

        builder, arity, kink = notation.function_meaning(op.key)
        if arity is not None and len(arguments) != arity:
            self.fail(op.node, f"\\{op.name} takes {arity} argument{'s' if arity > 1 else ''}", "cannot parse")
        if arity is None and len(arguments) < 2:
            self.fail(op.node, f"\\{op.name} of a single argument (a maximum over an index?) is not read yet",
                      "not read yet")
        for argument in arguments:
            if getattr(argument, "is_Matrix", False) or self._matrix_names(argument):
                self.fail(op.node, f"\\{op.name} of a matrix or vector is not read yet", "matrix")
        if not op.primes:
            return builder(*arguments)
        if len(arguments) != 1:
            self.fail(op.node, f"\\{op.name}' of several arguments is ambiguous", "cannot parse")
        variable = sp.Dummy("t", real=True)
        return sp.diff(builder(variable), variable, op.primes).xreplace({variable: arguments[0]})

    def _applies(self, ref: NameRef, arguments: ParenValue) -> bool:
        """Is ``NAME(...)`` an application (True) or a product (False)?"""
        if ref.name in ("o", "O") and ref.subscript is None and ref.power is None and not self.declaring \
                and ref.name not in self.context.declared_names and not self.context.is_function(ref.name):
            self.fail(ref.node, f"{ref.name}(...) reads as Landau notation, which is not read", "not read yet")
        if ref.indexed and not self.declaring:
            return False  # z^{l}(1 - z^{l}): a name with a superscript index is a value
        if self.declaring or ref.primes or self.context.is_function(ref.name):
            return True
        if real_symbol(ref.name) in self.context.definitions or ref.name in self.context.plain_names:
            return False
        shown = f"{latex_name(ref.name)}(...)"
        if ref.name in self.context.step_bare_names or ref.subscript is not None or ref.power is not None:
            return False  # used as a plain value in this step (w(1 - w)), or subscripted/powered
        if len(arguments.items) > 1:
            return True  # a list of arguments is never a product
        if is_plain_name(arguments.items[0]):
            return not self.doubt(("apply", ref.name), f"{shown} read as {latex_name(ref.name)} applied to its "
                                  "argument", f"{shown} read as a product", ref.node)
        if ref.name in self.context.notation.bare_names:
            return False
        return self.doubt(("product", ref.name), f"{shown} read as a product",
                          f"{shown} read as {latex_name(ref.name)} applied to its argument", ref.node)

    def _gradient_symbol(self, values: list, position: int):
        """``\\nabla v`` / ``\\nabla \\log y_j``: one (possibly indexed) symbol per operand."""
        value = values[position]
        prefix = "\\nabla "
        if isinstance(value, FuncOp) and position + 1 < len(values) and isinstance(values[position + 1], NameRef):
            prefix += f"\\{value.name} "
            value = values[position + 1]
            position += 1
        if not isinstance(value, NameRef) or value.primes:
            raise Unsupported("\\nabla must be followed by a name (optionally \\log name)", kind="not read yet")
        name = prefix + latex_name(value.name)
        self.context.used_names.add(name)
        if value.subscript is None:
            expr = real_symbol(name)
        else:
            indices = self._indices(value.subscript)
            if isinstance(indices, str):
                expr = real_symbol(f"{name}_{{{indices}}}")
            else:
                expr = indexed_base(name)[indices]
        return self._power(expr, value.power), position + 1

    def _apply(self, ref: NameRef, arguments: ParenValue):
        import sympy as sp

        if ref.subscript is not None:
            self.fail(ref.node, f"a subscripted function application {ref.name}_...(...)", "not read yet")
        if ref.power is not None and getattr(ref.power, "is_number", False) and ref.power.is_negative:
            # f^{-1}(y) is the inverse function (normalising flows, change of variables), never 1/f(y)
            self.fail(ref.node, f"{latex_name(ref.name)}^{{{ref.power}}}(...): an inverse function is not read yet",
                      "not read yet")
        if arguments.subscript is not None:
            self.fail(arguments.node, f"a component {latex_name(ref.name)}(...)_... is not read yet", "not read yet")
        self.context.used_names.add(ref.name)
        if ref.name == "sigma" and self._logistic_sigma():
            variable = sp.Dummy("t", real=True)
            logistic = sp.Lambda(variable, 1 / (1 + sp.exp(-variable)))
            if len(arguments.items) != 1:
                raise Unsupported("\\sigma of several arguments", kind="cannot parse")
            body = logistic(variable)
            result = sp.diff(body, variable, ref.primes).xreplace({variable: arguments.items[0]}) if ref.primes \
                else logistic(arguments.items[0])
        elif ref.primes:
            if len(arguments.items) != 1:
                raise Unsupported(f"{ref.name}{chr(39) * ref.primes} of several arguments is ambiguous",
                                  kind="cannot parse")
            result = _prime(function(ref.name), arguments.items[0], ref.primes)
        else:
            result = function(ref.name)(*arguments.items)
        result = self._power(result, arguments.power, arguments.node)
        return self._power(result, ref.power, ref.node)

    def _logistic_sigma(self) -> bool:
        """An undeclared σ is a general function, with a doubt: it may be the logistic sigmoid."""
        context = self.context
        if "sigma" in context.concrete_functions or "sigma" in context.function_args or self.declaring:
            return False
        return self.doubt(("logistic",), "\\sigma read as a general function",
                          "\\sigma read as the logistic sigmoid 1/(1 + e^{-t})")

    def _name_expr(self, ref: NameRef):
        name = ref.name
        context = self.context
        if ref.primes:
            arguments = context.function_args.get(name)
            if arguments is None or len(arguments) != 1:
                variable = next(v for v in ("x", "t", "u") if v != name)  # never x = x(x): a cycle
                raise Unsupported(f"{latex_name(name)}{chr(39) * ref.primes} without an argument: "
                                  f"declare {latex_name(name)} = {latex_name(name)}({variable})",
                                  self.position(ref.node), "declaration needed")
            result = _prime(function(name), arguments[0], ref.primes)
            return self._power(result, ref.power, ref.node)
        if ref.family_indices is not None:
            indices = () if ref.subscript is None else self._indices(ref.subscript)
            if isinstance(indices, str):
                self.fail(ref.node, f"a word subscript on {name}", "superscript index")
            context.used_names.add(name)
            return self._power(indexed_base(name)[ref.family_indices + indices], ref.power, ref.node)
        if ref.subscript is not None:
            partial = self._partial_subscript(ref)
            if partial is not None:
                return self._power(partial, ref.power, ref.node)
            indices = self._indices(ref.subscript)
            context.used_names.add(name)
            if isinstance(indices, str):
                expr = real_symbol(f"{name}_{{{indices}}}")
            else:
                expr = indexed_base(name)[indices]
            return self._power(expr, ref.power, ref.node)
        context.used_names.add(name)
        return self._power(real_symbol(name), ref.power, ref.node)

    def _partial_subscript(self, ref: NameRef):
        """``f_{yz}`` = second partial of f in its arguments y, z (when f has named arguments)."""
        if ref.name not in self.context.function_args:
            return None
        arguments = self.context.function_args[ref.name]
        argument_names = {str(a): a for a in arguments}
        letters = subscript_letters(ref.subscript)
        if not letters or any(letter not in argument_names for letter in letters):
            return None
        self.context.used_names.add(ref.name)
        applied = function(ref.name)(*arguments)
        counts: dict = {}
        for letter in letters:
            counts[argument_names[letter]] = counts.get(argument_names[letter], 0) + 1
        return self._derivative(applied, list(counts.items()))

    def _indices(self, tree):
        """Subscript -> tuple of index expressions, or a str for a word subscript (x_max)."""
        import sympy as sp

        kind = tree.data
        if kind == "letter":
            return (index_symbol(str(tree.children[0])),)
        if kind == "number":
            return (sp.Integer(str(tree.children[0])),)
        if kind == "index_list":
            return tuple(self._index_expr(child) for child in tree.children)
        if kind == "command":
            name = str(tree.children[0]).lstrip("\\")
            if name not in GREEK:
                self.fail(tree, f"unknown macro \\{name} in a subscript", "unknown macro")
            return (index_symbol(name),)
        if kind == "decorated":
            return decorated_label(str(tree.children[0]))
        letters = subscript_letters(tree)
        if letters is not None:
            if len(letters) >= 3:
                return "".join(letters)
            return tuple(index_symbol(letter) for letter in letters)
        return (self._index_expr(tree),)

    def _index_expr(self, tree):
        converter = _IndexConverter(self.context, tracked=self.tracked)
        return converter.expression(tree)

    def _exponent(self, tree, bounded: bool = True):
        exponent = self.expression(tree)
        if bounded and getattr(exponent, "is_Number", False) and abs(exponent) > MAX_NUMERIC_EXPONENT:
            self.fail(tree, f"numeric exponent {_short(exponent)} exceeds {MAX_NUMERIC_EXPONENT} in magnitude",
                      "too large")
        return exponent

    def _evaluation(self, bar, subscript):
        """``\\left. A \\right|_{x=a}``: A with x replaced by a, after its derivatives are taken."""
        import sympy as sp

        if subscript.data != "limit":
            self.fail(bar.node, "an evaluation bar needs a point written x=a", "not read yet")
        variable = real_symbol(str(subscript.children[0]))
        return sp.Subs(bar.value, (variable,), (self.expression(subscript.children[1]),))

    # -- arithmetic with the matrix check ----------------------------------------------------------
    def _matrix_names(self, expr) -> set:
        matrix_like = self.context.notation.matrix_like
        if not matrix_like or not hasattr(expr, "free_symbols"):
            return set()
        return {s.name for s in expr.free_symbols if s.name in matrix_like}

    def _multiply(self, factors: list):
        with_matrices = [names for names in (self._matrix_names(f) for f in factors) if names]
        others = [f for f in factors if not self._matrix_names(f) and getattr(f, "free_symbols", None)]
        if with_matrices and (len(with_matrices) >= 2 or others):
            # W x, \delta W: a product with a matrix or vector is not commutative, so it is not read as scalars
            first = sorted(with_matrices[0])[0]
            second = sorted(with_matrices[1])[0] if len(with_matrices) >= 2 else _short(others[0])
            evidence = self.context.notation.matrix_like[first]
            if "^" in first:  # W^{(1)}: a layer's matrix; shapes are declared for plain names only
                raise Unsupported(f"a product of {latex_name(first)} and {second}, with {latex_name(first)} used as a "
                                  f"matrix or vector ({evidence}): matrix algebra with indexed names (a layer's "
                                  "matrix) is not read yet", kind="matrix")
            raise Unsupported(f"a product of {latex_name(first)} and {second}, with {latex_name(first)} used as a "
                              f"matrix or vector ({evidence}): declare the shapes to read it as matrix algebra "
                              f'(--let "{latex_name(first)}: m x n")', kind="matrix")
        result = factors[0]
        for factor in factors[1:]:
            _check_size(result)
            result = result * factor
        return result

    def _divide(self, numerator, denominator, node=None):
        if getattr(denominator, "is_Matrix", False):
            self.fail(node, "division by a matrix", "matrix")
        names = self._matrix_names(denominator)
        if names:
            self.fail(node, f"division by {latex_name(sorted(names)[0])}, used as a matrix or vector", "matrix")
        if denominator == 0:
            self.fail(node, "division by zero", "undefined")
        return numerator / denominator

    def _power(self, expr, exponent, node=None):
        if exponent is None:
            return expr
        names = self._matrix_names(expr)
        if names and exponent != 1:
            self.fail(node, f"a power of {latex_name(sorted(names)[0])}, used as a matrix or vector", "matrix")
        return _power(expr, exponent)


class _EvalBar:
    """``\\left. A \\right|`` before its point ``_{x=a}`` is read."""

    def __init__(self, value, node):
        self.value = value
        self.node = node


class _IndexConverter(Converter):
    """Letters inside subscripts and summation limits are integer indices (n stays a size)."""

    def _named_item(self, name, subscript, superscript, primes, node=None):
        if len(name) == 1 and subscript is None and not primes and name != "n":
            exponent = None if superscript is None else self._exponent(superscript)
            return _power(index_symbol(name), exponent)
        return super()._named_item(name, subscript, superscript, primes, node)


# --- helpers over the parse tree -------------------------------------------------------------


def _power(expr, exponent):
    if exponent is None:
        return expr
    _check_size(expr)
    if getattr(expr, "is_Matrix", False):
        if not (exponent.is_Integer and 0 <= exponent <= MAX_NUMERIC_EXPONENT):
            raise Unsupported("matrix power must be a small non-negative integer", kind="matrix")
        return expr ** int(exponent)
    import sympy as sp

    return sp.Pow(expr, exponent)


def _check_size(expr) -> None:
    """Refuse numbers that would blow up (a bounded exponent of a 15-digit base can still be huge)."""
    if getattr(expr, "is_Integer", False) and abs(expr) > 10 ** 200:
        raise Unsupported("integer too large", kind="too large")


def _prime(applied_function, argument, order: int):
    import sympy as sp

    if order > 8:
        raise Unsupported("more than 8 primes", kind="too large")
    if isinstance(argument, sp.Symbol):
        return sp.Derivative(applied_function(argument), (argument, order), evaluate=False)
    dummy = sp.Dummy("t", real=True)
    return sp.Subs(sp.Derivative(applied_function(dummy), (dummy, order)), dummy, argument)


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 20 else text[:17] + "..."


def _delimited(matrix, tree, fail):
    """A vmatrix is the determinant of its entries (a Vmatrix, a norm, is not read): never a matrix."""
    from symderiv.writeup.matrix_patterns import delimiters

    kind = delimiters(tree)
    if kind == "Vmatrix":
        fail(tree, "a Vmatrix (a norm written with double bars) is not read", "matrix")
    if kind == "vmatrix":
        if matrix.rows != matrix.cols:
            fail(tree, "the determinant (vmatrix) of a matrix that is not square", "matrix")
        return matrix.det()
    return matrix
