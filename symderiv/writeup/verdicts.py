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
    for origin, declaration in [("--let", d) for d in lets] + [(f"line {d.line}", d.text) for d in extraction.declarations]:
        try:
            with time_limit(step_seconds):
                add_declaration(context, declaration)
        except (Unsupported, StepTimeout, RecursionError, ValueError, TypeError) as exc:
            message = "timed out" if isinstance(exc, StepTimeout) else (str(exc) or type(exc).__name__)
            if origin == "--let":
                raise InputError(f"--let {declaration!r}: {message}") from None
            warnings.append(f"declaration {declaration!r} ({origin}) ignored: {message}")
    declared = set(context.declared_names)
    for line, reason in extraction.skipped_blocks:
        warnings.append(f"line {line}: {reason}")

    parsed = [_parse_step(step, context, step_seconds) for step in extraction.steps]
    _adopt_text_definitions(parsed, context)

    undeclared: dict[str, list[int]] = {}
    for item in parsed:
        if item.definition or item.error:
            continue
        for name in sorted(item.names - declared - context.declared_names - {"n"}):
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


# --- parsing ---------------------------------------------------------------------------

def _parse_step(step: Step, context: Context, step_seconds: float) -> _Parsed:
    item = _Parsed(step)
    if step.relation not in ("=", "\\neq", ":="):
        item.error = f"relation {step.relation!r} is not checked (only = and \\neq)"
        return item
    try:
        with time_limit(step_seconds):
            context.used_names = set()
            converter = Converter(context)
            item.lhs = converter.expression(parse_side(step.lhs))
            item.rhs = converter.expression(parse_side(step.rhs))
            item.names = set(context.used_names)
    except Unsupported as exc:
        item.error = str(exc)
    except StepTimeout:
        item.error = f"timed out after {step_seconds:g} s while parsing"
    except (RecursionError, MemoryError, OverflowError):
        item.error = "expression too large or too deeply nested"
    except Exception as exc:  # sympy may reject odd constructions; never crash on user text
        item.error = f"cannot interpret: {type(exc).__name__}: {_first_line(exc)}"
    return item


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
    pairs = _pairs(lhs, rhs)
    conditions = _conditions(item.step.condition, pairs)
    prepared = [(symbolic.prepare(l, conditions), symbolic.prepare(r, conditions)) for l, r in pairs]
    if all(symbolic.quick_zero(l - r) for l, r in prepared):
        return PROVED, "exact: the difference expands to 0", None, None

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
    if all(symbolic.thorough_zero(l - r) for l, r in prepared):
        return PROVED, "exact: the difference simplifies to 0", None, None
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
    sizes = sorted({f"{symbol} = {value}" for configuration in outcome.configurations
                    for symbol, value in configuration.values if not symbol.is_integer})
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
                left = numeric.concretize(numeric.instantiate(lhs, templates), configuration)
                right = numeric.concretize(numeric.instantiate(rhs, templates), configuration)
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
    for lhs, rhs in pairs:
        left = numeric.concretize(numeric.instantiate(lhs, templates), configuration)
        right = numeric.concretize(numeric.instantiate(rhs, templates), configuration)
        concrete.append((left, right))
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
    gap = abs(lval - rval)
    if gap > sp.Float(10) ** (-(digits // 2)) * (1 + abs(lval) + abs(rval)):
        return "differ", lval, rval
    return "equal", lval, rval


def _describe(found, templates, configuration, context) -> Counterexample:
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
    return Counterexample(tuple(functions), tuple(shown), _number(lval), _number(rval), numeric.PRECISION_DIGITS)


def _number(value) -> str:
    """15 significant digits; a 50-digit value below 1e-40 is zero up to rounding and shown as 0."""
    import sympy as sp

    if abs(value) < sp.Float("1e-40"):
        return "0"
    return str(sp.Float(value, 15))


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
