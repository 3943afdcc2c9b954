"""Where matrix algebra enters :func:`~symderiv.writeup.verdicts.check_text` (small hooks, one module).

Contract:

- :func:`collect_shapes` adds the shapes the writeup states in its own math
  (``W \\in \\mathbb{R}^{m \\times n}``) to those declared with ``--let`` (a ``--let`` wins).
- :func:`mark_matrix_steps` marks every step that uses a declared matrix or vector as a whole
  (``item.matrix`` holds its two expression trees), in file order; ``NAME = expression`` on a
  name that has no shape and no other meaning, first in its chain, defines NAME as a matrix
  expression for every later step (reported unchecked, "definition", like any definition).
  A step that cannot be read as matrix algebra keeps the reason in ``item.error``.
- :func:`decide_matrix` decides a marked step (:mod:`matrix_judge`).
"""

from __future__ import annotations

from symderiv.writeup.latex_parser import Unsupported
from symderiv.writeup.matrices import NotMatrixStep, Reader, declared_name, document_shapes, uses_matrix_names
from symderiv.writeup.shapes import latex_name


def collect_shapes(context) -> None:
    for name, shape in document_shapes(context.document_text).items():
        if name not in context.shapes:
            context.shapes[name] = shape
            context.origins.setdefault(name, (f"{shape[0]} x {shape[1]} matrix", "the writeup"))


def mark_matrix_steps(parsed, context, error_type) -> None:
    if not context.shapes:
        return
    sizes = {str(s): s for shape in context.shapes.values() for s in shape if s.is_Symbol}
    for item in parsed:
        if item.lhs_side is None or item.rhs_side is None or item.step.relation not in ("=", ":="):
            continue
        trees = (item.lhs_side.tree, item.rhs_side.tree)
        if not any(uses_matrix_names(tree, context.shapes, context.matrix_definitions) for tree in trees):
            continue
        reader = Reader(context.shapes, context.matrix_definitions, context.concrete_functions, sizes)
        reader.layout = context.layout
        try:
            defined = _defined_name(item, context)
            lhs = None if defined else reader.side(trees[0])
            rhs = reader.side(trees[1])
        except NotMatrixStep:
            continue
        except Unsupported as exc:
            item.error = error_type(str(exc), exc.kind or "matrix", item.step.lhs_offset)
            item.matrix = ("unread",)
            continue
        except RecursionError:
            item.error = error_type("expression nested too deeply", "too large", item.step.lhs_offset)
            item.matrix = ("unread",)
            continue
        except Exception as exc:  # never crash on user text: the step is unchecked with what went wrong
            item.error = error_type(f"cannot interpret: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                                    "cannot parse", item.step.lhs_offset)
            item.matrix = ("unread",)
            continue
        item.error = None
        if defined and defined in context.shapes and _mentions(rhs, defined):
            item.matrix = ("step", ("name", defined), rhs)  # y = [y_1; ...; y_n]: a claim about y's entries
            continue
        if defined and defined in context.shapes:  # a^L: n declared, then a^L = \sigma(z^L) defines it
            mismatch = _shape_mismatch(defined, rhs, context)
            if mismatch is not None:
                item.error = error_type(mismatch, "matrix shape", item.step.lhs_offset)
                item.matrix = ("unread",)
                continue
        if defined:
            context.matrix_definitions[defined] = rhs
            context.origins[defined] = ("matrix definition", f"line {item.step.line}")
            item.definition = f"definition of {latex_name(defined)}"
            item.matrix = ("definition",)
        else:
            item.matrix = ("step", lhs, rhs)


def _defined_name(item, context):
    if not item.step.first_in_chain:
        return None
    name = declared_name(item.lhs_side.tree)
    if name is None or name in context.matrix_definitions:
        return None
    if name in context.let_names and name not in context.shapes:
        return None
    return name


def _mentions(node, name: str) -> bool:
    """Does an expression tree name ``name`` (as a whole or by an entry)?"""
    if not isinstance(node, tuple):
        return False
    if len(node) > 1 and node[0] in ("name", "entry") and node[1] == name:
        return True
    return any(_mentions(child, name) for child in node)


def _shape_mismatch(name: str, node, context):
    """Why ``name = node`` cannot define a name of declared shape (the shapes differ), or None."""
    from symderiv.writeup.matrix_judge import ShapeError, dot_node, shape_of, show

    try:
        shape = shape_of(dot_node(node, context.shapes, context.matrix_definitions), context.shapes,
                         context.matrix_definitions)
    except ShapeError as exc:
        return str(exc)
    declared = context.shapes[name]
    if shape == declared or (shape is None and declared == (1, 1)):
        return None
    shown = "a scalar" if shape is None else show(shape)
    return f"{name} is declared {show(declared)}, but the right side is {shown}: which one is meant?"


def decide_matrix(item, context, rng):
    from symderiv.writeup.matrix_judge import decide_matrix_step

    _, lhs, rhs = item.matrix
    return decide_matrix_step(lhs, rhs, context.shapes, context.matrix_definitions,
                              context.concrete_functions, rng)


def matrix_declaration(context, left_text: str, right_text: str, source: str) -> bool:
    """``--let "L = \\frac{1}{2} (Xw - y)^T (Xw - y)"``: a definition that uses declared matrices.

    False when the right side uses no declared matrix (an ordinary declaration)."""
    from symderiv.writeup.latex_parser import parse_side

    if not context.shapes:
        return False
    right = parse_side(right_text)
    if not uses_matrix_names(right, context.shapes, context.matrix_definitions):
        return False
    name = declared_name(parse_side(left_text))
    if name is None:
        raise Unsupported("the left side of a definition with matrices must be a name (W, a^L, W^{(2)})")
    sizes = {str(s): s for shape in context.shapes.values() for s in shape if s.is_Symbol}
    reader = Reader(context.shapes, context.matrix_definitions, context.concrete_functions, sizes)
    reader.layout = context.layout
    try:
        node = reader.side(right)
    except NotMatrixStep as exc:
        raise Unsupported(f"an entry of {exc} in a definition with matrices is not read") from None
    if _mentions(node, name):
        raise Unsupported(f"{name} is defined in terms of itself")
    if name in context.shapes:  # a^L: n, then a^L = \sigma(z^L): the definition must have the declared shape
        mismatch = _shape_mismatch(name, node, context)
        if mismatch is not None:
            raise Unsupported(mismatch)
    context.matrix_definitions[name] = node
    context.origins[name] = ("matrix definition", source)
    context.declared_names.add(name)
    return True


def matrix_false_blocked(item, assumptions, fact: bool, parsed) -> str | None:
    """Why a false matrix step must not be reported false (the matrix reader does not use conditions
    or facts), or None. An equation set to zero, and what follows from it in the same display
    ("= 0 and hence X^T y = X^T X w"), is an equation to solve for an unknown, not an identity."""
    step = item.step
    if fact:
        return f"stated as a fact (after '{step.context_word}'): used as given; it does not follow from the declarations"
    if step.conditions or item.facts or assumptions:
        return "false as an identity, but the step has conditions or facts, which are not used for matrices yet"
    for other in parsed:
        if other.step.block != step.block or other.step.lhs_offset > step.lhs_offset:
            continue
        if other.step.rhs.strip() in ("0", "\\mathbf{0}", "\\boldsymbol{0}") or other.step.lhs.strip() == "0":
            return (f"false as an identity, but it reads as an equation to solve (set equal to zero at line "
                    f"{other.step.line}), not an identity")
    return None
