"""The one place that turns SymPy objects into LaTeX for `symderiv check` output."""

from __future__ import annotations

MAX_LATEX_CHARS = 600


def to_latex(expr) -> str:
    """sympy.latex, except that a derivative of a sum or product brackets its operand."""
    text = _printer().doprint(expr)
    if len(text) > MAX_LATEX_CHARS:
        return text[: MAX_LATEX_CHARS - 5] + r" \dots"
    return text


def _printer():
    import sympy as sp
    from sympy.printing.latex import LatexPrinter

    from symderiv.writeup.indices import FAMILY_MARK

    class _CheckPrinter(LatexPrinter):
        def _print_Derivative(self, expr):
            if isinstance(expr.expr, (sp.Add, sp.Mul)):
                placeholder = sp.Symbol("OPERAND")
                shell = super()._print_Derivative(sp.Derivative(placeholder, *expr.variable_count, evaluate=False))
                operand = r"\left(" + self._print(expr.expr) + r"\right)"
                return shell.replace("OPERAND", operand)
            return super()._print_Derivative(expr)

        def _print_Indexed(self, expr):
            base = str(expr.base)
            if base.endswith(FAMILY_MARK):  # y^{(i)}: entry i of a sample family, written as in the text
                indices = [self._print(index) for index in expr.indices]
                text = f"{base[:-len(FAMILY_MARK)]}^{{({indices[0]})}}"
                return text + (f"_{{{','.join(indices[1:])}}}" if len(indices) > 1 else "")
            return super()._print_Indexed(expr)

    return _CheckPrinter()
