"""The identity ``I`` and the ones vector ``\\mathbf{1}`` in a matrix step: their sizes, from the step.

Contract: the reader (:mod:`matrices`) writes ``("ident", size)`` for ``I`` / ``\\mathbf{I}`` and
``("ones", rows, cols)`` for ``\\mathbf{1}``, with ``None`` where no shape is declared.
:func:`infer_sizes` fills the missing sizes from what the rest of the step forces, and only from
that: the other operand of a sum, a Hadamard product or the other side of the equation (the same
shape), the other factor of a product (the inner size), and a transpose (the shape reversed).
A size that nothing forces stays ``None``, and :func:`~matrix_judge.shape_of` then reports the
step unchecked with the declaration to write (``--let "I: n x n"``) - never a guess. ``I`` is
square; ``\\mathbf{1}`` is a column vector unless it is transposed.
"""

from __future__ import annotations

IMPLICIT = ("ident", "ones")


def has_implicit(node) -> bool:
    """Does the tree hold an ``I`` or a ``\\mathbf{1}`` whose size is not known yet?"""
    if not isinstance(node, tuple) or not node:
        return False
    if node[0] == "ident":
        return node[1] is None
    if node[0] == "ones":
        return node[1] is None
    return any(has_implicit(child) for child in node[1:] if isinstance(child, tuple)) or (
        node[0] == "explicit" and any(has_implicit(e) for row in node[1] for e in row))


def infer_sizes(lhs, rhs, shapes: dict, definitions: dict):
    """(lhs, rhs) with every size of ``I`` and ``\\mathbf{1}`` that the step forces filled in."""
    known = lambda node: None if has_implicit(node) else _shape(node, shapes, definitions)  # noqa: E731
    lhs, rhs = _fill(lhs, None, shapes, definitions), _fill(rhs, None, shapes, definitions)  # what each side forces
    left, right = known(lhs), known(rhs)
    return (_fill(lhs, _want(right), shapes, definitions), _fill(rhs, _want(left), shapes, definitions))


def fill_to(node, shape, shapes: dict, definitions: dict):
    """The node with the sizes a required ``shape`` forces (a definition of a name of declared shape)."""
    return _fill(node, _want(shape), shapes, definitions)


def _shape(node, shapes, definitions):
    from symderiv.writeup.matrix_judge import shape_of

    return shape_of(node, shapes, definitions)


def _want(shape):
    """A required shape: (rows, cols) with None where it is free; None for a scalar or unknown."""
    return None if shape is None or shape == (None, None) else tuple(shape)


def _fill(node, want, shapes, definitions):
    """Fill the sizes of the implicit leaves of ``node``, which must have shape ``want`` (or None)."""
    if not has_implicit(node):
        return node
    kind = node[0]
    if kind == "ident":
        size = _square(want)
        return ("ident", size) if size is not None else node
    if kind == "ones":  # a column vector: n x 1 (transposed, 1 x n)
        if want is not None and want[0] is not None and want[1] in (None, 1):
            return ("ones", want[0], _one())
        return node
    if kind == "T":
        return ("T", _fill(node[1], None if want is None else (want[1], want[0]), shapes, definitions))
    if kind in ("neg", "fn"):
        return node[:-1] + (_fill(node[-1], want, shapes, definitions),)
    if kind == "div":
        return ("div", _fill(node[1], want, shapes, definitions), node[2])
    if kind in ("add", "had"):
        return _fill_same_shape(node, want, shapes, definitions)
    if kind == "mul":
        return _fill_product(node, want, shapes, definitions)
    return node  # inside diag, tr, det, norms, derivatives: not forced by the step, stays unknown


def _one():
    import sympy as sp

    return sp.Integer(1)


def _square(want):
    if want is None:
        return None
    rows, cols = want
    if rows is not None and cols is not None and rows != cols:
        return None  # I where a non-square shape is needed: left unknown, reported as a shape problem
    return rows if rows is not None else cols


def _fill_same_shape(node, want, shapes, definitions):
    first, second = node[1], node[2]
    shape_first = None if has_implicit(first) else _shape(first, shapes, definitions)
    shape_second = None if has_implicit(second) else _shape(second, shapes, definitions)
    if want is None:  # a scalar operand broadcasts: it forces nothing
        want = _want(shape_second) or _want(shape_first)
    return (node[0], _fill(first, want, shapes, definitions), _fill(second, want, shapes, definitions))


_SCALAR = "scalar"


def _known(node, shapes, definitions):
    """The shape of a node without implicit leaves, _SCALAR for a scalar, None when not known yet."""
    if has_implicit(node):
        return None
    shape = _shape(node, shapes, definitions)
    return _SCALAR if shape is None else shape


def _fill_product(node, want, shapes, definitions):
    first, second = node[1], node[2]
    rows, cols = want if want is not None else (None, None)
    for _ in range(2):  # the second pass uses the sizes the first one filled
        shape_first, shape_second = _known(first, shapes, definitions), _known(second, shapes, definitions)
        if has_implicit(first):
            first = _fill(first, want if shape_second == _SCALAR else (
                rows, shape_second[0] if shape_second is not None else None), shapes, definitions)
        if has_implicit(second):
            second = _fill(second, want if shape_first == _SCALAR else (
                shape_first[1] if shape_first is not None else None, cols), shapes, definitions)
    return ("mul", first, second)


__all__ = ["IMPLICIT", "fill_to", "has_implicit", "infer_sizes"]
