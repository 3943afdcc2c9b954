"""Explicit matrices in a step that uses matrices: entries, and the patterns ``\\vdots``, ``\\cdots``, ``\\ddots``.

Contract:

- ``\\begin{bmatrix} … \\end{bmatrix}`` (also ``pmatrix``, ``matrix``) without elisions is an explicit
  matrix of its entries (``("explicit", rows)``).
- With an elision, the pattern is read for a symbolic size only when it is unambiguous:
  a column ``[a_1; a_2; \\vdots; a_n]`` or a row ``[a_1, a_2, \\cdots, a_n]`` whose last entry is
  the first with the index 1 replaced by a size name n (and the second, when written, with 2):
  ``("pattern", "col" | "row", template, k, n)``; a diagonal matrix with ``\\ddots``, first entry
  ``d_1`` top left, last ``d_n`` bottom right and only zeros or elisions elsewhere:
  ``("pattern", "diag", …)``. Anything else is unchecked with the reason.
- Inside an explicit matrix, ``y_k`` is the k-th entry of the declared vector y (or of
  ``\\mathbf{y}``), ``W_{ij}`` an entry of a declared matrix W, and otherwise a scalar of its
  own (``("entry", name, indices)``); indices are numbers, size names or one index letter.
"""

from __future__ import annotations

from symderiv.writeup.latex_parser import Unsupported
from symderiv.writeup.shapes import unwrap

ELISIONS = {"\\vdots", "\\cdots", "\\ldots", "\\dots", "\\ddots"}


def read_entry(reader, name: str, subscript):
    import sympy as sp

    tree = unwrap(subscript.children[0])
    parts = list(tree.children) if getattr(tree, "data", None) in ("index_list", "juxt") else [tree]
    indices = []
    for part in parts:
        part = unwrap(part)
        kind = getattr(part, "data", None)
        if kind == "number" and str(part.children[0]).isdigit():
            indices.append(sp.Integer(int(str(part.children[0]))))
        elif kind == "letter":
            letter = str(part.children[0])
            indices.append(reader.sizes.get(letter, sp.Symbol(letter, integer=True, positive=True)))
        else:
            raise Unsupported(f"the index of {name} is not a number or a letter", kind="matrix")
    target = _vector_name(reader, name)
    other = _vector_name(reader, name.swapcase()) if len(name) == 1 else None
    if target is None and other is not None:
        raise Unsupported(f"{name}_... beside the declared {other}: its entries, or another quantity? (write the "
                          f"entries as {other}_{{ij}}, or declare {name})", kind="uncertain reading")
    if target is not None and len(indices) == 1 and indices[0].is_Integer and 10 <= indices[0] <= 99 \
            and 1 not in reader.shapes[target]:
        indices = [sp.Integer(int(str(indices[0])[0])), sp.Integer(int(str(indices[0])[1]))]  # W_{12}: row 1, column 2
    return ("entry", target if target is not None else name, tuple(indices))


def _vector_name(reader, name: str):
    """The declared vector or matrix whose entries ``name_k`` are: the name itself, or the one declared
    name whose letter it is (``\\mathbf{x}``, ``\\boldsymbol{\\beta}``, ``\\vec{a}`` for x_k, \\beta_k, a_k)."""
    if name in reader.shapes:
        return name
    letter = name.lstrip("\\")
    matches = [declared for declared in reader.shapes if _letter_of(declared) == letter]
    if len(matches) > 1:
        raise Unsupported(f"{name}_...: an entry of which of {', '.join(sorted(matches))}?", kind="uncertain reading")
    return matches[0] if matches else None


def _letter_of(declared: str):
    from symderiv.writeup import notation

    if not declared.startswith("\\"):
        return declared
    found = notation.decoration(declared)
    return found.base_letter if found.kind == "symbol" else declared.lstrip("\\")


def delimiters(tree) -> str:
    """The environment of a parsed matrix: "vmatrix" (a determinant), "Vmatrix" (a norm), or "matrix"."""
    token = str(tree.children[0]) if tree.children else ""
    for kind in ("Vmatrix", "vmatrix"):
        if "{" + kind + "}" in token:
            return kind
    return "matrix"


def read_matrix(reader, tree):
    kind = delimiters(tree)
    if kind == "Vmatrix":
        raise Unsupported("a Vmatrix (a norm written with double bars) is not read", kind="matrix")
    if kind == "vmatrix":  # |A| written as a vmatrix: the determinant of the matrix inside
        return ("det", _read_matrix(reader, tree))
    return _read_matrix(reader, tree)


def _read_matrix(reader, tree):
    rows = []
    for child in tree.children:
        if getattr(child, "data", None) == "mrow":
            rows.append([entry for entry in child.children])
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise Unsupported("matrix rows of different lengths", kind="matrix")
    previous, reader.entries = reader.entries, True
    try:
        marks = [[_elision(entry) for entry in row] for row in rows]
        if not any(mark for row in marks for mark in row):
            return ("explicit", tuple(tuple(reader.side(entry) for entry in row) for row in rows))
        return _pattern(reader, rows, marks)
    finally:
        reader.entries = previous


def _elision(entry):
    tree = unwrap(entry)
    if getattr(tree, "data", None) == "command" and str(tree.children[0]) in ELISIONS:
        return str(tree.children[0])
    return None


def _pattern(reader, rows, marks):
    if len(rows[0]) == 1:  # a column
        return _sequence(reader, [row[0] for row in rows], [row[0] for row in marks], "col", ("\\vdots",))
    if len(rows) == 1:
        return _sequence(reader, rows[0], marks[0], "row", ("\\cdots", "\\ldots", "\\dots"))
    return _diagonal(reader, rows, marks)


def _sequence(reader, entries, marks, kind, expected):
    if marks.count(None) < 2 or sum(1 for m in marks if m) != 1 or marks[0] or marks[-1]:
        raise Unsupported("elided entries: the pattern needs the first and last entries and one elision",
                          kind="elided")
    if not all(m in expected for m in marks if m):
        where = "column" if kind == "col" else "row"
        raise Unsupported(f"elided entries: {', '.join(m for m in marks if m)} in a {where}", kind="elided")
    given = [reader.side(e) for e, m in zip(entries, marks) if m is None]
    elision = marks.index(next(m for m in marks if m))
    before = elision  # entries written before the elision
    return _template(given[0], given[1] if before >= 2 else None, given[-1], kind)


def _template(first, second, last, kind):
    import sympy as sp

    k = sp.Dummy("k", integer=True, positive=True)
    for size in sorted(_index_symbols(last), key=str):
        template = substitute(last, {size: k})
        if substitute(template, {k: sp.Integer(1)}) != first:
            continue
        if second is not None and substitute(template, {k: sp.Integer(2)}) != second:
            continue
        return ("pattern", kind, template, k, size)
    raise Unsupported("elided entries whose pattern is not clear (the last entry is not the first with 1 replaced "
                      "by a size name)", kind="elided")


def _diagonal(reader, rows, marks):
    import sympy as sp

    size = len(rows)
    if size != len(rows[0]) or not any(m == "\\ddots" for row in marks for m in row):
        raise Unsupported("elided entries in a matrix that is not a diagonal pattern", kind="elided")
    for i, row in enumerate(rows):
        for j, entry in enumerate(row):
            if marks[i][j] or (i, j) in ((0, 0), (size - 1, size - 1)):
                continue
            if reader.side(entry) != ("scalar", sp.Integer(0)):
                raise Unsupported("elided entries in a matrix that is not a diagonal pattern (a nonzero entry off "
                                  "the diagonal)", kind="elided")
    first, last = reader.side(rows[0][0]), reader.side(rows[-1][-1])
    return _template(first, None, last, "diag")


def _index_symbols(node) -> set:
    found = set()
    if node[0] == "entry":
        for index in node[2]:
            found |= {s for s in index.free_symbols if s.is_Symbol}
        return found
    for child in node[1:]:
        if isinstance(child, tuple):
            found |= _index_symbols(child)
    return found


def substitute(node, mapping):
    """Replace index symbols (``mapping``) inside an expression tree."""
    import sympy as sp

    if node[0] == "entry":
        return ("entry", node[1], tuple(sp.sympify(i).xreplace(mapping) for i in node[2]))
    if node[0] == "scalar":
        return ("scalar", node[1].xreplace(mapping))
    if node[0] == "explicit":
        return ("explicit", tuple(tuple(substitute(e, mapping) for e in row) for row in node[1]))
    return tuple(substitute(c, mapping) if isinstance(c, tuple) else c for c in node)


__all__ = ["read_entry", "read_matrix", "substitute"]
