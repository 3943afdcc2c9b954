"""Decide a step read as matrix algebra (:mod:`matrices`): proved / holds / false / unchecked.

Contract of :func:`decide_matrix_step`:

1. **Shapes** are inferred with symbolic sizes. A product whose inner sizes differ, a sum of
   different shapes, or sides of different shapes make the step *unchecked* with the shapes named
   (a missing transpose usually shows up here): a shape mismatch is never reported false, because
   a writer may use another convention (row vectors, numerator layout).
2. **Exact**: both sides as SymPy matrix expressions (MatrixSymbol with the symbolic sizes);
   ``(lhs - rhs).doit().expand()`` equal to the zero matrix proves the step for every size, but
   only when the instantiations of step 3 agree as well (a second, independent check).
3. **Instantiated**: every size name takes the values 1, 2, 3 (all equal), then distinct values
   (non-square), then 4; each matrix gets entries drawn as small random rationals, and both sides
   are evaluated as explicit matrices (derivatives entry by entry, in exact arithmetic; elementwise
   exp/log/tanh/sigmoid with 50-digit numbers). Agreement everywhere is *holds*.
4. **False** only with a counterexample a person can check by hand: the sizes, every matrix's
   entries (small integers or halves) and both sides' values, found at the smallest sizes first
   and confirmed in exact arithmetic (or with 50 digits when an elementwise function is involved).
"""

from __future__ import annotations

from symderiv.numeric.precision import HIGH_PRECISION_DIGITS
from symderiv.writeup.latex_parser import Unsupported
from symderiv.writeup.shapes import latex_name
from symderiv.writeup.report import FALSE, HOLDS, PROVED, Counterexample

SIZE_PLANS = ((1,), (2,), (3,), (2, 3, 4, 5, 6), (3, 2, 5, 4, 7), (4,))
SAMPLES_PER_SIZE = 1  # a random rational point per size: a nonzero polynomial difference almost never vanishes there
TOLERANCE = 1e-40
MAX_ENTRIES = 144  # per instantiated matrix (a declared 1000 x 1000 is not written out)


class ShapeError(Unsupported):
    def __init__(self, message: str):
        super().__init__(message, kind="matrix shape")


def show(shape) -> str:
    rows, cols = shape
    return f"{rows} x {cols}"


def shape_of(node, shapes: dict, definitions: dict):
    """(rows, cols) with symbolic sizes; None for a scalar. Raises :class:`ShapeError`."""
    kind = node[0]
    if kind == "name":
        if node[1] in shapes:
            return shapes[node[1]]
        return shape_of(definitions[node[1]], shapes, definitions)
    if kind in ("scalar", "entry"):
        return None
    if kind == "ident":
        if node[1] is None:
            raise ShapeError("the size of the identity I is not forced by the step (declare it: --let \"I: n x n\")")
        return (node[1], node[1])
    if kind == "ones":
        if node[1] is None:
            raise ShapeError("the length of the ones vector \\mathbf{1} is not forced by the step "
                             "(declare it: --let \"\\mathbf{1}: n\")")
        return (node[1], node[2])
    if kind in ("explicit", "pattern"):
        return _explicit_shape(node, shapes, definitions)
    if kind == "T":
        inner = shape_of(node[1], shapes, definitions)
        return None if inner is None else (inner[1], inner[0])
    if kind == "inv":
        inner = shape_of(node[1], shapes, definitions)
        if inner is not None and inner[0] != inner[1]:
            raise ShapeError(f"the inverse of a {show(inner)} matrix (not square)")
        return inner
    if kind in ("neg", "fn"):
        return shape_of(node[-1], shapes, definitions)
    if kind == "normsq":
        shape_of(node[1], shapes, definitions)
        return None
    if kind == "grad":
        target = shape_of(node[1], shapes, definitions)
        if not _scalar_shape(target):
            raise ShapeError(f"a derivative of a {show(target)} matrix with respect to a matrix (only scalars)")
        return shapes[node[2]]
    left = shape_of(node[1], shapes, definitions) if kind not in ("diag", "tr", "det") else None
    if kind == "diag":
        inner = shape_of(node[1], shapes, definitions)
        if inner is None or inner[1] != 1:
            raise ShapeError("diag of something that is not a column vector")
        return (inner[0], inner[0])
    if kind in ("tr", "det"):
        inner = shape_of(node[1], shapes, definitions)
        if inner is None or inner[0] != inner[1]:
            raise ShapeError(f"the {'trace' if kind == 'tr' else 'determinant'} of a matrix that is not square")
        return None
    right = shape_of(node[2], shapes, definitions)
    return _binary_shape(kind, left, right)


def _explicit_shape(node, shapes, definitions):
    import sympy as sp

    if node[0] == "explicit":
        for row in node[1]:
            for entry in row:
                if not _scalar_shape(shape_of(entry, shapes, definitions)):
                    raise ShapeError("a matrix entry that is itself a matrix (block matrices are not read)")
        return (sp.Integer(len(node[1])), sp.Integer(len(node[1][0])))
    _, kind, template, _, size = node
    if not _scalar_shape(shape_of(template, shapes, definitions)):
        raise ShapeError("a matrix entry that is itself a matrix (block matrices are not read)")
    return {"col": (size, sp.Integer(1)), "row": (sp.Integer(1), size), "diag": (size, size)}[kind]


def _scalar_shape(shape) -> bool:
    return shape is None or (shape[0] == 1 and shape[1] == 1)


def _binary_shape(kind, left, right):
    import sympy as sp

    if kind == "add":
        if left == right or (_scalar_shape(left) and _scalar_shape(right)):
            return left if left is not None else right
        if _scalar_shape(left) or _scalar_shape(right):
            return right if _scalar_shape(left) else left  # v - c: the scalar is broadcast to every entry (EDF, numpy)
        raise ShapeError(f"a sum of shapes {_describe(left)} and {_describe(right)}")
    if kind == "div":
        if not _scalar_shape(right):
            raise ShapeError(f"a division by a matrix of shape {_describe(right)}")
        return left
    if kind in ("had",):
        if left != right:
            raise ShapeError(f"a Hadamard product of shapes {_describe(left)} and {_describe(right)}")
        return left
    if kind == "outer":
        if left is None or right is None or left[1] != 1 or right[1] != 1:
            raise ShapeError("\\otimes of something other than two column vectors")
        return (left[0], right[0])
    if kind == "cdot" and left is not None and left == right and left[1] == 1 and left[0] != 1:
        return None  # u \cdot v, a dot product of two vectors of the same shape
    if _scalar_shape(left):
        return right if right is not None else left
    if _scalar_shape(right):
        return left
    if sp.simplify(left[1] - right[0]) != 0:
        raise ShapeError(f"a product ({show(left)}) times ({show(right)}) whose inner sizes {left[1]} and "
                         f"{right[0]} differ (a transpose missing?)")
    return (left[0], right[1])


def _describe(shape) -> str:
    return "scalar" if shape is None else show(shape)


def dot_node(node, shapes, definitions):
    """Rewrite ``cdot`` into a dot product or a product, by shapes."""
    if node[0] == "cdot":
        left, right = shape_of(node[1], shapes, definitions), shape_of(node[2], shapes, definitions)
        rewritten = (dot_node(node[1], shapes, definitions), dot_node(node[2], shapes, definitions))
        if left is not None and left == right and left[1] == 1 and left[0] != 1:
            return ("mul", ("T", rewritten[0]), rewritten[1])
        return ("mul",) + rewritten
    if node[0] in ("name", "scalar", "entry", "ident", "ones"):
        return node
    if node[0] == "explicit":
        return ("explicit", tuple(tuple(dot_node(e, shapes, definitions) for e in row) for row in node[1]))
    if node[0] == "pattern":
        return node[:2] + (dot_node(node[2], shapes, definitions),) + node[3:]
    if node[0] == "grad":
        return ("grad", dot_node(node[1], shapes, definitions), node[2])
    if node[0] == "fn":
        return ("fn", node[1], dot_node(node[2], shapes, definitions))
    return (node[0],) + tuple(dot_node(child, shapes, definitions) for child in node[1:])


# --- evaluation -----------------------------------------------------------------------------

class _NoExact(Exception):
    """The exact path cannot represent this node (an elementwise function, a derivative)."""


def symbolic_value(node, shapes: dict, definitions: dict):
    """The SymPy matrix expression of a node (symbolic sizes), or raise :class:`_NoExact`."""
    import sympy as sp
    from sympy.matrices.expressions.diagonal import DiagMatrix

    kind = node[0]
    recurse = lambda child: symbolic_value(child, shapes, definitions)  # noqa: E731
    if kind == "name":  # a definition wins over a declared shape (a^L: n with a^L = \sigma(z^L))
        if node[1] in definitions:
            return recurse(definitions[node[1]])
        rows, cols = shapes[node[1]]
        return sp.MatrixSymbol(node[1], rows, cols)
    if kind == "scalar":
        return node[1]
    if kind in ("entry", "pattern"):
        raise _NoExact(kind)
    if kind == "ident":
        return sp.Identity(node[1])
    if kind == "ones":
        return sp.OneMatrix(node[1], node[2])
    if kind == "explicit":
        return sp.ImmutableMatrix([[_scalar(recurse(entry)) for entry in row] for row in node[1]])
    if kind == "T":
        return _as_matrix(recurse(node[1])).T
    if kind == "inv":
        return _as_matrix(recurse(node[1])).I
    if kind == "neg":
        return -recurse(node[1])
    if kind == "diag":
        return DiagMatrix(recurse(node[1]))
    if kind == "tr":
        return sp.Trace(recurse(node[1]))
    if kind == "det":
        inner = recurse(node[1])
        return inner.det() if getattr(inner, "is_Matrix", False) else sp.Determinant(inner)
    if kind == "normsq":
        inner = _as_matrix(recurse(node[1]))
        return inner.T * inner if inner.shape[1] == 1 else sp.Trace(inner.T * inner)
    if kind == "grad":  # SymPy's matrix calculus: d(scalar)/dW in denominator layout (the shape of W)
        target = recurse(node[1])
        if getattr(target, "shape", (1, 1)) != (1, 1):
            raise _NoExact(kind)
        if node[2] in definitions:  # by an intermediate variable: the explicit path decides
            raise _NoExact(kind)
        rows, cols = shapes[node[2]]
        return target.diff(sp.MatrixSymbol(node[2], rows, cols))
    if kind == "fn":
        raise _NoExact(kind)
    left, right = recurse(node[1]), recurse(node[2])
    if kind == "add":
        if _broadcast(left, right):
            raise _NoExact("broadcast")
        return left + right
    if kind == "div":
        return left * (1 / _scalar(right))
    if kind == "had":
        return sp.HadamardProduct(left, right)
    if kind == "outer":
        return left * right.T
    return _product(left, right)


def _broadcast(left, right) -> bool:
    shapes = [getattr(v, "shape", None) for v in (left, right)]
    scalar = [shape in (None, (1, 1)) for shape in shapes]
    return scalar[0] != scalar[1]


def _as_matrix(value):
    import sympy as sp

    return value if getattr(value, "is_Matrix", False) or isinstance(value, sp.MatrixExpr) else sp.Matrix([[value]])


def _scalar(value):
    if getattr(value, "shape", None) == (1, 1):
        return value[0, 0]
    return value


def _product(left, right):
    left_shape, right_shape = getattr(left, "shape", None), getattr(right, "shape", None)
    if left_shape == (1, 1) and right_shape not in (None, (1, 1)):
        return left[0, 0] * right
    if right_shape == (1, 1) and left_shape not in (None, (1, 1)):
        return left * right[0, 0]
    return left * right


def explicit_value(node, env: dict, shapes: dict, definitions: dict, functions: dict):
    """The explicit SymPy Matrix (or scalar) of a node; ``env`` maps names to explicit matrices of symbols."""
    import sympy as sp

    kind = node[0]
    recurse = lambda child: explicit_value(child, env, shapes, definitions, functions)  # noqa: E731
    if kind == "name":  # a defined name is its definition, except where a derivative takes it as a variable
        if node[1] in env and (node[1] not in definitions or node[1] in env["@free"]):
            return env[node[1]]
        return recurse(definitions[node[1]])
    if kind == "scalar":
        return node[1].xreplace(env.get("@sizes", {}))
    if kind == "ident":
        return sp.eye(int(node[1].xreplace(env["@sizes"])))
    if kind == "ones":
        return sp.ones(int(node[1].xreplace(env["@sizes"])), int(node[2].xreplace(env["@sizes"])))
    if kind in ("entry", "explicit", "pattern"):
        return _explicit_entries(node, env, recurse)
    if kind == "T":
        return _as_matrix(recurse(node[1])).T
    if kind == "inv":
        matrix = _as_matrix(recurse(node[1]))
        return matrix.inv()
    if kind == "neg":
        return -recurse(node[1])
    if kind == "diag":
        vector = recurse(node[1])
        return sp.diag(*list(vector))
    if kind == "tr":
        return _as_matrix(recurse(node[1])).trace()
    if kind == "det":
        return _as_matrix(recurse(node[1])).det()
    if kind == "normsq":
        return sum(entry ** 2 for entry in _as_matrix(recurse(node[1])))
    if kind == "fn":
        function = _elementwise(node[1], functions)
        value = recurse(node[2])
        return value.applyfunc(function) if getattr(value, "is_Matrix", False) else function(value)
    if kind == "grad" and node[2] in definitions and node[2] not in env["@free"]:
        return _gradient_by_intermediate(node, env, shapes, definitions, functions)
    if kind == "grad":
        target = _scalar(recurse(node[1]))
        variables = env[node[2]]
        if target.is_polynomial(*variables):  # differentiating the expanded polynomial is much faster
            target = sp.Poly(target, *variables)
            return variables.applyfunc(lambda entry: target.diff(entry).as_expr())
        return variables.applyfunc(lambda entry: sp.diff(target, entry))
    left, right = recurse(node[1]), recurse(node[2])
    if kind == "add":
        if _is_scalar(left) and _is_scalar(right):
            total = _scalar(left) + _scalar(right)
            matrices = any(getattr(v, "is_Matrix", False) for v in (left, right))
            return sp.Matrix([[total]]) if matrices else total
        if _is_scalar(left) or _is_scalar(right):  # broadcast the scalar to every entry
            matrix, scalar = (right, _scalar(left)) if _is_scalar(left) else (left, _scalar(right))
            return matrix + sp.ones(*matrix.shape) * scalar
        return left + right
    if kind == "div":
        return left / _scalar(right)
    if kind == "had":
        return _as_matrix(left).multiply_elementwise(_as_matrix(right))
    if kind == "outer":
        return left * right.T
    return _product(left, right)


def _gradient_by_intermediate(node, env, shapes, definitions, functions):
    """d(target)/dV for a defined V (``\\frac{\\partial C}{\\partial a^L}`` with ``a^L = \\sigma(z^L)``): the
    usual intermediate-variable reading. V is a variable while the target is differentiated, then
    its definition is substituted into the result."""
    import sympy as sp

    name = node[2]
    rows, cols = (int(size.xreplace(env["@sizes"])) for size in shapes[name])
    variables = sp.Matrix(rows, cols, lambda i, j: sp.Dummy(f"{name}_{i}{j}", real=True))
    inner = dict(env, **{name: variables, "@free": env["@free"] | {name}})
    target = _scalar(explicit_value(node[1], inner, shapes, definitions, functions))
    value = _as_matrix(explicit_value(("name", name), env, shapes, definitions, functions))
    at = {variables[i, j]: value[i, j] for i in range(rows) for j in range(cols)}
    return variables.applyfunc(lambda entry: sp.diff(target, entry).xreplace(at))


def _explicit_entries(node, env, recurse):
    import sympy as sp

    from symderiv.writeup.matrix_patterns import substitute

    if node[0] == "entry":
        indices = tuple(int(sp.sympify(i).xreplace(env["@sizes"])) for i in node[2])
        if node[1] in env:
            matrix = env[node[1]]
            position = indices if len(indices) == 2 else ((indices[0], 1) if matrix.cols == 1 else (1, indices[0]))
            if not all(1 <= p <= n for p, n in zip(position, matrix.shape)):
                raise Unsupported(f"entry {indices} of {node[1]}, which is {matrix.rows} x {matrix.cols}", kind="matrix")
            return matrix[position[0] - 1, position[1] - 1]
        key = (node[1], indices)
        if key not in env["@entries"]:
            env["@entries"][key] = sp.Dummy(f"{node[1]}_{{{','.join(map(str, indices))}}}", real=True)
        return env["@entries"][key]
    if node[0] == "explicit":
        return sp.Matrix([[_scalar(recurse(entry)) for entry in row] for row in node[1]])
    _, kind, template, k, size = node
    count = int(size.xreplace(env["@sizes"]))
    values = [_scalar(recurse(substitute(template, {k: sp.Integer(i)}))) for i in range(1, count + 1)]
    if kind == "col":
        return sp.Matrix(values)
    if kind == "row":
        return sp.Matrix([values])
    return sp.diag(*values)


def _is_scalar(value) -> bool:
    return not getattr(value, "is_Matrix", False) or value.shape == (1, 1)


def _elementwise(name: str, functions: dict):
    import sympy as sp

    order = len(name) - len(name.rstrip("'"))
    if order:  # \sigma'(z): the derivative of the (declared or known) function, applied elementwise
        base = _elementwise(name.rstrip("'"), functions)
        t = sp.Dummy("t", real=True)
        derivative = sp.diff(base(t), t, order)
        return lambda value: derivative.xreplace({t: value})
    if name in functions:
        return lambda t: functions[name](t)
    known = {"exp": sp.exp, "log": sp.log, "ln": sp.log, "tanh": sp.tanh}
    if name in known:
        return known[name]
    return lambda t: 1 / (1 + sp.exp(-t))  # sigmoid, logistic


# --- deciding -------------------------------------------------------------------------------

def decide_matrix_step(lhs, rhs, shapes: dict, definitions: dict, functions: dict, rng):
    """An :class:`~symderiv.writeup.judge.Outcome` for ``lhs = rhs`` (expression trees of :mod:`matrices`)."""
    from symderiv.writeup.judge import Outcome

    from symderiv.writeup.matrix_implicit import fill_to, infer_sizes

    lhs, rhs = dot_node(lhs, shapes, definitions), dot_node(rhs, shapes, definitions)
    definitions = {name: dot_node(node, shapes, definitions) for name, node in definitions.items()}
    definitions = {name: fill_to(node, shapes.get(name), shapes, definitions) for name, node in definitions.items()}
    lhs, rhs = infer_sizes(lhs, rhs, shapes, definitions)
    left, right = shape_of(lhs, shapes, definitions), shape_of(rhs, shapes, definitions)
    if not (left == right or (_scalar_shape(left) and _scalar_shape(right))):
        raise ShapeError(f"the left side has shape {_describe(left)} and the right side {_describe(right)} "
                         "(a transpose missing, or another layout convention?)")
    used = _shapes_used(lhs, rhs, shapes, definitions)
    sizes = sorted({s for shape in used.values() for s in shape if s.is_Symbol}, key=str)
    exact = _exact_zero(lhs, rhs, shapes, definitions)
    tried = []
    for plan in SIZE_PLANS:
        assignment = {size: plan[i % len(plan)] for i, size in enumerate(sizes)}
        if assignment in tried:
            continue
        tried.append(assignment)
        for _ in range(SAMPLES_PER_SIZE):
            found = _compare(lhs, rhs, assignment, used, shapes, definitions, functions, rng, simple=False)
            if found is not None:
                simple = _simplest_counterexample(lhs, rhs, tried, used, shapes, definitions, functions, rng)
                return Outcome(FALSE, "counterexample with explicit matrices (" + (simple or found)[1] + ")",
                               (simple or found)[0], None, "false")
    sizes_text = _sizes_text(sizes, tried)
    if _broadcasts(lhs, shapes, definitions) or _broadcasts(rhs, shapes, definitions):
        sizes_text += "; a scalar added to a vector or matrix is added to every entry (broadcast)"
    if exact:
        return Outcome(PROVED, "exact: SymPy's matrix algebra reduces lhs - rhs to the zero matrix for every "
                       f"size (and explicit matrices agree{sizes_text})", kind="proved")
    return Outcome(HOLDS, f"equal for explicit matrices with random rational entries{sizes_text} "
                   "(no exact proof for symbolic sizes found)", kind="holds")


def _broadcasts(node, shapes, definitions, seen=frozenset()) -> bool:
    """Does the node (or a definition it uses) add a scalar to a vector or matrix?"""
    if node[0] == "add":
        sides = [_scalar_shape(shape_of(child, shapes, definitions)) for child in node[1:]]
        if sides[0] != sides[1]:
            return True
    if node[0] == "name" and node[1] in definitions and node[1] not in seen:
        return _broadcasts(definitions[node[1]], shapes, definitions, seen | {node[1]})
    if node[0] in ("name", "scalar", "entry", "ident", "ones"):
        return False
    children = [c for c in node[1:] if isinstance(c, tuple)]
    if node[0] == "explicit":
        children = [entry for row in node[1] for entry in row]
    return any(_broadcasts(child, shapes, definitions, seen) for child in children)


def _sizes_text(sizes, tried) -> str:
    if not sizes:
        return ""
    shown = "; ".join(", ".join(f"{s} = {a[s]}" for s in sizes) for a in tried)
    return f" at {shown}"


def _shapes_used(lhs, rhs, shapes, definitions):
    names, stack, patterns = set(), [lhs, rhs], set()
    while stack:
        node = stack.pop()
        if node[0] == "name":
            if node[1] in shapes and node[1] not in definitions:
                names.add(node[1])
            elif node[1] not in names:
                names.add(node[1])
                stack.append(definitions[node[1]])
        elif node[0] == "grad":
            if node[2] in definitions:  # a variable only inside the derivative: its sizes, no values
                patterns.update(size for size in shapes[node[2]] if size.is_Symbol)
                stack.append(("name", node[2]))
            else:
                names.add(node[2])
            stack.append(node[1])
        elif node[0] == "entry":
            names.add(node[1])
        elif node[0] in ("ident", "ones"):
            patterns.update(size for size in node[1:] if getattr(size, "is_Symbol", False))
        elif node[0] == "pattern":
            stack.append(node[2])
            patterns.add(node[4])
        elif node[0] == "explicit":
            stack.extend(entry for row in node[1] for entry in row)
        elif node[0] != "scalar":
            stack.extend(child for child in node[1:] if isinstance(child, tuple))
    used = {n: shapes[n] for n in names if n in shapes and n not in definitions}  # a defined name has no values
    patterns.update(size for n in names if n in shapes and n in definitions for size in shapes[n] if size.is_Symbol)
    for size in patterns - {s for shape in used.values() for s in shape}:
        used[f"@size:{size}"] = (size, size)  # a size only a pattern names (not a matrix)
    return used


def _exact_zero(lhs, rhs, shapes, definitions) -> bool:
    import sympy as sp

    try:
        difference = symbolic_value(lhs, shapes, definitions) - symbolic_value(rhs, shapes, definitions)
        reduced = difference.doit().expand() if hasattr(difference, "doit") else difference
        if isinstance(reduced, sp.MatrixExpr):
            return bool(reduced.is_ZeroMatrix) or reduced == sp.ZeroMatrix(*reduced.shape)
        return sp.expand(reduced) == 0
    except (_NoExact, TypeError, ValueError, AttributeError, NotImplementedError):
        return False


def _environment(names_shapes: dict, assignment: dict, values, variables=frozenset()) -> tuple[dict, dict]:
    """Explicit matrices for each name: entry symbols for the ``variables`` (what a derivative is taken
    by) with their values in ``point``, numbers for the others (differentiating fewer symbols is faster)."""
    import sympy as sp

    env, point = {"@sizes": {s: sp.Integer(v) for s, v in assignment.items()}, "@scalars": {}, "@entries": {},
                  "@free": frozenset()}, {}
    for name, (rows, cols) in sorted(names_shapes.items()):
        if name.startswith("@size:"):
            continue
        r, c = int(rows.xreplace(env["@sizes"])), int(cols.xreplace(env["@sizes"]))
        if r * c > MAX_ENTRIES:
            raise Unsupported(f"{name} would have {r * c} entries (limit {MAX_ENTRIES}): declare symbolic sizes",
                              kind="too large")
        if name not in variables:
            env[name] = sp.Matrix(r, c, lambda i, j: values())
            continue
        entries = [[sp.Dummy(f"{name}_{i}{j}", real=True) for j in range(c)] for i in range(r)]
        env[name] = sp.Matrix(entries)
        for row in entries:
            for entry in row:
                point[entry] = values()
    return env, point


def _variables(nodes, definitions) -> set:
    """Names a derivative is taken by, in the nodes and the definitions they use."""
    found, stack, seen = set(), list(nodes), set()
    while stack:
        node = stack.pop()
        if node[0] == "grad":
            found.add(node[2])
        if node[0] == "name" and node[1] in definitions and node[1] not in seen:
            seen.add(node[1])
            stack.append(definitions[node[1]])
        if node[0] == "explicit":
            stack.extend(entry for row in node[1] for entry in row)
        else:
            stack.extend(child for child in node[1:] if isinstance(child, tuple))
    return found


def _compare(lhs, rhs, assignment, used, shapes, definitions, functions, rng, simple: bool):
    """None when both sides agree at one instantiation; else (Counterexample, note)."""
    import sympy as sp

    simple_values = [sp.Integer(1), sp.Integer(2), sp.Integer(-1), sp.Rational(1, 2), sp.Integer(0)]
    if simple:
        values = lambda: simple_values[int(rng.integers(0, len(simple_values)))]  # noqa: E731
    else:
        values = lambda: sp.Rational(int(rng.integers(-12, 13)), int(rng.integers(1, 6)))  # noqa: E731
    env, point = _environment(used, assignment, values, _variables((lhs, rhs), definitions))
    try:
        left = explicit_value(lhs, env, shapes, definitions, functions)
        right = explicit_value(rhs, env, shapes, definitions, functions)
        scalars = sorted((_free_symbols(left) | _free_symbols(right)) - set(point), key=str)
        for symbol in scalars:  # scalar names (\lambda, \eta) get values too, shown with the point
            point[symbol] = values()
            env["@scalars"][symbol] = point[symbol]
        left_at = _at(left, point)
        right_at = _at(right, point)
    except (ZeroDivisionError, ValueError, sp.matrices.exceptions.NonInvertibleMatrixError):
        return None
    if _undefined(left_at) or _undefined(right_at):
        return None
    difference = _as_matrix(left_at) - _as_matrix(right_at)
    exact = all(entry.is_Rational for entry in difference)
    if exact:
        if all(entry == 0 for entry in difference):
            return None
    else:
        numbers = [sp.N(entry, 50) for entry in difference]
        scale = 1 + max(abs(sp.N(e, 50)) for e in list(_as_matrix(left_at)) + list(_as_matrix(right_at)))
        if all(abs(n) <= TOLERANCE * scale for n in numbers):
            return None
    return _counterexample(env, point, assignment, left_at, right_at, exact), \
        "exact rational arithmetic" if exact else "checked with 50-digit arithmetic"


def _free_symbols(value) -> set:
    return set(getattr(value, "free_symbols", set()))


def _at(value, point):
    import sympy as sp

    if getattr(value, "is_Matrix", False):
        return value.xreplace(point)
    return sp.sympify(value).xreplace(point)


def _undefined(value) -> bool:
    import sympy as sp

    entries = list(value) if getattr(value, "is_Matrix", False) else [value]
    return any(e.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I) for e in entries)


def _simplest_counterexample(lhs, rhs, tried, used, shapes, definitions, functions, rng):
    for assignment in tried:
        for _ in range(12):
            found = _compare(lhs, rhs, assignment, used, shapes, definitions, functions, rng, simple=True)
            if found is not None:
                return found
    return None


def _counterexample(env, point, assignment, left, right, exact: bool) -> Counterexample:
    shown = [(str(size), str(value)) for size, value in sorted(assignment.items(), key=lambda sv: str(sv[0]))]
    shown += [(_shown_name(str(symbol)), _number(value)) for symbol, value in env["@scalars"].items()]
    for name, matrix in sorted((n, m) for n, m in env.items() if not n.startswith("@")):
        shown.append((name, _latex(matrix.xreplace(point))))
    return Counterexample(point=tuple(shown), lhs_value=_latex(left), rhs_value=_latex(right),
                          precision_digits=HIGH_PRECISION_DIGITS, exact=exact)


def _shown_name(name: str) -> str:
    return name if "_" in name or name.startswith("\\") else latex_name(name)


def _latex(value) -> str:
    import sympy as sp

    if not getattr(value, "is_Matrix", False):
        return _number(value)
    rows = [" & ".join(_number(e) for e in value.row(i)) for i in range(value.rows)]
    return "\\begin{bmatrix} " + " \\\\ ".join(rows) + " \\end{bmatrix}" if value.shape != (1, 1) \
        else _number(value[0, 0]) if sp.S(value[0, 0]).is_Rational else _number(value[0, 0])


def _number(value) -> str:
    import sympy as sp

    value = sp.S(value)
    if value.is_Rational:
        return sp.latex(value)
    return sp.N(value, 15).__str__()


__all__ = ["ShapeError", "decide_matrix_step", "shape_of"]
