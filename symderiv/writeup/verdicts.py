"""Decide each claimed step: proved / holds / false (with a checked counterexample) / unchecked.

Order of work per step, all inside one wall-clock bound (``time_limit``):
parse both sides, substitute declarations and evaluate derivatives, try a
cheap exact proof (expand), then a vectorised numeric comparison; a mismatch
is turned into a counterexample with simple functions and a simple point,
confirmed with 50-digit arithmetic before ``false`` is reported; agreement
is followed by costlier exact rewrites (proved) or reported as ``holds``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from symderiv.errors import InputError
from symderiv.writeup import numeric, symbolic
from symderiv.writeup.declarations import add_declaration
from symderiv.writeup.extract import Step, extract
from symderiv.writeup.latex_parser import Unsupported, parse_side
from symderiv.writeup.meaning import Context, Converter, _IndexConverter
from symderiv.writeup.printing import to_latex
from symderiv.writeup.report import FALSE, HOLDS, PROVED, UNCHECKED, CheckReport, Counterexample, StepResult
from symderiv.writeup.resolve import Resolver
from symderiv.writeup.timeout import StepTimeout, time_limit

DEFAULT_STEP_SECONDS = 5.0
DEFAULT_BUDGET_SECONDS = 300.0
DIFFERENCE_SECONDS = 3.0
SIMPLE_VALUES = ("1/2", "1", "3/2", "2", "1/3", "2/3", "3", "-1/2", "-1")
_PRIMED = re.compile(r"(?:\\([a-zA-Z]+)|(?<![a-zA-Z\\])([a-zA-Z]))\s*'")
CONDITION_CONTEXT_WORDS = {"where", "whenever", "when", "if", "iff", "at", "such that", "for", "unless", "exactly where"}


@dataclass
class _Parsed:
    step: Step
    lhs: object = None
    rhs: object = None
    error: str | None = None
    definition: bool = False
    names: set = field(default_factory=set)


def check_text(text: str, is_latex: bool, lets: list[str], path: str = "<text>",
               step_seconds: float = DEFAULT_STEP_SECONDS, seed: int = 0,
               budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> CheckReport:
    """Check every claimed step of a writeup; ``lets`` are ``--let`` declarations."""
    import numpy as np

    extraction = extract(text, is_latex)
    context = Context()
    math_text = " ".join(f"{step.lhs} {step.rhs}" for step in extraction.steps)
    context.primed_names = {a or b for a, b in _PRIMED.findall(math_text)}
    warnings: list[str] = []
    cycle_checked = not lets
    for origin, declaration in [("--let", d) for d in lets] + [(f"line {d.line}", d.text) for d in extraction.declarations]:
        if origin != "--let" and not cycle_checked:
            _reject_cyclic_lets(context)
            cycle_checked = True
        try:
            with time_limit(step_seconds):
                add_declaration(context, declaration)
        except (Unsupported, StepTimeout, RecursionError, ValueError, TypeError) as exc:
            message = "timed out" if isinstance(exc, StepTimeout) else (str(exc) or type(exc).__name__)
            if origin == "--let":
                raise InputError(f"--let {declaration!r}: {message}") from None
            warnings.append(f"declaration {declaration!r} ({origin}) ignored: {message}")
    if not cycle_checked:
        _reject_cyclic_lets(context)
    cycle = declaration_cycle(context)
    if cycle:
        warnings.append(f"declarations refer to each other in a cycle ({' -> '.join(cycle)}); "
                        f"steps that use them are unchecked")
    declared = set(context.declared_names)
    for line, reason in extraction.skipped_blocks:
        warnings.append(f"line {line}: {reason}")

    parsed = [_parse_step(step, context, step_seconds) for step in extraction.steps]
    _adopt_text_definitions(parsed, context)

    undeclared: dict[str, list[int]] = {}
    for item in parsed:
        if item.definition or item.error:
            continue
        for name in sorted(item.names - declared - context.declared_names - {"n"} - _bound_names(item)):
            if name.startswith("\\nabla"):
                continue
            lines_seen = undeclared.setdefault(name, [])
            if item.step.line not in lines_seen:
                lines_seen.append(item.step.line)
    if undeclared:
        listed = ", ".join(f"{name} (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, sorted(set(lines))))})"
                           for name, lines in sorted(undeclared.items()))
        warnings.append(f"undeclared symbols, treated as independent variables: {listed}")

    rng = np.random.default_rng(seed)
    deadline = time.monotonic() + budget_seconds
    results = []
    for item in parsed:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            item.error = item.error or f"not checked: the file's time budget ({budget_seconds:g} s) is used up"
        results.append(_decide(item, context, min(step_seconds, max(remaining, 0.05)), rng))
    return CheckReport(path, tuple(results), tuple(warnings))


def _reject_cyclic_lets(context: Context) -> None:
    cycle = declaration_cycle(context)
    if cycle:
        raise InputError(f"--let declarations refer to each other in a cycle: {' -> '.join(cycle)}")


def declaration_cycle(context: Context) -> list[str]:
    """Names along a cycle of definitions (``a = b + 1``, ``b = a``), or [] when there is none."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    def uses(body, parameters=()):
        found = set()
        for symbol in body.free_symbols - set(parameters):
            if isinstance(symbol, sp.Symbol) and symbol in context.definitions:
                found.add(("symbol", symbol.name))
        for indexed in body.atoms(sp.Indexed):
            if str(indexed.base) in context.indexed_definitions:
                found.add(("indexed", str(indexed.base)))
        for application in body.atoms(AppliedUndef):
            if application.func.__name__ in context.concrete_functions:
                found.add(("function", application.func.__name__))
        return found

    graph = {}
    for symbol, body in context.definitions.items():
        graph[("symbol", symbol.name)] = uses(body)
    for name, (_, template) in context.indexed_definitions.items():
        graph[("indexed", name)] = uses(template)
    for name, body in context.concrete_functions.items():
        graph[("function", name)] = uses(body.expr, body.variables)

    state: dict = {}
    path: list = []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == "open":
                return path[path.index(successor):] + [successor]
            if successor not in state:
                found = visit(successor)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return [name for _, name in found]
    return []


# --- parsing ---------------------------------------------------------------------------

def _parse_step(step: Step, context: Context, step_seconds: float) -> _Parsed:
    item = _Parsed(step)
    if step.problem:
        item.error = step.problem
        return item
    if step.relation not in ("=", "\\neq", ":="):
        item.error = f"relation {step.relation!r} is not checked (only = and \\neq)"
        return item
    try:
        with time_limit(step_seconds):
            lhs_tree, rhs_tree = parse_side(step.lhs), parse_side(step.rhs)
            context.step_plain_names = set()
            for _ in range(2):
                context.used_names = set()
                converter = Converter(context)
                item.lhs = converter.expression(lhs_tree)
                item.rhs = converter.expression(rhs_tree)
                item.names = set(context.used_names)
                # h(h+1) = h^2 + h: a conventional function letter that is also used bare is a variable.
                ambiguous = _bare_and_applied(item.lhs, item.rhs) & context.conventional_only_functions()
                if not ambiguous or ambiguous <= context.step_plain_names:
                    break
                context.step_plain_names |= ambiguous
    except Unsupported as exc:
        item.error = str(exc)
    except StepTimeout:
        item.error = f"timed out after {step_seconds:g} s while parsing"
    except (RecursionError, MemoryError, OverflowError):
        item.error = "expression too large or too deeply nested"
    except Exception as exc:  # sympy may reject odd constructions; never crash on user text
        item.error = f"cannot interpret: {type(exc).__name__}: {_first_line(exc)}"
    finally:
        context.step_plain_names = set()
    return item


def _bound_names(item: _Parsed) -> set:
    """Summation variables (k in \\sum_k k^2) are not undeclared symbols."""
    import sympy as sp

    names = set()
    for expr in (item.lhs, item.rhs):
        if isinstance(expr, sp.Basic):
            names |= {str(v) for s in expr.atoms(sp.Sum, sp.Product) for v, _, _ in s.limits}
    return names


def _bare_and_applied(*exprs) -> set:
    """Names used both as a function ``h(...)`` and as a plain variable ``h``."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    applied, bare = set(), set()
    for expr in exprs:
        if not isinstance(expr, sp.Basic):
            continue
        applied |= {a.func.__name__ for a in expr.atoms(AppliedUndef)}
        bare |= {s.name for s in expr.free_symbols if isinstance(s, sp.Symbol) and not s.is_integer}
    return applied & bare


def _adopt_text_definitions(parsed: list[_Parsed], context: Context) -> None:
    """``name = expression`` on an undeclared name defines it for every step (like a --let)."""
    import sympy as sp

    for item in parsed:
        step = item.step
        if item.error or step.condition or not step.first_in_chain or step.relation not in ("=", ":="):
            continue
        lhs = item.lhs
        if isinstance(lhs, sp.Symbol):
            if lhs in context.definitions or lhs.name in context.declared_names or lhs.is_integer:
                continue
            if lhs in item.rhs.free_symbols:
                continue
            context.definitions[lhs] = item.rhs
        elif isinstance(lhs, sp.Indexed) and all(isinstance(i, sp.Symbol) for i in lhs.indices):
            name = str(lhs.base)
            if name in context.indexed_definitions or name in context.declared_names:
                continue
            if item.rhs.has(lhs.base):
                continue
            context.indexed_definitions[name] = (tuple(lhs.indices), item.rhs)
        elif _is_function_definition(lhs, item.rhs, context):
            # "f(x) = x^2": f becomes concrete; a constant right side ("sigma(u) = 1/2") is a condition, not a definition.
            context.concrete_functions[lhs.func.__name__] = sp.Lambda(lhs.args, item.rhs)
            context.function_args.pop(lhs.func.__name__, None)
            context.declared_names.add(lhs.func.__name__)
            item.definition = True
            continue
        else:
            continue
        context.declared_names.add(str(lhs.base) if isinstance(lhs, sp.Indexed) else lhs.name)
        item.definition = True


def _is_function_definition(lhs, rhs, context) -> bool:
    import sympy as sp
    from sympy.core.function import AppliedUndef

    if not isinstance(lhs, AppliedUndef):
        return False
    name = lhs.func.__name__
    if name in context.concrete_functions or name in context.function_args or name in context.declared_names:
        return False
    parameters = lhs.args
    if not parameters or not all(isinstance(p, sp.Symbol) for p in parameters) or len(set(parameters)) != len(parameters):
        return False
    if getattr(rhs, "is_Matrix", False) or rhs.has(lhs.func) or rhs.has(sp.Derivative):
        return False
    return bool(rhs.free_symbols & set(parameters))


# --- deciding ----------------------------------------------------------------------------

def _decide(item: _Parsed, context: Context, step_seconds: float, rng) -> StepResult:
    step = item.step
    started = time.monotonic()
    lhs_text = _display(item.lhs, step.lhs)
    rhs_text = _display(item.rhs, step.rhs)

    def result(verdict, reason="", counterexample=None, difference=None):
        return StepResult(step.line, lhs_text, rhs_text, step.relation, verdict, reason, step.condition,
                          counterexample, difference, round(time.monotonic() - started, 3),
                          " ".join(step.lhs.split()), " ".join(step.rhs.split()))

    if item.error:
        return result(UNCHECKED, item.error)
    if item.definition:
        return result(UNCHECKED, f"definition of {lhs_text} (used as given in the other steps)")
    try:
        with time_limit(step_seconds):
            outcome = _judge(item, context, rng)
    except StepTimeout:
        return result(UNCHECKED, f"timed out after {step_seconds:g} s")
    except Unsupported as exc:
        return result(UNCHECKED, str(exc))
    except (RecursionError, MemoryError, OverflowError):
        return result(UNCHECKED, "expression too large or too deeply nested")
    except Exception as exc:  # an expression sympy cannot evaluate is unchecked, not a crash
        return result(UNCHECKED, f"cannot evaluate: {type(exc).__name__}: {_first_line(exc)}")
    verdict, reason, counterexample, difference_expr = outcome
    if step.relation == "\\neq":
        verdict, reason = _invert_for_inequality(verdict, reason)
        counterexample = None
        difference_expr = None
    if verdict == FALSE and step.inline and step.chain_length == 1 and step.context_word in CONDITION_CONTEXT_WORDS:
        return result(UNCHECKED, f"reads as a condition (after '{step.context_word}'), not an identity; "
                                 f"as an identity it is false")
    difference = None
    if difference_expr is not None:
        try:
            with time_limit(DIFFERENCE_SECONDS):
                rewrites = symbolic.concrete_function_rewrites(context, [item.lhs, item.rhs], Resolver(context))
                resolver = Resolver(context)
                simplest = symbolic.simplest_difference(difference_expr, rewrites)
                simplest = symbolic.simplest_difference(symbolic.fold_definitions(simplest, context, resolver))
                difference = to_latex(symbolic.in_writer_names(simplest, context, Resolver(context)))
        except StepTimeout:
            difference = to_latex(difference_expr)
        except Exception:  # the difference is a courtesy; the verdict stands without it
            difference = None
    return result(verdict, reason, counterexample, difference)


def _invert_for_inequality(verdict, reason):
    if verdict == PROVED:
        return FALSE, "the two sides are identically equal"
    if verdict == HOLDS:
        return FALSE, "the two sides agree numerically everywhere sampled (" + reason + ")"
    if verdict == FALSE:
        return PROVED, "the sides differ at a verified point"
    return verdict, reason


def _judge(item: _Parsed, context: Context, rng):
    import sympy as sp

    resolver = Resolver(context)
    lhs = resolver.full(item.lhs)
    rhs = resolver.full(item.rhs)
    _check_degrees(lhs, rhs)
    for side in (lhs, rhs):
        if side.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise Unsupported("a side is infinite or undefined (a division by zero or log of 0?)")
    both = _bare_and_applied(lhs, rhs)
    if both:
        name = sorted(both)[0]
        raise Unsupported(f"{name} is used both as a function {name}(...) and as a variable; "
                          f"declare it with --let to say which")
    pairs = _pairs(lhs, rhs)
    conditions = _conditions(item.step.condition, pairs)
    assumed: set = set()
    prepared = [(symbolic.prepare(l, conditions, assumed), symbolic.prepare(r, conditions, assumed)) for l, r in pairs]
    assumption = f" (assuming {', '.join(sorted(assumed))})" if assumed else ""
    if all(symbolic.quick_zero(l - r) for l, r in prepared):
        return PROVED, "exact: the difference expands to 0" + assumption, None, None
    # A nonzero rational function of plain variables is not identically zero, however small
    # its coefficients (x versus x + 10^{-30} x): decide it exactly, with an exact counterexample.
    exact = _rational_counterexample(prepared, context, rng)
    if exact is not None:
        counterexample, worst = exact
        return FALSE, "exact: lhs - rhs is a nonzero rational function; counterexample in exact rational arithmetic", \
            counterexample, worst

    functions = numeric.abstract_functions([e for pair in prepared for e in pair])
    templates, coefficients = numeric.generic_templates(functions)
    configuration_list = numeric.configurations([e for pair in prepared for e in pair], conditions, rng)
    if not configuration_list:
        raise Unsupported("no index values satisfy the condition")
    outcome = numeric.compare(prepared, templates, coefficients, configuration_list, rng)
    if not outcome.agree:
        counterexample = _counterexample(prepared, functions, configuration_list, context, rng, templates, coefficients)
        if counterexample is None:
            return UNCHECKED, ("float64 evaluation disagrees but no counterexample was confirmed at "
                               f"{numeric.PRECISION_DIGITS} digits"), None, None
        worst = next((l - r for l, r in prepared if not symbolic.quick_zero(l - r)), None)
        return FALSE, "counterexample verified at 50 digits", counterexample, worst
    if outcome.undefined:
        return UNCHECKED, "both sides are undefined (or complex) at every sampled point", None, None
    simplified = [symbolic.thorough_difference(l - r) for l, r in prepared]
    if all(d == 0 for d in simplified):
        return PROVED, "exact: the difference simplifies to 0" + assumption, None, None
    # sin^2 + cos^2 versus 1 + 10^{-45}: the difference simplifies to a nonzero rational
    # function, which decides the step even where 50 digits cannot show it.
    decided = _simplified_rational_counterexample(prepared, simplified, context, rng)
    if decided is not None:
        return FALSE, "exact: lhs - rhs simplifies to a nonzero rational function", decided[0], decided[1]
    # float64 agreement cannot see a relative difference below its tolerance; probe a few
    # points with 50-digit arithmetic before saying "holds".
    counterexample, probed = _high_precision_probe(prepared, functions, configuration_list, context, rng,
                                                   templates, coefficients)
    if counterexample is not None:
        worst = next((l - r for l, r in prepared if not symbolic.quick_zero(l - r)), None)
        return FALSE, "counterexample verified at 50 digits (below float64 resolution)", counterexample, worst
    return HOLDS, _holds_reason(outcome, functions, probed), None, None


def _check_degrees(*exprs) -> None:
    """(x+1)^{60} raised to 60 is (x+1)^{3600} after SymPy combines powers: refuse before expanding."""
    import sympy as sp
    from symderiv.writeup.meaning import MAX_NUMERIC_EXPONENT

    for expr in exprs:
        entries = list(expr) if getattr(expr, "is_Matrix", False) else [expr]
        for entry in entries:
            for power in entry.atoms(sp.Pow):
                exponent = power.exp
                if exponent.is_Number and abs(exponent) > MAX_NUMERIC_EXPONENT and not power.base.is_Symbol:
                    raise Unsupported(f"power with exponent {exponent} (limit {MAX_NUMERIC_EXPONENT}) after combining powers")


def _holds_reason(outcome, functions, probed: int = 0) -> str:
    parts = [f"equal at {outcome.samples} random points"]
    if probed:
        parts[0] += f" (and at {probed} rational points with 50-digit arithmetic)"
    if functions:
        parts.append("each with its own random instantiation of " + ", ".join(sorted(f.__name__ for f in functions)))
    sizes = [f"{symbol} = {value}" for symbol, value in sorted(
        {(symbol, value) for configuration in outcome.configurations
         for symbol, value in configuration.values if not symbol.is_integer}, key=lambda sv: (str(sv[0]), sv[1]))]
    if sizes:
        parts.append("for " + ", ".join(sizes))
    return "; ".join(parts) + " (no exact proof found)"


def _pairs(lhs, rhs):
    lhs_matrix = getattr(lhs, "is_Matrix", False)
    rhs_matrix = getattr(rhs, "is_Matrix", False)
    if lhs_matrix != rhs_matrix:
        raise Unsupported("one side is a matrix and the other is not")
    if lhs_matrix:
        if lhs.shape != rhs.shape:
            raise Unsupported(f"matrix shapes differ: {lhs.shape} vs {rhs.shape}")
        return list(zip(list(lhs), list(rhs)))
    return [(lhs, rhs)]


def _conditions(condition: str | None, pairs):
    """Parse a cases condition: ``i = j`` / ``i \\neq j`` between indices."""
    if not condition:
        return []
    if re.fullmatch(r"\s*(\\text\{)?\s*(otherwise|else)\s*\}?\s*", condition):
        raise Unsupported("'otherwise' case: the complementary condition is not derived")
    match = re.fullmatch(r"\s*(.+?)\s*(\\neq|\\ne(?![a-z])|=)\s*(.+?)\s*", condition)
    if not match:
        raise Unsupported(f"condition {condition!r} is not supported (only index conditions like i = j, i \\neq j)")
    converter = _IndexConverter(Context())
    left = converter.expression(parse_side(match.group(1)))
    right = converter.expression(parse_side(match.group(3)))
    if not all(s.is_integer for s in left.free_symbols | right.free_symbols):
        raise Unsupported(f"condition {condition!r} is not about indices")
    return [("eq" if match.group(2) == "=" else "ne", left, right)]


# --- counterexamples ------------------------------------------------------------------------

RATIONAL_RANDOM_POINTS = 200


def _rational_counterexample(pairs, context, rng):
    """(Counterexample, lhs - rhs) when some pair differs by a nonzero rational function, else None.

    Applies only to differences built from rational numbers and plain variables (x, or x_1
    with a numeric index); abstract functions, sums, deltas, symbolic indices, radicals and
    transcendental functions are left to the other methods. The point is found by exact
    evaluation: a nonzero polynomial does not vanish on a whole grid of more values per
    variable than its degree, and random integer points are tried after the simple grid.
    """
    import itertools

    import sympy as sp

    for lhs, rhs in pairs:
        difference = lhs - rhs
        if not (_plain_rational(lhs) and _plain_rational(rhs)):
            continue
        # variables of both sides: x^2 + x - x^2 still needs a value for x to evaluate the sides
        sides = sp.Tuple(lhs, rhs)
        labels = {indexed.base.label for indexed in sides.atoms(sp.Indexed)}
        variables = sorted(sides.atoms(sp.Indexed) | (sides.atoms(sp.Symbol) - labels), key=str)
        numerator, _ = sp.fraction(sp.cancel(sp.together(difference)))
        if numerator == 0:
            continue
        values = [sp.Rational(v) for v in SIMPLE_VALUES]
        grid = itertools.islice(itertools.product(values, repeat=len(variables)), 400)
        randoms = (tuple(sp.Integer(int(v)) for v in rng.integers(-60, 61, len(variables)))
                   for _ in range(RATIONAL_RANDOM_POINTS))
        for point_values in itertools.chain(grid, randoms):
            point = dict(zip(variables, point_values))
            lval, rval = lhs.xreplace(point), rhs.xreplace(point)
            if not (lval.is_Rational and rval.is_Rational) or lval == rval:
                continue
            # x[1] is shown as x_{1}, as in the numeric counterexamples
            concrete = {sp.Symbol(f"{v.base}_{{{','.join(map(str, v.indices))}}}", real=True)
                        if isinstance(v, sp.Indexed) else v: value for v, value in point.items()}
            found = _describe((concrete, lval, rval), {}, numeric.Configuration(()), context, exact=True)
            return found, difference
    return None


def _simplified_rational_counterexample(pairs, simplified, context, rng):
    """A point where the simplified difference is nonzero and both sides are finite and real."""
    import itertools

    import sympy as sp

    for (lhs, rhs), difference in zip(pairs, simplified):
        if difference == 0 or not _plain_rational(difference):
            continue
        sides = sp.Tuple(lhs, rhs)
        labels = {indexed.base.label for indexed in sides.atoms(sp.Indexed)}
        variables = sorted(sides.atoms(sp.Indexed) | (sides.free_symbols - labels), key=str)
        if not all(isinstance(v, sp.Indexed) and all(i.is_Integer for i in v.indices)
                   or (isinstance(v, sp.Symbol) and not v.is_integer) for v in variables):
            continue
        values = [sp.Rational(v) for v in SIMPLE_VALUES]
        for point_values in itertools.islice(itertools.product(values, repeat=len(variables)), 200):
            point = dict(zip(variables, point_values))
            gap = difference.xreplace(point)
            if not gap.is_Rational or gap == 0:
                continue
            digits = numeric.PRECISION_DIGITS
            lval, rval = sp.N(lhs.xreplace(point), digits), sp.N(rhs.xreplace(point), digits)
            if not (lval.is_number and rval.is_number and lval.is_real and rval.is_real) \
                    or lval.has(sp.zoo, sp.nan, sp.oo) or rval.has(sp.zoo, sp.nan, sp.oo):
                continue
            # Confirm that the sides themselves differ by that amount (evalf raises its working
            # precision until the gap has 50 correct digits), so a rewrite valid only
            # generically can never produce the counterexample on its own.
            measured = sp.N((lhs - rhs).xreplace(point), digits, maxn=4 * digits)
            if not measured.is_number or abs(measured - gap) > abs(gap) * sp.Float("1e-10"):
                continue
            concrete = {sp.Symbol(f"{v.base}_{{{','.join(map(str, v.indices))}}}", real=True)
                        if isinstance(v, sp.Indexed) else v: value for v, value in point.items()}
            return _describe((concrete, lval, rval), {}, numeric.Configuration(()), context), difference
    return None


def _plain_rational(expr) -> bool:
    import sympy as sp

    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Indexed):
            if not all(i.is_Integer for i in node.indices):
                return False
        elif isinstance(node, sp.Symbol):
            if node.is_integer:
                return False
        elif isinstance(node, sp.Pow):
            if not node.exp.is_Integer:
                return False
        elif isinstance(node, sp.Number):
            if not node.is_Rational:
                return False
        elif not isinstance(node, (sp.Add, sp.Mul, sp.IndexedBase, sp.Tuple)):
            return False
    return True


def _counterexample(pairs, functions, configuration_list, context, rng, generic, coefficients):
    import sympy as sp

    candidates = [numeric.simple_templates(functions, choice) for choice in numeric.simple_choices(functions)]
    # Fallback: the generic family with small rational coefficients.
    for _ in range(3):
        draw = {c: sp.Rational(int(rng.integers(-4, 5)), 4) for c in coefficients}
        candidates.append({f: sp.Lambda(t.variables, t.expr.xreplace(draw)) for f, t in generic.items()})
    for templates in candidates:
        for configuration in configuration_list:
            found = _search_point(pairs, templates, configuration, rng)
            if found is not None:
                return _describe(found, templates, configuration, context)
    return None


def _high_precision_probe(pairs, functions, configuration_list, context, rng, generic, coefficients):
    import sympy as sp

    candidates = [numeric.simple_templates(functions, choice) for choice in numeric.simple_choices(functions, limit=2)]
    draw = {c: sp.Rational(int(rng.integers(-4, 5)), 4) for c in coefficients}
    candidates.append({f: sp.Lambda(t.variables, t.expr.xreplace(draw)) for f, t in generic.items()})
    values = [sp.Rational(v) for v in SIMPLE_VALUES]
    probed = 0
    for templates in candidates:
        for configuration in configuration_list[:2]:
            for lhs, rhs in pairs:
                try:
                    left = numeric.concretize(numeric.instantiate(lhs, templates), configuration)
                    right = numeric.concretize(numeric.instantiate(rhs, templates), configuration)
                except numeric.TooManyTerms:
                    continue
                variables = sorted(left.free_symbols | right.free_symbols, key=str)
                for _ in range(2):
                    point = {v: values[int(rng.integers(0, len(values)))] for v in variables}
                    state, lval, rval = _evaluate_exactly(left, right, point)
                    if state == "differ":
                        return _describe((point, lval, rval), templates, configuration, context), probed
                    probed += state == "equal"
    return None, probed


def _search_point(pairs, templates, configuration, rng):
    """A simple rational point where some pair differs, confirmed at 50 digits."""
    import itertools

    import numpy as np
    import sympy as sp

    concrete = []
    try:
        for lhs, rhs in pairs:
            left = numeric.concretize(numeric.instantiate(lhs, templates), configuration)
            right = numeric.concretize(numeric.instantiate(rhs, templates), configuration)
            concrete.append((left, right))
    except numeric.TooManyTerms:
        return None
    variables = sorted(set().union(*[l.free_symbols | r.free_symbols for l, r in concrete]), key=str)
    values = [sp.Rational(v) for v in SIMPLE_VALUES]
    if variables:
        grid = list(itertools.islice(itertools.product(values, repeat=len(variables)), 400))
        if len(grid) < 400:
            points = grid
        else:
            points = grid[:50] + [tuple(values[int(k)] for k in rng.integers(0, len(values), len(variables))) for _ in range(150)]
    else:
        points = [()]
    dummies = [sp.Dummy() for _ in variables]
    renaming = dict(zip(variables, dummies))
    columns = [np.array([float(p[k]) for p in points]) for k in range(len(variables))]
    for left, right in concrete:
        if left.has(sp.Derivative, sp.Subs, sp.Sum) or right.has(sp.Derivative, sp.Subs, sp.Sum):
            continue
        function = sp.lambdify(dummies, [left.xreplace(renaming), right.xreplace(renaming)], modules="numpy")
        with np.errstate(all="ignore"):
            lvals, rvals = function(*columns)
        lvals = np.broadcast_to(np.asarray(lvals, dtype=complex), (len(points),))
        rvals = np.broadcast_to(np.asarray(rvals, dtype=complex), (len(points),))
        with np.errstate(all="ignore"):
            gap = np.abs(lvals - rvals) / (1 + np.abs(lvals) + np.abs(rvals))
        gap = np.where(np.isfinite(lvals) & np.isfinite(rvals) & np.isfinite(gap), gap, -1.0)
        # The first clearly differing point in grid order is the simplest one to check by hand.
        clear = np.flatnonzero(gap > 1e-6)
        for index in list(clear[:5]) + list(np.argsort(-gap)[:2]):
            if gap[index] <= numeric.RELATIVE_TOLERANCE:
                break
            point = dict(zip(variables, points[index]))
            confirmed = _confirm(left, right, point)
            if confirmed is not None:
                return point, confirmed[0], confirmed[1]
    return None


def _confirm(left, right, point):
    """Both sides at ``point`` with 50-digit arithmetic; (lhs, rhs) if they really differ."""
    state, lval, rval = _evaluate_exactly(left, right, point)
    return (lval, rval) if state == "differ" else None


def _evaluate_exactly(left, right, point):
    """("differ" | "equal" | "undefined", lhs, rhs) at ``point``: exact substitution, then 50 digits (mpmath)."""
    import sympy as sp

    digits = numeric.PRECISION_DIGITS
    lval = sp.N(left.xreplace(point), digits)
    rval = sp.N(right.xreplace(point), digits)
    if not (lval.is_number and rval.is_number) or lval.has(sp.zoo, sp.nan, sp.oo) or rval.has(sp.zoo, sp.nan, sp.oo):
        return "undefined", lval, rval
    if not (lval.is_real and rval.is_real):
        return "undefined", lval, rval
    # The difference is evaluated as one expression (evalf raises its working precision
    # through cancellation), so a relative difference of 1e-30 is seen; true identities
    # come out below 1e-50 relative, far under the 1e-40 threshold.
    gap = sp.N((left - right).xreplace(point), digits, maxn=3 * digits)
    if not gap.is_number or gap.has(sp.zoo, sp.nan, sp.oo):
        gap = lval - rval
    if abs(gap) > sp.Float(10, digits) ** (-(digits - 10)) * (1 + abs(lval) + abs(rval)):
        return "differ", lval, rval
    return "equal", lval, rval


def _describe(found, templates, configuration, context, exact: bool = False) -> Counterexample:
    import sympy as sp

    point, lval, rval = found
    functions = []
    for func, template in sorted(templates.items(), key=lambda kv: str(kv[0])):
        name = func.__name__
        declared = context.function_args.get(name)
        parameters = tuple(declared) if declared and len(declared) == len(template.variables) else template.variables
        body = template.expr.xreplace(dict(zip(template.variables, parameters)))
        functions.append((name, f"{to_latex(sp.Function(name)(*parameters))} = {to_latex(body)}"))
    shown = [(to_latex(symbol), str(value)) for symbol, value in configuration.values]
    shown += [(symbol.name if "{" in symbol.name else to_latex(symbol), to_latex(value)) for symbol, value in
              sorted(point.items(), key=lambda kv: str(kv[0]))]
    left_text, right_text = _numbers(lval, rval)
    return Counterexample(tuple(functions), tuple(shown), left_text, right_text, numeric.PRECISION_DIGITS, exact)


def _numbers(lval, rval) -> tuple[str, str]:
    """Both values with 15 significant digits, or more (up to 50) until they visibly differ."""
    for digits in (15, 20, 25, 30, 35, 40, 45, 50):
        left, right = _number(lval, digits), _number(rval, digits)
        if left != right:
            break
    if digits > 15:  # 0.5 vs 0.5000000000000000000000000000005 reads better without padding zeros
        left, right = (_strip_zeros(text) for text in (left, right))
    return left, right


def _strip_zeros(text: str) -> str:
    mantissa, _, exponent = text.partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0")
        if mantissa.endswith("."):
            mantissa += "0"
    return mantissa + ("e" + exponent if exponent else "")


def _number(value, digits: int = 15) -> str:
    """``digits`` significant digits; a 50-digit float below 1e-40 is zero up to rounding and shown as 0."""
    import sympy as sp

    if value.is_Rational:
        if value == 0:
            return "0"
        if value.is_Integer and abs(value) < 10**15:
            return str(value)
    elif abs(value) < sp.Float("1e-40"):
        return "0"
    return str(sp.Float(value, digits))


def _display(expr, source: str) -> str:
    if expr is None:
        return " ".join(source.split())
    try:
        return to_latex(expr)
    except Exception:  # printing is cosmetic; fall back to what was written
        return " ".join(source.split())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else ""
