"""LaTeX to MathML for the HTML renderers: latex2mathml's output, sanitised.

Contract:

- :func:`typeset` converts one LaTeX formula with latex2mathml (an optional
  extra: ``pip install "symderiv[html]"``) and returns a :class:`Typeset`:
  either sanitised MathML, or ``mathml=None`` and the reason. It never raises
  on any input text (malformed, hostile, huge, deeply nested): a formula it
  cannot convert is shown by the caller as source code with that note.
- The MathML is rebuilt from a parse of latex2mathml's output, keeping only
  MathML elements and presentation attributes from fixed allow-lists and
  escaping every text node; anything else (a ``<script>`` smuggled through
  ``\\text{}``, an ``href`` from ``\\href``, a malformed entity) makes the
  formula "not converted". latex2mathml copies an unknown command such as
  ``\\foo`` into the output as text, so a formula whose MathML still shows a
  backslash is "not converted" too: no raw LaTeX is ever presented as typeset.
- Work is bounded: formulas over :data:`MAX_SOURCE_CHARS` are not converted,
  and each conversion gets :data:`CPU_SECONDS` of CPU time
  (:func:`symderiv.budget.cpu_time_limit`).

Why latex2mathml on LaTeX strings rather than SymPy's MathML printer: the
result dataclasses carry LaTeX (the writeup's own source and SymPy's LaTeX of
``lhs - rhs``), not SymPy objects, so one converter typesets both the user's
notation and the computed difference the same way, and a report read back
from JSON renders identically.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

INSTALL_HINT = 'pip install "symderiv[html]"'
MAX_SOURCE_CHARS = 20_000
CPU_SECONDS = 2.0
THIN_SPACE = "0.1667em"

_MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"

ALLOWED_ELEMENTS = frozenset(
    """math mrow mi mn mo mtext ms mspace msub msup msubsup munder mover munderover
    mfrac msqrt mroot mstyle mpadded mphantom menclose mtable mtr mtd mlabeledtr
    merror semantics annotation mmultiscripts mprescripts none mfenced""".split()
)
ALLOWED_ATTRIBUTES = frozenset(
    """display stretchy fence form separator largeop movablelimits accent accentunder
    columnalign rowalign columnspacing rowspacing columnlines rowlines frame
    displaystyle scriptlevel mathvariant width height depth lspace rspace minsize
    maxsize symmetric linethickness notation open close separators columnspan
    rowspan""".split()
)
# Attribute values are escaped on output; this only keeps them plain (no url(), no quotes).
_PLAIN_VALUE = re.compile(r"[\w.%+\- #]{0,64}")

# Source-only markup with nothing to typeset.
_NOT_MATH = re.compile(r"\\(?:label|tag\*?)\{[^{}]*\}|\\(?:nonumber|notag|newline)\b")
_ALIGNMENT = re.compile(r"(?<!\\)&|\\\\(?:\[[^\]]*\])?")


class HtmlExtraMissing(RuntimeError):
    """latex2mathml is not installed."""

    def __init__(self) -> None:
        super().__init__(f"typeset math needs latex2mathml; install it with: {INSTALL_HINT}")


@dataclass(frozen=True)
class Typeset:
    """One formula: its LaTeX ``source`` and either ``mathml`` or the ``problem`` that stopped it."""

    source: str
    mathml: str | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.mathml is not None


def available() -> bool:
    """latex2mathml can be imported (the ``[html]`` extra is installed)."""
    import importlib.util

    return importlib.util.find_spec("latex2mathml") is not None


def typeset(latex: str, display: bool = False) -> Typeset:
    """``latex`` as sanitised MathML (``display`` block or inline), or why not."""
    if not available():
        raise HtmlExtraMissing()
    source = latex.strip()
    if not source:
        return Typeset(latex, None, "empty formula")
    if len(source) > MAX_SOURCE_CHARS:
        return Typeset(latex, None, f"formula longer than {MAX_SOURCE_CHARS} characters")
    raw, problem = _convert(_presentable(source))
    if raw is None:
        return Typeset(latex, None, problem)
    mathml, problem = _sanitise(raw, display)
    return Typeset(latex, mathml, problem)


def to_html(latex: str, display: bool = False) -> str:
    """MathML for ``latex``, or the source in a ``<code>`` element with a note saying why
    (also when latex2mathml is not installed: a notebook display then still shows everything)."""
    try:
        result = typeset(latex, display)
    except HtmlExtraMissing:
        result = Typeset(latex, None, f"latex2mathml is not installed ({INSTALL_HINT})")
    if result.ok:
        return result.mathml
    tag = "pre" if display else "code"
    return (f'<span class="math-source"><{tag} class="latex">{html.escape(latex)}</{tag}>'
            f'<span class="note">not typeset: {html.escape(result.problem)}</span></span>')


def _presentable(source: str) -> str:
    """Drop what has nothing to typeset: labels, \\nonumber, \\newline, and, in a step cut out of an
    ``align`` row (no environment of its own), its ``&`` marks, ``\\\\`` breaks and a dangling ``\\``."""
    text = _NOT_MATH.sub("", source)
    if "\\begin" not in text:
        text = _ALIGNMENT.sub(" ", text)
    return re.sub(r"\\+\s*$", "", text).strip() or text


def _convert(source: str) -> tuple[str | None, str]:
    from latex2mathml.converter import convert

    from symderiv.budget import BudgetExceeded, cpu_time_limit

    try:
        with cpu_time_limit(CPU_SECONDS):
            return convert(source), ""
    except BudgetExceeded:
        return None, f"conversion took more than {CPU_SECONDS:g} s of CPU time"
    except RecursionError:
        return None, "nested too deeply"
    except Exception as exc:  # latex2mathml's own errors for malformed input; never fatal here
        return None, f"latex2mathml could not read it ({type(exc).__name__})"


def _sanitise(raw: str, display: bool) -> tuple[str | None, str]:
    """Rebuild latex2mathml's output from allow-listed elements and attributes."""
    import xml.etree.ElementTree as ElementTree

    if "<!" in raw or "<?" in raw:  # no DOCTYPE, entity declarations, CDATA or processing instructions
        return None, "unexpected markup in the converted formula"
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        return None, "latex2mathml produced malformed MathML"
    except RecursionError:
        return None, "nested too deeply"
    parts: list[str] = []
    try:
        _unstretch_short_fences(root)
        problem = _emit(root, parts, top=True, display=display)
    except RecursionError:
        return None, "nested too deeply"
    if problem:
        return None, problem
    return "".join(parts), ""


_TALL = {_MATHML_NS + tag for tag in ("mfrac", "mtable", "munderover", "munder", "mover", "msqrt", "mroot")}


def _unstretch_short_fences(root) -> None:
    """``\\left( u \\right)`` around content no taller than a line: plain parentheses.

    SymPy's LaTeX fences every argument with ``\\left( \\right)``; a browser draws a
    stretchy fence with its stretch assembly even when nothing needs stretching,
    which leaves visible gaps, "sigma ( u )". Around fractions, tables and limits the
    fence stays stretchy."""
    for row in root.iter(_MATHML_NS + "mrow"):
        fences = [child for child in row if child.tag == _MATHML_NS + "mo" and child.get("fence") == "true"]
        if fences and not any(node.tag in _TALL for node in row.iter()):
            for fence in fences:
                fence.set("stretchy", "false")


def _is_function_name(element) -> bool:
    """An ``<mi>`` of a named operator: latex2mathml writes ``\\log`` as ``<mi>log</mi>`` with no space."""
    text = (element.text or "").strip()
    return element.tag == _MATHML_NS + "mi" and len(text) > 1 and text.isascii() and text.isalpha()


def _opens_with_fence(following) -> bool:
    node = following[0] if following else None
    while node is not None and node.tag == _MATHML_NS + "mrow" and len(node):
        node = node[0]
    return node is None or (node.tag == _MATHML_NS + "mo" and (node.text or "").strip() in ("(", "[", "{", "|", "\u2016"))


def _emit(element, parts: list[str], top: bool, display: bool) -> str:
    """Append ``element`` as HTML-safe MathML to ``parts``; return a problem or ''."""
    if not element.tag.startswith(_MATHML_NS):
        return f"non-MathML element {element.tag!r} in the converted formula"
    name = element.tag[len(_MATHML_NS):]
    if name not in ALLOWED_ELEMENTS:
        return f"element <{name}> is not allowed in the converted formula"
    attributes = {
        key: value for key, value in element.attrib.items()
        if key in ALLOWED_ATTRIBUTES and _PLAIN_VALUE.fullmatch(value)
    }
    if name == "mo" and attributes.get("fence") == "true":
        # \left( ... \right): TeX puts no space inside a fence; MathML's default form spacing would
        attributes.update(lspace="0em", rspace="0em")
    if top:
        attributes = {"xmlns": _MATHML_NS[1:-1], "display": "block" if display else "inline"}
    rendered = "".join(f' {key}="{html.escape(value)}"' for key, value in attributes.items())
    parts.append(f"<{name}{rendered}>")
    text = element.text or ""
    if "\\" in text:  # latex2mathml copies an unknown command through as text
        command = re.search(r"\\[A-Za-z]+|\\.", text)
        return f"unknown command {command.group(0) if command else chr(92)}"
    parts.append(html.escape(text, quote=False))
    children = list(element)
    for position, child in enumerate(children):
        problem = _emit(child, parts, top=False, display=display)
        if problem:
            return problem
        if child.tail and child.tail.strip():
            return "stray text in the converted formula"
        if _is_function_name(child) and not _opens_with_fence(children[position + 1:position + 2]):
            parts.append(f'<mspace width="{THIN_SPACE}"></mspace>')  # TeX's \log x: a thin space before x
    parts.append(f"</{name}>")
    return ""
