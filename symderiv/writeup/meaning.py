"""Turn a lark parse tree of LaTeX math into a SymPy expression in *surface* form.

Surface form keeps the writer's names: a declared dependency ``g`` (``g = g(x)``)
stays the symbol ``g`` and a derivative stays an unevaluated
``Derivative(operand, var)``, because what ``\\frac{\\partial \\ell}{\\partial g}``
means depends on which names are intermediate variables. :mod:`resolve` later
substitutes the declarations and evaluates the derivatives.

Conventions (documented in docs/readme/check.md):
- single letters and Greek macros are real symbols; letters in subscripts and
  summation variables are integer indices (``x_i`` is ``Indexed(x, i)``);
- ``NAME(...)`` is an application when NAME is a known function (declared,
  primed somewhere in the file, a concrete definition, or one of the
  conventional function letters f, g, h, sigma, phi, psi, ell), otherwise a product;
- ``\\sum``/``\\prod`` and the operator ``\\frac{d}{dx}`` take the rest of the
  juxtaposed product as their operand; ``\\exp``, ``\\log``, ... without
  parentheses take the next factor;
- ``f_{y}`` is the partial derivative of ``f`` in its argument ``y`` when ``f``
  is declared with argument names (``\\ell = f(y, z)``);
- ``\\nabla v`` is one symbol (the gradient of the loss with respect to v).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from symderiv.writeup.latex_parser import Unsupported

MAX_NUMERIC_EXPONENT = 64

ELEMENTARY = {
    "exp": "exp", "log": "log", "ln": "log", "sin": "sin", "cos": "cos", "tan": "tan",
    "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "arctan": "atan", "arcsin": "asin",
    "arccos": "acos", "sec": "sec", "csc": "csc", "cot": "cot",
}
GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
    "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega", "ell",
}
CONVENTIONAL_FUNCTIONS = {"f", "g", "h", "sigma", "phi", "varphi", "psi", "ell"}
ELIDED = {"vdots", "ddots", "cdots", "ldots", "dots"}


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

    def is_function(self, name: str) -> bool:
        if name in self.function_args or name in self.concrete_functions or name in self.primed_names:
            return True
        return name in CONVENTIONAL_FUNCTIONS and name not in self.plain_names and name not in self.step_plain_names

    def conventional_only_functions(self) -> set[str]:
        """Letters that are functions only by convention (f, g, h, ...), not by a declaration or a prime."""
        return {name for name in CONVENTIONAL_FUNCTIONS
                if name not in self.function_args and name not in self.concrete_functions
                and name not in self.primed_names and name not in self.plain_names}


# --- cached sympy atoms -------------------------------------------------------------

def real_symbol(name: str):
    import sympy as sp

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


@dataclass
class ParenValue:
    items: list
    power: Any = None


@dataclass
class FuncOp:
    name: str
    power: Any = None
    primes: int = 0


@dataclass
class BigOp:
    kind: str
    variable: Any
    lower: Any
    upper: Any


@dataclass
class DiffOp:
    variables: list  # [(var, count)]


@dataclass
class Nabla:
    pass


@dataclass
class PartialMark:
    order: Any = None


class Converter:
    """Recursive interpreter over the parse tree; builds sympy objects directly."""

    def __init__(self, context: Context, declaring: bool = False):
        self.context = context
        self.declaring = declaring

    # -- entry points -------------------------------------------------------------------
    def expression(self, tree) -> Any:
        value = self._node(tree)
        return self._as_expr(value)

    # -- tree dispatch ------------------------------------------------------------------
    def _node(self, tree) -> Any:
        kind = tree.data
        if kind == "add":
            return self.expression(tree.children[0]) + self.expression(tree.children[-1])
        if kind == "sub":
            return self.expression(tree.children[0]) - self.expression(tree.children[1])
        if kind == "neg":
            return -self.expression(tree.children[0])
        if kind == "mul_explicit":
            return self._multiply([self.expression(tree.children[0]), self.expression(tree.children[-1])])
        if kind == "div":
            numerator, denominator = self.expression(tree.children[0]), self.expression(tree.children[1])
            return self._divide(numerator, denominator)
        if kind == "juxt":
            return self._combine([self._item(child) for child in tree.children])
        if kind == "item":
            return self._combine([self._item(tree)])
        if kind in ("letter", "command"):
            return self._as_expr(self._named_item(_name_of(tree), None, None, 0))
        if kind in ("number", "brace", "paren", "frac", "sqrt", "matrix", "abs"):
            return self._as_expr(self._base(tree))
        if kind == "start":
            return self._node(tree.children[0])
        raise Unsupported(f"unsupported construct {kind!r}")

    def _as_expr(self, value) -> Any:
        if isinstance(value, NameRef):
            return self._name_expr(value)
        if isinstance(value, ParenValue):
            if len(value.items) != 1:
                raise Unsupported("a comma-separated list where a single expression was expected")
            return _power(value.items[0], value.power)
        if isinstance(value, (FuncOp, BigOp, DiffOp, Nabla)):
            raise Unsupported("an operator (function, sum, derivative or nabla) without an operand")
        if isinstance(value, PartialMark):
            raise Unsupported("a stray \\partial outside a derivative fraction")
        return value

    # -- one item: base plus scripts ------------------------------------------------------
    def _item(self, tree) -> Any:
        if tree.data != "item":
            return self._node(tree)
        base_tree, scripts = tree.children[0], tree.children[1:]
        subscript = None
        superscript = None
        primes = 0
        for script in scripts:
            if script.data == "sub_script":
                if subscript is not None:
                    raise Unsupported("double subscript")
                subscript = script.children[0]
            elif script.data == "sup_script":
                if superscript is not None:
                    raise Unsupported("double superscript")
                superscript = script.children[0]
            else:
                primes += len(str(script.children[0]))
        name = _name_of(base_tree)
        if name is not None:
            return self._named_item(name, subscript, superscript, primes)
        value = self._base(base_tree)
        if subscript is not None:
            raise Unsupported("a subscript on a bracket or number")
        if primes:
            raise Unsupported("a prime on a bracket or number")
        if superscript is not None:
            exponent = self._exponent(superscript)
            if isinstance(value, ParenValue):
                return ParenValue(value.items, exponent if value.power is None else value.power * exponent)
            return _power(self._as_expr(value), exponent)
        return value

    def _named_item(self, name: str, subscript, superscript, primes: int) -> Any:
        import sympy as sp

        if name in ELEMENTARY:
            if subscript is not None:
                raise Unsupported(f"\\{name} with a subscript")
            if primes > 8:
                raise Unsupported("more than 8 primes")
            return FuncOp(ELEMENTARY[name], None if superscript is None else self._exponent(superscript), primes)
        if name in ("sum", "prod"):
            return self._bigop(name, subscript, superscript)
        if name == "partial":
            return PartialMark(None if superscript is None else self._exponent(superscript))
        if name == "nabla":
            if subscript is not None or superscript is not None:
                raise Unsupported("\\nabla with a subscript or power")
            return Nabla()
        if name in ELIDED:
            raise Unsupported(f"elided entries (\\{name}) cannot be checked")
        if name == "delta" and subscript is not None:
            indices = _kronecker_pair(subscript) or self._indices(subscript)
            if isinstance(indices, tuple) and len(indices) == 2:
                return _power(sp.KroneckerDelta(*indices), None if superscript is None else self._exponent(superscript))
        if name == "pi" and subscript is None:
            return _power(sp.pi, None if superscript is None else self._exponent(superscript))
        if name == "e" and superscript is not None and subscript is None and "e" not in self.context.declared_names:
            return sp.exp(self._exponent(superscript, bounded=False))
        if len(name) > 1 and name not in GREEK:
            raise Unsupported(f"unknown macro \\{name}")
        return NameRef(name, subscript, None if superscript is None else self._exponent(superscript), primes)

    def _bigop(self, kind: str, subscript, superscript) -> BigOp:
        import sympy as sp

        if subscript is None:
            raise Unsupported(f"\\{kind} without a summation variable")
        if subscript.data == "limit":
            variable = index_symbol(str(subscript.children[0]))
            lower = self._index_expr(subscript.children[1])
        elif subscript.data == "letter":
            variable = index_symbol(str(subscript.children[0]))
            lower = sp.Integer(1)
        else:
            raise Unsupported(f"\\{kind} with an unsupported range")
        if superscript is None:
            upper = real_symbol("n")
        else:
            upper = self.expression(superscript)
        return BigOp(kind, variable, lower, upper)

    def _base(self, tree) -> Any:
        import sympy as sp

        kind = tree.data
        if kind == "number":
            text = str(tree.children[0])
            return sp.Rational(text) if "." in text else sp.Integer(text)
        if kind == "brace":
            return self.expression(tree.children[0])
        if kind == "paren":
            return ParenValue([self.expression(child) for child in tree.children])
        if kind == "abs":
            return sp.Abs(self.expression(tree.children[1]))
        if kind == "frac":
            return self._fraction(tree)
        if kind == "sqrt":
            children = [c for c in tree.children if not hasattr(c, "type")]
            if len(children) == 2:
                degree = self.expression(children[0])
                if not (degree.is_Integer and 1 < degree <= MAX_NUMERIC_EXPONENT):
                    raise Unsupported("root degree must be a small integer")
                return sp.root(self.expression(children[1]), degree)
            return sp.sqrt(self.expression(children[0]))
        if kind == "matrix":
            return self._matrix(tree)
        return self._node(tree)

    def _matrix(self, tree):
        import sympy as sp

        rows = []
        for child in tree.children:
            if hasattr(child, "data") and child.data == "mrow":
                rows.append([self.expression(entry) for entry in child.children])
        widths = {len(row) for row in rows}
        if len(widths) != 1:
            raise Unsupported("matrix rows of different lengths")
        return sp.Matrix(rows)

    # -- fractions and derivatives --------------------------------------------------------
    def _fraction(self, tree):
        import sympy as sp

        parts = [c for c in tree.children if not (hasattr(c, "type") and c.type == "FRAC")]
        numerator_tree, denominator_tree = parts
        if hasattr(numerator_tree, "type"):  # \frac12
            return sp.Rational(int(str(numerator_tree)), int(str(denominator_tree)))
        derivative = self._derivative_fraction(numerator_tree, denominator_tree)
        if derivative is not None:
            return derivative
        return self._divide(self.expression(numerator_tree), self.expression(denominator_tree))

    def _derivative_fraction(self, numerator_tree, denominator_tree):
        numerator_items = _juxt_items(numerator_tree)
        denominator_items = _juxt_items(denominator_tree)
        marker, order = _differential_marker(numerator_items[0] if numerator_items else None)
        if marker is None:
            return None
        first_marker, _ = _differential_marker(denominator_items[0] if denominator_items else None)
        if first_marker != marker:
            return None  # e.g. \frac{d}{e}: an ordinary fraction
        variables = []
        position = 0
        while position < len(denominator_items):
            item_marker, item_order = _differential_marker(denominator_items[position])
            if item_marker != marker or item_order is not None or position + 1 >= len(denominator_items):
                raise Unsupported("cannot read the denominator of this derivative fraction")
            variable_item = denominator_items[position + 1]
            name = _name_of(variable_item.children[0]) if variable_item.data == "item" else None
            if name is None:
                raise Unsupported("a derivative must be taken with respect to a name")
            count = 1
            subscript = None
            for script in variable_item.children[1:]:
                if script.data == "sup_script":
                    exponent = self._exponent(script.children[0])
                    if not (exponent.is_Integer and 0 < exponent <= 8):
                        raise Unsupported("derivative order must be a small positive integer")
                    count = int(exponent)
                elif script.data == "sub_script":
                    subscript = script.children[0]
                else:
                    raise Unsupported("a prime in the denominator of a derivative fraction")
            variables.append((self._name_expr(NameRef(name, subscript)), count))
            position += 2
        if not variables:
            return None
        total = sum(count for _, count in variables)
        if order is not None:
            if not (order.is_Integer and int(order) == total):
                raise Unsupported(f"derivative order {order} in the numerator does not match the denominator ({total})")
        elif total != 1:
            raise Unsupported("higher-order derivative without the order in the numerator")
        rest = numerator_items[1:]
        if not rest:
            return DiffOp(variables)
        operand = self._as_expr(self._combine([self._item(item) for item in rest]))
        return _derivative(operand, variables)

    # -- juxtaposition --------------------------------------------------------------------
    def _combine(self, values: list) -> Any:
        factors = []
        position = 0
        while position < len(values):
            value = values[position]
            if isinstance(value, BigOp):
                body = self._as_expr(self._combine(values[position + 1:]))
                factors.append(_bigop_expr(value, body))
                break
            if isinstance(value, DiffOp):
                if position + 1 >= len(values):
                    raise Unsupported("a derivative operator without an operand")
                operand = self._as_expr(self._combine(values[position + 1:]))
                factors.append(_derivative(operand, value.variables))
                break
            expr, position = self._unit(values, position)
            factors.append(expr)
        if len(factors) == 1:
            return factors[0]
        return self._multiply(factors)

    def _unit(self, values: list, position: int):
        """One multiplicative unit starting at ``values[position]``; returns (expr, next position)."""
        value = values[position]
        following = values[position + 1] if position + 1 < len(values) else None
        if isinstance(value, NameRef):
            if isinstance(following, ParenValue) and (self.declaring or value.primes or self.context.is_function(value.name)):
                return self._apply(value, following), position + 2
            return self._name_expr(value), position + 1
        if isinstance(value, FuncOp):
            if following is None:
                raise Unsupported(f"\\{value.name} without an argument")
            if isinstance(following, ParenValue):
                if len(following.items) != 1:
                    raise Unsupported(f"\\{value.name} takes one argument")
                argument, next_position = following.items[0], position + 2
                result = _elementary(value, argument)
                # \exp(x)^2: the power written on the bracket applies to the result.
                result = _power(result, following.power)
            else:
                argument, next_position = self._unit(values, position + 1)
                result = _elementary(value, argument)
            return _power(result, value.power), next_position
        if isinstance(value, Nabla):
            if following is None:
                raise Unsupported("\\nabla without an operand")
            return self._gradient_symbol(values, position + 1)
        if isinstance(value, PartialMark):
            raise Unsupported("a stray \\partial outside a derivative fraction")
        return self._as_expr(value), position + 1

    def _gradient_symbol(self, values: list, position: int):
        """``\\nabla v`` / ``\\nabla \\log y_j``: one (possibly indexed) symbol per operand."""
        value = values[position]
        prefix = "\\nabla "
        if isinstance(value, FuncOp) and position + 1 < len(values) and isinstance(values[position + 1], NameRef):
            prefix += f"\\{value.name} "
            value = values[position + 1]
            position += 1
        if not isinstance(value, NameRef) or value.primes:
            raise Unsupported("\\nabla must be followed by a name (optionally \\log name)")
        name = prefix + _latex_name(value.name)
        self.context.used_names.add(name)
        if value.subscript is None:
            expr = real_symbol(name)
        else:
            indices = self._indices(value.subscript)
            if isinstance(indices, str):
                expr = real_symbol(f"{name}_{{{indices}}}")
            else:
                expr = indexed_base(name)[indices]
        return _power(expr, value.power), position + 1

    def _apply(self, ref: NameRef, arguments: ParenValue):
        if ref.subscript is not None:
            raise Unsupported(f"a subscripted function application {ref.name}_...(...)")
        self.context.used_names.add(ref.name)
        applied_function = function(ref.name)
        if ref.primes:
            if len(arguments.items) != 1:
                raise Unsupported(f"{ref.name}{chr(39) * ref.primes} of several arguments is ambiguous")
            result = _prime(applied_function, arguments.items[0], ref.primes)
        else:
            result = applied_function(*arguments.items)
        result = _power(result, arguments.power)
        return _power(result, ref.power)

    def _name_expr(self, ref: NameRef):
        name = ref.name
        context = self.context
        if ref.primes:
            arguments = context.function_args.get(name)
            if arguments is None or len(arguments) != 1:
                raise Unsupported(f"{name}{chr(39) * ref.primes} without an argument: declare {name} = {name}(x)")
            result = _prime(function(name), arguments[0], ref.primes)
            return _power(result, ref.power)
        if ref.subscript is not None:
            partial = self._partial_subscript(ref)
            if partial is not None:
                return _power(partial, ref.power)
            indices = self._indices(ref.subscript)
            context.used_names.add(name)
            if isinstance(indices, str):
                expr = real_symbol(f"{name}_{{{indices}}}")
            else:
                expr = indexed_base(name)[indices]
            return _power(expr, ref.power)
        context.used_names.add(name)
        return _power(real_symbol(name), ref.power)

    def _partial_subscript(self, ref: NameRef):
        """``f_{yz}`` = second partial of f in its arguments y, z (when f has named arguments)."""
        target = None
        if ref.name in self.context.function_args:
            target = ref.name
        if target is None:
            return None
        arguments = self.context.function_args[target]
        argument_names = {str(a): a for a in arguments}
        letters = _subscript_letters(ref.subscript)
        if not letters or any(letter not in argument_names for letter in letters):
            return None
        self.context.used_names.add(target)
        applied = function(target)(*arguments)
        counts: dict = {}
        for letter in letters:
            counts[argument_names[letter]] = counts.get(argument_names[letter], 0) + 1
        return _derivative(applied, list(counts.items()))

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
            return (index_symbol(str(tree.children[0]).lstrip("\\")),)
        letters = _subscript_letters(tree)
        if letters is not None:
            if len(letters) >= 3:
                return "".join(letters)
            return tuple(index_symbol(letter) for letter in letters)
        return (self._index_expr(tree),)

    def _index_expr(self, tree):
        converter = _IndexConverter(self.context)
        return converter.expression(tree)

    def _exponent(self, tree, bounded: bool = True):
        exponent = self.expression(tree)
        if bounded and getattr(exponent, "is_Number", False) and abs(exponent) > MAX_NUMERIC_EXPONENT:
            raise Unsupported(f"numeric exponent {_short(exponent)} exceeds {MAX_NUMERIC_EXPONENT} in magnitude")
        return exponent

    def _multiply(self, factors: list):
        result = factors[0]
        for factor in factors[1:]:
            _check_size(result)
            result = result * factor
        return result

    def _divide(self, numerator, denominator):
        if getattr(denominator, "is_Matrix", False):
            raise Unsupported("division by a matrix")
        if denominator == 0:
            raise Unsupported("division by zero")
        return numerator / denominator


class _IndexConverter(Converter):
    """Letters inside subscripts and summation limits are integer indices (n stays a size)."""

    def _named_item(self, name, subscript, superscript, primes):
        if len(name) == 1 and subscript is None and not primes and name != "n":
            return _power(index_symbol(name), None if superscript is None else self._exponent(superscript))
        return super()._named_item(name, subscript, superscript, primes)


# --- helpers ---------------------------------------------------------------------------

def _kronecker_pair(tree):
    """``\\delta_{1k}``, ``\\delta_{5k}``, ``\\delta_{12}``: two one-character indices (digits or letters)."""
    import sympy as sp

    def single(node):
        while hasattr(node, "data") and node.data == "item" and len(node.children) == 1:
            node = node.children[0]
        if not hasattr(node, "data"):
            return None
        if node.data == "letter":
            return index_symbol(str(node.children[0]))
        if node.data == "number" and len(str(node.children[0])) == 1:
            return sp.Integer(str(node.children[0]))
        return None

    while tree.data in ("juxt", "item") and len(tree.children) == 1:
        tree = tree.children[0]
        if not hasattr(tree, "data"):
            return None
    if tree.data == "number" and len(str(tree.children[0])) == 2 and str(tree.children[0]).isdigit():
        digits = str(tree.children[0])
        return sp.Integer(digits[0]), sp.Integer(digits[1])
    if tree.data == "juxt" and len(tree.children) == 2:
        pair = tuple(single(child) for child in tree.children)
        if all(p is not None for p in pair):
            return pair
    return None


def _name_of(tree):
    if not hasattr(tree, "data"):
        return None
    if tree.data == "letter":
        return str(tree.children[0])
    if tree.data == "command":
        return str(tree.children[0]).lstrip("\\")
    return None


def _latex_name(name: str) -> str:
    return f"\\{name}" if len(name) > 1 else name


def _juxt_items(tree) -> list:
    if tree.data == "juxt":
        return list(tree.children)
    if tree.data == "item":
        return [tree]
    return [tree]


def _differential_marker(item):
    """(``'partial'`` | ``'d'`` | None, order or None) for a numerator/denominator item."""
    if item is None or not hasattr(item, "data") or item.data != "item":
        return None, None
    name = _name_of(item.children[0])
    if name not in ("partial", "d"):
        return None, None
    order = None
    for script in item.children[1:]:
        if script.data != "sup_script":
            return None, None
        exponent_tree = script.children[0]
        # ^{8} arrives as juxt > item > number; unwrap single-child wrappers.
        while hasattr(exponent_tree, "data") and exponent_tree.data in ("juxt", "item") and len(exponent_tree.children) == 1:
            exponent_tree = exponent_tree.children[0]
        if not hasattr(exponent_tree, "data") or exponent_tree.data != "number":
            raise Unsupported(f"derivative order must be a number (\\{name}^...)" if name == "partial" else "derivative order must be a number")
        import sympy as sp

        order = sp.Integer(str(exponent_tree.children[0]))
        if not 0 < order <= 8:
            raise Unsupported("derivative order must be between 1 and 8")
    return name, order


def _subscript_letters(tree):
    """Letters of a subscript made only of letters (``ij``, ``yz``), else None."""
    if tree.data == "letter":
        return [str(tree.children[0])]
    if tree.data == "command" and str(tree.children[0]).lstrip("\\") in GREEK:
        return [str(tree.children[0]).lstrip("\\")]
    if tree.data == "juxt":
        letters = []
        for item in tree.children:
            if item.data != "item" or len(item.children) != 1:
                return None
            name = _name_of(item.children[0])
            if name is None or (len(name) > 1 and name not in GREEK):
                return None
            letters.append(name)
        return letters
    if tree.data == "item" and len(tree.children) == 1:
        return _subscript_letters(tree.children[0])
    return None


def _power(expr, exponent):
    if exponent is None:
        return expr
    _check_size(expr)
    if getattr(expr, "is_Matrix", False):
        if not (exponent.is_Integer and 0 <= exponent <= MAX_NUMERIC_EXPONENT):
            raise Unsupported("matrix power must be a small non-negative integer")
        return expr ** int(exponent)
    import sympy as sp

    return sp.Pow(expr, exponent)


def _check_size(expr) -> None:
    """Refuse numbers that would blow up (a bounded exponent of a 15-digit base can still be huge)."""
    if getattr(expr, "is_Integer", False) and abs(expr) > 10 ** 200:
        raise Unsupported("integer too large")


def _derivative(operand, variables):
    import sympy as sp

    if getattr(operand, "is_Matrix", False):
        raise Unsupported("derivative of a matrix")
    return sp.Derivative(operand, *variables, evaluate=False)


def _prime(applied_function, argument, order: int):
    import sympy as sp

    if order > 8:
        raise Unsupported("more than 8 primes")
    if isinstance(argument, sp.Symbol):
        return sp.Derivative(applied_function(argument), (argument, order), evaluate=False)
    dummy = sp.Dummy("t", real=True)
    return sp.Subs(sp.Derivative(applied_function(dummy), (dummy, order)), dummy, argument)


def _elementary(op: FuncOp, argument):
    """``\\tanh(x)``, or with primes ``\\tanh'(x)``: the derivative evaluated at the argument."""
    import sympy as sp

    function_of = getattr(sp, op.name)
    if not op.primes:
        return function_of(argument)
    variable = sp.Dummy("t", real=True)
    return sp.diff(function_of(variable), variable, op.primes).xreplace({variable: argument})


def _bigop_expr(op: BigOp, body):
    import sympy as sp

    if getattr(body, "is_Matrix", False):
        raise Unsupported(f"\\{op.kind} of a matrix")
    # The summation letter outside a subscript (\sum_k k^2) is the same index.
    body = body.xreplace({real_symbol(op.variable.name): op.variable})
    cls = sp.Sum if op.kind == "sum" else sp.Product
    return cls(body, (op.variable, op.lower, op.upper))


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 20 else text[:17] + "..."
