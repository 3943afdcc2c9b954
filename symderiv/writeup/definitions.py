"""In-file definitions: which steps define a name, from which line on, and which are not usable.

Contract of :func:`adopt_text_definitions` (run once, after every step is read):

- ``name = expression`` on a name no declaration defines, an entry ``o_1 = …``,
  an indexed ``y_j = …``, a function ``f(x) = …`` (also ``f(x_1, x_2) = …``) and
  ``… = NAME`` when NAME is first written there and used later define that name
  for every step; the step is reported as a definition.
- A definition applies from its line on, to the end of its section (a Markdown
  heading or ``\\section``; text before the first heading is a preamble whose
  definitions hold for the whole file), never before its line: a later
  definition of the same name replaces it from its own line on
  (:func:`definitions_at` makes the one in effect current, or none).
- A name given a number (``x = 2``, ``w_1 = 0.5``; in prose "at $x = 1$", "Let
  $x = 2$" or in a display) is a *value*, not a definition: the steps after it
  in its section are checked at that value (a step true only there is reported
  unchecked, see :func:`attach_values`), the steps before it and elsewhere never.
- ``name = expression`` concluded in prose ("… gives $b = …$", "so $x = …$") or
  after ``\\Rightarrow`` is a conclusion (``item.conclusion``): neither a
  definition nor an identity.
- A declared dependency (``g = g(x)``) is refined by the file's definition; a name
  a declaration defines is not redefined (the line is checked as a claim, and a
  disagreement is unchecked, never false: ``item.conflict``).
- A definition-shaped step that cannot be a definition (the name on both sides:
  an update rule or a recursion; parameters not used as written) is noted in
  ``item.unusable``; a definition that cannot be read is remembered so that the
  steps it would define are never reported false (:func:`unread_definition_used`).
"""

from __future__ import annotations

import re

from symderiv.writeup.extract import UNATTACHED_CONDITION, is_fact, section_of
from symderiv.writeup.meaning import Context, real_symbol
from symderiv.writeup.shapes import latex_name
from symderiv.writeup.printing import to_latex

def _written_as_expression(source: str) -> bool:
    """A left side written with an operation (``2x - x``, ``x \\cdot 1``, ``\\frac{x^2}{x}``, ``\\log(e^x)``), not a name."""
    # super- and subscripts are part of a name (x^{(i)}, w^{l+1}_{jk}), not operations on it
    name_part = re.sub(r"[\^_](?:\{(?:[^{}]|\{[^{}]*\})*\}|\\?[a-zA-Z0-9])", "", source)
    return bool(re.search(r"[-+*/(]|\\cdot|\\times|\\frac|^\s*[0-9]", name_part))


def _is_definition_shaped(item) -> bool:
    step = item.step
    return step.first_in_chain and step.relation in ("=", ":=") and not step.conditions \
        and not is_fact(step) and step.problem != UNATTACHED_CONDITION


def adopt_text_definitions(parsed: list, context: Context, lines) -> None:
    """``name = expression`` on a name no declaration defines defines it for every step (like a --let).

    Also ``x_1 = …`` (one entry), ``y_j = …`` (a family), ``f(x) = …`` (a function), and
    ``expression = NAME`` when NAME is used in other steps. A later definition of the same name
    applies from its line on; a declared dependency (``g = g(x)``) is refined by the file's
    definition. A definition-shaped step that cannot be used (recursive, or a right side that
    does not use the parameters as written) is noted, so it is never reported false on its own.
    """
    import sympy as sp

    used_elsewhere: dict = {}
    first_use: dict = {}
    for position, item in enumerate(parsed):
        if item.reading is not None:
            for name in item.reading.names:
                used_elsewhere[name] = used_elsewhere.get(name, 0) + 1
                first_use.setdefault(name, position)
    for position, item in enumerate(parsed):
        if getattr(item, "matrix", None) is not None:
            if item.matrix == ("unread",) and _is_definition_shaped(item):
                _note_unread_definition(item, context)  # f(x) = x^2 with x a declared vector: f is not known
            continue  # read as matrix algebra (matrix_steps), its definitions included
        if not _is_definition_shaped(item):
            if _introduces_name(item, position, used_elsewhere, first_use, context):
                _adopt_symbol(item, item.reading.rhs, item.reading.lhs, context, lines)
            continue
        if item.error or item.reading is None:
            _note_unread_definition(item, context)
            continue
        lhs, rhs = item.reading.lhs, item.reading.rhs
        if _is_value(lhs, rhs, context):
            _adopt_value(item, lhs, rhs, context)
            continue
        conclusion = conclusion_word(item.step, context.document_text) \
            if isinstance(lhs, (sp.Symbol, sp.Indexed, AppliedUndef_type())) else None
        if conclusion:
            context.conclusions.append((item.step.lhs_offset, getattr(lhs, "name", str(lhs)).split("[")[0],
                                        item.step.line))
            item.conclusion = (f"{to_latex(lhs)} = … is concluded here (after '{conclusion}'): it is neither a "
                               "definition nor an identity to check")
            continue
        if isinstance(lhs, sp.Symbol) and not lhs.is_integer and _written_as_expression(item.step.lhs):
            continue  # 2x - x = x, \log(e^x) = x: SymPy made the left side a name; as written it is a claim
        if isinstance(lhs, sp.Symbol) and not lhs.is_integer:
            if lhs in rhs.free_symbols:
                item.unusable = (f"{to_latex(lhs)} appears on both sides (an update rule or an equation to solve "
                                 "rather than an identity?)")
            else:
                _adopt_symbol(item, lhs, rhs, context, lines)
        elif isinstance(lhs, sp.Indexed):
            _adopt_indexed(item, lhs, rhs, context)
        elif isinstance(lhs, AppliedUndef_type()):
            if _names_a_value_of_a_function(lhs, rhs, position, first_use, context):
                if isinstance(rhs, sp.Indexed):
                    _adopt_indexed(item, rhs, lhs, context)
                else:
                    _adopt_symbol(item, rhs, lhs, context, lines)
            else:
                _adopt_function(item, lhs, rhs, context)
        elif isinstance(lhs, sp.Pow) and isinstance(lhs.base, (sp.Symbol, sp.Indexed)) and lhs.exp.is_Number \
                and getattr(lhs.base, "name", str(lhs.base)).split("[")[0] not in context.let_names:
            item.unusable = (f"{to_latex(lhs)} = … is the definition of a name with a superscript (like a variance "
                             f"\\sigma^2) or an equation to solve: neither is an identity to check")
        elif _introduces_name(item, position, used_elsewhere, first_use, context):
            _adopt_symbol(item, rhs, lhs, context, lines)


def _names_a_value_of_a_function(lhs, rhs, position: int, first_use: dict, context: Context) -> bool:
    """``f(args) = NAME`` where NAME (a plain name or an entry ``p^{(i)}`` of a family, not one of the
    arguments) is written here for the first time and defined nowhere: the step introduces NAME, the
    value of f there. (Read as a definition of f, f would be constant and NAME a free name, so the
    step beside it, ``p = \frac{1}{1 + e^{-z}}``, would be reported false.)"""
    import sympy as sp

    if lhs.func.__name__ in context.function_args:
        return False
    if isinstance(rhs, sp.Symbol) and not rhs.is_integer:
        name = rhs.name
    elif isinstance(rhs, sp.Indexed) and all(isinstance(i, sp.Symbol) for i in rhs.indices):
        name = str(rhs.base)
    else:
        return False
    return name not in context.let_names and first_use.get(name) == position \
        and name not in context.indexed_definitions and not lhs.has(rhs) \
        and all(getattr(key, "name", str(key)) != name for key in context.definitions)


def _introduces_name(item, position: int, used_elsewhere: dict, first_use: dict, context: Context) -> bool:
    """``\\sum_k e^{a_k} = \\Sigma`` at the end of a chain introduces \\Sigma: a name first written here and
    used later (a typo such as ``… = v`` is written once and stays a claim)."""
    import sympy as sp

    step, reading = item.step, item.reading
    if reading is None or item.error or step.relation != "=" or step.conditions or not step.last_in_chain:
        return False
    lhs, rhs = reading.lhs, reading.rhs
    if not (isinstance(rhs, sp.Symbol) and not rhs.is_integer and isinstance(lhs, sp.Basic)) \
            or not lhs.free_symbols:
        return False
    # the name must be used after this step (in any math, even math that cannot be read)
    pattern = re.compile(re.escape(latex_name(rhs.name)) + (r"(?![a-zA-Z])" if len(rhs.name) > 1 else ""))
    later = pattern.search(context.document_text, step.rhs_offset + len(step.rhs)) is not None
    return rhs not in lhs.free_symbols and not lhs.has(sp.Derivative) and later \
        and first_use.get(rhs.name) == position and rhs.name not in context.let_names \
        and rhs not in context.definitions and not isinstance(lhs, (sp.Symbol, sp.Indexed))


def AppliedUndef_type():  # noqa: N802 - the class, imported lazily (no SymPy at import time)
    from sympy.core.function import AppliedUndef

    return AppliedUndef


def _note_unread_definition(item, context: Context) -> None:
    """``p = \text{softmax}(x)`` could not be read: steps about p cannot be false for sure."""
    match = re.match(r"\s*(?:\\(?:mathbf|boldsymbol|bm|vec|hat|bar|tilde)\{\s*)?(\\?[a-zA-Z]+)", item.step.lhs)
    if match:
        name = match.group(1).lstrip("\\")
        context.unread_definitions.setdefault(name, []).append((item.step.lhs_offset, item.step.line))


def _adopt_symbol(item, lhs, rhs, context: Context, lines) -> None:
    from sympy.core.function import AppliedUndef

    step = item.step
    name = lhs.name
    previous = context.definitions.get(lhs)
    if name in context.let_names:
        dependency = isinstance(previous, AppliedUndef) and previous.func.__name__ in context.function_args
        if not dependency:
            item.conflict = f"a declaration also defines {latex_name(name)}"
            return  # checked as a claim against the declaration
        end = scope_end(step.lhs_offset, context)
        context.definitions[lhs] = rhs
        context.versions[lhs] = [(-1, previous, "the declaration", step.lhs_offset),
                                 (step.lhs_offset, rhs, f"line {step.line}", end),
                                 (end, previous, "the declaration", len(context.document_text) + 2)]
        context.origins[name] = ("definition", f"line {step.line} (refining a declared dependency)")
        item.definition = f"definition of {to_latex(lhs)} (refines the declared dependency)"
        return
    _new_version(item, lhs, rhs, context, context.versions, context.definitions)
    context.declared_names.add(name)
    context.plain_names.add(name)
    if item.reading.doubts:
        context.uncertain_definitions[name] = "; ".join(d.primary for d in item.reading.doubts.values())


def _new_version(item, key, value, context: Context, versions_of: dict, current: dict) -> None:
    step = item.step
    versions = versions_of.setdefault(key, [])
    start = definition_start(step, context)
    versions.append((start, value, f"line {step.line}", scope_end(step.lhs_offset, context)))
    shown = to_latex(key) if not isinstance(key, str) else latex_name(key)
    if len(versions) == 1:
        current[key] = value
        item.definition = f"definition of {shown}"
        context.origins[getattr(key, "name", str(key))] = ("definition", f"line {step.line}")
    else:
        item.definition = (f"definition of {shown} (a new definition from line {step.line} on; "
                           f"the one at {versions[-2][2]} applies before)")


def _adopt_indexed(item, lhs, rhs, context: Context) -> None:
    import sympy as sp

    name = str(lhs.base)
    if rhs.has(lhs.base):
        item.unusable = f"{name} appears on both sides of its definition (another layer or step of a recursion?)"
        return
    if name in context.let_names:
        item.conflict = f"a declaration also defines {latex_name(name)}"
        return
    if all(i.is_Integer for i in lhs.indices):  # o_1 = x_1 w_{11} + ...: one entry
        _new_version(item, lhs, rhs, context, context.versions, context.definitions)
        return
    if not all(isinstance(i, sp.Symbol) for i in lhs.indices) or name in context.indexed_definitions:
        return
    context.indexed_definitions[name] = (tuple(lhs.indices), rhs)
    context.indexed_scopes[name] = (definition_start(item.step, context), scope_end(item.step.lhs_offset, context),
                                    context.indexed_definitions[name])
    context.declared_names.add(name)
    context.origins[name] = ("indexed definition", f"line {item.step.line}")
    item.definition = f"definition of {to_latex(lhs)}"
    if item.reading.doubts:  # p^{(i)} = \sigma(z^{(i)}) with \sigma general or logistic: uncertain, as for a symbol
        context.uncertain_definitions[name] = "; ".join(d.primary for d in item.reading.doubts.values())


def _adopt_function(item, lhs, rhs, context: Context) -> None:
    """``f(x) = x^2`` (also ``f(x_1, x_2) = …``): f becomes that function, from this line on."""
    import sympy as sp

    name = lhs.func.__name__
    if not rhs.free_symbols:
        return  # sigma(u) = 1/2 is a condition or a value, not a definition
    if name in context.let_names and name not in context.function_args:
        item.conflict = f"a declaration also defines {latex_name(name)}"
        return
    parameters = list(lhs.args)
    plain = [sp.Dummy(str(p), real=True) if isinstance(p, sp.Indexed) and all(i.is_Integer for i in p.indices)
             else p for p in parameters]
    if not all(isinstance(p, sp.Symbol) for p in plain) or len(set(parameters)) != len(parameters) \
            or getattr(rhs, "is_Matrix", False) or rhs.has(lhs.func) or rhs.has(sp.Derivative):
        item.unusable = f"{to_latex(lhs)} is defined in a form that is not read"
        return
    body = rhs.xreplace(dict(zip(parameters, plain)))
    if not body.free_symbols & set(plain):
        item.unusable = (f"the right side of {to_latex(lhs)} does not use its parameters as written "
                         "(a vector and its components?)")
        return
    refines = name in context.function_args
    context.function_args.pop(name, None)
    _new_version(item, name, sp.Lambda(tuple(plain), body), context, context.function_versions,
                 context.concrete_functions)
    symbol = real_symbol(name)
    if all(isinstance(p, sp.Symbol) for p in parameters) and name not in context.let_names:
        # the bare name stands for the value at its parameters: \partial f/\partial x with f(x, y) = x y
        value = sp.Function(name)(*parameters)
        context.versions.setdefault(symbol, []).append((definition_start(item.step, context), value,
                                                        f"line {item.step.line}",
                                                        scope_end(item.step.lhs_offset, context)))
        context.definitions.setdefault(symbol, value)
    context.declared_names.add(name)
    context.origins[name] = ("concrete function", f"line {item.step.line}")
    if refines:
        item.definition = f"definition of {to_latex(lhs)} (refines the declared dependency)"


def definitions_at(context: Context, offset: int) -> None:
    """Make the definitions in effect at ``offset`` current: for each name, the latest one at or before
    ``offset`` whose section holds ``offset``; a name defined only later or elsewhere is not defined here."""
    for versions_of, current in ((context.versions, context.definitions),
                                 (context.function_versions, context.concrete_functions)):
        for key, versions in versions_of.items():
            in_effect = [v for v in versions if v[0] <= offset < v[3]]
            if in_effect and in_effect[-1][1] is not None:
                current[key] = in_effect[-1][1]
            else:
                current.pop(key, None)
    for name, (start, end, entry) in context.indexed_scopes.items():
        if start <= offset < end:
            context.indexed_definitions[name] = entry
        else:
            context.indexed_definitions.pop(name, None)


def definition_start(step, context: Context) -> int:
    """Where a definition (or value) starts to apply: its own display from its start (``f'(2) = 12 \\quad
    \\text{where } f(x) = x^3``, ``2x + 2 = 0 \\Rightarrow x = -1``), the display just before an inline
    "where $…$" / "with $…$" that follows it, else the step itself."""
    head = re.fullmatch(r"\s*(\\?[a-zA-Z]+)\s*(?:\([^()]*\))?\s*", step.lhs)
    if head and context.block_names.get((step.block, head.group(1)), 0) > 1:
        return step.lhs_offset  # the block defines the name more than once: each from its own line on
    if not step.inline:
        return min(step.lhs_offset, context.block_starts.get(step.block, step.lhs_offset))
    if step.context_word in ("where", "with") and context.display_before.get(step.block) is not None:
        return context.display_before[step.block]
    return step.lhs_offset


def scope_end(offset: int, context: Context) -> int:
    """Where a definition made at ``offset`` stops applying: the end of its section (the whole file for the
    preamble before the first heading)."""
    end = len(context.document_text) + 1
    if not any(at <= offset for at, _ in context.sections):
        return end
    return section_of(offset, context.sections, end)[1]


def _is_value(lhs, rhs, context: Context) -> bool:
    """``x = 2`` or ``w_1 = 0.5``: a name (or one entry) given a number, with no declaration of that name."""
    import sympy as sp

    if not isinstance(rhs, sp.Basic) or rhs.free_symbols or not rhs.is_number:
        return False
    if isinstance(lhs, sp.Symbol) and not lhs.is_integer:
        return lhs.name not in context.let_names
    return isinstance(lhs, sp.Indexed) and all(i.is_Integer for i in lhs.indices) \
        and str(lhs.base) not in context.let_names


def _adopt_value(item, lhs, rhs, context: Context) -> None:
    step = item.step
    shown = f"{step.lhs.strip()} = {step.rhs.strip()}"
    end = scope_end(step.lhs_offset, context)
    name = getattr(lhs, "name", str(lhs)).split("[")[0]
    context.values.append((definition_start(step, context), end, shown, step.line, name))
    where = "the rest of its section" if any(at <= step.lhs_offset for at, _ in context.sections) \
        else "the rest of the file"
    item.value = (f"a value given in the text: the steps after it that use {to_latex(lhs)} ({where}) are "
                  f"checked at {shown}; it is not a definition")


_CONCLUSION = re.compile(r"\b(?:gives?|giving|so|hence|thus|therefore|we get|we obtain|obtain|yields?|conclude"
                         r"|solving|solves?|solution|minimi[sz]ed|maximi[sz]ed|optimum|optimal|implies|which means)"
                         r"\b[^.$?!]*$", re.I)
_CONCLUSION_SIGN = re.compile(r"\\(?:Rightarrow|Longrightarrow|implies|therefore|iff|Leftrightarrow)(?![a-zA-Z])")


def conclusion_word(step, text: str) -> str | None:
    """The word or sign that makes ``name = …`` a conclusion: "… gives $b = …$", "\\Rightarrow x = …"."""
    if step.inline and not step.context_word:  # "… exactly where $…$": the nearer word decides
        match = _CONCLUSION.search(text, max(0, step.lhs_offset - 80), max(0, step.lhs_offset - 1))
        if match and "$" not in text[match.start():step.lhs_offset - 1]:
            return match.group().split()[0]
    before = text[max(0, step.lhs_offset - 20):step.lhs_offset]
    sign = None
    for sign in _CONCLUSION_SIGN.finditer(before):
        pass
    if sign is not None and not before[sign.end():].strip(" ,\t\n:;"):
        return sign.group()
    return None


def definition_out_of_scope(names, context: Context, offset: int):
    """(name, "line N") when a name the step uses was defined, given a value or concluded before ``offset``
    in a section that has ended: the step may mean that, so it is not false for sure."""
    wanted = {name.split("[")[0] for name in names}
    found = []
    for versions_of in (context.versions, context.function_versions):
        for key, versions in versions_of.items():
            name = getattr(key, "name", str(key)).split("[")[0]
            if name in wanted and not any(v[0] <= offset < v[3] for v in versions):
                found += [(v[0], name, v[2]) for v in versions if v[3] <= offset and v[0] >= 0]
    for name, (start, end, _) in context.indexed_scopes.items():
        if name in wanted and end <= offset:
            found.append((start, name, "the line at offset"))
    for start, end, _, line, name in context.values:
        if end <= offset and name in wanted:
            found.append((start, name, f"line {line}"))
    for start, name, line in context.conclusions:
        if start < offset and name in wanted:
            found.append((start, name, f"line {line}"))
    return max(found)[1:] if found else None


def unread_definition_used(reading, context: Context, offset: int):
    """(name, line) when the definition in effect at ``offset`` of a name the step uses could not be read."""
    if not context.unread_definitions or reading is None:
        return None
    for name in sorted(reading.names):
        name = name.split("^")[0] if "^" in name else name  # a member of an indexed family: its name
        base = name.split("{")[-1].rstrip("}") if name.startswith("\\") else name
        for candidate in (name, base, base.lstrip("\\")):
            unread = context.unread_definitions.get(candidate)
            if not unread:
                continue
            read = [v[0] for key, versions in list(context.versions.items()) + list(context.function_versions.items())
                    if getattr(key, "name", str(key)).split("[")[0] == candidate for v in versions]
            events = sorted([(at, None) for at in read] + list(unread))
            before = [event for event in events if event[0] <= offset]
            in_effect = before[-1] if before else events[0]
            if in_effect[1] is not None:
                return candidate, in_effect[1]
    return None


def uncertain_definitions_used(reading, context: Context):
    """(name, doubts) of an in-file definition with doubts that the step depends on, directly or not."""
    if not context.uncertain_definitions or reading is None:
        return None
    seen, pending = set(), list(reading.names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in context.uncertain_definitions:
            return name, context.uncertain_definitions[name]
        body = context.definitions.get(real_symbol(name))
        if body is None and name in context.indexed_definitions:
            body = context.indexed_definitions[name][1]
        if body is not None:
            pending.extend(s.name for s in body.free_symbols if hasattr(s, "name"))
            pending.extend(str(base) for base in body.atoms(IndexedBase_type()))
    return None


def IndexedBase_type():  # noqa: N802 - the class, imported lazily
    from sympy import IndexedBase

    return IndexedBase
