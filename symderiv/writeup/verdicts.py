"""Check a whole writeup: read every step, then decide each one under a CPU-time budget.

Contract of :func:`check_text`:

1. extract the steps (:mod:`extract`), read ``--let``/``--assume`` and in-file
   declarations (notation forms first: ``x^{n}: power``, ``z^{l}: index``);
2. parse every side, gather the document's notation evidence (:mod:`evidence`)
   and convert each step (:mod:`meaning`), recording its doubts;
3. adopt in-file definitions (``name = …`` on an undeclared name, ``f(x) = …``),
   each valid from its line on (an earlier one applies before), refining a
   ``--let`` dependency (``g = g(x)`` then ``g = x^2``) instead of contradicting it;
4. decide each step inside :func:`step_budget`: a *work* bound
   (:func:`symderiv.budget.work_limit`, ``WORK_UNITS_PER_SECOND`` units per
   second of the step's budget, and the file's budget counted the same way)
   decides when a step runs out, so the outcome does not depend on how busy
   the machine is (CPU time per unit of work does); a CPU-time limit of
   ``CPU_SAFETY`` times the budget is only the safety net. A step that runs
   out is unchecked, never false or proved. A step that is false under its
   reading is re-judged under every other reading of its doubts; it is
   reported false only if false under all of them, otherwise unchecked with
   both findings. A false step also needs its conditions and facts read.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace

from contextlib import contextmanager

from symderiv.budget import BudgetExceeded, cpu_seconds, cpu_time_limit, work_limit, work_units
from symderiv.errors import InputError
from symderiv.writeup import symbolic
from symderiv.writeup.capitals import capital_reading
from symderiv.writeup.conditions import Restriction, StepRestrictions, parse_restrictions
from symderiv.writeup.declarations import add_declaration, notation_declaration
from symderiv.writeup.definitions import (adopt_text_definitions, definition_out_of_scope, definitions_at,
                                           unread_definition_used, uncertain_definitions_used)
from symderiv.writeup.evidence import document_notation, step_letters
from symderiv.writeup.indices import defined_sibling, entangled_family, shifted_rules
from symderiv.writeup.typos import suspected_typo, with_reading
from symderiv.writeup.extract import Lines, Step, extract, is_fact, section_of
from symderiv.writeup.judge import Outcome, bare_and_applied, differs_everywhere, invert_for_inequality, judge
from symderiv.writeup.latex_parser import Unsupported, parse_side_tracked
from symderiv.writeup.matrices import layout_declaration, shape_declaration
from symderiv.writeup.matrix_steps import collect_shapes, decide_matrix, mark_matrix_steps, matrix_false_blocked
from symderiv.writeup.meaning import Context, Converter, Doubt, index_symbol
from symderiv.writeup.shapes import latex_name
from symderiv.writeup.printing import to_latex
from symderiv.writeup.report import FALSE, HOLDS, PROVED, UNCHECKED, CheckReport, Meaning, StepResult
from symderiv.writeup.resolve import Resolver

#: work units (garbage-collector collections, see symderiv.budget) per second of budget: measured on the
#: development machine, 60 units for a step that takes 1.7 to 2.3 s of CPU depending on load
WORK_UNITS_PER_SECOND = 30
CPU_SAFETY = 3.0
DEFAULT_STEP_SECONDS = 5.0
DEFAULT_BUDGET_SECONDS = 300.0
DIFFERENCE_SECONDS = 3.0
MAX_DOUBTS = 2
_PRIMED = re.compile(r"(?:\\([a-zA-Z]+)|(?<![a-zA-Z\\])([a-zA-Z]))\s*'")
_PARAMETER = r"\s*(?:\\[a-zA-Z]+|[a-zA-Z])(?:_\{?[a-zA-Z0-9]+\}?)?\s*"
_FUNCTION_DEFINED = re.compile(r"\s*(?:\\([a-zA-Z]+)|(?<![a-zA-Z\\])([a-zA-Z]))\s*(?:\\left)?\("
                               + _PARAMETER + r"(?:[,;]" + _PARAMETER + r")*(?:\\right)?\)\s*")
CONDITION_CONTEXT_WORDS = {"where", "whenever", "when", "if", "iff", "at", "such that", "for", "unless", "exactly where"}
LOGISTIC_LET = r"\sigma(t) = \frac{1}{1+\exp(-t)}"


@contextmanager
def step_budget(seconds: float):
    """The budget of one step: ``seconds`` counted as work (deterministic), CPU time as a safety net."""
    import gc

    gc.collect(0)  # start every step at the same point of the collector's count (a young collection is cheap)
    with cpu_time_limit(seconds * CPU_SAFETY + 0.5), work_limit(max(1, round(seconds * WORK_UNITS_PER_SECOND))):
        yield


def _timed_out(seconds: float) -> str:
    return (f"timed out: its budget of {seconds:g} s of CPU time ({max(1, round(seconds * WORK_UNITS_PER_SECOND))} "
            "units of work) is used up")


class _StepError(Exception):
    """A step that cannot be read: message, category, file offset of the construct."""

    def __init__(self, message: str, kind: str, offset: int | None):
        super().__init__(message)
        self.kind = kind
        self.offset = offset


@dataclass
class _Reading:
    lhs: object
    rhs: object
    names: set
    doubts: dict
    bound_letters: set


@dataclass
class _Parsed:
    step: Step
    lhs_side: object = None
    rhs_side: object = None
    reading: _Reading | None = None
    error: _StepError | None = None
    definition: str | None = None  # the note shown for a definition
    conflict: str | None = None  # a --let defines the same name differently
    unusable: str | None = None  # definition-shaped, but not usable as one (recursive, parameters unused)
    value: str | None = None  # the note shown for a name given a number (x = 2): a value, not a definition
    conclusion: str | None = None  # name = expression concluded in prose ("gives $b = …$")
    values: list = field(default_factory=list)  # restrictions from the values in effect at this step
    facts: list = field(default_factory=list)
    matrix: tuple | None = None  # read as matrix algebra (see matrix_steps)


def check_text(text: str, is_latex: bool, lets: list[str], path: str = "<text>",
               step_seconds: float = DEFAULT_STEP_SECONDS, seed: int = 0,
               budget_seconds: float = DEFAULT_BUDGET_SECONDS, assume=()) -> CheckReport:
    """Check every claimed step of a writeup; ``lets`` are ``--let`` declarations, ``assume`` ``--assume`` facts.

    ``step_seconds`` and ``budget_seconds`` are CPU seconds (per step, whole file).
    """
    import numpy as np

    started = cpu_seconds()
    started_work = work_units()
    extraction = extract(text, is_latex)
    lines = Lines(text)
    context = Context()
    context.document_text = text
    context.sections = extraction.sections
    _block_geometry(context, extraction.steps, text)
    math_text = " ".join(f"{step.lhs} {step.rhs}" for step in extraction.steps)
    context.primed_names = {a or b for a, b in _PRIMED.findall(math_text)}
    # J(\theta) = … defines a function J: J(0) elsewhere is J at 0, never the product J·0
    context.primed_names |= {m.group(1) or m.group(2) for step in extraction.steps
                             if step.first_in_chain and step.relation in ("=", ":=") and not step.problem
                             for m in [_FUNCTION_DEFINED.fullmatch(step.lhs)] if m}
    warnings: list[str] = []
    _declare(context, list(lets), extraction, step_seconds, warnings)
    declared = set(context.declared_names)
    for line, reason in extraction.skipped_blocks:
        warnings.append(f"line {line}: {reason}")

    parsed = [_parse_sides(step) for step in extraction.steps]
    _gather_notation(parsed, context, extraction)
    collect_shapes(context)
    mark_matrix_steps(parsed, context, _StepError)
    context.parsed_steps = parsed
    for item in parsed:
        if item.matrix is None:
            _convert(item, context, step_seconds)
    adopt_text_definitions(parsed, context, lines)
    _attach_values(parsed, context)
    assumptions = _parse_facts(assume, "--assume", context)
    _attach_facts(parsed, extraction, context, lines)
    _warn_undeclared(parsed, context, declared, warnings)

    rng = np.random.default_rng(seed)
    results = []
    for item in parsed:
        spent = (work_units() - started_work) / WORK_UNITS_PER_SECOND  # work, not time: see step_budget
        remaining = budget_seconds - spent
        if remaining <= 0.05 and item.error is None:
            item.error = _StepError(f"not checked: the file's CPU budget ({budget_seconds:g} s) is used up",
                                    "budget", None)
        results.append(_decide(item, context, assumptions, min(step_seconds, max(remaining, 0.05)), rng, lines))
    symbols = _symbol_table(results)
    return CheckReport(path, tuple(results), tuple(warnings), symbols, tuple(assume), extraction.displays,
                       round(cpu_seconds() - started, 3))


def _block_geometry(context: Context, steps, text: str) -> None:
    """Where each math block starts, and which display an inline block closely follows (same sentence)."""
    ends: dict = {}
    for step in steps:
        context.block_starts[step.block] = min(step.lhs_offset, context.block_starts.get(step.block, step.lhs_offset))
        head = re.fullmatch(r"\s*(\\?[a-zA-Z]+)\s*(?:\([^()]*\))?\s*", step.lhs)
        if head and step.first_in_chain:  # how often a block gives a name a value: more than once, none is for all
            key = (step.block, head.group(1))
            context.block_names[key] = context.block_names.get(key, 0) + 1
        ends[step.block] = max(step.span[1], ends.get(step.block, 0))
    displays = sorted(b for b in context.block_starts if not any(s.inline for s in steps if s.block == b))
    for step in steps:
        if not step.inline or step.block in context.display_before:
            continue
        before = [b for b in displays if ends[b] <= step.lhs_offset]
        if before:
            gap = text[ends[before[-1]]:step.lhs_offset]
            if len(gap) <= 60 and not re.search(r"\n[ \t]*\n|[.?!]\s", gap) and gap.count("$") <= 3:
                context.display_before[step.block] = context.block_starts[before[-1]]


# --- declarations --------------------------------------------------------------------------

def _declare(context: Context, lets: list[str], extraction, step_seconds: float, warnings: list[str]) -> None:
    in_file = [(f"line {d.line}", d.text) for d in extraction.declarations]
    ordered = [("--let", d) for d in lets] + in_file
    # Notation forms first: they decide how the other declarations' superscripts read.
    ordered.sort(key=lambda pair: 0 if _is_notation_form(pair[1]) else 1)
    cycle_checked = not lets
    for origin, declaration in ordered:
        if origin != "--let" and not cycle_checked:
            _reject_cyclic_lets(context)
            cycle_checked = True
        try:
            with cpu_time_limit(step_seconds):
                add_declaration(context, declaration, origin)
        except (Unsupported, BudgetExceeded, RecursionError, ValueError, TypeError) as exc:
            message = "took too long" if isinstance(exc, BudgetExceeded) else (str(exc) or type(exc).__name__)
            if origin == "--let":
                raise InputError(f"--let {declaration!r}: {message}") from None
            warnings.append(f"declaration {declaration!r} ({origin}) ignored: {message}")
    if not cycle_checked:
        _reject_cyclic_lets(context)
    cycle = declaration_cycle(context)
    if cycle:
        warnings.append(f"declarations refer to each other in a cycle ({' -> '.join(cycle)}); "
                        f"steps that use them are unchecked")
    context.let_names = set(context.origins)


def _is_notation_form(text: str) -> bool:
    try:
        return layout_declaration(text) is not None or shape_declaration(text) is not None \
            or notation_declaration(text) is not None
    except Unsupported:
        return True


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


# --- reading ---------------------------------------------------------------------------------

def _parse_sides(step: Step) -> _Parsed:
    item = _Parsed(step)
    if step.problem:
        item.error = _StepError(step.problem, "not read yet" if "relation inside" in step.problem else (
            "too large" if "longer than" in step.problem else "structure"), step.lhs_offset)
        return item
    if step.relation not in ("=", "\\neq", ":="):
        update = re.fullmatch(r"\\(?:leftarrow|gets|longleftarrow)", step.relation)
        item.error = _StepError(f"{step.relation} is an update (an assignment), not an identity: not checked" if update
                                else f"relation {step.relation} is not checked (only = and \\neq)", "relation",
                                step.relation_offset)
        return item
    for attribute, text, offset in (("lhs_side", step.lhs, step.lhs_offset), ("rhs_side", step.rhs, step.rhs_offset)):
        try:
            setattr(item, attribute, parse_side_tracked(text))
        except Unsupported as exc:
            item.error = _StepError(str(exc), exc.kind or "cannot parse",
                                    offset + (exc.position or 0))
            return item
        except RecursionError:
            item.error = _StepError("expression nested too deeply", "too large", offset)
            return item
    return item


def _gather_notation(parsed: list[_Parsed], context: Context, extraction) -> None:
    steps = []
    for item in parsed:
        step = item.step
        rhs_text = step.rhs
        steps.append((step.line, step.relation, item.lhs_side, item.rhs_side, rhs_text))
        if step.relation == "\\in":  # "W \in \mathbb{R}^{m \times n}" is evidence, not a claim to parse
            try:
                steps[-1] = (step.line, step.relation, parse_side_tracked(step.lhs), None, rhs_text)
            except Unsupported:
                pass
    for line, name, space in extraction.memberships:  # inline "W \in \mathbb{R}^{m \times n}" is evidence too
        try:
            steps.append((line, "\\in", parse_side_tracked(name), None, space))
        except (Unsupported, RecursionError):
            pass
    words = {m.group(1) for item in parsed if item.step.first_in_chain
             for m in [re.fullmatch(r"\s*\\(?:text|mathrm|operatorname|textrm)\{([a-zA-Z]+)\}\s*", item.step.lhs)] if m}
    found = document_notation(steps, context.notation.declared_powers, context.notation.declared_indexed, words)
    context.notation = found


def _convert(item: _Parsed, context: Context, step_seconds: float, flags=frozenset()) -> _Reading | None:
    """Convert both sides (the primary reading, or the one ``flags`` ask for); sets ``item.error`` on failure."""
    if item.error is not None and not flags:
        return None
    step = item.step
    context.start_step(flags)
    context.step_letters, context.step_plain_letters, context.step_bare_names = \
        step_letters([item.lhs_side, item.rhs_side])
    context.step_plain_names = set()
    try:
        with step_budget(step_seconds):
            for _ in range(2):
                context.used_names = set()
                lhs = _side(item.lhs_side, step.lhs_offset, context)
                rhs = _side(item.rhs_side, step.rhs_offset, context)
                # h(h+1) = h^2 + h: a conventional function letter that is also used bare is a variable.
                ambiguous = bare_and_applied(lhs, rhs) & context.conventional_only_functions()
                ambiguous = {name for name in ambiguous if not _function_reading_wanted(name, context)}
                if not ambiguous or ambiguous <= context.step_plain_names:
                    break
                context.step_plain_names |= ambiguous
            lhs, rhs = _einstein_doubt(lhs, rhs, context)
        reading = _Reading(lhs, rhs, set(context.used_names), dict(context.doubts), set(context.bound_letters))
    except _StepError as exc:
        if not flags:
            item.error = exc
        return None
    except BudgetExceeded:
        if not flags:
            item.error = _StepError(_timed_out(step_seconds) + " while reading", "budget", None)
        return None
    except (RecursionError, MemoryError, OverflowError):
        if not flags:
            item.error = _StepError("expression too large or too deeply nested", "too large", step.lhs_offset)
        return None
    except Exception:  # sympy may reject odd constructions; never crash on user text
        if not flags:
            item.error = _StepError("cannot interpret this expression (a construct the reader does not handle)", "cannot parse",
                                    step.lhs_offset)
        return None
    finally:
        context.step_plain_names = set()
    if not flags:
        item.reading = reading
    return reading


def _function_reading_wanted(name: str, context: Context) -> bool:
    """h(h+1): h is a variable (h times (h+1)) -- with a doubt, since g(h) and h(x) in one step read h
    as a function whose bare name is its value."""
    key = ("bare", name)
    if key not in context.doubts:
        shown = latex_name(name)
        context.doubts[key] = Doubt(key, f"{shown} read as a variable ({shown}(...) as a product)",
                                    f"{shown} read as a function")
    return key in context.flags


EINSTEIN = ("einstein",)


def _einstein_doubt(lhs, rhs, context: Context):
    """``x_i a_{ij} x_j`` with no sum in the step: free indices, or summed by Einstein's convention?"""
    import sympy as sp

    sides = [side for side in (lhs, rhs) if isinstance(side, sp.Basic)]
    if any(side.has(sp.Sum, sp.Product) for side in sides) or not any(_repeated_indices(side) for side in sides):
        return lhs, rhs
    if EINSTEIN not in context.doubts:
        context.doubts[EINSTEIN] = Doubt(EINSTEIN, "an index repeated in a product read as a free index",
                                         "an index repeated in a product summed (Einstein's convention)")
    if EINSTEIN in context.flags:
        return tuple(_einstein(side) if isinstance(side, sp.Basic) else side for side in (lhs, rhs))
    return lhs, rhs


def _repeated_indices(expr) -> set:
    import sympy as sp

    found = set()
    for product in expr.atoms(sp.Mul):
        counts: dict = {}
        for factor in product.args:
            if isinstance(factor, sp.Indexed):
                for symbol in {i for i in factor.indices if isinstance(i, sp.Symbol) and i.is_integer}:
                    counts[symbol] = counts.get(symbol, 0) + 1
        found |= {symbol for symbol, count in counts.items() if count == 2}
    return found


def _einstein(expr):
    import sympy as sp

    def summed(product):
        result = product
        for symbol in sorted(_repeated_indices(product), key=str):
            dummy = sp.Dummy(symbol.name, integer=True)
            result = sp.Sum(result.xreplace({symbol: dummy}), (dummy, 1, sp.Symbol("n", real=True)))
        return result

    return expr.replace(lambda e: isinstance(e, sp.Mul) and bool(_repeated_indices(e)), summed)


def _read_again(item: _Parsed, context: Context):
    """Both sides read again as they are read now (capitals.py sets non-commuting names first)."""
    context.start_step()
    context.step_letters, context.step_plain_letters, context.step_bare_names = \
        step_letters([item.lhs_side, item.rhs_side])
    return (_side(item.lhs_side, item.step.lhs_offset, context), _side(item.rhs_side, item.step.rhs_offset, context))


def _side(side, offset: int, context: Context):
    try:
        return Converter(context, tracked=side.tracked).expression(side.tree)
    except Unsupported as exc:
        raise _StepError(str(exc), exc.kind or "not read yet",
                         offset + exc.position if exc.position is not None else offset) from None


def _bound_names(reading: _Reading) -> set:
    """Summation letters (k in \\sum_k k^2) are not undeclared symbols."""
    return set(reading.bound_letters)


def _warn_undeclared(parsed, context: Context, declared: set, warnings: list[str]) -> None:
    undeclared: dict[str, list[int]] = {}
    for item in parsed:
        if item.definition or item.error or item.reading is None:
            continue
        for name in sorted(item.reading.names - declared - context.declared_names - {"n"}
                           - _bound_names(item.reading)):
            if name.startswith("\\nabla"):
                continue
            lines_seen = undeclared.setdefault(name, [])
            if item.step.line not in lines_seen:
                lines_seen.append(item.step.line)
    if undeclared:
        listed = ", ".join(f"{name} (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, sorted(set(lines))))})"
                           for name, lines in sorted(undeclared.items()))
        warnings.append(f"undeclared symbols, treated as independent variables: {listed}")


# --- facts and conditions ------------------------------------------------------------------------

class _ConditionConverter(Converter):
    """Letters that are indices of the step (or only appear in the condition) are read as indices."""

    index_letters: set = set()

    def _named_item(self, name, subscript, superscript, primes, node=None):
        if name in self.index_letters and subscript is None and superscript is None and not primes:
            return index_symbol(name)
        return super()._named_item(name, subscript, superscript, primes, node)


def _converter_factory(context: Context, index_letters: set):
    def make(tracked):
        converter = _ConditionConverter(context, tracked=tracked)
        converter.index_letters = index_letters
        return converter

    return make


_SUM_LIMIT = re.compile(r"\\(?:sum|prod)(?:_\{[^{}]*\}|_\S)?\^\{?\s*([a-zA-Z])")


def _parse_facts(texts, origin: str, context: Context) -> list[Restriction]:
    found = []
    for text in texts:
        context.start_step()
        sizes = set(_SUM_LIMIT.findall(text))  # \sum_{j=1}^q: q is a size, not an index
        restrictions = parse_restrictions(text, origin, _converter_factory(context, set("ijklmpqrst") - sizes))
        unread = [r for r in restrictions if r.kind in ("unread", "quantifier")]
        if unread and origin == "--assume":
            raise InputError(f"--assume {text!r}: {unread[0].reason}")
        found.extend(r for r in restrictions if r.kind not in ("unread", "quantifier"))
    return found


def _attach_facts(parsed, extraction, context: Context, lines: Lines) -> None:
    for fact in extraction.facts:
        start, _ = section_of(fact.offset, extraction.sections, len(context.document_text) + 1)
        restrictions = _parse_facts([fact.text], fact.origin, context)
        for item in parsed:
            offset = item.step.lhs_offset
            if start <= offset < fact.section_end and abs(offset - fact.offset) > 0:
                item.facts.extend(restrictions)


def _attach_values(parsed, context: Context) -> None:
    """A value (``x = 2`` given in the text) restricts the steps after it in its section; a later value of
    the same name replaces it."""
    parsed_values = {}
    for offset, end, text, _, name in context.values:
        parsed_values[offset, text] = [replace(r, origin="value") for r in _parse_facts([text], "value", context)]
    for item in parsed:
        if item.value is not None:
            continue
        latest: dict = {}
        for offset, end, text, _, name in sorted(context.values):
            if offset <= item.step.lhs_offset < end:
                latest[name] = (offset, text)
        for key in latest.values():
            item.values.extend(parsed_values[key])


def _step_restrictions(item: _Parsed, reading: _Reading, context: Context, assumptions) -> StepRestrictions:
    import sympy as sp

    symbols = set()
    for side in (reading.lhs, reading.rhs):
        if isinstance(side, sp.Basic):
            symbols |= side.free_symbols
    integer_names = {s.name for s in symbols if isinstance(s, sp.Symbol) and s.is_integer}
    real_names = {s.name for s in symbols if isinstance(s, sp.Symbol) and not s.is_integer}
    for side in (reading.lhs, reading.rhs):  # sizes that bound sums (n, q) are not indices
        for total in getattr(side, "atoms", lambda *a: ())(sp.Sum, sp.Product):
            real_names |= {s.name for _, a, b in total.limits for s in (a.free_symbols | b.free_symbols)
                           if not s.is_integer}
    index_letters = integer_names | (set("ijklmpqrst") - real_names)
    items: list[Restriction] = []
    for condition in item.step.conditions:
        parsed = parse_restrictions(condition.text, condition.origin, _converter_factory(context, index_letters),
                                    negate=condition.origin == "otherwise")
        for restriction in parsed:
            captured = _captured_letters(restriction, reading, integer_names)
            if captured:
                restriction = Restriction(restriction.text, restriction.origin, "unread",
                                          reason=f"{', '.join(sorted(captured))} is bound by a sum in the step")
            items.append(restriction)
    items.extend(item.facts)
    items.extend(item.values)
    items.extend(assumptions)
    return StepRestrictions(items)


def _captured_letters(restriction: Restriction, reading: _Reading, integer_names: set) -> set:
    if restriction.lhs is None:
        return set()
    import sympy as sp

    letters = {s.name for s in sp.Tuple(restriction.lhs, restriction.rhs).free_symbols if s.is_integer}
    return (letters & reading.bound_letters) - integer_names


# --- deciding ----------------------------------------------------------------------------

def _decide(item: _Parsed, context: Context, assumptions, step_seconds: float, rng, lines: Lines) -> StepResult:
    step = item.step
    started = cpu_seconds()
    started_work = work_units()
    reading = item.reading

    def result(outcome: Outcome, at: int | None = None, restrictions=None) -> StepResult:
        work = work_units() - started_work  # the decision's, without the printing of the difference
        return replace(_step_result(item, outcome, lines, at, restrictions, context, round(cpu_seconds() - started, 3)),
                       work_units=work)

    if item.error is not None:
        return result(Outcome(UNCHECKED, item.error.args[0], kind=item.error.kind), item.error.offset)
    if item.matrix is not None and item.matrix[0] == "step":
        return result(_decided_matrix_step(item, context, rng, step_seconds, assumptions, context.parsed_steps))
    if item.definition:
        return result(Outcome(UNCHECKED, f"{item.definition} (used as given in the other steps)", kind="definition"))
    if item.unusable:  # a recursion or an update rule is not an identity: nothing to decide
        return result(Outcome(UNCHECKED, f"reads as a definition, not an identity: {item.unusable}",
                              kind="definition"))
    if item.value:
        return result(Outcome(UNCHECKED, item.value, kind="value"))
    if item.conclusion:
        return result(Outcome(UNCHECKED, item.conclusion, kind="conclusion"))
    definitions_at(context, step.lhs_offset)
    restrictions = _step_restrictions(item, reading, context, assumptions)
    try:
        with step_budget(step_seconds):
            outcome = _judge_reading(reading, context, restrictions, rng, step)
            if outcome.verdict == FALSE:
                outcome = _second_opinions(item, context, restrictions, rng, outcome, step_seconds)
            elif outcome.verdict in (PROVED, HOLDS) and item.values:
                outcome = _without_values(item, context, restrictions, rng, outcome)
    except BudgetExceeded:
        return result(Outcome(UNCHECKED, _timed_out(step_seconds), kind="budget"),
                      restrictions=restrictions)
    except Unsupported as exc:
        outcome = Outcome(UNCHECKED, str(exc), kind=exc.kind or "not read yet")
        outcome = _dependency_or_not(outcome, item, context, restrictions, rng, step_seconds)
        return result(_typo_hint(item, outcome, context, restrictions, rng, step_seconds), restrictions=restrictions)
    except (RecursionError, MemoryError, OverflowError):
        return result(Outcome(UNCHECKED, "expression too large or too deeply nested", kind="too large"))
    except Exception as exc:  # an expression sympy cannot evaluate is unchecked, not a crash
        own = isinstance(exc, ValueError) and "more than" in str(exc)  # our own bound, said in our words
        return result(Outcome(UNCHECKED, f"cannot evaluate: {str(exc).splitlines()[0][:120]}" if own else
                              "cannot evaluate this step (an index left symbolic or a construct the "
                              "evaluator does not handle)",
                              kind="cannot evaluate"))
    outcome = capital_reading(outcome, reading.lhs, reading.rhs, f"{step.lhs} {step.rhs}", context,
                              lambda: _read_again(item, context))
    outcome = _qualify(item, outcome, restrictions, context)
    family = entangled_family(item.reading, Resolver(context).full) if outcome.verdict != UNCHECKED else None
    if family:
        outcome = Outcome(UNCHECKED, f"{outcome.verdict} as read, but it differentiates with respect to one entry of "
                          f"{family} an expression that uses other entries: whether the entries depend on each other "
                          "(a recurrence) or not (independent samples) is not read", kind="superscript index")
    if outcome.verdict == FALSE:
        outcome = _same_rule_for_every_layer(item, outcome, context, restrictions, rng, step_seconds)
    return result(_typo_hint(item, outcome, context, restrictions, rng, step_seconds), restrictions=restrictions)


def _same_rule_for_every_layer(item: _Parsed, outcome: Outcome, context: Context, restrictions, rng,
                               step_seconds: float) -> Outcome:
    """False with ``a^{l}`` undefined while ``a^{L}`` (or ``a^{l+1}``) is defined: false for sure only if it is also
    false with that definition carried over to ``a^{l}`` (the step may rely on the same rule for every layer)."""
    sibling = defined_sibling(item.reading.names, context)
    if not sibling:
        return outcome
    unchecked = Outcome(UNCHECKED, f"false as read, but nothing defines {sibling[0]} while {sibling[1]} is defined: "
                        "the step may use the same rule for that layer or sample", kind="superscript index")
    rules = shifted_rules(sibling[0], sibling[1], context)
    if not rules:
        return unchecked
    kind, key, value = rules[0]
    table = context.indexed_definitions if kind == "indexed" else context.definitions
    table[key] = value
    try:
        with step_budget(step_seconds):
            again = _judge_reading(item.reading, context, restrictions, rng, item.step)
    except Exception:  # noqa: BLE001 - cannot tell under the carried-over rule: not false for sure
        again = None
    finally:
        del table[key]
    if again is None or again.verdict != FALSE or defined_sibling(item.reading.names - {sibling[0]}, context):
        return unchecked
    return Outcome(FALSE, outcome.reason + f" (also false with the rule of {sibling[1]} carried over to {sibling[0]})",
                   outcome.counterexample, outcome.difference, outcome.kind)


def _typo_hint(item: _Parsed, outcome: Outcome, context: Context, restrictions, rng, step_seconds: float) -> Outcome:
    """A false or unchecked step that uses a name written once, one keystroke from a known one: unchecked,
    with the suggestion and, when it decides the step, the verdict under it (a hint, not the verdict)."""
    if outcome.verdict in (PROVED, HOLDS) or item.reading is None:
        return outcome
    typo = suspected_typo(item, context, _step_names)
    if typo is None:
        return outcome
    reason = typo.message()
    if len(typo.candidates) == 1:
        lhs, rhs = with_reading(item.reading.lhs, item.reading.rhs, typo, typo.candidates[0])
        reading = _Reading(lhs, rhs, (item.reading.names - {typo.name}) | {typo.candidates[0]}, {},
                           item.reading.bound_letters)
        try:
            with step_budget(step_seconds):
                hint = _judge_reading(reading, context, restrictions, rng, item.step)
        except Exception:  # noqa: BLE001 - a hint that cannot be computed is left out, never a crash
            hint = None
        if hint is not None and hint.verdict in (PROVED, HOLDS, FALSE):
            shown = "true" if hint.verdict in (PROVED, HOLDS) else "false"
            reason += f" (with {latex_name(typo.candidates[0])} for {latex_name(typo.name)} the step is {shown})"
    return Outcome(UNCHECKED, f"{reason}; as written: {outcome.verdict} ({outcome.reason})", kind="typo")


def _step_names(item: _Parsed) -> set:
    """The names a step uses: as read (z^{l} is one name, not z), or, for a step not read, its letters."""
    if item.reading is not None:
        return set(item.reading.names)
    return step_letters([item.lhs_side, item.rhs_side])[0]


_DEPENDENCY_SUGGESTED = re.compile(r'\(declare it, e\.g\. --let "([^"=]+?) = \1\(([^"()]+)\)"\)')


def _dependency_or_not(outcome: Outcome, item: _Parsed, context: Context, restrictions, rng,
                       step_seconds: float) -> Outcome:
    """``\\partial v/\\partial u`` of an undeclared v: the suggestion ``v = v(u)`` is printed only if the step is
    not true with v independent of u (colah: ``u \\partial v/\\partial u + v = v`` is right for independent
    u and v, false with v = v(u)); otherwise the declaration that reads it as written is suggested."""
    from symderiv.writeup.resolve import INDEPENDENT

    suggested = _DEPENDENCY_SUGGESTED.search(outcome.reason) if outcome.kind == "declaration needed" else None
    if suggested is None or item.reading is None:
        return outcome
    name = suggested.group(1).strip()
    key = next((n for n in item.reading.names if latex_name(n) == name), name)
    if key in context.origins:
        return outcome
    context.origins[key] = (INDEPENDENT, "a trial reading")
    try:
        with step_budget(step_seconds):
            independent = _judge_reading(item.reading, context, restrictions, rng, item.step)
    except (BudgetExceeded, Exception):  # noqa: BLE001 - only a refinement of the suggestion
        return outcome
    finally:
        del context.origins[key]
    if independent.verdict not in (PROVED, HOLDS):
        return outcome
    independent_of = suggested.group(2).strip()
    return Outcome(UNCHECKED, f"{name} does not depend on {independent_of} through any declaration: true if {name} is "
                   f"an independent variable (its derivative 0), not checked with {name} = {name}({independent_of}); "
                   f'declare which is meant (e.g. --let "{name}: independent")', kind="declaration needed")


def _decided_matrix_step(item: _Parsed, context: Context, rng, step_seconds: float, assumptions, parsed) -> Outcome:
    try:
        with step_budget(step_seconds):  # counted as work, like every other step: the same verdict under load
            outcome = decide_matrix(item, context, rng)
    except BudgetExceeded:
        return Outcome(UNCHECKED, _timed_out(step_seconds), kind="budget")
    except Unsupported as exc:
        return Outcome(UNCHECKED, str(exc), kind=exc.kind or "matrix")
    except (RecursionError, MemoryError, OverflowError):
        return Outcome(UNCHECKED, "expression too large or too deeply nested", kind="too large")
    except Exception:  # an expression sympy cannot evaluate is unchecked, not a crash
        # no internal exception text in a reason (review of issue 12): say what could not be done
        return Outcome(UNCHECKED, "cannot evaluate this matrix step (a construct the matrix reader does not handle)",
                       kind="cannot evaluate")
    if item.step.relation == "\\neq":
        outcome = invert_for_inequality(outcome)
    if outcome.verdict == FALSE:
        why = matrix_false_blocked(item, assumptions, is_fact(item.step), parsed)
        if why:
            return Outcome(UNCHECKED, why, kind="condition")
    return outcome


def _judge_reading(reading: _Reading, context: Context, restrictions, rng, step: Step) -> Outcome:
    outcome = judge(reading.lhs, reading.rhs, context, restrictions, rng)
    if step.relation == "\\neq":
        outcome = invert_for_inequality(outcome)
        if outcome.verdict == PROVED:
            outcome = differs_everywhere(reading.lhs, reading.rhs, context, outcome)
    return outcome


def _without_values(item: _Parsed, context: Context, restrictions, rng, outcome: Outcome) -> Outcome:
    """True at the values given in the text (``Let $x = 2$``): proved only if also true without them."""
    from symderiv.writeup.conditions import StepRestrictions

    general = StepRestrictions([r for r in restrictions.items if r.origin != "value"])
    if len(general.items) == len(restrictions.items):
        return outcome
    without = _judge_reading(item.reading, context, general, rng, item.step)
    if without.verdict in (PROVED, HOLDS):
        return without
    used = [r for r in restrictions.items if r.origin == "value"
            and {getattr(s, "name", "").split("[")[0] for s in getattr(r.lhs, "free_symbols", ())} & item.reading.names]
    values = ", ".join(r.text for r in used or [r for r in restrictions.items if r.origin == "value"])
    return Outcome(UNCHECKED, f"true at the values given in the text ({values}), not for every value: "
                   "checked only there", kind="value")


def _second_opinions(item: _Parsed, context: Context, restrictions, rng, primary: Outcome,
                     step_seconds: float) -> Outcome:
    """False under the primary reading: re-judge under every other reading of the step's doubts."""
    doubts = list(item.reading.doubts.values())
    if not doubts:
        return primary
    if len(doubts) > MAX_DOUBTS:
        listed = "; ".join(d.primary for d in doubts)
        return Outcome(UNCHECKED, f"false under one reading, but too many constructs are uncertain ({listed})",
                       kind="uncertain reading")
    keys = [d.key for d in doubts]
    for size in range(1, len(keys) + 1):
        for chosen in itertools.combinations(keys, size):
            alternative = _convert(item, context, step_seconds, frozenset(chosen))
            outcome = None
            if alternative is not None:
                try:
                    outcome = _judge_reading(alternative, context, restrictions, rng, item.step)
                except Unsupported:
                    outcome = None
            if outcome is None or outcome.verdict != FALSE:
                return _uncertain(doubts, chosen, outcome, primary)
    readings = ", ".join(d.primary.split(" read as ")[0] for d in doubts)
    return Outcome(FALSE, primary.reason + f" (false under every reading of {readings})", primary.counterexample,
                   primary.difference, "false")


def _uncertain(doubts, chosen, outcome: Outcome | None, primary: Outcome) -> Outcome:
    primary_text = "; ".join(d.primary for d in doubts)
    alternative_text = "; ".join(d.alternative for d in doubts if d.key in chosen)
    verdict = "not readable" if outcome is None else ("true" if outcome.verdict in (PROVED, HOLDS) else outcome.verdict)
    reason = f"false if {primary_text}; {verdict} if {alternative_text}"
    if ("logistic",) in chosen and outcome is not None and outcome.verdict in (PROVED, HOLDS):
        reason += f' (declare it: --let "{LOGISTIC_LET}")'
    return Outcome(UNCHECKED, reason, kind="uncertain reading")


def _statement_about_an_unknown(reading: _Reading, context: Context):
    """``\\frac{\\partial Z}{\\partial X} = \\alpha\\delta + …`` with Z only declared as Z(X): one side is (a
    derivative of) an abstract function that the other side never mentions."""
    import sympy as sp
    from sympy.core.function import AppliedUndef

    if not isinstance(reading.lhs, sp.Basic) or not isinstance(reading.rhs, sp.Basic):
        return None
    try:
        resolver = Resolver(context)
        lhs, rhs = resolver.full(reading.lhs), resolver.full(reading.rhs)
    except Exception:  # noqa: BLE001 - only a refinement of a false verdict: keep the verdict
        return None
    for one, other in ((lhs, rhs), (rhs, lhs)):
        core = one.expr if isinstance(one, sp.Derivative) else one
        arguments = set().union(*(argument.free_symbols for argument in core.args)) if isinstance(core, AppliedUndef) \
            else set()
        # only when the other side also uses names of unknown meaning (edge derivatives α, δ, …): dy/dx = 0
        # with y = y(x) says y is constant, which is false for sure
        if isinstance(core, AppliedUndef) and not other.has(core.func) and other.free_symbols - arguments:
            return latex_name(core.func.__name__)
    return None


def _summation_letter_in_a_name(reading: _Reading):
    """(name, letter) when a summation letter sits inside a name's superscript (``x^{(i)}`` under ``\\sum_i``)."""
    import sympy as sp

    letters = {str(letter) for letter in reading.bound_letters}
    for side in (reading.lhs, reading.rhs):
        if not isinstance(side, sp.Basic):
            continue
        letters |= {str(v) for total in side.atoms(sp.Sum, sp.Product) for v, *_ in total.limits}
        for symbol in side.free_symbols | {s for total in side.atoms(sp.Sum) for s in total.function.free_symbols}:
            superscript = re.search(r"\^\{?\(?([^{}()]*)", getattr(symbol, "name", ""))
            if superscript and set(re.findall(r"[a-zA-Z]+", superscript.group(1))) & letters:
                return to_latex(symbol), superscript.group(1)
    return None


def _qualify(item: _Parsed, outcome: Outcome, restrictions: StepRestrictions, context: Context) -> Outcome:
    """A false verdict stands only with every condition read and the step's role a claim."""
    step = item.step
    if outcome.verdict != FALSE:
        return outcome
    uncertain = uncertain_definitions_used(item.reading, context)
    if uncertain:
        name, doubts = uncertain
        return Outcome(UNCHECKED, f"false, but it uses the definition of {latex_name(name)}, whose reading is "
                       f"uncertain ({doubts})", kind="uncertain reading")
    unread = restrictions.unread
    if unread:
        first = unread[0]
        return Outcome(UNCHECKED, f"false without the condition '{first.shown()}', which is not read ({first.reason})",
                       kind="condition")
    if is_fact(step):
        return Outcome(UNCHECKED, f"stated as a fact (after '{step.context_word}'): used as given in its section; "
                                  "it does not follow from the declarations", kind="fact")
    if step.inline and step.chain_length == 1 and step.context_word in CONDITION_CONTEXT_WORDS:
        return Outcome(UNCHECKED, f"reads as a condition (after '{step.context_word}'), not an identity; "
                                  f"as an identity it is false", kind="condition")
    if item.conflict:
        return Outcome(UNCHECKED, f"differs from the declaration: {item.conflict}; which one is meant?",
                       kind="conflicting definition")
    unknown = _statement_about_an_unknown(item.reading, context)
    if unknown:
        return Outcome(UNCHECKED, f"false as read, but it only says what {unknown} (a function known only by its "
                       "arguments) or its derivative equals: a statement about an unknown function, not an identity; "
                       "define it to check the step", kind="declaration needed")
    captured = _summation_letter_in_a_name(item.reading)
    if captured:
        return Outcome(UNCHECKED, f"false as read, but {captured[0]} is read as one name while its index "
                       f"{captured[1]} is the summation variable (x^{{(i)}} and x^{{(1)}} are then unrelated)",
                       kind="superscript index")
    elsewhere = definition_out_of_scope(item.reading.names, context, step.lhs_offset)
    if elsewhere:
        return Outcome(UNCHECKED, f"false as read, but {latex_name(elsewhere[0])} is given a meaning at "
                       f"{elsewhere[1]}, which does not apply here (another section); which one is meant?",
                       kind="definition elsewhere")
    unread = unread_definition_used(item.reading, context, step.lhs_offset)
    if unread:
        return Outcome(UNCHECKED, f"false as read, but it uses {latex_name(unread[0])}, whose definition at line "
                       f"{unread[1]} is not read", kind="definition not read")
    return outcome




def _step_result(item: _Parsed, outcome: Outcome, lines: Lines, at, restrictions, context, seconds) -> StepResult:
    step = item.step
    reading = item.reading
    lhs_text = _display(reading.lhs if reading else None, step.lhs)
    rhs_text = _display(reading.rhs if reading else None, step.rhs)
    reason = outcome.reason
    reason_at = None
    if at is not None:
        reason_at = (lines.line(at), lines.column(at))
        if outcome.kind not in ("definition", "budget", "relation"):
            reason += f" (at {reason_at[0]}:{reason_at[1]})"
    sides = (reading.lhs, reading.rhs) if reading is not None else ()
    difference = _difference(outcome, context, sides) if outcome.difference is not None else None
    conditions = tuple(r.shown() for r in restrictions.items) if restrictions is not None else ()
    role = "definition" if item.definition else ("fact" if is_fact(step) else "claim")
    return StepResult(line=step.line, lhs=lhs_text, rhs=rhs_text, relation=step.relation, verdict=outcome.verdict,
                      reason=reason, condition=step.condition, counterexample=outcome.counterexample,
                      difference=difference, seconds=seconds, lhs_source=" ".join(step.lhs.split()),
                      rhs_source=" ".join(step.rhs.split()), column=lines.column(step.relation_offset),
                      span=step.span, reason_kind=outcome.kind or outcome.verdict, reason_at=reason_at,
                      conditions=conditions, meanings=_meanings(reading, context), role=role)


def _difference(outcome: Outcome, context: Context, sides=()):
    try:
        with step_budget(DIFFERENCE_SECONDS):  # counted as work: the same difference is printed on every run
            resolver = Resolver(context)
            rewrites = symbolic.concrete_function_rewrites(context, list(sides), resolver)
            simplest = symbolic.simplest_difference(outcome.difference, rewrites)
            simplest = symbolic.simplest_difference(symbolic.fold_definitions(simplest, context, resolver))
            return to_latex(symbolic.in_writer_names(simplest, context, Resolver(context)))
    except BudgetExceeded:
        return to_latex(outcome.difference)
    except Exception:  # the difference is a courtesy; the verdict stands without it
        return None


def _meanings(reading: _Reading | None, context: Context) -> tuple:
    if reading is None:
        return ()
    found = []
    for name in sorted(reading.names):
        if name in reading.bound_letters:
            continue
        kind, source = context.origins.get(name, (None, None))
        if kind is None and name == "n":
            kind, source = "size (a sum without an upper limit runs to n; n >= 1)", "convention"
        if kind is None:
            if context.is_function(name):
                kind, source = "function", ("primed in the file" if name in context.primed_names else "convention")
            else:
                kind, source = "independent variable", "undeclared"
        found.append(Meaning(latex_name(name) if not name.startswith("\\") else name, kind, source))
    return tuple(found)


def _symbol_table(results) -> tuple:
    seen: dict = {}
    for result in results:
        for meaning in result.meanings:
            seen.setdefault(meaning.name, meaning)
    return tuple(seen[name] for name in sorted(seen))


def _display(expr, source: str) -> str:
    if expr is None:
        return " ".join(source.split())
    try:
        return to_latex(expr)
    except Exception:  # printing is cosmetic; fall back to what was written
        return " ".join(source.split())

