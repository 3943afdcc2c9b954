"""Plain-text (unicode) printing of derivations in the notation of PROBLEMS.md.

Partial derivatives of the abstract loss print as subscripts (f_y, f_yz),
with their point only where it is not (g(x), h(x)) (``f_y(2*x, h(x))``), and
derivatives of g, h as primes (g', g''), through a SymPy ``StrPrinter``
subclass (``_print_<Class>`` dispatch, no string surgery).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sympy.core.function import AppliedUndef
from sympy.printing.str import StrPrinter

if TYPE_CHECKING:
    import sympy


class DerivationPrinter(StrPrinter):
    def _print_Derivative(self, expr):
        inner = expr.expr
        if isinstance(inner, AppliedUndef):
            name = inner.func.__name__
            counts = expr.variable_count
            if len(inner.args) == 1 and len(counts) == 1:
                order = counts[0][1]
                return name + ("'" * order if order <= 3 else f"^({order})")
            return name + "_" + "".join(str(v) * k for v, k in counts)
        return super()._print_Derivative(expr)

    def _print_Function(self, expr):
        # f and its partials f_y, f_yz, … (undefined functions, see symderiv.problems.chain)
        # print bare at the default point: (y, z) or (g(x), h(x))
        name = expr.func.__name__
        if isinstance(expr, AppliedUndef) and (name == "f" or name.startswith("f_")):
            if _at_default_point(expr.args):
                return name
        return super()._print_Function(expr)


def _at_default_point(args) -> bool:
    names = [a.func.__name__ if isinstance(a, AppliedUndef) else str(a) for a in args]
    return names in (["y", "z"], ["g", "h"])


def text(expr: "sympy.Expr") -> str:
    return DerivationPrinter().doprint(expr)
