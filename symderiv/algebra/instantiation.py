"""The one instantiation of abstract functions: concrete functions for f, g, f', ... in a claim.

Contract: an abstract function (``Function("f")`` applied to arguments) is
replaced by one concrete function everywhere in an expression at once, so every
derivative of it the expression names — ``Derivative(f(x), x)``, the ``Subs``
form of a chain rule, ∂f/∂y at (g(x), h(x)) — is the derivative of that same
function: the instantiation is consistent with the derivatives by
construction. Every concrete function is entire (polynomials, sin, exp):
defined and smooth at every real argument, so no stated domain of a variable
excludes it; a condition that mentions the functions is checked by the caller
on the instantiated expressions, at the point.

One family, used by the proof checker and by ``symderiv check``:

- :func:`generic_templates`: the family with coefficient symbols. For one
  argument a polynomial of degree 6, for two of degree 4, for three of degree
  3, for more of degree 2 (:data:`TEMPLATE_DEGREES`), plus ``c·sin(Σ args)``
  and ``c·exp(Σ rate·arg)``. No linear ODE with constant coefficients of order
  ≤ 8 holds for the whole family, so a random member has generic jets (a cubic
  plus ``c·sin t`` satisfies g⁽⁶⁾ = −g⁽⁴⁾). ``check`` samples its coefficients
  in float64.
- :func:`drawn_templates`: one member with small nonzero rational
  coefficients (±1/4 … ±1) drawn from a seeded numpy generator, so a run is
  reproducible and exact arithmetic can confirm a counterexample. The proof
  checker's trials use it; ``check``'s counterexample search falls back to it.
- :func:`simple_templates`: the simplest concrete functions (t², t³, sin t,
  eᵗ, t² + t; products of the arguments), tried first when a counterexample
  is to be checked by hand.

:func:`instantiate` substitutes templates in one pass (a partial derivative of
an abstract function is taken in the template's own arguments and evaluated at
the instantiated ones) and, unless told not to, evaluates the other derivatives. Parameters are named ``t`` (one
argument) or ``t_1 … t_k``. SymPy is imported lazily.
"""

from __future__ import annotations

import itertools

#: total degree of the polynomial part of a template, by number of arguments (2 beyond 3)
TEMPLATE_DEGREES = {1: 6, 2: 4, 3: 3}

SIMPLE_UNARY = ("t**2", "t**3", "sin(t)", "exp(t)", "t**2 + t")
SIMPLE_MULTI = ("prod", "first_squared", "last_squared", "sum_squared")


def abstract_functions(exprs) -> dict:
    """{function: number of arguments} of the undefined functions applied in ``exprs`` (matrices entry
    by entry; the largest number of arguments when a function is applied to several)."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    found: dict = {}
    for expr in exprs:
        entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
        for entry in entries:
            if not isinstance(entry, sp.Basic):
                continue
            for applied in entry.atoms(AppliedUndef):
                found[applied.func] = max(found.get(applied.func, 0), len(applied.args))
    return found


def parameters(arity: int) -> tuple:
    """The template's parameters: (t,) for one argument, (t_1, …, t_k) for more."""
    import sympy as sp

    if arity == 1:
        return (sp.Symbol("t", real=True),)
    return tuple(sp.Symbol(f"t_{k + 1}", real=True) for k in range(arity))


def _by_name(functions: dict) -> list:
    return sorted(functions.items(), key=lambda item: str(item[0]))


def generic_templates(functions: dict):
    """(templates, coefficient symbols): the family of the module docstring with free coefficients."""
    import sympy as sp

    templates = {}
    coefficients = []
    for number, (func, arity) in enumerate(_by_name(functions)):
        arguments = parameters(arity) if arity else ()
        degree = TEMPLATE_DEGREES.get(arity, 2)
        monomials = sorted(sp.itermonomials(arguments, degree), key=sp.default_sort_key) if arity else [sp.Integer(1)]
        extra = 2 + arity if arity else 0  # sin weight, exp weight, one rate per argument
        own = sp.symbols(f"_c{number}_0:{len(monomials) + extra}", real=True)
        body = sum(c * m for c, m in zip(own, monomials))
        if arity:
            sine_weight, exp_weight, rates = own[len(monomials)], own[len(monomials) + 1], own[len(monomials) + 2:]
            body += sine_weight * sp.sin(sum(arguments))
            body += exp_weight * sp.exp(sum(r * a for r, a in zip(rates, arguments)))
        coefficients.extend(own)
        templates[func] = sp.Lambda(arguments, body)
    return templates, coefficients


def drawn_templates(functions: dict, rng, family=None) -> dict:
    """One member of the family: every coefficient a nonzero multiple of 1/4 in [-1, 1], drawn from the
    numpy generator ``rng``. ``family``: the (templates, coefficients) of :func:`generic_templates`
    when the caller has them already."""
    import sympy as sp

    templates, coefficients = family if family is not None else generic_templates(functions)
    if not templates:
        return {}
    quarters = [int(k) for k in rng.integers(-4, 4, size=len(coefficients))]
    draw = {c: sp.Rational(k + 1 if k >= 0 else k, 4) for c, k in zip(coefficients, quarters)}
    return {func: sp.Lambda(template.variables, template.expr.xreplace(draw)) for func, template in templates.items()}


def simple_templates(functions: dict, choice: tuple) -> dict:
    """The simple functions named by ``choice`` (one of :func:`simple_choices`), in name order."""
    import sympy as sp

    templates = {}
    for (func, arity), pick in zip(_by_name(functions), choice):
        arguments = parameters(arity) if arity else ()
        if arity == 1:
            t = arguments[0]
            body = {"t**2": t**2, "t**3": t**3, "sin(t)": sp.sin(t), "exp(t)": sp.exp(t), "t**2 + t": t**2 + t}[pick]
        elif arity == 0:
            body = sp.Integer(2)
        else:
            product = sp.Mul(*arguments)
            body = {
                "prod": product,
                "first_squared": product * arguments[0],
                "last_squared": product * arguments[-1],
                "sum_squared": sum(arguments) ** 2 + product,
            }[pick]
        templates[func] = sp.Lambda(arguments, body)
    return templates


def simple_choices(functions: dict, limit: int = 24) -> list:
    """Combinations of simple functions, simplest first (at most ``limit``)."""
    pools = [SIMPLE_UNARY if arity == 1 else SIMPLE_MULTI if arity > 1 else ("const",)
             for _, arity in _by_name(functions)]
    return list(itertools.islice(itertools.product(*pools), limit))


def candidate_templates(functions: dict, rng, *, simple: int = 24, drawn: int = 3, family=None) -> list:
    """Instantiations to search for a counterexample in: ``simple`` combinations of simple functions,
    then ``drawn`` members of the family with rational coefficients (none without functions)."""
    candidates = [simple_templates(functions, choice) for choice in simple_choices(functions, simple)]
    candidates += [drawn_templates(functions, rng, family) for _ in range(drawn if functions else 0)]
    return candidates


def instantiate(expr, templates: dict, *, evaluate: bool = True):
    """``expr`` with every application of a function of ``templates`` replaced by its template,
    then (``evaluate``) its remaining derivatives evaluated.

    A derivative of an abstract function with respect to its arguments — ∂f/∂y at (g(x), h(x)),
    SymPy's ``Derivative(f(g(x), h(x)), g(x))``, or the ``Subs`` form of a chain rule — becomes
    the template's own partial derivative taken at the instantiated arguments, at once. (A
    ``Subs`` left in place is unsafe: SymPy compares two of them with equal points as equal when
    their bound variables coincide there, so f_yy and f_yz at (x², x²) would merge in a sum.)
    Only derivatives are evaluated: ``Sum.doit`` would replace a symbolic sum by a closed form in
    SymPy's signed convention (wrong for an empty range)."""
    import sympy as sp

    if not templates and not evaluate:
        return expr
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(lambda entry: instantiate(entry, templates, evaluate=evaluate))
    if templates:
        expr = _Instantiator(templates).concrete(expr)
    return evaluate_derivatives(expr) if evaluate else expr


class _Instantiator:
    """One pass over an expression tree, top down, each distinct node rewritten once."""

    def __init__(self, templates: dict):
        self.templates = templates
        self.memo: dict = {}

    def concrete(self, node):
        done = self.memo.get(node)
        if done is None:
            done = self._rewrite(node)
            self.memo[node] = done
        return done

    def _rewrite(self, node):
        import sympy as sp
        from sympy.core.function import AppliedUndef

        if isinstance(node, AppliedUndef) and node.func in self.templates:
            return self.templates[node.func](*[self.concrete(a) for a in node.args])
        if isinstance(node, sp.Derivative) and isinstance(node.expr, AppliedUndef) and node.expr.func in self.templates \
                and any(not isinstance(v, sp.Symbol) for v in node.variables):
            return self._partial(node)
        if isinstance(node, sp.Subs) and node.expr.has(AppliedUndef):
            # the bound variables take the instantiated point: nothing bound is left behind
            inner = evaluate_derivatives(self.concrete(node.expr))
            return inner.xreplace({v: self.concrete(p) for v, p in zip(node.variables, node.point)})
        if not node.args:
            return node
        return node.func(*[self.concrete(a) for a in node.args])

    def _partial(self, derivative):
        """∂ⁿf/∂(arguments) at the arguments: the template differentiated in its own slots. Equal
        arguments share a slot, so Derivative(f(g, g), g) is the total derivative, as in SymPy."""
        import sympy as sp

        applied = derivative.expr
        slots: dict = {}
        for argument in applied.args:
            slots.setdefault(argument, sp.Dummy(f"slot{len(slots) + 1}"))
        if any(v not in slots for v in derivative.variables):
            raise ValueError(f"a derivative with respect to {derivative.variables} that is not an argument "
                             f"of {applied.func}: it has no concrete meaning")
        body = self.templates[applied.func](*[slots[a] for a in applied.args])
        taken = sp.diff(body, *[(slots[v], count) for v, count in derivative.variable_count])
        return taken.xreplace({slot: self.concrete(argument) for argument, slot in slots.items()})


def evaluate_derivatives(expr):
    """Every ``Derivative`` and ``Subs`` of ``expr`` evaluated (nothing else: sums stay as written)."""
    import sympy as sp

    return expr.replace(lambda e: isinstance(e, (sp.Derivative, sp.Subs)), lambda e: e.doit(deep=False))


def described(templates: dict, printer) -> tuple[tuple[str, str], ...]:
    """((``f(t_1, t_2)``, the body printed by ``printer``), ...) in name order; the parameters
    printed by ``printer`` too."""
    shown = []
    for func, template in sorted(templates.items(), key=lambda item: str(item[0])):
        arguments = ", ".join(printer(v) for v in template.variables)
        shown.append((f"{func.__name__}({arguments})", printer(template.expr)))
    return tuple(shown)
