"""Substitute declarations into a surface expression and evaluate its derivatives.

``Derivative(A, v)`` is read with the intermediate-variable convention: A is
expanded through every declaration *except* v (and the variables of enclosing
derivatives), differentiated in v as a plain variable, and only then is v
replaced by what it stands for. So with ``g = g(x)`` and ``\\ell = \\ell(g, h)``,
``d\\ell/dg`` is the partial of ``\\ell`` in its first argument evaluated at
``(g(x), h(x))`` while ``d\\ell/dx`` is the total derivative through g and h.
"""

from __future__ import annotations

from symderiv.writeup.latex_parser import Unsupported
from symderiv.writeup.meaning import Context

MAX_EXPANSION_DEPTH = 25


_KINKS = ("Max", "Min", "Abs", "sign", "Heaviside")


class Resolver:
    def __init__(self, context: Context):
        self.context = context
        self.kinked = False  # a derivative was taken through max, min, |x|, sign or ReLU

    def full(self, expr):
        """Fully substituted, derivatives evaluated (``doit`` on derivatives/Subs only)."""
        return self._resolve(expr, frozenset(), 0)

    def _resolve(self, expr, keep: frozenset, depth: int):
        import sympy as sp
        from sympy.core.function import AppliedUndef

        if depth > MAX_EXPANSION_DEPTH:
            raise Unsupported("declarations refer to each other too deeply (a cycle?)")
        if getattr(expr, "is_Matrix", False):
            return expr.applyfunc(lambda entry: self._resolve(entry, keep, depth))
        if isinstance(expr, sp.Symbol):
            if expr in keep:
                return expr
            definition = self.context.definitions.get(expr)
            if definition is None:
                return expr
            return self._resolve(definition, keep, depth + 1)
        if isinstance(expr, sp.Indexed):
            if expr in keep:
                return expr
            indices = tuple(self._resolve(i, keep, depth) for i in expr.indices)
            entry_definition = self.context.definitions.get(expr.base[indices])  # o_1 = ...: one entry
            if entry_definition is not None:
                return self._resolve(entry_definition, keep, depth + 1)
            entry = self.context.indexed_definitions.get(str(expr.base))
            if entry is None or len(entry[0]) != len(indices):
                return expr.base[indices]
            template_indices, template = entry
            instance = template.xreplace(dict(zip(template_indices, indices)))
            return self._resolve(instance, keep, depth + 1)
        if isinstance(expr, sp.Derivative):
            variables = [v for v, _ in expr.variable_count]
            inner = self._resolve(expr.expr, keep | frozenset(variables), depth)
            for variable in variables:
                if not isinstance(variable, (sp.Symbol, sp.Indexed)):
                    raise Unsupported(f"cannot differentiate with respect to {variable}")
            for variable in variables:
                depends = inner.has(variable.base) if isinstance(variable, sp.Indexed) else variable in inner.free_symbols
                if not depends and inner.free_symbols and not _declared_independent(inner, self.context):
                    # SymPy would say 0: nothing declared makes the numerator depend on the
                    # variable. That is almost always a missing declaration, not a claim.
                    raise Unsupported(_missing_dependency(expr.expr, variable), kind="declaration needed")
            if any(inner.has(getattr(sp, kink)) for kink in _KINKS):
                self.kinked = True
            derivative = sp.diff(inner, *expr.variable_count)
            replacements = {}
            for variable in variables:
                if variable in keep:
                    continue
                value = self._resolve(variable, keep, depth + 1)
                if value != variable:
                    replacements[variable] = value
            return derivative.subs(replacements) if replacements else derivative
        if isinstance(expr, sp.Subs):
            inner = self._resolve(expr.expr, keep | frozenset(expr.variables), depth)
            points = [self._resolve(p, keep, depth) for p in expr.point]
            return sp.Subs(inner, expr.variables, points).doit()
        if isinstance(expr, AppliedUndef):
            arguments = [self._resolve(a, keep, depth) for a in expr.args]
            body = self.context.concrete_functions.get(expr.func.__name__)
            if body is not None:
                if len(body.variables) != len(arguments):
                    count = len(arguments)
                    raise Unsupported(f"{expr.func.__name__} applied to {count} argument{'' if count == 1 else 's'}, "
                                      f"but defined with {len(body.variables)}")
                return self._resolve(body(*arguments), keep, depth + 1)
            return expr.func(*arguments)
        if isinstance(expr, (sp.Sum, sp.Product)):
            body = self._resolve(expr.function, keep, depth)
            limits = [(v, self._resolve(a, keep, depth), self._resolve(b, keep, depth)) for v, a, b in expr.limits]
            return expr.func(body, *limits)
        if not expr.args:
            return expr
        return expr.func(*[self._resolve(a, keep, depth) for a in expr.args])


def _declared_independent(inner, context) -> bool:
    """Every name in ``inner`` is declared an independent variable (``--let "v: independent"``): its
    derivative by another variable is 0, as SymPy says."""
    return all(context.origins.get(getattr(s, "name", ""), ("",))[0] == INDEPENDENT for s in inner.free_symbols)


#: the kind recorded in ``context.origins`` by ``--let "v: independent"``
INDEPENDENT = "independent variable (declared)"


def _missing_dependency(numerator, variable) -> str:
    """The reason, with a --let the reader accepts when there is a simple one (scalar names only)."""
    import sympy as sp

    from symderiv.writeup.shapes import latex_name
    from symderiv.writeup.printing import to_latex

    shown_numerator, shown_variable = to_latex(numerator), to_latex(variable)
    message = f"{shown_numerator} does not depend on {shown_variable} through any declaration"
    if isinstance(numerator, sp.Symbol) and isinstance(variable, sp.Symbol) and not variable.is_integer \
            and "_" not in numerator.name:  # J_{MCE}(w): a subscripted function is not a declaration that is read
        name, argument = latex_name(numerator.name), latex_name(variable.name)
        return message + f' (declare it, e.g. --let "{name} = {name}({argument})")'
    return message + " (declare what it is with --let: a definition, or a dependency such as g = g(x))"
