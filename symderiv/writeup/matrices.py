"""Vectors and matrices in a writeup: shape declarations, and the reading of a step as matrix algebra.

Contract:

- A name is a matrix or a vector only when its shape is *declared*: ``--let "W: m x n"``
  (also ``W: m \\times n``, ``x: n`` for a column vector of length n, ``W \\in \\mathbb{R}^{m \\times n}``,
  ``x \\in \\mathbb{R}^{n}``), or a statement ``W \\in \\mathbb{R}^{m \\times n}`` in the writeup's own
  math. Sizes are positive integers or size names (``n``, ``d_{in}``). Nothing is guessed from
  capitals or bold type: a step whose names are used as matrices without a declared shape stays
  unchecked (see :mod:`meaning`), with the declaration to write.
- :func:`read_side` turns a parse tree into a small expression tree (tuples, below) that
  :mod:`matrix_judge` evaluates exactly (SymPy matrix expressions, symbolic sizes) and at concrete
  sizes (explicit matrices). Read: juxtaposition and ``\\cdot``/``\\times`` as the matrix product (a
  factor of shape 1 x 1 is a scalar; ``\\cdot`` between two vectors of the same shape is the dot
  product), ``+``/``-``, ``^T``/``^\\top``/``^{\\intercal}``, ``^{-1}``, ``\\odot``/``\\circ`` (Hadamard),
  ``\\otimes`` of two column vectors (outer product u v^T), ``\\mathrm{diag}(v)``,
  ``\\mathrm{tr}(A)``, ``\\|x\\|^2`` (also ``_2^2``, ``_F^2``), ``\\exp``/``\\log``/``\\tanh``/a declared concrete function applied
  elementwise, division by a scalar, ``\\frac{\\partial L}{\\partial W}``, ``\\nabla_W L``, ``\\partial_W (…)`` and
  ``\\frac{\\partial}{\\partial W} (…)`` of a scalar (a name that a definition expresses in W, or an expression): the matrix of partials with the shape of W
  (denominator layout, the convention of the d2l book and CS231n; ``--let "layout: numerator"``
  transposes it; a writeup in the other layout gets a shape mismatch, unchecked, never false).
- Anything else raises :class:`~symderiv.writeup.latex_parser.Unsupported` with the construct named.

Expression tree: ``("name", latex)``, ``("scalar", sympy expr)``, ``("T", a)``, ``("inv", a)``,
``("mul", a, b)``, ``("add", a, b)``, ``("neg", a)``, ``("had", a, b)``, ``("outer", a, b)``,
``("dot", a, b)``, ``("diag", a)``, ``("tr", a)``, ``("fn", name, a)``, ``("div", a, b)``,
``("grad", scalar operand, wrt name)``, ``("normsq", a)`` (the sum of the squared entries).
"""

from __future__ import annotations

import re

from symderiv.writeup.latex_parser import Unsupported, parse_side
from symderiv.writeup.notation import GREEK
from symderiv.writeup.shapes import latex_name, name_of, superscript_shape, unwrap

_SHAPE_FORM = re.compile(r"^(?P<name>.+?)\s*:\s*(?P<rows>[^:]+?)\s*(?:(?:x|\\times|×)\s*(?P<cols>[^:]+?))?\s*$", re.S)
_IN_REALS = re.compile(r"^(?P<name>.+?)\s*\\in\s*\\mathbb\s*\{?\s*R\s*\}?\s*\^\s*(?P<dims>\{[^{}]*\}|[A-Za-z0-9])\s*$",
                       re.S)
_LAYOUT = re.compile(r"^\s*layout\s*:\s*(numerator|denominator)\s*$")
_SIZE = re.compile(r"^(?:[0-9]{1,3}|[A-Za-z](?:_(?:[A-Za-z0-9]|\{[A-Za-z0-9]{1,6}\}|\{[A-Za-z][+-][0-9]\}))?|\\[a-zA-Z]+)$")
# Undeclared Greek letters are scalars (\lambda w, \eta g); any other undeclared name needs a shape.
SCALAR_LETTERS = set(GREEK) - {"Sigma", "Delta", "Lambda", "Phi", "Psi", "Omega", "Theta", "Gamma", "Pi", "nabla",
                               "partial", "delta", "sigma"}
MAX_MATRIX_POWER = 8
ELEMENTWISE = {"exp", "log", "ln", "tanh", "sigmoid", "logistic"}
_HADAMARD = {"\\odot", "\\circ"}
_OUTER = {"\\otimes"}


class NotMatrixStep(Exception):
    """The step does not use a declared matrix or vector as a whole (maybe its entries): not ours."""


def size_symbol(text: str):
    import sympy as sp

    text = text.strip()
    if text.isdigit():
        value = int(text)
        if value < 1:
            raise Unsupported(f"size {text} must be positive")
        return sp.Integer(value)
    if not _SIZE.match(text):
        raise Unsupported(f"size '{text}' must be a positive integer or a size name such as n or d_{{in}}")
    name = text if re.search(r"[+-]", text) else text.replace("{", "").replace("}", "")  # n_{l+1} keeps its braces
    return sp.Symbol(name, integer=True, positive=True)


def shape_declaration(text: str):
    """``W: m x n`` / ``W \\in \\mathbb{R}^{m \\times n}`` -> (name, (rows, cols)); None for other forms."""
    text = text.strip()
    match = _IN_REALS.match(text)
    if match:
        dims = match.group("dims").strip("{}")
        parts = re.split(r"\\times|×|(?<![a-zA-Z\\])x(?![a-zA-Z])", dims)
        return _named_shape(match.group("name"), parts)
    match = _SHAPE_FORM.match(text)
    if not match or "=" in text:
        return None
    parts = [match.group("rows")] + ([match.group("cols")] if match.group("cols") else [])
    if not all(_SIZE.match(p.strip()) for p in parts):
        return None
    return _named_shape(match.group("name"), parts)


def layout_declaration(text: str):
    """``layout: numerator`` / ``layout: denominator`` -> the layout; None for other forms."""
    match = _LAYOUT.match(text)
    return match.group(1) if match else None


def _named_shape(name_text: str, parts):
    import sympy as sp

    if len(parts) not in (1, 2):
        raise Unsupported("a shape has one size (a column vector) or two (rows x columns)")
    name = declared_name(parse_side(name_text))
    if name is None:
        raise Unsupported(f"'{name_text.strip()}' is not a name that can have a shape")
    rows = size_symbol(parts[0])
    cols = size_symbol(parts[1]) if len(parts) == 2 else sp.Integer(1)
    return name, (rows, cols)


def declared_name(tree):
    """The key of a name that can have a shape or a matrix definition, or None.

    ``W``, ``\\mathbf{x}``, ``J_{MSE}`` (a word subscript is part of the name), and a name with a
    layer or sample superscript, ``W^{(2)}``, ``W^{[l]}``, ``a^L``, ``w^{l+1}``, ``\\delta^{(l)}``
    (see :func:`superscript_label`): the key is the base's name and the label, ``W^{(2)}``."""
    tree = unwrap(tree)
    scripts = []
    if getattr(tree, "data", None) == "item":
        tree, scripts = tree.children[0], list(tree.children[1:])
    name = name_of(tree)
    if name is None or name.startswith("@"):
        return None
    word = word_subscript(scripts)
    if word is not None:
        name = f"{name}_{{{word}}}"
        scripts = [s for s in scripts if s.data != "sub_script"]
    if len(scripts) == 1 and scripts[0].data == "sup_script":
        label, transposed = superscript_label(scripts[0].children[0])
        if label is None or transposed:
            return None
        return scripted_name(name, label)
    return name if not scripts else None


def scripted_name(name: str, label: str) -> str:
    return f"{name}^{{{label}}}"


def superscript_label(tree):
    """(label, transposed) for a superscript that names a layer or a sample, else (None, False).

    A label is bracketed (``(2)``, ``[l]``, ``(i)``: written ``(…)`` whatever the bracket) or a layer
    letter alone or plus/minus a number (``L``, ``l``, ``l+1``, ``\\ell-1``); ``(2)T`` / ``(2)\\top``
    is the label followed by a transpose (d2l writes ``\\mathbf{W}^{(2)\\top}``). Whether the label makes
    a name is decided by the declarations: only a declared ``W^{(2)}`` is read as a matrix."""
    tree = unwrap(tree)
    transposed = False
    if getattr(tree, "data", None) == "juxt" and len(tree.children) == 2:
        last = unwrap(tree.children[1])
        if _is_transpose_node(last):
            tree, transposed = unwrap(tree.children[0]), True
    label = _label_text(tree)
    return (label, transposed) if label is not None else (None, False)


def _is_transpose_node(node) -> bool:
    if getattr(node, "data", None) == "letter" and str(node.children[0]) == "T":
        return True
    return getattr(node, "data", None) == "command" and str(node.children[0]) in ("\\top", "\\intercal")


def _label_text(tree):
    from symderiv.writeup.notation import LAYER_LETTERS

    kind = getattr(tree, "data", None)
    if kind == "paren" and len(tree.children) == 1:
        inner = _simple_text(unwrap(tree.children[0]))
        return f"({inner})" if inner is not None else None
    if kind in ("letter", "command"):
        name = name_of(tree)
        return latex_name(name) if name in LAYER_LETTERS else None
    if kind in ("add", "sub") and len(tree.children) == 2:
        layer, step = _label_text(unwrap(tree.children[0])), unwrap(tree.children[1])
        if layer is not None and getattr(step, "data", None) == "number":
            return f"{layer}{'+' if kind == 'add' else '-'}{step.children[0]}"
    return None


def _simple_text(tree):
    """``2``, ``l``, ``i``, ``l+1``, ``\\ell``: the text of a bracketed label, else None."""
    kind = getattr(tree, "data", None)
    if kind == "number" and str(tree.children[0]).isdigit():
        return str(tree.children[0])
    if kind in ("letter", "command"):
        name = name_of(tree)
        return latex_name(name) if name is not None and (len(name) == 1 or name in GREEK) else None
    if kind in ("add", "sub") and len(tree.children) == 2:
        left, right = _simple_text(unwrap(tree.children[0])), _simple_text(unwrap(tree.children[1]))
        if left is not None and right is not None:
            return f"{left}{'+' if kind == 'add' else '-'}{right}"
    return None


def name_scripts(base, scripts, known) -> tuple:
    """(key, remaining scripts) of a base and its scripts whose name with a label is in ``known``;
    (None, scripts) otherwise. A transpose inside the label (``W^{(2)T}``) stays a script."""
    scripts = list(scripts)
    try:
        name = name_of(base) if hasattr(base, "data") else None
    except Unsupported:
        return None, scripts
    if name is None or name.startswith("@"):
        return None, scripts
    word = word_subscript(scripts)
    if word is not None and f"{name}_{{{word}}}" in known:
        name, scripts = f"{name}_{{{word}}}", [s for s in scripts if s.data != "sub_script"]
    for position, script in enumerate(scripts):
        if script.data != "sup_script":
            continue
        label, transposed = superscript_label(script.children[0])
        if label is not None and scripted_name(name, label) in known:
            rest = scripts[:position] + scripts[position + 1:]
            if transposed:
                rest.insert(position, _transpose_script())
            return scripted_name(name, label), rest
        break
    return None, scripts


def _transpose_script():
    from lark import Token, Tree

    return Tree("sup_script", [Tree("letter", [Token("LETTER", "T")])])


def document_shapes(text: str) -> dict:
    """``W \\in \\mathbb{R}^{m \\times n}`` written in the writeup's math (inline or display)."""
    found = {}
    one = r"(?:\\(?:mathbf|boldsymbol|bm|tilde|hat|bar|vec)\s*\{[^{}]*(?:\{[^{}]*\}[^{}]*)?\}|[A-Za-z]|\\[a-zA-Z]+)"
    pattern = re.compile(rf"(?<![A-Za-z\\{{}}])({one}(?:\s*,\s*{one})*)\s*\\in\s*\\mathbb\s*\{{?\s*R\s*\}}?\s*\^\s*(\{{[^{{}}]*\}}|[A-Za-z0-9])")
    for match in pattern.finditer(text):
        for name in re.findall(one, match.group(1)):  # W, X \in \mathbb{R}^{n \times n}: both
            try:
                declared = shape_declaration(f"{name} \\in \\mathbb{{R}}^{match.group(2)}")
            except Unsupported:
                continue
            if declared is not None:
                found.setdefault(declared[0], declared[1])
    return found


# --- reading a side -------------------------------------------------------------------------

class Reader:
    """Parse tree -> expression tree, for names with a shape in ``shapes`` (name -> (rows, cols))."""

    def __init__(self, shapes: dict, matrix_definitions: dict, concrete_functions: dict, sizes: dict):
        self.shapes = shapes
        self.sizes = sizes  # size name -> its SymPy symbol (n in 1/n is the size n)
        self.definitions = matrix_definitions
        self.concrete = concrete_functions
        self.used: set = set()
        self.entries = False  # inside an explicit matrix: y_1, y_n are entries (matrix_patterns)
        self.layout = "denominator"  # --let "layout: numerator" transposes every derivative by a matrix

    def known(self) -> set:
        """Names with a declared shape or a matrix definition."""
        return set(self.shapes) | set(self.definitions)

    def side(self, tree):
        kind = tree.data
        if kind == "add":
            return ("add", self.side(tree.children[0]), self.side(tree.children[-1]))
        if kind == "sub":
            return ("add", self.side(tree.children[0]), ("neg", self.side(tree.children[1])))
        if kind == "neg":
            return ("neg", self.side(tree.children[0]))
        if kind in ("mul_explicit", "div") and _ends_with_operator(tree.children[0]):
            raise Unsupported("a derivative operator followed by \\cdot, \\times or /: put its operand in brackets",
                              kind="operator scope")
        if kind == "mul_explicit":
            op = str(tree.children[1])
            left, right = self.side(tree.children[0]), self.side(tree.children[-1])
            return ("cdot", left, right) if "cdot" in op else ("mul", left, right)
        if kind == "div":
            return ("div", self.side(tree.children[0]), self.side(tree.children[1]))
        if kind == "juxt":
            return self._juxt(list(tree.children))
        if kind == "item":
            return self._juxt([tree])
        return self._base(tree, [])

    def _juxt(self, items):
        # \odot, \circ, \otimes split a product into operands (they bind more loosely than juxtaposition)
        groups, operators = [[]], []
        for item in items:
            base = item.children[0] if item.data == "item" else item
            if getattr(base, "data", None) == "command" and str(base.children[0]) in _HADAMARD | _OUTER \
                    and len(item.children) == 1:
                operators.append("had" if str(base.children[0]) in _HADAMARD else "outer")
                groups.append([])
            else:
                groups[-1].append(item)
        if any(not g for g in groups):
            raise Unsupported("\\odot, \\circ or \\otimes without an operand", kind="cannot parse")
        result = self._product(groups[0])
        for operator, group in zip(operators, groups[1:]):
            result = (operator, result, self._product(group))
        return result

    def _product(self, items):
        factors = []
        position = 0
        while position < len(items):
            item = items[position]
            base = item.children[0]
            word = self._function_word(base)
            following = items[position + 1] if position + 1 < len(items) else None
            if word is not None:
                if following is None or following.children[0].data not in ("paren", "brace"):
                    raise Unsupported(f"{word} without a bracketed argument", kind="matrix")
                primes = _primes(item.children[1:])
                if primes is None or (primes and word not in ELEMENTWISE and word not in self.concrete):
                    raise Unsupported(f"a script on {word}", kind="matrix")
                argument = self._bracket(following.children[0])
                applied = ("fn", word + "'" * primes, argument) if primes else self._apply(word, argument)
                factors.append(self._scripts(applied, following.children[1:]))
                position += 2
                continue
            if getattr(base, "data", None) == "norm":
                factors.append(self._norm(item))
                position += 1
                continue
            if getattr(base, "data", None) == "command" and str(base.children[0]) in ("\\nabla", "\\partial"):
                factors.append(self._nabla(item, items[position + 1:]))
                break
            if getattr(base, "data", None) == "frac" and _is_derivative_head(base.children[1]) \
                    and _derivative_operator(base) is None and _differential(base.children[1]) is None:
                raise Unsupported("a derivative operator with respect to an entry, an indexed or a superscripted "
                                  "variable in a step that uses matrices", kind="matrix")
            operator = _derivative_operator(base) if len(item.children) == 1 else None
            if operator is not None:  # \frac{\partial}{\partial w} applies to the rest of the product
                if position + 1 >= len(items):
                    raise Unsupported("a derivative operator without an operand", kind="matrix")
                factors.append(self._gradient(self._product(items[position + 1:]), operator))
                break
            key, scripts = name_scripts(base, item.children[1:], self.known())
            if key is not None:  # W^{(2)}, a^L: a declared name with a layer or sample label
                if any(script.data in ("sub_script", "prime") for script in scripts):
                    raise NotMatrixStep(key)  # an entry a^L_j: the scalar reader's business
                self.used.add(key)
                factors.append(self._scripts(("name", key), scripts))
            else:
                factors.append(self._scripts(self._base(base, item.children[1:]), item.children[1:]))
            position += 1
        result = factors[0]
        for factor in factors[1:]:
            result = ("mul", result, factor)
        return result

    def _function_word(self, base):
        try:
            name = name_of(base) if hasattr(base, "data") else None
        except Unsupported:  # \mathbf{1} and the like: not a function word; _base decides
            return None
        if name is None:
            return None
        word = name[len("@word:"):] if name.startswith("@word:") else name
        if word in ("diag", "tr", "trace", "Tr", "det") or word in ELEMENTWISE:
            return word
        if word in self.concrete and name not in self.shapes:
            return word
        return None

    def _apply(self, word, argument):
        if word == "diag":
            return ("diag", argument)
        if word in ("tr", "trace", "Tr"):
            return ("tr", argument)
        if word == "det":
            return ("det", argument)
        return ("fn", word, argument)

    def _bracket(self, node):
        if node.data == "paren" and len(node.children) != 1:
            raise Unsupported("a function of several arguments applied to matrices", kind="matrix")
        return self.side(node.children[0])

    def _norm(self, item):
        """``\\|x\\|^2``, ``\\|x\\|_2^2``, ``\\|X\\|_F^2``: the sum of squared entries (only squared norms)."""
        inner = self.side([c for c in item.children[0].children if hasattr(c, "data")][0])
        squared = False
        for script in item.children[1:]:
            text = _tree_text(script.children[0]) if script.data != "prime" else "'"
            text = re.sub(r"^\\(?:text|mathrm|textrm|rm)\{(.*)\}$", r"\1", text.strip())  # \|W\|_\textrm{F}
            if script.data == "sub_script" and text in ("2", "F"):
                continue
            if script.data == "sup_script" and text == "2" and not squared:
                squared = True
                continue
            raise Unsupported("a norm other than \\|x\\|^2, \\|x\\|_2^2 or \\|X\\|_F^2", kind="matrix")
        if not squared:
            raise Unsupported("a norm that is not squared (only \\|x\\|^2 is read)", kind="matrix")
        return ("normsq", inner)

    def _nabla(self, item, rest):
        """``\\nabla_w L``, ``\\partial_w (…)``: the gradient of the rest of the product."""
        scripts = item.children[1:]
        if len(scripts) != 1 or scripts[0].data != "sub_script" or not rest:
            raise Unsupported("\\nabla or \\partial without a subscript variable and a scalar after it", kind="matrix")
        wrt = unwrap(scripts[0].children[0])
        return self._gradient(self._product(rest), declared_name(wrt) or name_of(wrt))

    def _gradient(self, operand, wrt):
        if wrt not in self.shapes:
            raise Unsupported(f"a gradient with respect to {wrt}, whose shape is not declared", kind="matrix")
        undefined_name = operand[0] == "name" and operand[1] not in self.definitions \
            and tuple(self.shapes.get(operand[1], ())) == (1, 1)  # --let "L: 1" alone: a scalar, not a constant
        if (operand[0] == "scalar" and operand[1].is_Symbol) or undefined_name:
            name = str(operand[1])
            raise Unsupported(f"the derivative of {latex_name(name)}, which no definition expresses in "
                              f"{latex_name(wrt)} (write its definition in the file or with --let)",
                              kind="declaration needed")
        self.used.add(wrt)
        if self.layout == "numerator":  # the transpose of the denominator-layout matrix of partials
            return ("T", ("grad", operand, wrt))
        return ("grad", operand, wrt)

    def _base(self, base, scripts):
        import sympy as sp

        kind = base.data
        if kind == "number":
            return ("scalar", sp.Rational(str(base.children[0])))
        if kind in ("paren", "brace"):
            return self._bracket(base)
        if kind == "frac":
            return self._fraction(base)
        if kind == "matrix":
            from symderiv.writeup.matrix_patterns import read_matrix

            return read_matrix(self, base)
        implicit = self._implicit(base, scripts)
        if implicit is not None:
            return implicit
        name = name_of(base)
        if name is not None and name.startswith("@word:"):
            raise Unsupported(f"unknown word '{name[len('@word:'):]}' in a step that uses matrices (define it, e.g. "
                              "with --let, or it is not read)", kind="unknown word")
        if name is None or name.startswith("@"):
            raise Unsupported(f"{kind} is not read in a matrix step", kind="matrix")
        word = word_subscript(scripts)
        if word is not None:  # J_{MSE}, y_{\text{pred}}: the subscript is part of the name
            name, scripts = f"{name}_{{{word}}}", [s for s in scripts if s.data != "sub_script"]
        if self.entries and any(s.data == "sub_script" for s in scripts):
            from symderiv.writeup.matrix_patterns import read_entry

            return read_entry(self, name, [s for s in scripts if s.data == "sub_script"][0])
        if any(s.data == "sub_script" for s in scripts) and (name in self.shapes or name in self.definitions):
            raise NotMatrixStep(name)  # an entry x_i of a vector: the scalar reader's business
        if name in self.shapes or name in self.definitions:
            self.used.add(name)
            return ("name", name)
        if kind == "command" and name not in GREEK:
            raise Unsupported(f"\\{name} is not read in a step that uses matrices", kind="matrix")
        if any(s.data in ("sub_script", "prime") for s in scripts):
            raise Unsupported(f"{latex_name(name)} with a subscript or prime (an entry?) in a step that uses "
                              "matrices", kind="matrix")
        self.used.add(name)
        if name in self.sizes:
            return ("scalar", self.sizes[name])
        if name in SCALAR_LETTERS:
            return ("scalar", sp.Symbol(name, real=True))
        shown = name if "_" in name else latex_name(name)
        raise Unsupported(f"{shown} has no declared shape in a step that uses matrices (declare it: "
                          f'--let "{shown}: m x n" for a matrix, --let "{shown}: n" for a column vector, '
                          f'--let "{shown}: 1" for a scalar)', kind="declaration needed")

    def _implicit(self, base, scripts):
        """``I`` / ``\\mathbf{I}`` (the identity) and ``\\mathbf{1}`` (the ones vector) without a definition:
        their sizes come from a declaration (``I: n x n``, ``\\mathbf{1}: n``) or from the step
        (:mod:`matrix_implicit`)."""
        text = str(base.children[0]) if base.data in ("letter", "decorated") else None
        key = {"I": "I", "\\mathbf{I}": "\\mathbf{I}", "\\mathbf{1}": "\\mathbf{1}", "\\boldsymbol{1}": "\\mathbf{1}",
               "\\bm{1}": "\\mathbf{1}"}.get(re.sub(r"\s+", "", text)) if text is not None else None
        if key is None or key in self.definitions or any(s.data in ("sub_script", "prime") for s in scripts):
            return None
        declared = self.shapes.get(key) or self.shapes.get(re.sub(r"\s+", "", text))
        self.used.add(key)
        if key == "\\mathbf{1}":
            if declared is not None and declared[1] != 1:
                raise Unsupported("\\mathbf{1} is the ones vector: declare it as a column vector (\\mathbf{1}: n)",
                                  kind="matrix shape")
            return ("ones", declared[0], declared[1]) if declared is not None else ("ones", None, None)
        if declared is not None and declared[0] != declared[1]:
            raise Unsupported(f"{key} is the identity, which is square, but it is declared {declared[0]} x "
                              f"{declared[1]}", kind="matrix shape")
        return ("ident", declared[0] if declared is not None else None)

    def _fraction(self, node):
        numerator, denominator = node.children[1], node.children[2]
        differentials = [_differential(numerator), _differential(denominator)]
        if all(d is not None for d in differentials):
            target = differentials[0]
            operand = ("name", target) if target in self.definitions or target in self.shapes \
                else ("scalar", __import__("sympy").Symbol(target))
            return self._gradient(operand, differentials[1])
        if any(d is not None for d in differentials) or _is_derivative_head(numerator):
            raise Unsupported("a derivative that is not \\frac{\\partial L}{\\partial W} (an entry, an indexed or "
                              "a superscripted variable?) in a step that uses matrices", kind="matrix")
        return ("div", self.side(numerator), self.side(denominator))

    def _scripts(self, node, scripts):
        for script in scripts:
            if script.data == "sub_script":
                continue  # checked by _base
            if script.data == "prime":
                raise Unsupported("a prime in a matrix step", kind="matrix")
            shape = superscript_shape(script.children[0], _SourceFree())
            if shape == "transpose":
                node = ("T", node)
                continue
            exponent = _integer(script.children[0])
            if exponent == -1:
                node = ("inv", node)
            elif exponent is not None and 1 <= exponent <= MAX_MATRIX_POWER:
                power = node
                for _ in range(exponent - 1):
                    power = ("mul", power, node)
                node = power
            else:
                raise Unsupported(f"a superscript that is not a transpose, -1 or a power from 1 to {MAX_MATRIX_POWER}",
                                  kind="matrix")
        return node


class _SourceFree:
    """superscript_shape wants a converter for the source text; the tree is enough here."""

    def source_text(self, tree):
        return _tree_text(tree)


def _tree_text(tree) -> str:
    if not hasattr(tree, "data"):
        return str(tree)
    return "".join(_tree_text(child) for child in tree.children)


def word_subscript(scripts):
    """The word of a subscript that is a word (``J_{MSE}``, ``y_{\\text{pred}}``), else None."""
    subscripts = [s for s in scripts if getattr(s, "data", None) == "sub_script"]
    if len(subscripts) != 1:
        return None
    text = _tree_text(subscripts[0].children[0])
    match = re.fullmatch(r"([A-Za-z]{3,})|\\(?:text|mathrm|textrm|rm)\{([A-Za-z]{2,})\}", text.strip())
    if not match:
        return None
    return match.group(1) or match.group(2)


def _primes(scripts):
    """How many primes the scripts are (``\\sigma'``, ``\\sigma''``): 0 for none, None for other scripts."""
    count = 0
    for script in scripts:
        if script.data != "prime":
            return None
        count += max(1, len(str(script.children[0])) if script.children else 1)
    return count


def _integer(tree):
    tree = unwrap(tree)
    if getattr(tree, "data", None) == "number" and str(tree.children[0]).isdigit():
        return int(str(tree.children[0]))
    if getattr(tree, "data", None) == "neg":
        inner = _integer(tree.children[0])
        return -inner if inner is not None else None
    return None


def _ends_with_operator(tree) -> bool:
    """Does a product's last juxtaposition hold a derivative operator or \\nabla (whose extent is unclear)?"""
    while getattr(tree, "data", None) in ("mul_explicit", "div"):
        tree = tree.children[-1] if tree.data == "mul_explicit" else tree.children[1]
    items = list(tree.children) if getattr(tree, "data", None) == "juxt" else [tree]
    for item in items:
        base = item.children[0] if getattr(item, "data", None) == "item" else item
        if _derivative_operator(base) is not None:
            return True
        if getattr(base, "data", None) == "command" and str(base.children[0]) in ("\\nabla", "\\partial"):
            return True
    return False


def _is_derivative_head(tree) -> bool:
    """Does a fraction's numerator start with d or \\partial (a Leibniz derivative)?"""
    items = list(tree.children) if getattr(tree, "data", None) == "juxt" else [tree]
    first = items[0].children[0] if getattr(items[0], "data", None) == "item" else items[0]
    try:
        return (name_of(first) if hasattr(first, "data") else None) in ("partial", "d", "\\mathrm{d}")
    except Unsupported:
        return False


def _derivative_operator(base):
    """``\\frac{\\partial}{\\partial w}`` (also ``d``) -> "w"; None for other bases."""
    if getattr(base, "data", None) != "frac" or len(base.children) != 3:
        return None
    head = unwrap(base.children[1])
    head_name = name_of(head) if hasattr(head, "data") and head.data in ("command", "letter", "decorated") else None
    if head_name not in ("partial", "d", "\\mathrm{d}"):
        return None
    return _differential(base.children[2])


def _differential(tree):
    """``\\partial L`` / ``d L`` / ``\\mathrm{d} L`` -> "L"; None when the tree is not a differential."""
    items = list(tree.children) if tree.data == "juxt" else [tree]
    if len(items) != 2 or any(getattr(i, "data", None) != "item" for i in items):
        return None
    head = items[0].children[0]
    head_name = name_of(head) if hasattr(head, "data") else None
    if head_name not in ("partial", "d", "\\mathrm{d}") or len(items[0].children) != 1:
        return None
    if len(items[1].children) == 1:
        return name_of(items[1].children[0])
    return declared_name(items[1])  # \partial z^L, \partial \mathbf{W}^{(2)}: a labelled name


def uses_matrix_names(tree, shapes: dict, definitions: dict) -> bool:
    """Does the tree name a declared matrix/vector or a matrix definition as a whole (not only entries)?"""
    if not hasattr(tree, "data"):
        return False
    if tree.data == "item":
        try:
            name = name_of(tree.children[0]) if hasattr(tree.children[0], "data") else None
        except Unsupported:
            name = None
        has_subscript = any(getattr(s, "data", None) == "sub_script" for s in tree.children[1:])
        word = word_subscript(tree.children[1:])
        if name is not None and word is not None and f"{name}_{{{word}}}" in definitions:
            return True
        if name is not None and (name in shapes or name in definitions) and not has_subscript:
            return True
        key, scripts = name_scripts(tree.children[0], tree.children[1:], set(shapes) | set(definitions))
        if key is not None and not any(script.data == "sub_script" for script in scripts):
            return True
    return any(uses_matrix_names(child, shapes, definitions) for child in tree.children)


__all__ = ["NotMatrixStep", "Reader", "layout_declaration", "document_shapes", "shape_declaration", "size_symbol", "uses_matrix_names"]
